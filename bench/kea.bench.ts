/**
 * `npm run bench -- kea`: casm feeding a real Kea DHCPv4 server under perfdhcp load
 * (src/kea/kea-lab.ts: the coordinator, the agent and the benchmark share one process).
 *
 * - `growth`: one Kea, a /22 pool of /27 units, watermark 0.8, no forecast (so every growth is
 *   a reaction to a crossing). Subscribers arrive at a steady rate until the device holds most of
 *   the /22. A sampler reads Kea's statistics every 20 ms: the crossing is the first sample where
 *   assigned addresses reach 80 % of the units held, the pool serves when Kea's statistics list
 *   the new subnet (Kea makes them when `config-set` installs it). `p50_us`/`p99_us`: crossing →
 *   serving. Baseline: Kea's own reconfiguration with one subnet more (config-get, config-test,
 *   config-set, config-write), the floor any agent pays.
 * - `dora-rate`: the arrival rate the loop sustains with every DORA completed while the device
 *   grows from one /27 to the /22 (rates tried in turn, a fresh setup each); `ops_per_s` is the
 *   highest rate with no failure.
 *
 * @module
 */

import { KeaControl } from '../src/kea/kea-control.js'
import { KeaLab, type LabPolicy } from '../src/kea/kea-lab.js'
import { keaAvailable, startKea } from '../src/kea/kea-process.js'
import { type BenchResult, LatencyRecorder, round, rssMb } from './measure.js'

const POLICY: LabPolicy = {
  unit: { min: 27, default: 27, max: 27 },
  highWatermark: 0.8,
  lowWatermark: 0.05,
  reportInterval: 5,
  holdDown: 600,
  leadTime: 0,
  quarantine: 0,
  minUnits: 1,
}
/** Addresses of casm's usage units per /27. */
const UNIT = 32
const SAMPLE_MS = 20

const log = (text: string): void => void process.stderr.write(`[bench] kea: ${text}\n`)

function requireKea(): void {
  const kea = keaAvailable()
  if (!kea.available)
    throw new Error(`${kea.reason}: apt-get install kea-dhcp4-server kea-dhcp6-server kea-admin`)
}

interface Sample {
  readonly at: number
  readonly subnets: number
  readonly assigned: number
}

async function sample(kea: KeaControl): Promise<Sample> {
  const stats = await kea.call<Record<string, [number, string][]>>('statistic-get-all')
  let subnets = 0
  let assigned = 0
  for (const [key, values] of Object.entries(stats)) {
    if (!key.startsWith('subnet[')) continue
    if (key.endsWith('.total-addresses')) subnets++
    if (key.endsWith('.assigned-addresses')) assigned += values[0]?.[0] ?? 0
  }
  return { at: performance.now(), subnets, assigned }
}

/** Crossing → serving delays, in ms, from a series of samples. */
export function growthDelays(samples: readonly Sample[], high: number): number[] {
  const out: number[] = []
  let crossedAt: number | undefined
  let held = samples[0]?.subnets ?? 0
  for (const s of samples) {
    if (s.subnets > held) {
      if (crossedAt !== undefined) out.push(s.at - crossedAt)
      crossedAt = undefined
      held = s.subnets
    }
    if (crossedAt === undefined && held > 0 && s.assigned >= high * held * UNIT) crossedAt = s.at
  }
  return out
}

async function growth(): Promise<BenchResult[]> {
  requireKea()
  const rate = 40
  const clients = 800
  const lab = await KeaLab.start({
    family: 'ipv4',
    servers: 1,
    block: '100.64.0.0/16',
    space: ['100.64.0.0/22'],
    policy: POLICY,
    validLifetime: 3600,
  })
  try {
    const device = lab.devices[0]!
    const kea = new KeaControl({ endpoint: { socket: device.kea.socketPath }, service: 'dhcp4' })
    const samples: Sample[] = []
    let sampling = true
    const sampler = (async () => {
      while (sampling) {
        samples.push(await sample(kea))
        await new Promise((r) => setTimeout(r, SAMPLE_MS))
      }
    })()
    while ((samples.at(-1)?.subnets ?? 0) === 0) await new Promise((r) => setTimeout(r, 50))
    log(`${clients} subscribers at ${rate}/s`)
    const run = lab.subscribers(device, { rate, clients, requests: clients, seed: 5 })
    const result = await run.result
    await new Promise((r) => setTimeout(r, 2_000))
    sampling = false
    await sampler
    const delays = growthDelays(samples, POLICY.highWatermark)
    const recorder = new LatencyRecorder(delays.length)
    for (const d of delays) recorder.add(BigInt(Math.round(d * 1e6)))
    const dora = result.exchanges['REQUEST-ACK']
    const sent = result.exchanges['DISCOVER-OFFER']?.sent ?? 0
    log(`grew ${delays.length} times; delays ms: ${delays.map((d) => Math.round(d)).join(' ')}`)

    // Baseline: Kea's own reconfiguration, one subnet more each time.
    const floor = await keaFloor(20)
    const p50 = recorder.quantileUs(0.5)
    return [
      {
        bench: 'kea.growth',
        ops_per_s: round(1e6 / p50),
        p50_us: round(p50),
        p99_us: round(recorder.quantileUs(0.99)),
        max_us: round(recorder.quantileUs(1)),
        rss_mb: round(rssMb()),
        growths: delays.length,
        subnets: samples.at(-1)?.subnets,
        arrival_rate: rate,
        dora_sent: sent,
        dora_completed: dora?.received ?? 0,
        sample_ms: SAMPLE_MS,
        baseline: 'Kea reconfiguration alone (config-get, config-test, config-set, config-write)',
        baseline_ops_per_s: round(1e6 / floor.p50),
        baseline_p50_us: round(floor.p50),
        ratio: round(floor.p50 / p50),
        target: 'p99 <= 1 s from the crossing to the new pool serving',
      },
    ]
  } finally {
    await lab.stop()
  }
}

/** Kea's reconfiguration latency with `n` subnets added one by one. */
async function keaFloor(n: number): Promise<{ p50: number }> {
  const kea = await startKea({ service: 'dhcp4', logSeverity: 'WARN' })
  try {
    const control = new KeaControl({ endpoint: { socket: kea.socketPath }, service: 'dhcp4' })
    const recorder = new LatencyRecorder(n)
    for (let i = 0; i < n; i++) {
      const t0 = process.hrtime.bigint()
      const config = await control.call<Record<string, Record<string, unknown>>>('config-get')
      delete config['hash']
      const net = (config['Dhcp4']!['shared-networks'] as Record<string, unknown[]>[])[0]!
      net['subnet4']!.push({ id: 500 + i, subnet: `10.9.${i}.0/27`, pools: [{ pool: `10.9.${i}.1-10.9.${i}.30` }] })
      await control.call('config-test', config)
      await control.call('config-set', config)
      await control.call('config-write')
      recorder.add(process.hrtime.bigint() - t0)
    }
    return { p50: recorder.quantileUs(0.5) }
  } finally {
    await kea.dispose()
  }
}

async function doraRate(): Promise<BenchResult[]> {
  requireKea()
  const clients = 780 // 76 % of a /22: the device grows to about all of it
  const tried: { rate: number; sent: number; completed: number; grants: number }[] = []
  for (const rate of [25, 50, 100, 200]) {
    const lab = await KeaLab.start({
      family: 'ipv4',
      servers: 1,
      block: '100.64.0.0/16',
      space: ['100.64.0.0/22'],
      policy: { ...POLICY, reportInterval: 1 },
      validLifetime: 3600,
    })
    try {
      const device = lab.devices[0]!
      const deadline = Date.now() + 30_000
      while ((await lab.grants(device)).length === 0 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100))
      const result = await lab.subscribers(device, { rate, clients, requests: clients, seed: 9 }).result
      const sent = result.exchanges['DISCOVER-OFFER']?.sent ?? 0
      const completed = result.exchanges['REQUEST-ACK']?.received ?? 0
      const grants = (await lab.grants(device)).filter((g) => g.state === 'active').length
      tried.push({ rate, sent, completed, grants })
      log(`rate ${rate}/s: ${completed}/${sent} DORA completed, ${grants} grants`)
    } finally {
      await lab.stop()
    }
  }
  const clean = tried.filter((t) => t.sent > 0 && t.completed === t.sent)
  const best = clean.reduce((a, t) => Math.max(a, t.rate), 0)
  return [
    {
      bench: 'kea.dora-rate',
      ops_per_s: best,
      rss_mb: round(rssMb()),
      clients,
      tried: tried.map((t) => ({ ...t, success_percent: round((100 * t.completed) / Math.max(1, t.sent)) })),
      policy: 'watermark 0.8, /27 units, report every 1 s, no forecast',
    },
  ]
}

/** The cases of `npm run bench -- kea`. */
export const cases = {
  growth,
  'dora-rate': doraRate,
}
