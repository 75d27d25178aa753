/**
 * `sim`: an in-process subscriber population standing in for a BNG or a DHCP server, so the
 * whole device loop runs without hardware.
 *
 * Subscribers want to be online along a target demand curve. Arrivals are a Poisson process
 * whose rate keeps the expected population on the curve (`D(t) / session + D'(t)`, evaluated per
 * step), each stays online for an exponentially distributed session, and each takes one free
 * address (IPv4) or /64 (IPv6: a delegated prefix) in an active installed grant, oldest grant
 * first. When none is free the attempt is rejected (counted) and the subscriber tries again after
 * about `retrySeconds`, until its session would have ended. Draining grants take no new
 * subscribers; theirs leave as sessions end (or, for a `fast` drain or with `fastDrain`, move at
 * once to free space in active grants). Removing a grant cuts its subscribers, who then try again
 * like rejected ones.
 *
 * The simulation is lazy and exact: every call first advances it to the injected clock's time
 * (times `speed`), event by event, so the same seed and the same calls at the same times give the
 * same results however time is sliced.
 *
 * @module
 */

import { readFile } from 'node:fs/promises'
import { CasmError } from '../../errors/casm-error.js'
import { Prefix } from '../../ip/index.js'
import { writeFileAtomic } from '../write-file-atomic.js'
import {
  type Backend,
  type BackendGrant,
  type BackendGrantState,
  type BackendUsage,
  type HeldGrant,
  usageUnits,
} from './backend.js'
import { demandAt, type DemandCurve } from './demand-curve.js'
import { SeededRandom, type SeededRandomState } from './seeded-random.js'

/** How the simulated population behaves. */
export interface SimBackendOptions {
  /** Seed of the random generator (default 1). */
  readonly seed?: number
  /** Target demand (default constant 100). */
  readonly curve?: DemandCurve
  /** Mean session length in simulated seconds (default 3600). */
  readonly sessionSeconds?: number
  /** Mean wait before a rejected or cut subscriber tries again, simulated seconds (default 30). */
  readonly retrySeconds?: number
  /** Length of an arrival step in simulated seconds (default 1). */
  readonly stepSeconds?: number
  /**
   * Move subscribers of a draining grant to free addresses in active grants at once, whatever
   * drain mode the coordinator asks (by default only for `fast` drains).
   */
  readonly fastDrain?: boolean
  /** Milliseconds now (default Date.now); tests inject a manual clock. */
  readonly clock?: () => number
  /** Simulated seconds per clock second (default 1). */
  readonly speed?: number
  /** A file to keep the population in across restarts (none: every start is a fresh device). */
  readonly snapshotFile?: string
  /** Addresses counted per grant at most (an IPv6 /64 is not simulated address by address). */
  readonly maxGrantSize?: number
}

interface SimGrant {
  grant: string | undefined
  readonly prefix: string
  readonly info: BackendGrant
  state: BackendGrantState
  readonly capacity: number
  used: number
  nextOffset: number
  readonly free: number[]
  readonly members: Set<Subscriber>
  peak: number
  area: number
  lastChange: number
  since: number
}

interface Subscriber {
  readonly id: number
  readonly endsAt: number
  nextAt: number
  grant: SimGrant | null
  offset: number
}

/** Facts about a simulated grant, for tests. */
export interface SimGrantView {
  readonly grant: string | undefined
  readonly prefix: string
  readonly state: BackendGrantState
  readonly capacity: number
  readonly used: number
  /** The address offsets in use: each at most once, all below `capacity`. */
  readonly offsets: readonly number[]
}

interface Snapshot {
  readonly version: number
  readonly t: number
  readonly rng: SeededRandomState
  readonly nextStep: number
  readonly lastDemand: number
  readonly nextId: number
  readonly rejected: number
  readonly evicted: number
  readonly grants: readonly (Omit<SimGrant, 'members' | 'grant' | 'info'> & {
    grant: string | null
    info: BackendGrant
  })[]
  /** [id, endsAt, nextAt, grant index or -1, offset] */
  readonly subscribers: readonly (readonly [number, number, number, number, number])[]
}

/**
 * The simulated backend.
 *
 * @example
 * ```ts
 * let now = 0
 * const sim = new SimBackend({ seed: 7, curve: { kind: 'constant', level: 40 }, clock: () => now })
 * await sim.start()
 * await sim.install({ grant: 'gr_1', prefix: '100.64.8.0/27', state: 'active' })
 * now += 600_000
 * await sim.usage() // [{ grant: 'gr_1', prefix: '100.64.8.0/27', used: 32, ... }]: 8 more are rejected
 * ```
 */
export class SimBackend implements Backend {
  /** @inheritdoc */
  readonly name = 'sim'
  private readonly curve: DemandCurve
  private readonly session: number
  private readonly retry: number
  private readonly step: number
  private readonly fastDrain: boolean
  private readonly clock: () => number
  private readonly speed: number
  private readonly snapshotFile: string | undefined
  private readonly maxGrantSize: number
  private rng: SeededRandom
  private grants: SimGrant[] = []
  private readonly subscribers = new Map<number, Subscriber>()
  private heap = new EventHeap()
  private t = 0
  private base = 0
  private clockBase = 0
  private nextStep = 0
  private lastDemand = 0
  private nextId = 1
  private rejected = 0
  private evicted = 0

  constructor(options: SimBackendOptions = {}) {
    this.curve = options.curve ?? { kind: 'constant', level: 100 }
    this.session = options.sessionSeconds ?? 3600
    this.retry = options.retrySeconds ?? 30
    this.step = options.stepSeconds ?? 1
    this.fastDrain = options.fastDrain ?? false
    this.clock = options.clock ?? Date.now
    this.speed = options.speed ?? 1
    this.snapshotFile = options.snapshotFile
    this.maxGrantSize = options.maxGrantSize ?? 1 << 24
    this.rng = new SeededRandom(options.seed ?? 1)
    this.clockBase = this.clock()
    if (!(this.session > 0) || !(this.retry > 0) || !(this.step > 0) || !(this.speed > 0))
      throw new CasmError(
        'CASM_ERR_VALIDATION',
        'the simulation needs a session length, retry time, step and speed above 0',
        { session: this.session, retry: this.retry, step: this.step, speed: this.speed },
      )
  }

  /** @inheritdoc */
  async start(): Promise<void> {
    if (this.snapshotFile !== undefined) {
      let text: string | undefined
      try {
        text = await readFile(this.snapshotFile, 'utf8')
      } catch {
        text = undefined
      }
      if (text !== undefined) this.restore(JSON.parse(text) as Snapshot)
    }
    this.base = this.t
    this.clockBase = this.clock()
  }

  /** @inheritdoc */
  async install(grant: BackendGrant): Promise<void> {
    const t = this.advance()
    const prefix = canonical(grant.prefix)
    const held = this.find(prefix)
    if (held !== undefined) {
      if (held.grant === undefined && grant.grant !== undefined) held.grant = grant.grant
      await this.save()
      return
    }
    this.grants.push({
      grant: grant.grant,
      prefix,
      info: { ...grant, prefix },
      state: grant.state,
      capacity: usageUnits(prefix, this.maxGrantSize),
      used: 0,
      nextOffset: 0,
      free: [],
      members: new Set(),
      peak: 0,
      area: 0,
      lastChange: t,
      since: t,
    })
    await this.save()
  }

  /** @inheritdoc */
  async drain(grant: BackendGrant): Promise<void> {
    const t = this.advance()
    const g = this.find(canonical(grant.prefix))
    if (g === undefined || g.state === 'draining') return
    g.state = 'draining'
    if (this.fastDrain || grant.drainMode === 'fast') {
      for (const s of [...g.members]) {
        const target = this.grants.find((x) => x.state === 'active' && x.used < x.capacity)
        if (target === undefined) break
        this.leave(s, t)
        this.place(s, target, t)
      }
    }
    await this.save()
  }

  /** @inheritdoc */
  async undrain(grant: BackendGrant): Promise<void> {
    this.advance()
    const g = this.find(canonical(grant.prefix))
    if (g === undefined || g.state === 'active') return
    g.state = 'active'
    await this.save()
  }

  /** @inheritdoc */
  async remove(grant: BackendGrant): Promise<void> {
    const t = this.advance()
    const g = this.find(canonical(grant.prefix))
    if (g === undefined) return
    for (const s of [...g.members]) {
      this.leave(s, t)
      this.evicted++
      this.retryLater(s, t)
    }
    this.grants = this.grants.filter((x) => x !== g)
    await this.save()
  }

  /** @inheritdoc */
  async usage(): Promise<readonly BackendUsage[]> {
    const t = this.advance()
    const out = this.grants.map((g): BackendUsage => {
      const area = g.area + g.used * (t - g.lastChange)
      const average = t > g.since ? area / (t - g.since) : g.used
      const u: BackendUsage = {
        ...(g.grant === undefined ? {} : { grant: g.grant }),
        prefix: g.prefix,
        used: g.used,
        peak: g.peak,
        average: Math.round(average * 1000) / 1000,
      }
      g.area = 0
      g.lastChange = t
      g.since = t
      g.peak = g.used
      return u
    })
    await this.save()
    return out
  }

  /** @inheritdoc */
  holds(): Promise<readonly HeldGrant[]> {
    this.advance()
    return Promise.resolve(
      this.grants.map((g) => ({
        ...(g.grant === undefined ? {} : { grant: g.grant }),
        prefix: g.prefix,
        state: g.state,
      })),
    )
  }

  /** @inheritdoc */
  describe(): Record<string, unknown> {
    const t = this.advance()
    let online = 0
    for (const g of this.grants) online += g.used
    return {
      simSeconds: Math.round(t),
      demand: Math.round(demandAt(this.curve, t)),
      wanting: this.subscribers.size,
      online,
      rejected: this.rejected,
      evicted: this.evicted,
    }
  }

  /** @inheritdoc */
  async stop(): Promise<void> {
    this.advance()
    await this.save()
  }

  /** Every grant with the offsets in use (for tests and property checks). */
  inspect(): SimGrantView[] {
    this.advance()
    return this.grants.map((g) => ({
      grant: g.grant,
      prefix: g.prefix,
      state: g.state,
      capacity: g.capacity,
      used: g.used,
      offsets: [...g.members].map((s) => s.offset),
    }))
  }

  /** Simulated seconds now. */
  now(): number {
    return this.base + ((this.clock() - this.clockBase) / 1000) * this.speed
  }

  // ---- the simulation ----------------------------------------------------------------------

  private advance(): number {
    const to = Math.max(this.t, this.now())
    for (;;) {
      const top = this.heap.peek()
      if (this.nextStep <= to && (top === undefined || top.time >= this.nextStep)) {
        this.arrivals()
        continue
      }
      if (top !== undefined && top.time <= to) {
        this.heap.pop()
        this.process(top.id, top.time)
        continue
      }
      break
    }
    this.t = to
    return to
  }

  private arrivals(): void {
    const start = this.nextStep
    const end = start + this.step
    const mid = demandAt(this.curve, start + this.step / 2)
    const next = demandAt(this.curve, end)
    const mean = Math.max(0, (mid * this.step) / this.session + (next - this.lastDemand))
    const n = this.rng.poisson(mean)
    for (let i = 0; i < n; i++) {
      const at = start + this.rng.next() * this.step
      const s: Subscriber = {
        id: this.nextId++,
        endsAt: at + this.rng.exponential(this.session),
        nextAt: at,
        grant: null,
        offset: -1,
      }
      this.subscribers.set(s.id, s)
      this.heap.push(at, s.id)
    }
    this.lastDemand = next
    this.nextStep = end
  }

  private process(id: number, time: number): void {
    const s = this.subscribers.get(id)
    if (s === undefined) return
    if (s.grant !== null) {
      if (time !== s.endsAt) return
      this.leave(s, time)
      this.subscribers.delete(id)
      return
    }
    if (time !== s.nextAt) return
    if (time >= s.endsAt) {
      this.subscribers.delete(id)
      return
    }
    const target = this.grants.find((g) => g.state === 'active' && g.used < g.capacity)
    if (target === undefined) {
      this.rejected++
      this.retryLater(s, time)
      return
    }
    this.place(s, target, time)
    this.heap.push(s.endsAt, s.id)
  }

  private retryLater(s: Subscriber, time: number): void {
    s.nextAt = Math.min(s.endsAt, time + this.retry * (0.5 + this.rng.next()))
    this.heap.push(s.nextAt, s.id)
  }

  private place(s: Subscriber, g: SimGrant, time: number): void {
    s.offset = g.free.pop() ?? g.nextOffset++
    s.grant = g
    g.members.add(s)
    this.setUsed(g, g.used + 1, time)
  }

  private leave(s: Subscriber, time: number): void {
    const g = s.grant
    if (g === null) return
    g.members.delete(s)
    g.free.push(s.offset)
    s.grant = null
    s.offset = -1
    this.setUsed(g, g.used - 1, time)
  }

  private setUsed(g: SimGrant, used: number, time: number): void {
    g.area += g.used * (time - g.lastChange)
    g.lastChange = time
    g.used = used
    if (used > g.peak) g.peak = used
  }

  private find(prefix: string): SimGrant | undefined {
    return this.grants.find((g) => g.prefix === prefix)
  }

  // ---- persistence -------------------------------------------------------------------------

  private async save(): Promise<void> {
    if (this.snapshotFile === undefined) return
    const index = new Map(this.grants.map((g, i) => [g, i]))
    const snapshot: Snapshot = {
      version: 1,
      t: this.t,
      rng: this.rng.state(),
      nextStep: this.nextStep,
      lastDemand: this.lastDemand,
      nextId: this.nextId,
      rejected: this.rejected,
      evicted: this.evicted,
      grants: this.grants.map(({ members: _m, grant, ...g }) => ({ ...g, grant: grant ?? null })),
      subscribers: [...this.subscribers.values()].map(
        (s) =>
          [
            s.id,
            s.endsAt,
            s.nextAt,
            s.grant === null ? -1 : (index.get(s.grant) ?? -1),
            s.offset,
          ] as const,
      ),
    }
    await writeFileAtomic(this.snapshotFile, JSON.stringify(snapshot))
  }

  private restore(snap: Snapshot): void {
    if (snap.version !== 1) return
    this.t = snap.t
    this.rng = new SeededRandom(snap.rng)
    this.nextStep = snap.nextStep
    this.lastDemand = snap.lastDemand
    this.nextId = snap.nextId
    this.rejected = snap.rejected
    this.evicted = snap.evicted
    this.grants = snap.grants.map((g) => ({
      ...g,
      grant: g.grant ?? undefined,
      free: [...g.free],
      members: new Set<Subscriber>(),
    }))
    this.subscribers.clear()
    this.heap = new EventHeap()
    for (const [id, endsAt, nextAt, gi, offset] of snap.subscribers) {
      const g = gi < 0 ? null : (this.grants[gi] ?? null)
      const s: Subscriber = { id, endsAt, nextAt, grant: g, offset: g === null ? -1 : offset }
      g?.members.add(s)
      this.subscribers.set(id, s)
      this.heap.push(g === null ? nextAt : endsAt, id)
    }
  }
}

function canonical(prefix: string): string {
  return Prefix.parse(prefix).toString()
}

/** A binary min-heap of (time, subscriber id), ordered by time then id. */
class EventHeap {
  private readonly times: number[] = []
  private readonly ids: number[] = []

  peek(): { time: number; id: number } | undefined {
    const time = this.times[0]
    const id = this.ids[0]
    return time === undefined || id === undefined ? undefined : { time, id }
  }

  push(time: number, id: number): void {
    let i = this.times.length
    this.times.push(time)
    this.ids.push(id)
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!this.less(i, parent)) break
      this.swap(i, parent)
      i = parent
    }
  }

  pop(): void {
    const last = this.times.length - 1
    if (last < 0) return
    this.swap(0, last)
    this.times.pop()
    this.ids.pop()
    let i = 0
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let m = i
      if (l < this.times.length && this.less(l, m)) m = l
      if (r < this.times.length && this.less(r, m)) m = r
      if (m === i) break
      this.swap(i, m)
      i = m
    }
  }

  private less(a: number, b: number): boolean {
    const ta = this.times[a] as number
    const tb = this.times[b] as number
    return ta < tb || (ta === tb && (this.ids[a] as number) < (this.ids[b] as number))
  }

  private swap(a: number, b: number): void {
    const t = this.times[a] as number
    this.times[a] = this.times[b] as number
    this.times[b] = t
    const i = this.ids[a] as number
    this.ids[a] = this.ids[b] as number
    this.ids[b] = i
  }
}
