/**
 * `casm sim sweep`: one scenario run under every combination of policy values — watermarks,
 * unit size, hold-down, forecast on or off — so an operator sees what each choice costs in space
 * and in rejected subscribers before choosing. The result is a table and a plot.
 *
 * @module
 */

import { CasmError } from '../errors/casm-error.js'
import { type PolicyOverrides, type SimResult, runSimulation } from './fleet-sim.js'
import type { Scenario } from './scenario.js'
import { grouped } from './sim-report.js'

/** The values to try, per policy field (a field left out keeps the scenario's value). */
export interface SweepGrid {
  readonly highWatermark?: readonly number[]
  readonly lowWatermark?: readonly number[]
  readonly unitDefault?: readonly number[]
  readonly holdDown?: readonly number[]
  /** Forecast lead times in seconds (0 = forecast off). */
  readonly leadTime?: readonly number[]
}

/** One run of a sweep. */
export interface SweepRow {
  readonly policy: PolicyOverrides
  readonly casm: number
  readonly vsPooled: number
  readonly vsStatic: number
  readonly rejected: number
  readonly grants: number
  readonly drained: number
  readonly routesMean: number
  readonly messages: number
  readonly violations: number
  /** No other row needs less space without rejecting more. */
  readonly pareto: boolean
}

/** A sweep's rows and what every run shares. */
export interface SweepResult {
  readonly scenario: string
  readonly seed: number
  readonly days: number
  readonly units: string
  readonly staticPlan: number
  readonly pooledBound: number
  readonly rows: readonly SweepRow[]
}

/** Every combination of the grid's values. */
export function combinations(grid: SweepGrid): PolicyOverrides[] {
  let out: Record<string, number>[] = [{}]
  for (const [k, values] of Object.entries(grid) as [
    keyof SweepGrid,
    readonly number[] | undefined,
  ][]) {
    if (values === undefined || values.length === 0) continue
    out = out.flatMap((o) => values.map((v) => ({ ...o, [k]: v })))
  }
  return out
}

/**
 * Runs the scenario once per combination (same seed, so the demand is the same for all).
 *
 * @throws CasmError `CASM_ERR_VALIDATION` for an empty or too large grid, or a combination that
 *   makes the policy invalid (low not under high).
 */
export async function runSweep(
  scenario: Scenario,
  grid: SweepGrid,
  o: {
    seed?: number
    days?: number
    onRun?: (done: number, total: number, row: SweepRow) => void
  } = {},
): Promise<SweepResult> {
  const combos = combinations(grid)
  if (combos.length > 200)
    throw new CasmError(
      'CASM_ERR_VALIDATION',
      `the sweep has ${combos.length} combinations; at most 200`,
    )
  for (const c of combos) {
    const high = c.highWatermark ?? scenario.policy.highWatermark ?? 0.8
    const low = c.lowWatermark ?? scenario.policy.lowWatermark ?? 0.2
    if (!(low < high))
      throw new CasmError(
        'CASM_ERR_VALIDATION',
        `low watermark ${low} is not under high watermark ${high}: give lower --low values or higher --high ones`,
      )
    const u = c.unitDefault
    if (u !== undefined && (u < 1 || u > (scenario.family === 'ipv4' ? 32 : 64)))
      throw new CasmError('CASM_ERR_VALIDATION', `unit /${u} is outside ${scenario.family}`)
  }
  // Every run has the same demand: the references and units come from the first.
  let first: SimResult | undefined
  const rows: Omit<SweepRow, 'pareto'>[] = []
  for (const policy of combos) {
    const r = await runSimulation(scenario, {
      policy,
      series: false,
      ...(o.seed === undefined ? {} : { seed: o.seed }),
      ...(o.days === undefined ? {} : { days: o.days }),
    })
    first ??= r
    const row = {
      policy,
      casm: r.space.casm,
      vsPooled: r.space.vsPooled,
      vsStatic: r.space.vsStatic,
      rejected: r.subscribers.rejected,
      grants: r.grants.granted,
      drained: r.grants.drained,
      routesMean: r.routes.meanPerDevice,
      messages: r.coordinator.messages,
      violations: r.violations.length,
    }
    rows.push(row)
    o.onRun?.(rows.length, combos.length, { ...row, pareto: false })
  }
  if (first === undefined)
    throw new CasmError('CASM_ERR_VALIDATION', 'the sweep has no combination')
  // Best: no other run needs less space, rejects fewer and needs fewer routes at once.
  const pareto = rows.map(
    (a) =>
      !rows.some(
        (b) =>
          b !== a &&
          b.casm <= a.casm &&
          b.rejected <= a.rejected &&
          b.routesMean <= a.routesMean &&
          (b.casm < a.casm || b.rejected < a.rejected || b.routesMean < a.routesMean),
      ),
  )
  return {
    scenario: scenario.name,
    seed: first.seed,
    days: first.days,
    units: first.units,
    staticPlan: first.space.staticPlan,
    pooledBound: first.space.pooledBound,
    rows: rows.map((r, i) => ({ ...r, pareto: pareto[i] ?? false })),
  }
}

/** A policy combination in short form: `high 0.9 low 0.7 /24 hold 3600 s lead 0 s`. */
export function policyLabel(p: PolicyOverrides): string {
  const parts: string[] = []
  if (p.highWatermark !== undefined) parts.push(`high ${p.highWatermark}`)
  if (p.lowWatermark !== undefined) parts.push(`low ${p.lowWatermark}`)
  if (p.unitDefault !== undefined) parts.push(`/${p.unitDefault}`)
  if (p.holdDown !== undefined) parts.push(`hold ${p.holdDown} s`)
  if (p.leadTime !== undefined)
    parts.push(p.leadTime === 0 ? 'forecast off' : `forecast ${p.leadTime} s`)
  return parts.length === 0 ? 'scenario policy' : parts.join(' ')
}

/** The sweep as CSV. */
export function sweepCsv(s: SweepResult): string {
  const head =
    'high,low,unit,hold_down,lead_time,casm,vs_pooled,vs_static,rejected,grants,drained,routes_mean,messages,violations,pareto'
  const lines = s.rows.map((r) =>
    [
      r.policy.highWatermark ?? '',
      r.policy.lowWatermark ?? '',
      r.policy.unitDefault ?? '',
      r.policy.holdDown ?? '',
      r.policy.leadTime ?? '',
      r.casm,
      r.vsPooled.toFixed(4),
      r.vsStatic.toFixed(4),
      r.rejected,
      r.grants,
      r.drained,
      r.routesMean.toFixed(2),
      r.messages,
      r.violations,
      r.pareto,
    ].join(','),
  )
  return [head, ...lines].join('\n') + '\n'
}

/** One scatter plot of a sweep: space needed (× pooled bound) against `y`, one dot a run. */
function scatter(
  s: SweepResult,
  title: string,
  yLabel: string,
  y: (r: SweepRow) => number,
): string {
  const w = 900
  const h = 380
  const m = { l: 70, r: 20, t: 30, b: 50 }
  const xs = s.rows.map((r) => r.vsPooled)
  const xMin = Math.min(1, ...xs)
  const xMax = Math.max(...xs, xMin + 0.05) * 1.01
  const top = Math.max(1, ...s.rows.map(y))
  const yMax = top * 1.1
  const px = (x: number): number => m.l + ((x - xMin) / (xMax - xMin)) * (w - m.l - m.r)
  const py = (v: number): number => h - m.b - (v / yMax) * (h - m.t - m.b)
  const dots = s.rows
    .map(
      (r, i) =>
        `<circle cx="${px(r.vsPooled).toFixed(1)}" cy="${py(y(r)).toFixed(1)}" r="${r.pareto ? 6 : 4}" fill="${r.pareto ? '#1a73e8' : '#9aa0a6'}"><title>#${i + 1} ${policyLabel(r.policy)}: ${r.vsPooled.toFixed(3)} × pooled, ${r.rejected} rejected, ${r.routesMean.toFixed(1)} routes a device</title></circle><text x="${(px(r.vsPooled) + 7).toFixed(1)}" y="${(py(y(r)) - 6).toFixed(1)}" font-size="10">${i + 1}</text>`,
    )
    .join('')
  const ticks = [0, 0.25, 0.5, 0.75, 1]
    .map((f) => {
      const x = xMin + f * (xMax - xMin)
      return `<text x="${px(x)}" y="${h - m.b + 16}" text-anchor="middle" font-size="11">${x.toFixed(3)}</text>`
    })
    .join('')
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${w} ${h}" role="img" aria-label="${title}">
<text x="${m.l}" y="18" font-weight="600" font-size="13">${title}</text>
<line x1="${m.l}" y1="${h - m.b}" x2="${w - m.r}" y2="${h - m.b}" stroke="#888"/><line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${h - m.b}" stroke="#888"/>
${ticks}<text x="${(w + m.l) / 2}" y="${h - 12}" text-anchor="middle" font-size="12">space casm needed ÷ pooled lower bound</text>
<text x="16" y="${h / 2}" transform="rotate(-90 16 ${h / 2})" text-anchor="middle" font-size="12">${yLabel}</text>
<text x="${m.l - 6}" y="${py(0) + 4}" text-anchor="end" font-size="11">0</text><text x="${m.l - 6}" y="${py(top) + 4}" text-anchor="end" font-size="11">${grouped(top)}</text>
${dots}</svg>`
}

/**
 * The sweep's plots — space needed (× pooled bound) against subscribers rejected, and against
 * routes per device — and its table. Blue dots: no other run is better on all three.
 */
export function sweepHtml(s: SweepResult): string {
  const svg =
    scatter(
      s,
      'Space needed against subscribers rejected',
      'subscribers rejected',
      (r) => r.rejected,
    ) +
    scatter(
      s,
      'Space needed against routes per device (aggregation)',
      'routes per device (mean)',
      (r) => r.routesMean,
    )
  const rows = s.rows
    .map(
      (r, i) =>
        `<tr${r.pareto ? ' style="font-weight:600"' : ''}><td>${i + 1}</td><td>${policyLabel(r.policy)}</td><td>${grouped(r.casm)}</td><td>${r.vsPooled.toFixed(3)}</td><td>${r.vsStatic.toFixed(3)}</td><td>${grouped(r.rejected)}</td><td>${grouped(r.grants)}</td><td>${r.routesMean.toFixed(1)}</td><td>${grouped(r.messages)}</td><td>${r.violations}</td></tr>`,
    )
    .join('')
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>casm sim sweep ${s.scenario}</title>
<style>body{font:14px system-ui,sans-serif;max-width:960px;margin:24px auto;padding:0 12px}svg{width:100%;height:auto}table{border-collapse:collapse}td,th{padding:3px 8px;border-bottom:1px solid #ddd;text-align:right}td:nth-child(2),th:nth-child(2){text-align:left}</style></head><body>
<h1>casm sim sweep: ${s.scenario}</h1>
<p>Seed ${s.seed}, ${s.days} days, the same demand for every run. Static plan ${grouped(s.staticPlan)} ${s.units}, pooled lower bound ${grouped(s.pooledBound)} ${s.units}. Blue (bold in the table): no other policy needs less space, rejects fewer subscribers and needs fewer routes at once.</p>
${svg}
<table><tr><th>#</th><th>policy</th><th>casm (${s.units})</th><th>× pooled</th><th>× static</th><th>rejected</th><th>grants</th><th>routes/device</th><th>messages</th><th>broken invariants</th></tr>${rows}</table>
</body></html>
`
}
