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
 * - `dora-rate`: the arrival rate the loop sustains while the device grows from one /27 to the
 *   /22 (rates tried in turn, a fresh setup each); `ops_per_s` is the highest rate at which no
 *   client found the space exhausted (Kea's ALLOC_FAIL). Packets lost while Kea reconfigures
 *   are counted apart.
 * - `reconfig-gap`: what one `config-set` costs DHCP clients (Kea 2.2 reopens its sockets and
 *   reads its lease file back on every configuration change).
 *
 * @module
 */

import { KeaControl } from '../src/kea/kea-control.js'
import { assignedBySubnet } from '../src/kea/kea-leases.js'
import { KeaLab, type LabPolicy } from '../src/cli/kea-lab.js'
import { keaAvailable, startKea } from '../src/kea/kea-process.js'
import { startPerfdhcp } from '../src/kea/perfdhcp.js'
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
/**
 * Leasable addresses per /27 (32 less network and broadcast): the agent scales usage to them,
 * so it crosses the watermark at 80 % of 30 leases, not of 32 addresses.
 */
const LEASABLE = 30
const SAMPLE_MS = 20

const log = (text: string): void => void process.stderr.write(`[bench] kea: ${text}\n`)

function requireKea(): void {
  const kea = keaAvailable()
  if (!kea.available)
    throw new Error(
      `${kea.reason}: apt-get install kea-dhcp4-server kea-dhcp6-server kea-admin kea-ctrl-agent`,
    )
}

interface Sample {
  readonly at: number
  readonly subnets: number
  readonly assigned: number
}

/** Kea keeps an `assigned-addresses` statistic for every subnet it has, leases or not. */
async function sample(kea: KeaControl): Promise<Sample> {
  const bySubnet = await assignedBySubnet(kea, 'v4')
  let assigned = 0
  for (const n of bySubnet.values()) assigned += n
  return { at: performance.now(), subnets: bySubnet.size, assigned }
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
    if (crossedAt === undefined && held > 0 && s.assigned >= high * held * LEASABLE)
      crossedAt = s.at
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
    const sampling = { on: true }
    const sampler = (async () => {
      while (sampling.on) {
        samples.push(await sample(kea))
        await new Promise((r) => setTimeout(r, SAMPLE_MS))
      }
    })()
    while ((samples.at(-1)?.subnets ?? 0) === 0) await new Promise((r) => setTimeout(r, 50))
    log(`${clients} subscribers at ${rate}/s`)
    const run = lab.subscribers(device, { rate, clients, requests: clients, seed: 5 })
    const result = await run.result
    await new Promise((r) => setTimeout(r, 2_000))
    sampling.on = false
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
      net['subnet4']!.push({
        id: 500 + i,
        subnet: `10.9.${i}.0/27`,
        pools: [{ pool: `10.9.${i}.1-10.9.${i}.30` }],
      })
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
  const tried: {
    rate: number
    sent: number
    completed: number
    no_space: number
    lost_in_reconfiguration: number
    config_sets: number
    grants: number
  }[] = []
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
      const sets0 = Number(device.backend.describe()['keaConfigSets'])
      const result = await lab.subscribers(device, { rate, clients, requests: clients, seed: 9 })
        .result
      const sent = result.exchanges['DISCOVER-OFFER']?.sent ?? 0
      const completed = result.exchanges['REQUEST-ACK']?.received ?? 0
      const grants = (await lab.grants(device)).filter((g) => g.state === 'active').length
      const noSpace = device.kea.allocationFailures()
      const row = {
        rate,
        sent,
        completed,
        no_space: noSpace,
        lost_in_reconfiguration: sent - completed - noSpace,
        config_sets: Number(device.backend.describe()['keaConfigSets']) - sets0,
        grants,
      }
      tried.push(row)
      log(
        `rate ${rate}/s: ${completed}/${sent} DORA completed; ${noSpace} found no free address, ${row.lost_in_reconfiguration} lost while Kea reconfigured (${row.config_sets} config-sets); ${grants} grants`,
      )
    } finally {
      await lab.stop()
    }
  }
  const best = tried
    .filter((t) => t.sent > 0 && t.no_space === 0)
    .reduce((a, t) => Math.max(a, t.rate), 0)
  return [
    {
      bench: 'kea.dora-rate',
      ops_per_s: best,
      rss_mb: round(rssMb()),
      clients,
      tried: tried.map((t) => ({
        ...t,
        success_percent: round((100 * t.completed) / Math.max(1, t.sent)),
      })),
      policy: 'watermark 0.8, /27 units, report every 1 s, watch every 100 ms, no forecast',
      note: 'ops_per_s: the highest arrival rate at which no client found the space exhausted; packets Kea drops while config-set reopens its sockets and lease file are counted apart (see kea.reconfig-gap)',
    },
  ]
}

/**
 * What one `config-set` costs the clients: perfdhcp at 1,000 exchanges/s against a Kea with a
 * /16 pool while a subnet is added every 200 ms; packets lost per config-set, and the window
 * that makes at that rate. Baseline: the same with the lease database not persisted (no lease
 * file to read back), to show where the time goes.
 */
async function reconfigGap(): Promise<BenchResult[]> {
  requireKea()
  const measure = async (persist: boolean) => {
    const kea = await startKea({
      service: 'dhcp4',
      logSeverity: 'WARN',
      validLifetime: 3600,
      extraConfig: (c) => {
        const d = c['Dhcp4'] as Record<string, Record<string, unknown>>
        d['lease-database']!['persist'] = persist
        ;(d['shared-networks'] as unknown as Record<string, unknown>[])[0]!['subnet4'] = [
          { id: 1, subnet: '10.0.0.0/16', pools: [{ pool: '10.0.0.1-10.0.255.254' }] },
        ]
        return c
      },
    })
    try {
      const control = new KeaControl({ endpoint: { socket: kea.socketPath }, service: 'dhcp4' })
      const rate = 1000
      const run = startPerfdhcp({
        service: 'dhcp4',
        serverPort: kea.serverPort,
        clientPort: kea.clientPort,
        rate,
        clients: 60_000,
        duration: 8,
        dropTime: 2,
        exitWaitMs: 2_000,
        seed: 1,
      })
      await new Promise((r) => setTimeout(r, 1_000))
      const times = new LatencyRecorder(100)
      const started = Date.now()
      for (let n = 0; Date.now() - started < 5_000; n++) {
        const config = await control.call<Record<string, Record<string, unknown>>>('config-get')
        delete config['hash']
        ;(config['Dhcp4']!['shared-networks'] as Record<string, unknown[]>[])[0]!['subnet4']!.push({
          id: 100 + n,
          subnet: `10.1.${n}.0/24`,
          pools: [{ pool: `10.1.${n}.1-10.1.${n}.254` }],
        })
        const t0 = process.hrtime.bigint()
        await control.call('config-set', config)
        times.add(process.hrtime.bigint() - t0)
        await new Promise((r) => setTimeout(r, 200))
      }
      const r = await run.result
      const lost = ['DISCOVER-OFFER', 'REQUEST-ACK']
        .map((k) => r.exchanges[k as 'DISCOVER-OFFER'])
        .reduce((a, e) => a + (e === undefined ? 0 : e.sent - e.received), 0)
      const leases = r.exchanges['REQUEST-ACK']?.received ?? 0
      return {
        sets: times.count,
        lost,
        leases,
        p50: times.quantileUs(0.5),
        p99: times.quantileUs(0.99),
        rate,
      }
    } finally {
      await kea.dispose()
    }
  }
  const real = await measure(true)
  const bare = await measure(false)
  const perSet = real.lost / real.sets
  log(
    `${real.sets} config-sets under ${real.rate}/s: ${real.lost} packets lost (${perSet.toFixed(1)} per config-set), config-set p50 ${Math.round(real.p50 / 1000)} ms with ~${real.leases} leases`,
  )
  return [
    {
      bench: 'kea.reconfig-gap',
      ops_per_s: round(1e6 / real.p50),
      p50_us: round(real.p50),
      p99_us: round(real.p99),
      rss_mb: round(rssMb()),
      config_sets: real.sets,
      packets_per_s: real.rate,
      lost_per_config_set: round(perSet),
      window_ms: round((perSet / real.rate) * 1000),
      leases_at_end: real.leases,
      baseline: 'the same without a lease file (memfile persist false)',
      baseline_ops_per_s: round(1e6 / bare.p50),
      baseline_lost_per_config_set: round(bare.lost / bare.sets),
      ratio: round(bare.p50 / real.p50),
    },
  ]
}

/** The cases of `npm run bench -- kea`. */
export const cases = {
  growth,
  'dora-rate': doraRate,
  'reconfig-gap': reconfigGap,
}
