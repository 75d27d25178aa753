/**
 * The device loop of `casm agent` (docs/agent.md, docs/protocol.md): it keeps a backend serving
 * exactly the grants the coordinator gave the device, reports their usage, renews them, gives
 * them back when told, and survives restarts of the coordinator and of itself.
 *
 * Three loops share one persisted state and take turns on it (never two changes at once):
 *
 * ```
 *  sender ── outbox (persisted, FIFO) ──► POST /agent/messages ──► answers change the state
 *  stream ── GET /agent/stream (Last-Event-ID) ──► events change the state, then ack
 *  ticker ── report every reportInterval, renew before expiry, pool-request when empty, retries
 *                         │
 *                 converge: make the backend hold what the state says
 * ```
 *
 * Every message is written to the outbox before it is sent and resent with the same `txn` until
 * an answer comes, so the coordinator sees each at most once however often the network or the
 * agent fails. The backend is driven declaratively: the state holds what the coordinator wants
 * (grants active or draining, grants released), `converge` compares it with what the backend
 * holds and does the difference, retrying failed steps with backoff.
 *
 * @module
 */

import type {
  CoordinatorMessage,
  DeviceMessage,
  GrantInfo,
  GrantUsage,
  StreamMessage,
} from '../domain/device-protocol.js'
import { MAX_GRANTS_PER_MESSAGE, PROTOCOL_VERSION } from '../domain/device-protocol.js'
import { CasmError } from '../errors/casm-error.js'
import { type Family, Prefix } from '../ip/index.js'
import type { AgentLogger } from './agent-logger.js'
import {
  type Backend,
  type BackendGrant,
  type BackendUsage,
  type HeldGrant,
  usageUnits,
} from './backends/backend.js'
import { type LeaseArchiveClient, LeaseSync, supportsLeases } from './lease-sync.js'
import { Backoff, type BackoffOptions, sleep } from './backoff.js'
import {
  type CoordinatorClient,
  isRetryable,
  remoteCode,
  type StreamItem,
} from './coordinator-client.js'
import type { AgentGrant, AgentState, OutboxEntry, StateStore } from './state-store.js'

/** A device message without its envelope (`v`, `txn`), as the agent composes it. */
export type DeviceMessageBody = DeviceMessage extends infer M
  ? M extends DeviceMessage
    ? Omit<M, 'v' | 'txn'>
    : never
  : never

/** Message types where a newer one replaces an older one still waiting in the outbox. */
const SUPERSEDED: ReadonlySet<DeviceMessage['type']> = new Set([
  'hello',
  'status-report',
  'ack',
  'status-query',
])

/** Refusals that no retry can fix: the agent stops. */
const FATAL_CODES: ReadonlySet<string> = new Set(['CASM_ERR_UNAUTHENTICATED', 'CASM_ERR_FORBIDDEN'])

/** What an {@link Agent} needs. */
export interface AgentOptions {
  /** The transport to the coordinator. */
  readonly client: Pick<CoordinatorClient, 'send' | 'stream' | 'url'>
  /** What serves the addresses. */
  readonly backend: Backend
  /** Where the state lives. */
  readonly store: StateStore
  readonly log: AgentLogger
  /** The agent's version, for hello. */
  readonly version: string
  /** Family to ask for in pool-request (none: the coordinator chooses). */
  readonly family?: Family
  /** Milliseconds now (default Date.now): lifetimes and report windows. */
  readonly clock?: () => number
  /** How often timers are checked, ms (default 1000). */
  readonly tickMs?: number
  /** Resending an unanswered message (default 0.2 s doubling to 10 s, with jitter). */
  readonly retry?: BackoffOptions
  /** Reconnecting the stream (default 0.2 s doubling to 10 s, with jitter). */
  readonly reconnect?: BackoffOptions
  /** Retrying failed backend steps (default 1 s doubling to 60 s). */
  readonly backendRetry?: BackoffOptions
  /** Acknowledge at once after this many unacknowledged events (default 20)... */
  readonly ackEvery?: number
  /** ...or this long after the last one, ms (default 1000). */
  readonly ackDelayMs?: number
  /** Wait before asking again after a pool-request got nothing, ms (default: reportInterval). */
  readonly poolRequestRetryMs?: number
  /**
   * Look at the backend's usage this often, ms, and report at once when a family crosses the
   * coordinator's high watermark (off when absent). Only for backends whose `usage` is a
   * reading, not a window (kea): the sim's windows would be cut short.
   */
  readonly watchMs?: number
  /**
   * Lease replay (backends that serve DHCP): upload the leases every `intervalMs` and, with
   * `replay: 'auto'`, give them back to a server that lost them. Off when absent.
   */
  readonly leases?: {
    readonly client: LeaseArchiveClient
    readonly intervalMs: number
    readonly replay: 'auto' | 'never'
  }
}

/**
 * One device's agent.
 *
 * @example
 * ```ts
 * const agent = new Agent({ client, backend: new SimBackend(), store: new StateStore(dir), log, version })
 * await agent.start()
 * process.once('SIGTERM', () => void agent.stop())
 * await agent.done // resolves after stop(); rejects when the coordinator refuses the token
 * ```
 */
export class Agent {
  /** Settles when the agent has stopped: resolves after {@link Agent.stop}, rejects on a fatal error. */
  readonly done: Promise<void>
  private readonly o: AgentOptions
  private readonly clock: () => number
  private state!: AgentState
  private running = false
  private readonly stopping = new AbortController()
  private stopped: Promise<void> | undefined
  private fatal: unknown
  private resolveDone!: () => void
  private rejectDone!: (e: unknown) => void
  private chain: Promise<unknown> = Promise.resolve()
  private loops: Promise<void>[] = []

  private wakeSender: (() => void) | undefined
  private inFlight: string | undefined
  private readonly sendBackoff: Backoff
  private readonly streamBackoff: Backoff
  private readonly backendBackoff: Backoff

  private synced = false
  private syncWaiters: (() => void)[] = []
  private stream: AbortController | undefined
  private reconcileReason: string | undefined

  private nextReportAt: number | undefined
  private lastReportAt: number | undefined
  private nextPoolRequestAt = 0
  private convergeDueAt: number | undefined
  private ackDueAt: number | undefined
  private readonly renewing = new Set<string>()
  private readonly lastUsage = new Map<string, { used: number; at: number }>()
  private readonly foreignSince = new Map<string, number>()
  private nextWatchAt = 0
  /** Families reported above the high watermark since their grants last changed. */
  private readonly aboveHigh = new Set<string>()
  /** The state changed in a way the backend must follow. */
  private dirty = false

  constructor(options: AgentOptions) {
    this.o = options
    this.clock = options.clock ?? Date.now
    this.sendBackoff = new Backoff(options.retry)
    this.streamBackoff = new Backoff(options.reconnect)
    this.backendBackoff = new Backoff({ initialMs: 1000, maxMs: 60_000, ...options.backendRetry })
    this.done = new Promise<void>((resolve, reject) => {
      this.resolveDone = resolve
      this.rejectDone = reject
    })
    // A caller that only awaits stop() must not see an unhandled rejection.
    this.done.catch(() => undefined)
  }

  /** A copy of the current state (for tests and diagnostics). */
  snapshot(): AgentState {
    return structuredClone(this.state)
  }

  /**
   * Loads the state, starts the backend, queues hello and starts the loops.
   *
   * @throws CasmError when the state cannot be read or the backend cannot start.
   */
  async start(): Promise<void> {
    const { log, store, backend } = this.o
    const loaded = await store.load()
    this.state = loaded.state
    if (loaded.source === 'unreadable')
      log.warn('state-unreadable', { file: store.file, movedTo: loaded.movedTo })
    // Reports, acks and hellos of a previous run are stale; requests keep their txn.
    this.state.outbox = this.state.outbox.filter((e) => !SUPERSEDED.has(e.message.type))
    for (const e of this.state.outbox)
      if (e.message.type === 'renew') for (const g of e.message.grants) this.renewing.add(g)
    await backend.start()
    this.running = true
    const leaseSync = this.leaseSync()
    // Before anything else: a rebuilt server gets its subscribers' leases back at once.
    await leaseSync?.replayIfNeeded('start', this.stopping.signal)
    log.info('start', {
      coordinator: this.o.client.url,
      backend: backend.name,
      ...(backend.planes === undefined ? {} : { planes: backend.planes }),
      version: this.o.version,
      state: store.file,
      resumed: loaded.source === 'loaded',
      lastEventId: this.state.lastEventId,
      pending: this.state.outbox.map((e) => `${e.message.type}:${e.txn}`),
    })
    await this.serial(() => this.ensureHello('start', true))
    this.loops = [this.senderLoop(), this.streamLoop(), this.tickLoop()]
    if (leaseSync !== undefined) this.loops.push(leaseSync.run(this.stopping.signal))
  }

  private leaseSync(): LeaseSync | undefined {
    const o = this.o.leases
    if (o === undefined || !supportsLeases(this.o.backend)) return undefined
    return new LeaseSync({
      backend: this.o.backend,
      client: o.client,
      log: this.o.log,
      serial: (fn) => this.serial(fn),
      heldGrants: () => this.state.grants.map((g) => g.grant),
      intervalMs: o.intervalMs,
      replay: o.replay,
      clock: this.clock,
    })
  }

  /** Stops the loops, saves the state and stops the backend. Safe to call more than once. */
  stop(): Promise<void> {
    this.stopped ??= this.shutdown()
    return this.stopped
  }

  private async shutdown(): Promise<void> {
    if (!this.running) {
      // Never started (or start failed): nothing to save.
      this.resolveDone()
      return
    }
    this.running = false
    this.stopping.abort()
    this.wakeSender?.()
    for (const w of this.syncWaiters.splice(0)) w()
    await Promise.allSettled(this.loops)
    try {
      await this.serial(() => this.save())
    } catch (e) {
      this.o.log.error('state-save-failed', { error: message(e) })
    }
    try {
      await this.o.backend.stop()
    } catch (e) {
      this.o.log.warn('backend-error', { step: 'stop', error: message(e) })
    }
    this.o.log.info('stop', {
      lastEventId: this.state.lastEventId,
      pending: this.state.outbox.length,
    })
    if (this.fatal === undefined) this.resolveDone()
    else this.rejectDone(this.fatal)
  }

  /** False once stopping (a method, so that the compiler does not narrow it across awaits). */
  private active(): boolean {
    return this.running
  }

  private takeReconcileReason(): string | undefined {
    const r = this.reconcileReason
    this.reconcileReason = undefined
    return r
  }

  private fail(error: unknown): void {
    if (this.fatal !== undefined || !this.active()) return
    this.fatal = error
    const e = error instanceof CasmError ? error : undefined
    this.o.log.error('fatal', {
      error: message(error),
      ...(e === undefined ? {} : { code: remoteCode(e), hint: e.hint }),
    })
    void this.stop()
  }

  /** Runs `fn` when no other state change is running. */
  private serial<T>(fn: () => Promise<T> | T): Promise<T> {
    const run = this.chain.then(fn)
    this.chain = run.catch(() => undefined)
    return run
  }

  private async save(): Promise<void> {
    await this.o.store.save(this.state)
  }

  // ---- the outbox ----------------------------------------------------------------------------

  /** Queues a message (inside serial): persisted before the sender can see it. */
  private async enqueue(body: DeviceMessageBody, first = false): Promise<OutboxEntry> {
    const txn = `${this.state.instance}-${this.state.nextTxn++}`
    const entry: OutboxEntry = {
      txn,
      message: { v: PROTOCOL_VERSION, txn, ...body },
      queuedAt: this.clock(),
    }
    if (SUPERSEDED.has(body.type))
      this.state.outbox = this.state.outbox.filter(
        (e) => e.message.type !== body.type || e.txn === this.inFlight,
      )
    if (first) this.state.outbox.unshift(entry)
    else this.state.outbox.push(entry)
    await this.save()
    this.wakeSender?.()
    return entry
  }

  private pending(type: DeviceMessage['type']): boolean {
    return this.state.outbox.some((e) => e.message.type === type)
  }

  private async senderLoop(): Promise<void> {
    while (this.active()) {
      try {
        // Armed before looking, so that a message queued meanwhile is not missed.
        const woken = new Promise<void>((resolve) => {
          this.wakeSender = resolve
        })
        const entry = await this.serial(() => {
          const head = this.state.outbox[0]
          this.inFlight = head?.txn
          return head
        })
        if (entry === undefined) {
          if (this.active()) await woken
          continue
        }
        const { message: m } = entry
        if (this.sendBackoff.attempts === 0 && m.type !== 'status-report' && m.type !== 'ack')
          this.o.log.info('send', { type: m.type, txn: m.txn })
        let answer: CoordinatorMessage
        try {
          answer = await this.o.client.send(m, this.stopping.signal)
        } catch (e) {
          if (!this.active()) break
          if (isRetryable(e)) {
            const delay = this.sendBackoff.next()
            this.o.log.warn('retry', {
              type: m.type,
              txn: m.txn,
              attempt: this.sendBackoff.attempts,
              inMs: delay,
              error: message(e),
            })
            await sleep(delay, this.stopping.signal)
            continue
          }
          this.sendBackoff.reset()
          await this.serial(() => this.refused(entry, e))
          continue
        }
        this.sendBackoff.reset()
        await this.serial(() => this.answered(entry, answer))
      } catch (e) {
        if (!this.active()) break
        this.o.log.error('internal-error', { loop: 'sender', error: message(e) })
        await sleep(this.sendBackoff.next(), this.stopping.signal)
      }
    }
  }

  private drop(entry: OutboxEntry): void {
    this.state.outbox = this.state.outbox.filter((e) => e.txn !== entry.txn)
    if (this.inFlight === entry.txn) this.inFlight = undefined
  }

  private async answered(entry: OutboxEntry, answer: CoordinatorMessage): Promise<void> {
    this.drop(entry)
    const sent = entry.message
    const log = this.o.log
    switch (answer.type) {
      case 'sync':
        this.applySync(answer)
        break
      case 'pool-reply':
        log.info('pool-reply', { grants: answer.grants.length, reason: answer.reason })
        if (answer.grants.length === 0) this.nextPoolRequestAt = this.clock() + this.poolRetryMs()
        this.addGrants(answer.grants, undefined)
        break
      case 'renew-reply':
        for (const r of answer.grants) {
          this.renewing.delete(r.grant)
          const i = this.state.grants.findIndex((g) => g.grant === r.grant)
          const g = this.state.grants[i]
          if (g !== undefined) this.state.grants[i] = { ...g, expiresAt: r.expiresAt }
        }
        if (sent.type === 'renew') for (const id of sent.grants) this.renewing.delete(id)
        log.info('renewed', { grants: answer.grants })
        break
      case 'report-confirm':
        log.info('report-confirm', { received: answer.received, decisions: answer.decisions })
        break
      case 'status':
        log.info('status', {
          grants: answer.grants.map((g) => g.grant),
          lastEventId: answer.lastEventId,
        })
        break
      case 'release-notification':
        log.info('release-notification', { grants: answer.grants, reason: answer.reason })
        this.release(answer.grants)
        break
      case 'ok':
        if (sent.type === 'ack') this.state.ackedUpTo = Math.max(this.state.ackedUpTo, sent.upTo)
        if (sent.type === 'release-confirm') log.info('release-confirmed', { grants: sent.grants })
        break
      case 'drain':
      case 'undrain':
      case 'status-query':
        log.warn('unexpected-answer', { type: answer.type, to: sent.type, txn: sent.txn })
        break
    }
    await this.save()
    if (this.dirty) await this.converge()
  }

  private async refused(entry: OutboxEntry, error: unknown): Promise<void> {
    this.drop(entry)
    const sent = entry.message
    const code = remoteCode(error) ?? 'unknown'
    this.o.log.warn('refused', { type: sent.type, txn: sent.txn, code, error: message(error) })
    if (FATAL_CODES.has(code) || sent.type === 'hello') {
      await this.save()
      this.fail(error)
      return
    }
    if (code === 'CASM_ERR_IDEMPOTENCY_MISMATCH') {
      // The txn was used before for something else (a state directory copied between agents?).
      const { v: _v, txn: _t, ...body } = sent
      await this.enqueue(body)
      return
    }
    switch (sent.type) {
      case 'pool-request':
        this.nextPoolRequestAt = this.clock() + this.poolRetryMs()
        break
      case 'renew':
        for (const id of sent.grants) this.renewing.delete(id)
        await this.reconcile(`renew refused (${code})`)
        break
      case 'status-report':
      case 'release-request':
      case 'ack':
        if (code === 'CASM_ERR_NOT_FOUND' || code === 'CASM_ERR_OUT_OF_ORDER')
          await this.reconcile(`${sent.type} refused (${code})`)
        break
      case 'release-confirm':
      case 'status-query':
        break
    }
    await this.save()
  }

  // ---- what the coordinator says -------------------------------------------------------------

  private applySync(sync: Extract<CoordinatorMessage, { type: 'sync' }>): void {
    const s = this.state
    s.device = sync.device
    s.reportInterval = Math.max(0.1, sync.reportInterval)
    s.highWatermark = sync.highWatermark
    s.renewBefore = sync.renewBefore
    if (sync.lastEventId < s.lastEventId) {
      this.o.log.warn('event-ids-reset', { ours: s.lastEventId, coordinator: sync.lastEventId })
      s.lastEventId = sync.lastEventId
      s.ackedUpTo = Math.min(s.ackedUpTo, sync.lastEventId)
    }
    s.syncedEventId = sync.lastEventId
    const modes = new Map(s.grants.map((g) => [g.grant, g.drainMode]))
    s.grants = sync.grants.map((raw) => {
      const g = canonicalGrant(raw)
      const mode = g.state === 'draining' ? modes.get(g.grant) : undefined
      return mode === undefined ? g : { ...g, drainMode: mode }
    })
    const live = new Set(s.grants.map((g) => g.grant))
    s.releasing = s.releasing.filter((r) => !live.has(r.grant))
    this.o.log.info('sync', {
      device: sync.device.name,
      grants: s.grants.map((g) => `${g.grant} ${g.prefix} ${g.state}`),
      remove: sync.remove,
      reportInterval: sync.reportInterval,
      renewBefore: sync.renewBefore,
      lastEventId: sync.lastEventId,
    })
    this.synced = true
    this.dirty = true
    this.nextReportAt = this.clock()
    for (const w of this.syncWaiters.splice(0)) w()
  }

  /** Adds or updates grants (from a pool-reply); `eventId` for those that came on the stream. */
  private addGrants(grants: readonly GrantInfo[], eventId: number | undefined): void {
    if (eventId !== undefined && eventId <= this.state.syncedEventId) return
    for (const raw of grants) {
      const g = canonicalGrant(raw)
      const i = this.state.grants.findIndex((x) => x.grant === g.grant)
      if (i >= 0) this.state.grants[i] = g
      else this.state.grants.push(g)
      this.dirty = true
      this.aboveHigh.clear()
      this.o.log.info('granted', {
        grant: g.grant,
        prefix: g.prefix,
        pool: g.pool,
        state: g.state,
        expiresAt: g.expiresAt,
      })
    }
  }

  private release(grants: readonly { grant: string; prefix: string }[]): void {
    for (const r of grants) {
      this.state.grants = this.state.grants.filter((g) => g.grant !== r.grant)
      if (!this.state.releasing.some((x) => x.grant === r.grant))
        this.state.releasing.push({ grant: r.grant, prefix: canonical(r.prefix) })
      this.dirty = true
    }
  }

  private async handleEvent(item: Extract<StreamItem, { kind: 'event' }>): Promise<void> {
    const s = this.state
    if (item.id >= 0 && item.id <= s.lastEventId) return
    const m = item.message
    if (m === undefined) {
      this.o.log.warn('event-unreadable', { id: item.id, event: item.event, problem: item.problem })
    } else {
      if (item.event !== m.type)
        this.o.log.warn('event-name-mismatch', { id: item.id, event: item.event, type: m.type })
      await this.applyEvent(item.id, m)
    }
    if (item.id > s.lastEventId) s.lastEventId = item.id
    if (s.lastEventId - s.ackedUpTo >= (this.o.ackEvery ?? 20)) await this.enqueueAck()
    else this.ackDueAt ??= this.clock() + (this.o.ackDelayMs ?? 1000)
    await this.save()
    if (this.dirty) await this.converge()
  }

  private async applyEvent(id: number, m: StreamMessage): Promise<void> {
    const log = this.o.log
    const covered = id <= this.state.syncedEventId
    switch (m.type) {
      case 'pool-reply':
        log.info('event', { id, type: m.type, grants: m.grants.length, reason: m.reason, covered })
        this.addGrants(m.grants, id)
        break
      case 'drain':
      case 'undrain': {
        log.info('event', {
          id,
          type: m.type,
          grant: m.grant,
          prefix: m.prefix,
          ...(m.type === 'drain' ? { cause: m.cause, mode: m.mode } : {}),
          reason: m.reason,
          covered,
        })
        if (covered) break
        const i = this.state.grants.findIndex((g) => g.grant === m.grant)
        const g = this.state.grants[i]
        if (g === undefined) {
          log.warn('unknown-grant', { id, type: m.type, grant: m.grant })
          await this.reconcile(`${m.type} for unknown grant ${m.grant}`)
          break
        }
        const { drainMode: _old, ...rest } = g
        this.state.grants[i] =
          m.type === 'drain'
            ? {
                ...rest,
                state: 'draining',
                ...(typeof m.mode === 'string' ? { drainMode: m.mode } : {}),
              }
            : { ...rest, state: 'active' }
        this.dirty = true
        break
      }
      case 'release-notification':
        log.info('event', { id, type: m.type, grants: m.grants, reason: m.reason })
        this.release(m.grants)
        break
      case 'status-query':
        log.info('event', { id, type: m.type })
        await this.report('status-query')
        break
    }
  }

  // ---- reconciliation ------------------------------------------------------------------------

  /** Queues hello unless one is waiting already (inside serial). */
  private async ensureHello(reason: string, first = false): Promise<void> {
    if (this.pending('hello')) return
    let held: readonly HeldGrant[]
    try {
      held = await this.o.backend.holds()
    } catch (e) {
      this.o.log.warn('backend-error', { step: 'holds', error: message(e) })
      held = this.state.grants.map((g) => ({ grant: g.grant, prefix: g.prefix, state: g.state }))
    }
    const unreadable = held.filter((h) => !isPrefix(h.prefix))
    if (unreadable.length > 0)
      this.o.log.warn('backend-error', {
        step: 'holds',
        error: `not prefixes, left out of hello: ${unreadable.map((h) => h.prefix).join(', ')}`,
      })
    held = held.filter((h) => isPrefix(h.prefix))
    const { backend } = this.o
    await this.enqueue(
      {
        type: 'hello',
        agent: {
          version: this.o.version,
          backend: backend.name,
          ...(backend.planes === undefined ? {} : { planes: backend.planes }),
        },
        holds: held
          .slice(0, MAX_GRANTS_PER_MESSAGE)
          .map((h) =>
            h.grant === undefined || h.grant === '' || h.grant.length > 64
              ? { prefix: h.prefix }
              : { grant: h.grant, prefix: h.prefix },
          ),
      },
      first,
    )
    this.o.log.info('hello', { reason, holds: held.map((h) => h.prefix) })
  }

  /** Closes the stream and says hello again: the sync that answers is the truth. */
  private async reconcile(reason: string): Promise<void> {
    this.synced = false
    this.reconcileReason = reason
    await this.ensureHello(reason)
    this.stream?.abort()
  }

  private async streamLoop(): Promise<void> {
    while (this.active()) {
      if (!this.synced)
        await new Promise<void>((resolve) => {
          this.syncWaiters.push(resolve)
        })
      if (!this.active()) break
      const ctrl = new AbortController()
      const onStop = (): void => {
        ctrl.abort()
      }
      this.stopping.signal.addEventListener('abort', onStop, { once: true })
      this.stream = ctrl
      this.reconcileReason = undefined
      let openedAt: number | undefined
      let events = 0
      try {
        for await (const item of this.o.client.stream(this.state.lastEventId, ctrl.signal)) {
          if (item.kind === 'open') {
            openedAt = Date.now()
            this.o.log.info('stream-open', { after: this.state.lastEventId })
          } else if (item.kind === 'event') {
            events++
            await this.serial(() => this.handleEvent(item))
          }
        }
        if (this.active())
          this.o.log.warn('stream-closed', {
            reason: this.takeReconcileReason() ?? 'the coordinator ended the stream',
          })
      } catch (e) {
        if (!this.active()) break
        if (FATAL_CODES.has(remoteCode(e) ?? '')) {
          this.fail(e)
          break
        }
        this.o.log.warn('stream-lost', { error: message(e) })
      } finally {
        this.stream = undefined
        this.stopping.signal.removeEventListener('abort', onStop)
      }
      if (!this.active()) break
      if (events > 0 || (openedAt !== undefined && Date.now() - openedAt > 30_000))
        this.streamBackoff.reset()
      const delay = this.streamBackoff.next()
      try {
        await this.serial(async () => {
          this.synced = false
          await this.ensureHello('reconnect')
        })
      } catch (e) {
        this.o.log.error('internal-error', { loop: 'stream', error: message(e) })
      }
      await sleep(delay, this.stopping.signal)
    }
  }

  // ---- the backend ---------------------------------------------------------------------------

  /**
   * Makes the backend hold what the state says (inside serial): removes released grants and
   * confirms them, installs missing grants, drains and undrains, drains prefixes that are not
   * the device's and removes them once a report saw them empty. Failed steps are retried later.
   */
  private async converge(): Promise<void> {
    const { backend, log } = this.o
    this.dirty = false
    let held: readonly HeldGrant[]
    try {
      held = await backend.holds()
    } catch (e) {
      this.backendFailed('holds', e)
      return
    }
    const heldBy = new Map(held.map((h) => [h.prefix, h]))
    let failures = 0
    const step = async (what: string, fn: () => Promise<void>): Promise<boolean> => {
      try {
        await fn()
        return true
      } catch (e) {
        failures++
        log.warn('backend-error', { step: what, error: message(e) })
        return false
      }
    }

    const confirmed: string[] = []
    const liveNow = new Set(this.state.grants.map((g) => g.prefix))
    for (const r of [...this.state.releasing]) {
      const h = heldBy.get(r.prefix)
      // Released and granted again (same prefix, new grant, maybe in one decision): the new grant
      // keeps it; removing it would cut its users.
      if (h !== undefined && !liveNow.has(r.prefix)) {
        const ok = await step('remove', () =>
          backend.remove({ grant: r.grant, prefix: r.prefix, state: h.state }),
        )
        if (!ok) continue
        log.info('remove', { grant: r.grant, prefix: r.prefix, why: 'released' })
      }
      if (!liveNow.has(r.prefix)) heldBy.delete(r.prefix)
      this.state.releasing = this.state.releasing.filter((x) => x.grant !== r.grant)
      confirmed.push(r.grant)
    }

    for (const g of this.state.grants) {
      const h = heldBy.get(g.prefix)
      heldBy.delete(g.prefix)
      const bg = backendGrant(g)
      if (h === undefined || h.grant === undefined) {
        if (!(await step('install', () => backend.install(bg)))) continue
        log.info(h === undefined ? 'install' : 'adopt', {
          grant: g.grant,
          prefix: g.prefix,
          state: g.state,
        })
      }
      if (h !== undefined && h.state !== g.state) {
        const to = g.state === 'draining' ? 'drain' : 'undrain'
        if (!(await step(to, () => backend[to](bg)))) continue
        log.info(to, { grant: g.grant, prefix: g.prefix })
      }
    }

    const now = this.clock()
    for (const h of heldBy.values()) {
      const ref: BackendGrant = {
        ...(h.grant === undefined ? {} : { grant: h.grant }),
        prefix: h.prefix,
        state: h.state,
      }
      if (h.state === 'active') {
        if (!(await step('drain', () => backend.drain(ref)))) continue
        log.info('drain', { prefix: h.prefix, grant: h.grant, why: 'not granted to the device' })
      }
      const since = this.foreignSince.get(h.prefix) ?? now
      this.foreignSince.set(h.prefix, since)
      const u = this.lastUsage.get(h.prefix)
      if (u !== undefined && u.at > since && u.used === 0) {
        if (!(await step('remove', () => backend.remove(ref)))) continue
        this.foreignSince.delete(h.prefix)
        log.info('remove', {
          prefix: h.prefix,
          grant: h.grant,
          why: 'not granted to the device, empty',
        })
      }
    }
    for (const p of this.foreignSince.keys()) if (!heldBy.has(p)) this.foreignSince.delete(p)

    for (const grants of chunks(confirmed)) await this.enqueue({ type: 'release-confirm', grants })
    if (failures > 0) this.backendFailed(undefined, undefined)
    else {
      this.backendBackoff.reset()
      this.convergeDueAt = undefined
    }
    await this.save()
  }

  private backendFailed(step: string | undefined, error: unknown): void {
    if (step !== undefined) this.o.log.warn('backend-error', { step, error: message(error) })
    this.convergeDueAt = this.clock() + this.backendBackoff.next()
  }

  /** Reads usage and queues a status-report (inside serial). */
  private async report(trigger: string): Promise<void> {
    if (this.state.device === null) return
    let usage
    let served: Map<string, HeldGrant['state']>
    try {
      // What the device serves each grant as goes with its usage: the coordinator releases a
      // draining grant only on a report that shows the drain applied.
      served = new Map((await this.o.backend.holds()).map((h) => [h.prefix, h.state]))
      usage = await this.o.backend.usage()
    } catch (e) {
      this.backendFailed('usage', e)
      return
    }
    const now = this.clock()
    for (const u of usage) this.lastUsage.set(u.prefix, { used: u.used, at: now })
    const byPrefix = new Map(this.state.grants.map((g) => [g.prefix, g]))
    const items: GrantUsage[] = []
    for (const u of usage) {
      const g = byPrefix.get(u.prefix)
      if (g === undefined) continue
      items.push({
        grant: g.grant,
        used: u.used,
        ...(u.peak === undefined ? {} : { peak: u.peak }),
        ...(u.average === undefined ? {} : { average: u.average }),
        ...(u.ports === undefined ? {} : { ports: u.ports }),
        ...(u.plane === undefined ? {} : { plane: u.plane }),
        ...servedAs(served.get(u.prefix)),
      })
    }
    const interval = this.state.reportInterval ?? 60
    const window = Math.min(
      86_400,
      Math.max(
        1,
        Math.round(this.lastReportAt === undefined ? interval : (now - this.lastReportAt) / 1000),
      ),
    )
    this.lastReportAt = now
    this.o.log.info('report', {
      trigger,
      window,
      grants: usage.map((u) => ({
        grant: byPrefix.get(u.prefix)?.grant ?? null,
        prefix: u.prefix,
        used: u.used,
        ...(u.peak === undefined ? {} : { peak: u.peak }),
        ...(u.plane === undefined ? {} : { plane: u.plane }),
      })),
      ...(this.o.backend.describe === undefined ? {} : { backend: this.o.backend.describe() }),
    })
    // Sent even when empty: the coordinator also learns from it that the device is alive.
    await this.enqueue({
      type: 'status-report',
      window,
      grants: items.slice(0, MAX_GRANTS_PER_MESSAGE),
    })
    if (this.foreignSince.size > 0) await this.converge()
  }

  /** Reports at once when a family's use of its active grants crosses the high watermark. */
  private async watch(): Promise<void> {
    const high = this.state.highWatermark
    if (high === undefined || this.state.grants.length === 0) return
    let usage: readonly BackendUsage[]
    try {
      usage = await this.o.backend.usage()
    } catch (e) {
      this.backendFailed('usage', e)
      return
    }
    const byPrefix = new Map(this.state.grants.map((g) => [g.prefix, g]))
    const used = new Map<string, number>()
    const capacity = new Map<string, number>()
    for (const u of usage) {
      const g = byPrefix.get(u.prefix)
      if (g === undefined) continue
      used.set(g.family, (used.get(g.family) ?? 0) + u.used)
      if (g.state === 'active')
        capacity.set(g.family, (capacity.get(g.family) ?? 0) + usageUnits(g.prefix))
    }
    for (const [family, u] of used) {
      const c = capacity.get(family) ?? 0
      if (c > 0 && u / c >= high && !this.aboveHigh.has(family)) {
        this.aboveHigh.add(family)
        await this.report('watermark')
        return
      }
    }
  }

  private async enqueueAck(): Promise<void> {
    this.ackDueAt = undefined
    const upTo = this.state.lastEventId
    if (upTo <= this.state.ackedUpTo) return
    if (this.state.outbox.some((e) => e.message.type === 'ack' && e.message.upTo >= upTo)) return
    await this.enqueue({ type: 'ack', upTo })
  }

  private poolRetryMs(): number {
    return this.o.poolRequestRetryMs ?? (this.state.reportInterval ?? 30) * 1000
  }

  // ---- timers --------------------------------------------------------------------------------

  private async tickLoop(): Promise<void> {
    const every = this.o.tickMs ?? 1000
    while (this.active()) {
      await sleep(every, this.stopping.signal)
      if (!this.active()) break
      try {
        await this.serial(() => this.tick())
      } catch (e) {
        this.o.log.error('internal-error', { loop: 'ticker', error: message(e) })
      }
    }
  }

  private async tick(): Promise<void> {
    const s = this.state
    const now = this.clock()
    if (s.device === null) return
    if (this.nextReportAt !== undefined && now >= this.nextReportAt) {
      this.nextReportAt = now + (s.reportInterval ?? 60) * 1000
      await this.report('interval')
    } else if (this.o.watchMs !== undefined && now >= this.nextWatchAt) {
      this.nextWatchAt = now + this.o.watchMs
      await this.watch()
    }
    if (s.renewBefore !== null) {
      const due = s.grants.filter(
        (g) =>
          g.state === 'active' &&
          g.expiresAt !== null &&
          !this.renewing.has(g.grant) &&
          Date.parse(g.expiresAt) - now <= (s.renewBefore ?? 0) * 1000,
      )
      if (due.length > 0) {
        for (const g of due) this.renewing.add(g.grant)
        this.o.log.info('renew', { grants: due.map((g) => `${g.grant} ${g.expiresAt ?? ''}`) })
        for (const grants of chunks(due.map((g) => g.grant)))
          await this.enqueue({ type: 'renew', grants })
      }
    }
    if (
      this.synced &&
      s.grants.length === 0 &&
      s.releasing.length === 0 &&
      now >= this.nextPoolRequestAt &&
      !this.pending('pool-request')
    ) {
      this.nextPoolRequestAt = now + this.poolRetryMs()
      this.o.log.info('pool-request', { reason: 'the device holds no address space' })
      await this.enqueue({
        type: 'pool-request',
        reason: 'the device holds no address space',
        ...(this.o.family === undefined ? {} : { family: this.o.family }),
      })
    }
    if (this.ackDueAt !== undefined && now >= this.ackDueAt) await this.enqueueAck()
    if (this.convergeDueAt !== undefined && now >= this.convergeDueAt) await this.converge()
  }
}

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += MAX_GRANTS_PER_MESSAGE)
    out.push(items.slice(i, i + MAX_GRANTS_PER_MESSAGE))
  return out
}

function isPrefix(text: string): boolean {
  try {
    return Prefix.parse(text).toString() === text
  } catch {
    return false
  }
}

function canonical(prefix: string): string {
  try {
    return Prefix.parse(prefix).toString()
  } catch {
    return prefix
  }
}

function canonicalGrant(g: GrantInfo): GrantInfo {
  return { ...g, prefix: canonical(g.prefix) }
}

function backendGrant(g: AgentGrant): BackendGrant {
  return {
    grant: g.grant,
    prefix: g.prefix,
    pool: g.pool,
    family: g.family,
    state: g.state,
    expiresAt: g.expiresAt,
    ...(g.drainMode === undefined ? {} : { drainMode: g.drainMode }),
  }
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e)
}

/** The `state` field of a report entry: what the device serves the grant as, when known. */
function servedAs(state: HeldGrant['state'] | undefined): { state?: 'active' | 'draining' } {
  return state === undefined ? {} : { state }
}
