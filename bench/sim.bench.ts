/**
 * `npm run bench -- sim [metro-100|cgn|v6-pd|failover]`: runs a shipped scenario through the fleet
 * simulator (the real coordinator in process, on a fresh SQLite store) and prints the space
 * figures with the simulator's speed:
 *
 * - `space_vs_pooled`: the space casm needed ÷ the pooled lower bound (target ≤ 1.15 on
 *   metro-100); `ratio` repeats it against the baseline `pooled lower bound`;
 * - `space_vs_static`: ÷ the static plan (each device sized for its own peak);
 * - `rejected`: subscribers turned away (target 0);
 * - `sim_days_per_minute`: simulated days per minute of wall time (target ≥ 30);
 * - `ops_per_s`: device-protocol messages the coordinator handled per second of wall time;
 *   `p50_us`/`p99_us`: its answers to reports that led to growth.
 *
 * `BENCH_SIM_DAYS` shortens (or lengthens) every scenario.
 *
 * @module
 */

import { runSimulation } from '../src/sim/fleet-sim.js'
import { loadScenario } from '../src/sim/scenario.js'
import { type BenchResult, progress, round, rssMb } from './measure.js'

const DAYS =
  process.env['BENCH_SIM_DAYS'] === undefined ? undefined : Number(process.env['BENCH_SIM_DAYS'])

async function scenario(name: string): Promise<BenchResult[]> {
  const s = loadScenario(name)
  progress(`sim ${name}: ${DAYS ?? s.days} simulated days`)
  const cpu0 = process.cpuUsage()
  const r = await runSimulation(s, {
    ...(DAYS === undefined ? {} : { days: DAYS }),
    series: false,
    onProgress: (p) => {
      if (p.simSeconds % 86_400 === 0 && p.simSeconds > 0)
        progress(
          `sim ${name}: day ${p.simSeconds / 86_400}, held ${p.held}, rejected ${p.rejected}`,
        )
    },
  })
  const cpu = process.cpuUsage(cpu0)
  return [
    {
      bench: `sim.${name}`,
      ops_per_s: round(r.coordinator.messages / r.wallSeconds),
      p50_us: round(r.reaction.growthDecisionP50Ms * 1000),
      p99_us: round(r.reaction.growthDecisionP99Ms * 1000),
      rss_mb: rssMb(),
      baseline: 'pooled lower bound',
      baseline_ops_per_s: 0,
      ratio: round(r.space.vsPooled),
      space_vs_pooled: round(r.space.vsPooled),
      space_vs_static: round(r.space.vsStatic),
      rejected: r.subscribers.rejected,
      space_casm: r.space.casm,
      space_static: r.space.staticPlan,
      space_pooled: r.space.pooledBound,
      units: r.units,
      sim_days: r.days,
      sim_days_per_minute: round(r.simDaysPerMinute),
      wall_s: round(r.wallSeconds),
      cpu_s: round((cpu.user + cpu.system) / 1e6),
      devices: r.devices.length,
      peak_subscribers: r.subscribers.peak,
      messages: r.coordinator.messages,
      mean_message_ms: round(r.coordinator.meanMessageMs),
      grants: r.grants.granted,
      drained: r.grants.drained,
      routes_mean: round(r.routes.meanPerDevice),
      routes_max: r.routes.maxPerDevice,
      violations: r.violations.length,
    },
  ]
}

/** The cases of this benchmark: one per shipped scenario. */
export const cases: Record<string, () => Promise<BenchResult[]>> = {
  'metro-100': () => scenario('metro-100'),
  cgn: () => scenario('cgn'),
  'v6-pd': () => scenario('v6-pd'),
  failover: () => scenario('failover'),
}
