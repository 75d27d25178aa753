/**
 * The writer: every change goes through here, one transaction at a time, with group commit.
 *
 * Operations queue up; the writer takes all that are waiting (up to a batch limit), runs them in
 * one store transaction, then appends their events to the hash chain and commits once. Callers are answered only after the
 * commit, so an acknowledged change survives a crash, and the commit cost is shared by the batch.
 *
 * Operations check everything before they write. One that refuses ({@link CasmError}) before
 * writing has its allocator changes undone and the rest of the batch goes on. Any other error,
 * or a refusal after a write, aborts the batch; the writer then forgets the cached allocators
 * the batch touched and runs the batch's operations again one by one, each in its own
 * transaction, so only the faulty one fails. {@link WriteContext.attempt} gives an operation a
 * savepoint where it needs to refuse after writing.
 *
 * @module
 */

import { CasmError, isCasmError } from '../errors/casm-error.js'
import type { PrefixAllocator } from '../alloc/prefix-allocator.js'
import type { CasmEvent, Pool } from '../domain/model.js'
import type { Clock } from './clock.js'
import { hashEvent } from './event-chain.js'
import { newId } from './ids.js'
import { type CachedPool, type PoolSpaceCache } from './pool-space-cache.js'
import {
  type AllocationRow,
  type ChainHead,
  ChainMovedError,
  type PoolVersion,
  type Store,
  type WriteTx,
} from './store.js'

/** What an operation records about a change; the writer adds seq, id, time and hashes. */
export interface EventDraft {
  readonly tenantId: string | null
  readonly actor: string
  readonly action: string
  readonly objectType: string
  readonly objectId: string | null
  readonly before?: unknown
  readonly after?: unknown
  readonly reason?: string | null
  readonly requestId?: string | null
}

/** Methods of {@link WriteTx} that write. */
const WRITES = new Set([
  'insertTenant',
  'deleteTenant',
  'insertToken',
  'revokeToken',
  'insertDomain',
  'updateDomain',
  'deleteDomain',
  'insertBlock',
  'updateBlock',
  'deleteBlock',
  'insertPool',
  'updatePool',
  'deletePool',
  'setPoolVersion',
  'insertDevice',
  'updateDevice',
  'deleteDevice',
  'insertAllocations',
  'updateAllocation',
  'deleteAllocations',
  'insertReservation',
  'deleteReservation',
  'appendEvents',
  'finishBatch',
  'insertIdempotency',
  'pruneIdempotency',
  'putGrantStatus',
  'putDeviceLoop',
  'appendDeviceMessages',
  'pruneDeviceMessages',
  'putAlert',
  'replaceGrantLeases',
  'deleteGrantLeases',
  'putUsageSamples',
  'pruneUsageSamples',
])
/** Reads answered from a per-batch memo: operations look the same pool and device up again and again. */
const MEMO = new Set(['getPool', 'getDevice', 'getDomain', 'getTenant'])
/** Writes after which the memo is forgotten (they change what it holds). */
const FORGET = new Set([
  'insertTenant',
  'deleteTenant',
  'insertDomain',
  'updateDomain',
  'deleteDomain',
  'insertPool',
  'updatePool',
  'deletePool',
  'insertDevice',
  'updateDevice',
  'deleteDevice',
  'savepoint',
])

/** Writes after which cached authentications may be wrong. */
const AUTH_WRITES = new Set(['insertToken', 'revokeToken', 'deleteTenant', 'deleteDevice'])

/** Reads that do not look at allocation rows, so they need not wait for buffered inserts. */
const NO_FLUSH = new Set([
  'poolVersion',
  'chainHead',
  'getToken',
  'getTokenByHash',
  'countTokens',
  'getIdempotency',
  'insertIdempotency',
  'insertEvents',
  'getDeviceLoop',
  'putDeviceLoop',
  'deviceGrants',
  'getGrantStatus',
  'deviceMessages',
  'appendDeviceMessages',
  'pruneDeviceMessages',
  'getAlert',
  'putAlert',
  'listAlerts',
  'listDeviceLoops',
  'usageHistory',
  'putUsageSamples',
  'pruneUsageSamples',
])

/** A transaction wrapped for one batch. */
interface TrackedTx {
  readonly tx: WriteTx
  /** Writes so far (buffered inserts count). */
  writes(): number
  /** Writes buffered inserts now. */
  flush(): Promise<void>
  /** Hands over the rows still buffered (the caller writes them). */
  take(): AllocationRow[]
  /** True when the batch changed tokens, tenants or devices. */
  authChanged(): boolean
  /** Devices the batch put stream messages for. */
  messaged(): ReadonlySet<string>
}

/**
 * Wraps the transaction of a batch: counts writes (so the writer knows whether a refused
 * operation left writes behind), memoizes lookups of pools, devices, domains and tenants, and
 * buffers inserted allocation rows so a batch writes them in a few multi-row statements. Any
 * other call first writes the buffer, so every read sees every earlier write.
 */
function trackWrites(tx: WriteTx): TrackedTx {
  let writes = 0
  let authChanged = false
  const messaged = new Set<string>()
  const memo = new Map<string, Promise<unknown>>()
  let buffer: AllocationRow[] = []
  const flush = async (): Promise<void> => {
    if (buffer.length === 0) return
    const rows = buffer
    buffer = []
    await tx.insertAllocations(rows)
  }
  const proxy = new Proxy(tx, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver)
      if (typeof prop !== 'string' || typeof value !== 'function') return value
      const fn = value as (...args: unknown[]) => Promise<unknown>
      if (prop === 'insertAllocations') {
        return (rows: readonly AllocationRow[]) => {
          writes++
          buffer.push(...rows)
          return Promise.resolve()
        }
      }
      if (prop === 'savepoint') {
        // Rows buffered inside the savepoint belong to it: written before it is released,
        // dropped when it rolls back.
        return async (inner: () => Promise<unknown>) => {
          await flush()
          try {
            return await tx.savepoint(async () => {
              const result = await inner()
              await flush()
              return result
            })
          } catch (error) {
            buffer = []
            throw error
          } finally {
            memo.clear()
          }
        }
      }
      if (MEMO.has(prop)) {
        return (...args: unknown[]) => {
          const key = `${prop} ${JSON.stringify(args)}`
          let p = memo.get(key)
          if (p === undefined) {
            p = fn.apply(target, args)
            memo.set(key, p)
          }
          return p
        }
      }
      return async (...args: unknown[]) => {
        if (WRITES.has(prop)) writes++
        if (AUTH_WRITES.has(prop)) authChanged = true
        if (prop === 'appendDeviceMessages') {
          for (const m of args[0] as readonly { deviceId: string }[]) messaged.add(m.deviceId)
        }
        if (!NO_FLUSH.has(prop)) await flush()
        try {
          return await fn.apply(target, args)
        } finally {
          if (FORGET.has(prop)) memo.clear()
        }
      }
    },
  })
  const take = (): AllocationRow[] => {
    const rows = buffer
    buffer = []
    return rows
  }
  return {
    tx: proxy,
    writes: () => writes,
    flush,
    take,
    authChanged: () => authChanged,
    messaged: () => messaged,
  }
}

/** The per-batch state shared by the operations of one transaction. */
class Batch {
  readonly tx: WriteTx
  readonly now: number
  readonly events: EventDraft[] = []
  /** The chain head after this batch, once written. */
  newHead: ChainHead | undefined
  /** Pools touched in this batch: their versions before, and whether their space changed. */
  readonly pools = new Map<
    string,
    { entry: CachedPool; before: PoolVersion; spaceChanged: boolean; unitsChanged: boolean }
  >()

  constructor(tx: WriteTx, now: number) {
    this.tx = tx
    this.now = now
  }

  /** The version every row changed in this batch carries for `poolId`. */
  nextVersion(poolId: string): number {
    const p = this.pools.get(poolId)
    if (p === undefined) throw new Error(`pool ${poolId} was not opened in this batch`)
    return p.before.version + 1
  }
}

/** What an operation can do inside the writer. */
export class WriteContext {
  readonly #batch: Batch
  readonly #cache: PoolSpaceCache
  readonly #events: EventDraft[] = []
  readonly #undo: (() => void)[] = []
  readonly #touched = new Map<string, { spaceChanged: boolean; unitsChanged: boolean }>()

  constructor(batch: Batch, cache: PoolSpaceCache) {
    this.#batch = batch
    this.#cache = cache
  }

  /** The transaction. */
  get tx(): WriteTx {
    return this.#batch.tx
  }

  /** The time of this batch (one value for all its operations). */
  get now(): number {
    return this.#batch.now
  }

  /** Records an event of this operation. */
  emit(event: EventDraft): void {
    this.#events.push(event)
  }

  /**
   * The allocator of `pool`, current with the store. Changes the operation makes to it must be
   * registered with {@link WriteContext.onUndo} and the pool marked with
   * {@link WriteContext.unitsChanged}.
   */
  async allocator(pool: Pool): Promise<PrefixAllocator> {
    let p = this.#batch.pools.get(pool.id)
    if (p === undefined) {
      const before = await this.tx.poolVersion(pool.id)
      if (before === undefined)
        throw new CasmError('CASM_ERR_NOT_FOUND', `pool ${pool.name} does not exist`)
      const entry = await this.#cache.current(this.tx, pool, before)
      p = { entry, before, spaceChanged: false, unitsChanged: false }
      this.#batch.pools.set(pool.id, p)
    }
    return p.entry.allocator
  }

  /**
   * Installs a pool's allocator built by the operation itself (a new pool, a resize); the pool's
   * space version moves, so other coordinators rebuild theirs.
   */
  async installAllocator(pool: Pool, allocator: PrefixAllocator): Promise<void> {
    const before = (await this.tx.poolVersion(pool.id)) ?? { version: 0, spaceVersion: 0 }
    const previousEntry = this.#batch.pools.get(pool.id)
    const previousCached = this.#cache.peek(pool.id)
    this.#cache.install(pool.id, allocator, before)
    const entry = this.#cache.peek(pool.id) as CachedPool
    this.#batch.pools.set(pool.id, {
      entry,
      before,
      spaceChanged: previousEntry?.spaceChanged ?? false,
      unitsChanged: previousEntry?.unitsChanged ?? false,
    })
    this.onUndo(() => {
      if (previousEntry === undefined) this.#batch.pools.delete(pool.id)
      else this.#batch.pools.set(pool.id, previousEntry)
      if (previousCached === undefined) this.#cache.evict(pool.id)
      else this.#cache.install(pool.id, previousCached.allocator, previousCached)
    })
    this.#mark(pool.id, true)
  }

  /** The version rows changed now for `poolId` must carry (open the pool first). */
  versionFor(poolId: string): number {
    return this.#batch.nextVersion(poolId)
  }

  /** Marks that this operation changed units of `poolId`. */
  unitsChanged(poolId: string): void {
    this.#mark(poolId, false)
  }

  /** Marks that units of `poolId` were deleted or its space changed: other caches must rebuild. */
  spaceChanged(poolId: string): void {
    this.#mark(poolId, true)
  }

  /** Forgets a pool that this operation deletes. */
  poolDeleted(poolId: string): void {
    this.#batch.pools.delete(poolId)
    this.#cache.evict(poolId)
  }

  #mark(poolId: string, space: boolean): void {
    const t = this.#touched.get(poolId) ?? { spaceChanged: false, unitsChanged: false }
    t.unitsChanged = true
    if (space) t.spaceChanged = true
    this.#touched.set(poolId, t)
  }

  /**
   * Runs `fn` so that a refusal ({@link CasmError}) undoes only what `fn` did — its writes
   * (savepoint), its allocator changes and its events — and is returned instead of thrown.
   */
  async attempt<T>(
    fn: () => Promise<T>,
  ): Promise<{ ok: true; value: T } | { ok: false; error: CasmError }> {
    const events = this.#events.length
    const undo = this.#undo.length
    const touched = new Map([...this.#touched].map(([k, v]) => [k, { ...v }]))
    try {
      return { ok: true, value: await this.tx.savepoint(fn) }
    } catch (error) {
      for (const u of this.#undo.splice(undo).reverse()) u()
      this.#events.length = events
      this.#touched.clear()
      for (const [k, v] of touched) this.#touched.set(k, v)
      if (isCasmError(error)) return { ok: false, error }
      throw error
    }
  }

  /** Registers how to undo an in-memory change if the operation fails. */
  onUndo(fn: () => void): void {
    this.#undo.push(fn)
  }

  /** @internal The operation succeeded: hand its events and marks to the batch. */
  keep(): void {
    this.#batch.events.push(...this.#events)
    for (const [poolId, t] of this.#touched) {
      const p = this.#batch.pools.get(poolId)
      if (p === undefined) continue
      p.unitsChanged ||= t.unitsChanged
      p.spaceChanged ||= t.spaceChanged
    }
  }

  /** @internal The operation failed: undo its in-memory changes, newest first. */
  discard(): void {
    for (const fn of this.#undo.reverse()) fn()
  }
}

/** An operation the writer runs. */
export type WriteOp<T> = (ctx: WriteContext) => Promise<T>

interface Pending {
  readonly op: WriteOp<unknown>
  readonly resolve: (v: unknown) => void
  readonly reject: (e: unknown) => void
}

/** Counters of the writer, for /metrics. */
export interface WriterStats {
  batches: number
  operations: number
  failedBatches: number
  lastBatchSize: number
}

/** Most operations in one transaction. */
const MAX_BATCH = 256

/** What the writer tells its owner after a commit. */
export interface WriterHooks {
  /** The batch changed tokens, tenants or devices (cached authentications may be wrong). */
  readonly onAuthChange?: () => void
  /** The batch put stream messages for these devices. */
  readonly onDeviceMessages?: (deviceIds: ReadonlySet<string>) => void
}

/** The single writer of a coordinator. */
export class Writer {
  readonly #store: Store
  readonly #cache: PoolSpaceCache
  readonly #clock: Clock
  readonly #queue: Pending[] = []
  #running = false
  #closed = false
  readonly stats: WriterStats = { batches: 0, operations: 0, failedBatches: 0, lastBatchSize: 0 }
  /** The chain head as this writer last committed it; unknown after a failed batch. */
  #head: ChainHead | undefined

  readonly #hooks: WriterHooks

  constructor(store: Store, cache: PoolSpaceCache, clock: Clock, hooks: WriterHooks = {}) {
    this.#store = store
    this.#cache = cache
    this.#clock = clock
    this.#hooks = hooks
  }

  /** Queues `op`; resolves with its result once its transaction has committed. */
  submit<T>(op: WriteOp<T>): Promise<T> {
    if (this.#closed)
      return Promise.reject(
        new CasmError('CASM_ERR_UNAVAILABLE', 'the coordinator is shutting down'),
      )
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({
        op,
        resolve: resolve as (v: unknown) => void,
        reject,
      })
      if (!this.#running) {
        this.#running = true
        // Start on the next turn of the event loop, after pending I/O: requests that arrived
        // together join one batch even when the store answers synchronously (SQLite).
        setImmediate(() => void this.#drain())
      }
    })
  }

  /** Waits for queued operations, then refuses new ones. */
  async close(): Promise<void> {
    this.#closed = true
    while (this.#running || this.#queue.length > 0) await new Promise((r) => setTimeout(r, 5))
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue.splice(0, MAX_BATCH)
        await this.#runBatch(batch, batch.length > 1)
        // Let requests that arrived meanwhile queue up before the next batch.
        if (this.#queue.length > 0 && this.#queue.length < MAX_BATCH)
          await new Promise((r) => setImmediate(r))
      }
    } finally {
      // Left early by an unexpected error: start again so queued operations do not wait forever.
      if (this.#queue.length > 0) setImmediate(() => void this.#drain())
      else this.#running = false
    }
  }

  async #runBatch(items: Pending[], isolate: boolean, retried = false): Promise<void> {
    const outcomes: ({ ok: true; value: unknown } | { ok: false; error: unknown })[] = []
    let batch: Batch | undefined
    const flags: { authChanged: boolean; messaged: ReadonlySet<string> } = {
      authChanged: false,
      messaged: new Set(),
    }
    try {
      await this.#store.write(async (raw) => {
        const tracked = trackWrites(raw)
        batch = new Batch(tracked.tx, this.#clock.now())
        outcomes.length = 0
        for (const item of items) {
          const ctx = new WriteContext(batch, this.#cache)
          const before = tracked.writes()
          try {
            const value = await item.op(ctx)
            ctx.keep()
            outcomes.push({ ok: true, value })
          } catch (error) {
            ctx.discard()
            // Operations check before they write; a refusal after a write cannot be undone
            // alone, so the batch goes back and its operations run one by one.
            if (!isolate || !isCasmError(error) || tracked.writes() !== before) throw error
            outcomes.push({ ok: false, error })
          }
        }
        await this.#finish(raw, batch, tracked.take())
        flags.authChanged = tracked.authChanged()
        flags.messaged = tracked.messaged()
      })
    } catch (error) {
      if (!isolate && isCasmError(error) && items.length === 1) {
        // A refusal: the operation undid its in-memory changes and the transaction rolled back.
        items[0]?.reject(error)
        return
      }
      this.#head = undefined
      for (const poolId of batch?.pools.keys() ?? []) this.#cache.evict(poolId)
      if (!retried && chainMoved(error)) {
        // Another coordinator wrote since our last batch: run it again on the fresh head.
        await this.#runBatch(items, isolate, true)
        return
      }
      this.stats.failedBatches++
      if (items.length > 1) {
        // Run each again alone: only the faulty operation fails.
        for (const item of items) await this.#runBatch([item], false)
        return
      }
      items[0]?.reject(isCasmError(error) ? error : internal(error))
      return
    }
    const done = batch as Batch
    if (flags.authChanged) this.#hooks.onAuthChange?.()
    if (flags.messaged.size > 0) this.#hooks.onDeviceMessages?.(flags.messaged)
    if (done.newHead !== undefined) this.#head = done.newHead
    for (const [poolId, p] of done.pools) {
      if (p.unitsChanged) {
        this.#cache.committed(poolId, {
          version: p.before.version + 1,
          spaceVersion: p.spaceChanged ? p.before.version + 1 : p.before.spaceVersion,
        })
      }
    }
    this.stats.batches++
    this.stats.operations += items.length
    this.stats.lastBatchSize = items.length
    items.forEach((item, i) => {
      const o = outcomes[i]
      if (o?.ok === true) item.resolve(o.value)
      else item.reject(o?.error ?? internal(new Error('no outcome')))
    })
  }

  /**
   * Ends a batch in one store call: the buffered rows, the versions of touched pools, and the
   * batch's events hashed onto the chain head — the head this writer last wrote, checked by the
   * store, or read afresh after a failure.
   */
  async #finish(tx: WriteTx, batch: Batch, rows: AllocationRow[]): Promise<void> {
    const versions: { poolId: string; version: PoolVersion }[] = []
    for (const [poolId, p] of batch.pools) {
      if (!p.unitsChanged) continue
      const next = p.before.version + 1
      versions.push({
        poolId,
        version: { version: next, spaceVersion: p.spaceChanged ? next : p.before.spaceVersion },
      })
    }
    const head = this.#head ?? (await tx.chainHead())
    let seq = head.seq
    let prevHash = head.hash
    const events: CasmEvent[] = batch.events.map((d) => {
      seq++
      const draft: Omit<CasmEvent, 'hash'> = {
        seq,
        id: newId('event'),
        tenantId: d.tenantId,
        at: batch.now,
        actor: d.actor,
        action: d.action,
        objectType: d.objectType,
        objectId: d.objectId,
        before: d.before ?? null,
        after: d.after ?? null,
        reason: d.reason ?? null,
        requestId: d.requestId ?? null,
        prevHash,
      }
      const event = { ...draft, hash: hashEvent(draft) }
      prevHash = event.hash
      return event
    })
    if (rows.length === 0 && versions.length === 0 && events.length === 0) return
    await tx.finishBatch({ rows, versions, events, head })
    batch.newHead = { seq, hash: prevHash }
  }
}

/** True when a batch failed because another writer moved the event chain under it. */
function chainMoved(error: unknown): boolean {
  if (error instanceof ChainMovedError) return true
  const e = error as { code?: unknown; constraint?: unknown }
  return e.code === '23505' && e.constraint === 'event_pkey'
}

function internal(error: unknown): CasmError {
  const message = error instanceof Error ? error.message : String(error)
  const code = (error as { code?: unknown }).code
  if (code === '23503' || /FOREIGN KEY constraint failed/.test(message)) {
    // A referenced object (a device, a pool) was deleted between the request's lookup and its write.
    return new CasmError(
      'CASM_ERR_NOT_FOUND',
      'an object the request refers to was deleted meanwhile; look it up again',
      undefined,
      { cause: error },
    )
  }
  if (/SQLITE_BUSY|database is locked|ECONNREFUSED|Connection terminated|timeout/i.test(message)) {
    return new CasmError(
      'CASM_ERR_UNAVAILABLE',
      `the store did not answer: ${message}`,
      undefined,
      { cause: error },
    )
  }
  return new CasmError('CASM_ERR_INTERNAL', `internal error: ${message}`, undefined, {
    cause: error,
  })
}
