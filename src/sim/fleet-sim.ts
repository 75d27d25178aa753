/**
 * The fleet simulator: a fleet of devices with subscriber demand drives the real coordinator
 * (its store, writer, policy engine and device loop, in process, on a fresh SQLite store) through
 * the real device protocol — hello, pool-request, status-report, and the coordinator's stream
 * (pool-reply, drain, undrain, release-notification) — with a simulated clock.
 *
 * Each device behaves like casm's agent with `--watch`: it reports every `reportInterval`, and at
 * once when its usage crosses the high watermark or a subscriber finds no free address (that
 * subscriber waits for the answer, as a DHCP client retransmits; the Kea benchmark measured the
 * whole round trip at p99 138 ms). Only a subscriber still without an address after the
 * coordinator answered is rejected.
 *
 * Subscribers are counted per grant, never one by one: per step a device's demand moves to the
 * scenario's curve, sessions end at the churn rate (spread over its grants by their share), new
 * subscribers fill the oldest active grants first, and a fast drain moves a grant's users within
 * one renewal time. Everything random comes from the seed, so a run is deterministic.
 *
 * While it runs it checks the invariants: no two live grants overlap, no grant is released while
 * the device still has users in it, and no subscriber is rejected while the pool had a free unit.
 *
 * @module
 */

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SeededRandom } from '../agent/backends/seeded-random.js'
import type { AllocationStrategy } from '../alloc/prefix-allocator.js'
import { type Caller, systemCaller } from '../coordinator/caller.js'
import { FakeClock } from '../coordinator/clock.js'
import { Coordinator } from '../coordinator/coordinator.js'
import { handleMessage } from '../coordinator/device-loop.js'
import { createBlock, createDevice, createDomain, createPool } from '../coordinator/inventory.js'
import { getPoolUsage } from '../coordinator/queries.js'
import type {
  CoordinatorMessage,
  DeviceMessage,
  GrantInfo,
  StreamMessage,
} from '../domain/device-protocol.js'
import { addressesOf } from '../domain/policy-engine.js'
import { CasmError } from '../errors/casm-error.js'
import { Prefix, aggregatePrefixes } from '../ip/index.js'
import { openStore } from '../store/open-store.js'
import { DemandModel } from './demand-model.js'
import type { Scenario } from './scenario.js'
import { spaceReferences } from './space-references.js'

/** Policy fields a run (or a sweep) may override. */
export type PolicyOverrides = Partial<Omit<Scenario['policy'], 'unit'>> & {
  readonly unitDefault?: number
}

/** Options of {@link runSimulation}. */
export interface SimOptions {
  /** Overrides the scenario's seed. */
  readonly seed?: number
  /** Overrides the scenario's length in days. */
  readonly days?: number
  /** Overrides of the pool policy (for sweeps). */
  readonly policy?: PolicyOverrides
  /** Called about once per simulated hour. */
  readonly onProgress?: (p: SimProgress) => void
  /** Keep per-device series (default true; sweeps turn it off). */
  readonly series?: boolean
}

/** Progress of a running simulation. */
export interface SimProgress {
  readonly simSeconds: number
  readonly totalSeconds: number
  readonly held: number
  readonly demand: number
  readonly rejected: number
}

/** One sample of the time series. */
export interface SimSample {
  /** Seconds into the run. */
  readonly t: number
  /** Subscribers the fleet should have (the demand). */
  readonly subscribers: number
  /** Demand in the loop's units (addresses; /64s for IPv6). */
  readonly demand: number
  /** In use: what the devices report. */
  readonly used: number
  /** Held in active grants, draining grants, and quarantined after release. */
  readonly active: number
  readonly draining: number
  readonly quarantined: number
  /** Subscribers rejected since the start. */
  readonly rejected: number
  /** Live grants, and routes once each device's grants are aggregated (all devices). */
  readonly grants: number
  readonly routes: number
  /** Per device: demand and held (active + draining), when series are kept. */
  readonly deviceDemand?: readonly number[]
  readonly deviceHeld?: readonly number[]
}

/** What a run measured. */
export interface SimResult {
  readonly scenario: string
  readonly seed: number
  readonly days: number
  readonly devices: readonly string[]
  readonly family: 'ipv4' | 'ipv6'
  /** The counting unit: `addresses`, or `/64s` for IPv6. */
  readonly units: string
  /** Size of one default unit, in counting units. */
  readonly unitSize: number
  readonly policy: Scenario['policy']
  /** The space figures: what casm needed against the two references. */
  readonly space: {
    /** Peak of the space held (active + draining + quarantined): what the pool must have. */
    readonly casm: number
    readonly casmPeakAt: number
    readonly staticPlan: number
    readonly pooledBound: number
    readonly poolSize: number
    readonly vsPooled: number
    readonly vsStatic: number
  }
  readonly subscribers: { readonly peak: number; readonly rejected: number }
  /** Rejected while the pool still had a free unit: must be 0. */
  readonly rejectedWhileFree: number
  readonly grants: {
    readonly granted: number
    readonly drained: number
    readonly undrained: number
    readonly released: number
    readonly moved: number
  }
  readonly routes: { readonly meanPerDevice: number; readonly maxPerDevice: number }
  /** How fast the loop reacted. */
  readonly reaction: {
    /**
     * Wall-clock time from sending a report that led to growth to its answer, with the step's
     * other reports in the same writer batch.
     */
    readonly growthDecisionP50Ms: number
    readonly growthDecisionP99Ms: number
    /** Simulated minutes from a drain to the release of the grant. */
    readonly drainToReleaseP50Min: number
    readonly drainToReleaseP99Min: number
    /** Reports that found the device short of space (a subscriber waited for the answer). */
    readonly shortReports: number
  }
  /** The coordinator's load. */
  readonly coordinator: {
    readonly messages: number
    readonly reports: number
    readonly events: number
    readonly messagesPerSimDay: number
    /** Wall time spent waiting for the coordinator, per message (batches counted once). */
    readonly meanMessageMs: number
  }
  readonly wallSeconds: number
  readonly simDaysPerMinute: number
  /** Broken invariants (must be empty). */
  readonly violations: readonly string[]
  readonly series: readonly SimSample[]
}

interface SimGrant {
  readonly id: string
  readonly prefix: Prefix
  /** Subscribers the grant can hold. */
  readonly capacity: number
  /** Counting units the grant holds. */
  readonly size: number
  subs: number
  state: 'active' | 'draining'
  fast: boolean
  /** Users at the start of a fast drain, and when the drain began. */
  drainBase: number
  drainedAt: number
}

interface SimDevice {
  readonly index: number
  readonly name: string
  readonly id: string
  readonly caller: Caller
  readonly grants: Map<string, SimGrant>
  after: number
  nextReport: number
  /** The last crossing report found no space: wait a report interval before the next. */
  starvedUntil: number
  /** Failed (silent) at the last step. */
  down: boolean
  /** When it last reported. */
  lastReport: number
}

const T0 = Date.parse('2026-01-05T00:00:00Z')
const MAX_ROUNDS = 8

function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return 0
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0
}

/** How subscribers map onto counting units for the scenario's kind. */
class SubscriberForm {
  readonly #s: Scenario
  constructor(s: Scenario) {
    this.#s = s
  }

  /** Subscribers a grant of `p` holds. */
  capacity(p: Prefix): number {
    const s = this.#s
    if (s.kind === 'pd') return 2 ** Math.max(0, (s.subscriber.delegatedLength ?? 56) - p.length)
    const addresses = addressesOf(s.family, p.length)
    return s.kind === 'cgn' ? addresses * (s.subscriber.perAddress ?? 1) : addresses
  }

  /** Counting units `subs` subscribers use in one grant. */
  used(subs: number): number {
    const s = this.#s
    if (s.kind === 'pd') return subs * 2 ** Math.max(0, 64 - (s.subscriber.delegatedLength ?? 56))
    if (s.kind === 'cgn') return Math.ceil(subs / (s.subscriber.perAddress ?? 1))
    return subs
  }

  /** Counting units of demand (fractional for CGN: address sharing across the fleet). */
  demand(subs: number): number {
    const s = this.#s
    if (s.kind === 'cgn') return subs / (s.subscriber.perAddress ?? 1)
    return this.used(subs)
  }
}

/**
 * Runs a scenario against a fresh in-process coordinator and returns what it measured.
 *
 * @throws CasmError `CASM_ERR_VALIDATION` when the overrides make the policy invalid.
 */
export async function runSimulation(
  scenario: Scenario,
  options: SimOptions = {},
): Promise<SimResult> {
  const started = performance.now()
  const seed = options.seed ?? scenario.seed ?? 1
  const days = options.days ?? scenario.days
  const step = scenario.step ?? 60
  const reportInterval = scenario.reportInterval ?? 300
  const sampleInterval = scenario.sampleInterval ?? 900
  const total = Math.round(days * 86_400)
  const o = options.policy ?? {}
  const unit = {
    ...scenario.policy.unit,
    ...(o.unitDefault === undefined ? {} : { default: o.unitDefault }),
  }
  unit.min = Math.min(unit.min, unit.default)
  unit.max = Math.max(unit.max, unit.default)
  const { unitDefault: _unit, ...overrides } = o
  const policy: Scenario['policy'] = { ...scenario.policy, ...overrides, unit }
  const high = policy.highWatermark ?? 0.8
  const low = policy.lowWatermark ?? 0.2
  const onChange = (scenario.reporting ?? 'interval') === 'on-change'
  const forecast = (policy.leadTime ?? 0) > 0
  // Under the coordinator's silence alarm (staleAfter is six intervals).
  const keepAlive = Math.min(86_400, reportInterval * 6) / 2
  const quarantine = policy.quarantine ?? 300
  const form = new SubscriberForm(scenario)
  const model = new DemandModel(scenario, seed)
  const rnd = new SeededRandom(seed ^ 0x5eed)
  const keepSeries = options.series ?? true
  const unitSize = addressesOf(scenario.family, unit.default)

  const dir = mkdtempSync(join(tmpdir(), 'casm-sim-'))
  const clock = new FakeClock(T0)
  const { coordinator: co } = await Coordinator.open(openStore({ dataDir: dir }), {
    clock,
    sweepIntervalMs: 0,
    // Device answers and stream messages are kept two simulated hours.
    idempotencyTtlMs: 7_200_000,
    // The run keeps its own series: no usage history for the console.
    usageSampleIntervalMs: 0,
  })
  try {
    const tenant = await co.reader.getTenant('default')
    if (tenant === undefined) throw new CasmError('CASM_ERR_INTERNAL', 'no default tenant')
    const admin = systemCaller(tenant.id)
    await co.run(createDomain(admin, { name: 'sim' }))
    for (const space of scenario.space) await co.run(createBlock(admin, { domain: 'sim', space }))
    const pool = await co.run(
      createPool(admin, {
        name: scenario.name,
        domain: 'sim',
        kind: scenario.kind,
        space: scenario.space,
        policy: {
          unit,
          highWatermark: high,
          lowWatermark: policy.lowWatermark ?? 0.2,
          holdDown: policy.holdDown ?? 3600,
          quarantine,
          leadTime: policy.leadTime ?? 0,
          minUnits: policy.minUnits ?? 1,
          drain: policy.drain ?? 'natural',
          reportInterval,
          staleAfter: Math.min(86_400, reportInterval * 6),
          ...(policy.strategy === undefined
            ? {}
            : { strategy: policy.strategy as AllocationStrategy }),
        },
      }),
    )
    const poolSize = scenario.space.reduce((a, p) => {
      const pre = Prefix.parse(p)
      return a + addressesOf(pre.family, pre.length)
    }, 0)

    const devices: SimDevice[] = []
    for (const d of model.devices) {
      const dev = await co.run(createDevice(admin, { name: d.name }))
      devices.push({
        index: devices.length,
        name: d.name,
        id: dev.id,
        caller: {
          ...admin,
          tokenId: `sim-${d.name}`,
          role: 'device',
          root: false,
          deviceId: dev.id,
        },
        grants: new Map(),
        after: 0,
        // Spread the periodic reports over the interval, as real devices are.
        nextReport: Math.floor(rnd.next() * reportInterval),
        starvedUntil: 0,
        down: false,
        lastReport: 0,
      })
    }

    // ---- counters ----
    let txn = 0
    let messages = 0
    let reports = 0
    let messageMs = 0
    let batching = false
    let shortReports = 0
    const growthMs: number[] = []
    const drainToRelease: number[] = []
    const count = { granted: 0, drained: 0, undrained: 0, released: 0, moved: 0 }
    let rejected = 0
    let rejectedWhileFree = 0
    const violations: string[] = []
    const quarantined: { size: number; until: number }[] = []
    let quarantinedHeld = 0 // the sizes in `quarantined`
    let held = 0 // active + draining, in counting units
    let drainingHeld = 0
    let peakHeld = 0
    let peakHeldAt = 0
    let peakSubscribers = 0
    let t = 0

    const violate = (what: string): void => {
      if (violations.length < 50)
        violations.push(`${new Date(T0 + t * 1000).toISOString()} ${what}`)
    }

    const send = async (
      dev: SimDevice,
      m: Record<string, unknown>,
    ): Promise<CoordinatorMessage> => {
      clock.set(T0 + t * 1000)
      const began = performance.now()
      const answer = await co.run(
        handleMessage(dev.caller, { v: 1, txn: `s${++txn}`, ...m } as DeviceMessage),
      )
      const ms = performance.now() - began
      messages++
      // Messages sent together share the time: the batch is counted once, around it.
      if (!batching) messageMs += ms
      if (answer.type === 'report-confirm' && answer.decisions.includes('grant')) growthMs.push(ms)
      return answer
    }

    const addGrant = (dev: SimDevice, g: GrantInfo): void => {
      if (dev.grants.has(g.grant)) return
      const prefix = Prefix.parse(g.prefix)
      const grant: SimGrant = {
        id: g.grant,
        prefix,
        capacity: form.capacity(prefix),
        size: addressesOf(prefix.family, prefix.length),
        subs: 0,
        state: g.state,
        fast: false,
        drainBase: 0,
        drainedAt: 0,
      }
      dev.grants.set(g.grant, grant)
      held += grant.size
      if (grant.state === 'draining') drainingHeld += grant.size
      count.granted++
    }

    /** Applies what the coordinator put on the device's stream since the last look. */
    const readStream = async (dev: SimDevice): Promise<void> => {
      for (;;) {
        const rows = await co.reader.deviceMessages(dev.id, dev.after, 1000)
        for (const row of rows) {
          dev.after = row.seq
          const m = JSON.parse(row.body) as StreamMessage
          switch (m.type) {
            case 'pool-reply':
              for (const g of m.grants) addGrant(dev, g)
              break
            case 'drain': {
              const g = dev.grants.get(m.grant)
              if (g !== undefined && g.state === 'active') {
                g.state = 'draining'
                g.fast = m.mode === 'fast'
                g.drainBase = g.subs
                g.drainedAt = t
                drainingHeld += g.size
                count.drained++
              }
              break
            }
            case 'undrain': {
              const g = dev.grants.get(m.grant)
              if (g !== undefined && g.state === 'draining') {
                g.state = 'active'
                g.fast = false
                drainingHeld -= g.size
                count.undrained++
              }
              break
            }
            case 'release-notification':
              for (const r of m.grants) {
                const g = dev.grants.get(r.grant)
                if (g === undefined) continue
                if (g.subs > 0)
                  violate(
                    `${dev.name}: ${g.prefix.toString()} released with ${g.subs} subscribers in it`,
                  )
                dev.grants.delete(r.grant)
                held -= g.size
                if (g.state === 'draining') {
                  drainingHeld -= g.size
                  drainToRelease.push((t - g.drainedAt) / 60)
                }
                if (r.state === 'quarantined') {
                  quarantined.push({ size: g.size, until: t + quarantine })
                  quarantinedHeld += g.size
                }
                count.released++
              }
              break
            case 'status-query':
              dev.nextReport = t
              break
          }
        }
        if (rows.length < 1000) return
      }
    }

    const report = async (dev: SimDevice): Promise<void> => {
      reports++
      dev.nextReport = t + reportInterval
      dev.lastReport = t
      const answer = await send(dev, {
        type: 'status-report',
        window: reportInterval,
        grants: [...dev.grants.values()].map((g) => ({
          grant: g.id,
          used: form.used(g.subs),
          state: g.state,
          ...(scenario.kind === 'cgn'
            ? {
                ports: {
                  total: g.size * 64_512,
                  used: Math.min(g.size * 64_512, g.subs * (scenario.subscriber.portBlock ?? 2048)),
                },
              }
            : {}),
        })),
      })
      // A report that decided nothing put nothing on the stream (the simulation sends no
      // operator actions), so there is nothing to read.
      if (answer.type !== 'report-confirm' || answer.decisions.length > 0) await readStream(dev)
    }

    const activeRoom = (dev: SimDevice): { free: number; capacity: number; subs: number } => {
      let free = 0
      let capacity = 0
      let subs = 0
      for (const g of dev.grants.values()) {
        subs += g.subs
        if (g.state !== 'active') continue
        capacity += g.capacity
        free += g.capacity - g.subs
      }
      return { free, capacity, subs }
    }

    /**
     * Whether a periodic report is due. Reporting `interval`: always. Reporting `on-change`:
     * when the engine has something to act on — usage outside the band between the watermarks,
     * a draining grant to confirm empty, a forecast to feed — or as a keep-alive every
     * `keepAlive` seconds; a device sitting inside the band stays quiet.
     */
    const worthReporting = (dev: SimDevice): boolean => {
      if (!onChange || t - dev.lastReport >= keepAlive || forecast) return true
      const room = activeRoom(dev)
      if (room.capacity === 0) return room.subs > 0
      const u = form.used(room.subs) / form.used(room.capacity)
      if (u < low || u >= high) return true
      for (const g of dev.grants.values()) if (g.state === 'draining') return true
      return false
    }

    /** Places `n` subscribers in the oldest active grants first; returns those left over. */
    const place = (dev: SimDevice, n: number): number => {
      for (const g of dev.grants.values()) {
        if (n === 0) break
        if (g.state !== 'active') continue
        const take = Math.min(n, g.capacity - g.subs)
        g.subs += take
        n -= take
      }
      return n
    }

    /** Removes `n` subscribers, spread over the grants by their share (draining ones first when asked). */
    const remove = (dev: SimDevice, n: number): void => {
      const all = [...dev.grants.values()].filter((g) => g.subs > 0)
      const total = all.reduce((a, g) => a + g.subs, 0)
      if (total === 0 || n <= 0) return
      let left = Math.min(n, total)
      const target = left
      for (const g of all) {
        const share = Math.min(g.subs, Math.floor((target * g.subs) / total + rnd.next()))
        const take = Math.min(share, left)
        g.subs -= take
        left -= take
      }
      // Rounding leftovers: take from whoever still has users.
      for (const g of all) {
        if (left === 0) break
        const take = Math.min(g.subs, left)
        g.subs -= take
        left -= take
      }
    }

    /** A pool-request of `length`; undefined when the pool has no such unit left. */
    const ask = async (dev: SimDevice, length: number): Promise<CoordinatorMessage | undefined> => {
      try {
        return await send(dev, { type: 'pool-request', length, reason: 'bring-up' })
      } catch (e) {
        if (e instanceof CasmError && e.code === 'CASM_ERR_POOL_EXHAUSTED') return undefined
        throw e
      }
    }

    // ---- bring-up: every device connects and gets space for its first subscribers ----
    const bringUp = async (dev: SimDevice): Promise<void> => {
      await send(dev, { type: 'hello', agent: { version: 'sim', backend: 'sim' }, holds: [] })
      const want = model.subscribersAt(dev.index, 0) / high
      for (let k = 0; k < 64 && activeRoom(dev).capacity < want; k++) {
        const missing = form.used(Math.ceil(want - activeRoom(dev).capacity))
        const bits = Math.ceil(Math.log2(Math.max(1, missing)))
        const width = scenario.family === 'ipv4' ? 32 : 64
        const length = Math.max(unit.min, Math.min(unit.default, width - bits))
        // A large first grant may not fit a fragmented or crowded pool: then a default unit.
        const r =
          (await ask(dev, length)) ??
          (length === unit.default ? undefined : await ask(dev, unit.default))
        if (r?.type !== 'pool-reply') break
        for (const g of r.grants) addGrant(dev, g)
      }
      await readStream(dev)
    }
    // The fleet comes up together, as after a maintenance window.
    const bringUpStarted = performance.now()
    batching = true
    await Promise.all(devices.map(bringUp))
    batching = false
    messageMs += performance.now() - bringUpStarted

    const drops = new Map<number, number[]>()
    for (const d of model.drops()) {
      const at = Math.floor(d.at / step) * step
      drops.set(at, [...(drops.get(at) ?? []), d.device])
    }
    const churnPerStep = step / (scenario.subscriber.sessionHours * 3600)
    const renew = scenario.subscriber.renewSeconds ?? 1800
    const series: SimSample[] = []
    const referenceDemand: number[][] = []
    const targets: number[] = devices.map(() => 0)
    let lastProgress = -1
    let maxRoutes = 0

    const tellProgress = (at: number): void => {
      options.onProgress?.({
        simSeconds: at,
        totalSeconds: total,
        held: held + quarantinedHeld,
        demand: series[series.length - 1]?.demand ?? 0,
        rejected,
      })
    }

    const sample = (): void => {
      let used = 0
      let subs = 0
      let grants = 0
      let routes = 0
      const deviceDemand: number[] = []
      const deviceHeld: number[] = []
      const live: Prefix[] = []
      for (const dev of devices) {
        let h = 0
        const mine: Prefix[] = []
        for (const g of dev.grants.values()) {
          used += form.used(g.subs)
          subs += g.subs
          h += g.size
          mine.push(g.prefix)
        }
        grants += mine.length
        const r = aggregatePrefixes(mine).length
        routes += r
        if (r > maxRoutes) maxRoutes = r
        live.push(...mine)
        if (keepSeries) {
          deviceDemand.push(form.demand(targets[dev.index] ?? 0))
          deviceHeld.push(h)
        }
      }
      // No two live grants overlap (the devices' own view, which the coordinator granted).
      live.sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0))
      for (let i = 1; i < live.length; i++) {
        const prev = live[i - 1]
        const cur = live[i]
        if (prev !== undefined && cur !== undefined && cur.first <= prev.last)
          violate(`overlap: ${prev.toString()} and ${cur.toString()}`)
      }
      let demandSubs = 0
      let demand = 0
      for (const n of targets) {
        demandSubs += n
        demand += form.demand(n)
      }
      series.push({
        t,
        subscribers: demandSubs,
        demand,
        used,
        active: held - drainingHeld,
        draining: drainingHeld,
        quarantined: quarantinedHeld,
        rejected,
        grants,
        routes,
        ...(keepSeries ? { deviceDemand, deviceHeld } : {}),
      })
      if (subs > peakSubscribers) peakSubscribers = subs
    }

    // ---- the run ----
    const due: { dev: SimDevice; crossing: boolean; capacity: number }[] = []
    for (t = 0; t <= total; t += step) {
      // Quarantine ends: the coordinator's sweep frees the space; the run stops counting it.
      while (quarantined.length > 0 && (quarantined[0]?.until ?? Infinity) <= t)
        quarantinedHeld -= quarantined.shift()?.size ?? 0
      if (t % 600 === 0) {
        clock.set(T0 + t * 1000)
        await co.housekeeping()
      }
      // Each device's demand this step, once: for the references, the devices and the samples.
      for (const d of devices) targets[d.index] = model.subscribersAt(d.index, t)
      referenceDemand.push(targets.map((n) => form.demand(n)))

      for (const i of drops.get(t) ?? []) {
        const dev = devices[i]
        if (dev !== undefined) for (const g of dev.grants.values()) g.subs = 0
      }
      for (const dev of devices) {
        // A failed device is silent: it neither serves nor reports; back up, it says hello
        // with what it holds, as an agent restarting does.
        if (model.isDown(dev.index, t)) {
          dev.down = true
          continue
        }
        if (dev.down) {
          dev.down = false
          await send(dev, {
            type: 'hello',
            agent: { version: 'sim', backend: 'sim' },
            holds: [...dev.grants.values()].map((g) => ({ prefix: g.prefix.toString() })),
          })
          await readStream(dev)
        }
        const target = targets[dev.index] ?? 0
        let { subs } = activeRoom(dev)
        // Sessions end (churn) and, when demand falls, more leave than come.
        const churn = Math.min(subs, rnd.poisson(subs * churnPerStep))
        remove(dev, churn)
        subs -= churn
        if (subs > target) {
          remove(dev, subs - target)
          subs = target
        }
        // A fast drain moves its users within one renewal time.
        let moving = 0
        for (const g of dev.grants.values()) {
          if (g.state !== 'draining' || !g.fast || g.subs === 0) continue
          const move = Math.min(g.subs, Math.ceil((g.drainBase * step) / renew))
          g.subs -= move
          moving += move
        }
        let arriving = Math.max(0, target - subs) + moving
        arriving = place(dev, arriving)
        let rounds = 0
        while (arriving > 0 && rounds < MAX_ROUNDS) {
          // Short of space: the device asks now; the subscriber waits for the answer.
          shortReports++
          rounds++
          const before = activeRoom(dev).capacity
          await report(dev)
          arriving = place(dev, arriving)
          if (activeRoom(dev).capacity === before) break
        }
        if (arriving > 0) {
          rejected += arriving
          const usage = await co.run(getPoolUsage(admin, pool.name))
          if (BigInt(usage.fragmentation.possible) > 0n) {
            rejectedWhileFree += arriving
            violate(
              `${dev.name}: ${arriving} subscribers rejected while the pool had ${usage.fragmentation.possible} free units`,
            )
          }
        }
        const room = activeRoom(dev)
        const crossing =
          room.capacity > 0 && form.used(room.subs) >= high * form.used(room.capacity)
        if ((crossing && dev.starvedUntil <= t) || (t >= dev.nextReport && worthReporting(dev)))
          due.push({ dev, crossing, capacity: room.capacity })
      }
      // The step's reports go in together, as a fleet's do: the writer commits them in batches.
      const began = performance.now()
      batching = true
      await Promise.all(due.map((d) => report(d.dev)))
      batching = false
      messageMs += performance.now() - began
      for (const d of due) {
        // A crossing report that brought nothing (the pool is exhausted) waits an interval.
        if (d.crossing && activeRoom(d.dev).capacity === d.capacity)
          d.dev.starvedUntil = t + reportInterval
      }
      due.length = 0

      if (held + quarantinedHeld > peakHeld) {
        peakHeld = held + quarantinedHeld
        peakHeldAt = t
      }
      if (t % sampleInterval === 0) sample()
      const hour = Math.floor(t / 3600)
      if (hour !== lastProgress) {
        lastProgress = hour
        tellProgress(t)
      }
    }
    t = total
    tellProgress(total)

    // The coordinator's view matches the devices' at the end.
    for (const dev of devices) {
      const rows = await co.reader.deviceUnits(dev.id)
      const live = new Set(
        rows
          .filter((r) => r.type === 'grant' && (r.state === 'active' || r.state === 'draining'))
          .map((r) => r.id),
      )
      const mine = new Set(dev.grants.keys())
      for (const id of live)
        if (!mine.has(id))
          violate(`${dev.name}: the coordinator has ${id} live, the device does not`)
      for (const id of mine)
        if (!live.has(id)) violate(`${dev.name}: the device holds ${id}, the coordinator does not`)
    }

    const refs = spaceReferences(referenceDemand, unitSize)
    const events = (await co.reader.chainHead()).seq
    const wallSeconds = (performance.now() - started) / 1000
    const routeSamples = series.map((s) => s.routes / Math.max(1, devices.length))
    return {
      scenario: scenario.name,
      seed,
      days,
      devices: devices.map((d) => d.name),
      family: scenario.family,
      units: scenario.family === 'ipv6' ? '/64s' : 'addresses',
      unitSize,
      policy,
      space: {
        casm: peakHeld,
        casmPeakAt: peakHeldAt,
        staticPlan: refs.staticPlan,
        pooledBound: refs.pooledBound,
        poolSize,
        vsPooled: refs.pooledBound === 0 ? 0 : peakHeld / refs.pooledBound,
        vsStatic: refs.staticPlan === 0 ? 0 : peakHeld / refs.staticPlan,
      },
      subscribers: { peak: peakSubscribers, rejected },
      rejectedWhileFree,
      grants: count,
      routes: {
        meanPerDevice:
          routeSamples.length === 0
            ? 0
            : routeSamples.reduce((a, b) => a + b, 0) / routeSamples.length,
        maxPerDevice: maxRoutes,
      },
      reaction: {
        growthDecisionP50Ms: percentile(growthMs, 50),
        growthDecisionP99Ms: percentile(growthMs, 99),
        drainToReleaseP50Min: percentile(drainToRelease, 50),
        drainToReleaseP99Min: percentile(drainToRelease, 99),
        shortReports,
      },
      coordinator: {
        messages,
        reports,
        events,
        messagesPerSimDay: messages / Math.max(days, 1e-9),
        meanMessageMs: messages === 0 ? 0 : messageMs / messages,
      },
      wallSeconds,
      simDaysPerMinute: days / (wallSeconds / 60),
      violations,
      series,
    }
  } finally {
    await co.close()
    rmSync(dir, { recursive: true, force: true })
  }
}
