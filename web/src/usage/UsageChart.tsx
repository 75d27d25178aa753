import {
  CartesianGrid,
  Line,
  LineChart,
  ResponsiveContainer,
  Tooltip,
  XAxis,
  YAxis,
} from 'recharts'
import { percent, time } from '../format'
import type { Sample } from './samples'

/** Props of {@link UsageChart}. */
export interface UsageChartProps {
  /** What the chart shows, its accessible name. */
  readonly title: string
  readonly samples: readonly Sample[]
}

/** Utilisation over time as a line chart, with a text summary for screen readers. */
export function UsageChart({ title, samples }: UsageChartProps) {
  const last = samples[samples.length - 1]
  const first = samples[0]
  const summary =
    last === undefined || first === undefined
      ? 'No sample yet.'
      : `${samples.length} samples since ${time(first.t)}; now ${percent(last.v)}.`
  return (
    <figure className="chart" aria-label={title}>
      <div className="chart-area" aria-hidden="true">
        <ResponsiveContainer width="100%" height={180}>
          <LineChart data={samples} margin={{ top: 8, right: 12, bottom: 0, left: 0 }}>
            <CartesianGrid strokeDasharray="3 3" stroke="#d9dee5" />
            <XAxis
              dataKey="t"
              type="number"
              scale="time"
              domain={['dataMin', 'dataMax']}
              tickFormatter={(t: number) => time(t)}
              minTickGap={40}
              fontSize={12}
            />
            <YAxis
              domain={[0, 1]}
              tickFormatter={(v: number) => `${Math.round(v * 100)}%`}
              width={44}
              fontSize={12}
            />
            <Tooltip
              labelFormatter={(t) => time(Number(t))}
              formatter={(v) => [percent(Number(v)), 'utilisation']}
            />
            <Line
              type="monotone"
              dataKey="v"
              stroke="#155e75"
              strokeWidth={2}
              dot={false}
              isAnimationActive={false}
            />
          </LineChart>
        </ResponsiveContainer>
      </div>
      <figcaption>
        {title}: {summary} Samples the coordinator keeps (one every 5 minutes, for 7 days), then
        those this page reads every few seconds while it is open.
      </figcaption>
    </figure>
  )
}
