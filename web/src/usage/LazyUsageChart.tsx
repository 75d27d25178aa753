import { lazy, Suspense } from 'react'
import type { UsageChartProps } from './UsageChart'

const Chart = lazy(() => import('./UsageChart').then((m) => ({ default: m.UsageChart })))

/** {@link UsageChartProps}: the chart, loaded (with its charting library) on first use. */
export function UsageChart(props: UsageChartProps) {
  return (
    <Suspense fallback={<p className="loading">Loading the chart…</p>}>
      <Chart {...props} />
    </Suspense>
  )
}
