/**
 * The coordinator: the store, the single writer, the allocator caches and the clock, and the
 * entry points the API and the CLI use. The use cases themselves live beside this file, by
 * concept (`tenancy`, `inventory`, `allocations`, `queries`); each write is a {@link WriteOp}
 * run by {@link Coordinator.run} in one transaction together with its events.
 *
 * @module
 */

import { createHash } from 'node:crypto'
import { CasmError } from '../errors/casm-error.js'
import type { CasmEvent, Pool } from '../domain/model.js'
import { sweep } from './allocations.js'
import { type Caller, requireRole } from './caller.js'
import { type Clock, systemClock } from './clock.js'
import { type ChainVerification, verifyChain } from './event-chain.js'
import { PoolSpaceCache } from './pool-space-cache.js'
import { poolUsage, type PoolUsage } from './queries.js'
import type { EventFilter, Page, Store, StoreReader } from './store.js'
import { authenticate, bootstrap } from './tenancy.js'
import { type WriteOp, Writer, type WriterStats } from './writer.js'
import { flagSilentDevices } from './device-loop.js'
import { StreamHub } from './stream-hub.js'
import { USAGE_SAMPLE_INTERVAL_MS, sampleUsage } from './usage-history.js'
import type { Token } from '../domain/model.js'

/** Options of {@link Coordinator.open}. */
export interface CoordinatorOptions {
  readonly clock?: Clock
  /** How often the sweep ends lifetimes and quarantines; 0 disables it (tests sweep by hand). */
  readonly sweepIntervalMs?: number
  /** How long idempotent answers are kept (default 24 h). */
  readonly idempotencyTtlMs?: number
  /**
   * How often the housekeeping samples every pool's and device's usage into the usage history
   * (default 5 min, by `clock`; the first housekeeping samples at once); 0 disables it.
   */
  readonly usageSampleIntervalMs?: number
}

/** How long answers to device messages are kept for resends. */
export const AGENT_TXN_TTL_MS = 3_600_000

/** How long a successful authentication is reused. */
export const AUTH_CACHE_MS = 2000

/** The answer an idempotent request gives, first time or replayed. */
export interface IdempotentAnswer {
  readonly status: number
  readonly body: string
  readonly replayed: boolean
}

/** A hash of a request (method, path and body) to tell a retry from a different request. */
export function requestHash(method: string, path: string, body: unknown): string {
  return createHash('sha256')
    .update(`${method} ${path}\n${JSON.stringify(body ?? null)}`)
    .digest('hex')
}

/** The coordinator of one process. */
export class Coordinator {
  readonly store: Store
  readonly clock: Clock
  readonly cache = new PoolSpaceCache()
  readonly writer: Writer
  /** Wakes devices' open streams after their messages commit. */
  readonly streams = new StreamHub()
  /** Counters of the device loop, for /metrics. */
  readonly loopStats = {
    messages: new Map<string, number>(),
    decisions: new Map<string, number>(),
  }
  /** Lease uploads stored and the leases they carried, for /metrics (uploads write no event). */
  readonly leaseStats = { uploads: 0, leases: 0 }
  readonly #options: CoordinatorOptions
  #sweeper: NodeJS.Timeout | undefined
  /** Recent authentications, for AUTH_CACHE_MS: a token costs no store query per request. */
  readonly #auth = new Map<string, { caller: Omit<Caller, 'requestId'>; until: number }>()
  #sweeping = false
  /** When the housekeeping last sampled usage (by `clock`). */
  #usageSampledAt: number | undefined
  /** The last pool sampled: the next round goes on after it. */
  #usagePoolCursor = ''
  readonly started: number

  private constructor(store: Store, options: CoordinatorOptions) {
    this.store = store
    this.clock = options.clock ?? systemClock
    this.#options = options
    this.writer = new Writer(store, this.cache, this.clock, {
      onAuthChange: () => {
        this.#auth.clear()
      },
      onDeviceMessages: (ids) => {
        this.streams.notify(ids)
      },
    })
    this.started = this.clock.now()
  }

  /**
   * Migrates the store, creates the first tenant and root token when there is none, and starts
   * the sweep. `bootstrapToken` is set only on the very first start.
   */
  static async open(
    store: Store,
    options: CoordinatorOptions = {},
  ): Promise<{ coordinator: Coordinator; bootstrapToken?: { secret: string; token: Token } }> {
    await store.migrate()
    const coordinator = new Coordinator(store, options)
    const first = await coordinator.run(bootstrap())
    const interval = options.sweepIntervalMs ?? 1000
    if (interval > 0) coordinator.#startSweeper(interval)
    return first === undefined ? { coordinator } : { coordinator, bootstrapToken: first }
  }

  /** Committed data. */
  get reader(): StoreReader {
    return this.store.reader
  }

  /** Runs a write operation in the writer; resolves after its transaction committed. */
  run<T>(op: WriteOp<T>): Promise<T> {
    return this.writer.submit(op)
  }

  /**
   * Runs `op` at most once per (tenant, key): the first answer — success or refusal — is stored
   * with the operation's own transaction and given again to every retry with the same key. A
   * retry whose request differs is refused.
   */
  runIdempotent<T>(
    c: Caller,
    key: string,
    hash: string,
    op: WriteOp<T>,
    render: (value: T) => { status: number; body: unknown },
    renderError: (e: CasmError) => { status: number; body: unknown },
  ): Promise<IdempotentAnswer> {
    if (key.length === 0 || key.length > 200) {
      return Promise.reject(
        new CasmError('CASM_ERR_VALIDATION', 'Idempotency-Key must be 1-200 characters', {
          errors: [{ path: 'header/idempotency-key', message: '1-200 characters' }],
        }),
      )
    }
    return this.run(async (ctx) => {
      const found = await ctx.tx.getIdempotency(c.tenantId, key)
      if (found !== undefined) {
        if (found.requestHash !== hash) {
          throw new CasmError(
            'CASM_ERR_IDEMPOTENCY_MISMATCH',
            `Idempotency-Key '${key}' was used for a different request`,
            { key },
          )
        }
        return { status: found.status, body: found.body, replayed: true }
      }
      const outcome = await ctx.attempt(() => op(ctx))
      const answer = outcome.ok ? render(outcome.value) : renderError(outcome.error)
      const body = JSON.stringify(answer.body)
      await ctx.tx.insertIdempotency({
        tenantId: c.tenantId,
        key,
        requestHash: hash,
        status: answer.status,
        body,
        createdAt: ctx.now,
      })
      return { status: answer.status, body, replayed: false }
    })
  }

  /** Resolves a bearer token and a tenant name into a caller. */
  /**
   * Resolves a bearer token and a tenant name into a caller. Successful answers are kept for
   * {@link AUTH_CACHE_MS}; every change to tokens, tenants or devices made here forgets them at
   * once (another coordinator's revocation takes effect within that time).
   */
  async authenticate(
    secret: string | undefined,
    tenant: string | undefined,
    requestId: string | null,
  ): Promise<Caller> {
    const key = `${secret ?? ''}\n${tenant ?? ''}`
    const now = Date.now()
    const hit = this.#auth.get(key)
    if (hit !== undefined && hit.until > now) return { ...hit.caller, requestId }
    const caller = await authenticate(this.reader, secret, tenant, requestId)
    if (this.#auth.size > 10_000) this.#auth.clear()
    const { requestId: _dropped, ...rest } = caller
    this.#auth.set(key, { caller: rest, until: now + AUTH_CACHE_MS })
    return caller
  }

  /** Events the caller may read: its tenant's; a root caller may ask for every tenant's. */
  async listEvents(
    c: Caller,
    filter: Omit<EventFilter, 'tenantId'> & { allTenants?: boolean },
    page: Page,
  ): Promise<CasmEvent[]> {
    requireRole(c, 'viewer')
    const { allTenants, ...rest } = filter
    if (allTenants === true && !c.root)
      throw new CasmError('CASM_ERR_FORBIDDEN', "only root tokens read every tenant's events")
    return this.reader.listEvents(
      allTenants === true ? rest : { ...rest, tenantId: c.tenantId },
      page,
    )
  }

  /** Verifies the whole event chain (admins). */
  async verifyEvents(
    c: Caller,
    onProgress?: (checked: number) => void,
  ): Promise<ChainVerification> {
    requireRole(c, 'admin')
    return verifyChain(this.reader, onProgress)
  }

  /** Usage of every pool of every tenant, for /metrics. */
  allPoolUsage(): Promise<{ pool: Pool; usage: PoolUsage }[]> {
    return this.run(async (ctx) => {
      const out: { pool: Pool; usage: PoolUsage }[] = []
      for (const pool of await ctx.tx.listAllPools())
        out.push({ pool, usage: poolUsage(pool, await ctx.allocator(pool)) })
      return out
    })
  }

  /** Loads every pool's allocator now (after start, so the first requests are fast). */
  async warm(): Promise<number> {
    return (await this.allPoolUsage()).length
  }

  /** Runs one sweep now (ends due lifetimes and quarantines); returns what it did. */
  async sweepNow(): Promise<{ expired: number; freed: number }> {
    let total = { expired: 0, freed: 0 }
    for (;;) {
      const r = await this.run(sweep())
      total = { expired: total.expired + r.expired, freed: total.freed + r.freed }
      if (r.expired + r.freed === 0) return total
    }
  }

  /**
   * One round of housekeeping, as the sweeper runs it: ends due lifetimes and quarantines, flags
   * silent devices, forgets idempotent answers and stream messages past their time, and — at most
   * once per `usageSampleIntervalMs` — samples usage into the history and forgets samples older
   * than a week. The fleet simulator calls it on its simulated clock.
   */
  async housekeeping(): Promise<void> {
    const ttl = this.#options.idempotencyTtlMs ?? 86_400_000
    await this.sweepNow()
    await this.run(flagSilentDevices())
    await this.run(async (ctx) => {
      await ctx.tx.pruneIdempotency(ctx.now - ttl)
      // Answers to device messages are kept an hour: agents resend within seconds.
      await ctx.tx.pruneIdempotency(ctx.now - AGENT_TXN_TTL_MS, 'agent:')
      // Stream messages a device never acknowledged are kept as long as idempotent answers.
      await ctx.tx.pruneDeviceMessages({ before: ctx.now - ttl })
    })
    const every = this.#options.usageSampleIntervalMs ?? USAGE_SAMPLE_INTERVAL_MS
    const now = this.clock.now()
    if (every > 0 && (this.#usageSampledAt === undefined || now - this.#usageSampledAt >= every)) {
      this.#usageSampledAt = now
      const { next } = await this.run(sampleUsage(undefined, this.#usagePoolCursor))
      this.#usagePoolCursor = next
    }
  }

  #startSweeper(intervalMs: number): void {
    this.#sweeper = setInterval(() => {
      if (this.#sweeping) return
      this.#sweeping = true
      this.housekeeping()
        .catch(() => undefined)
        .finally(() => {
          this.#sweeping = false
        })
    }, intervalMs)
    this.#sweeper.unref()
  }

  /** Counts what the device loop did, for /metrics. */
  countLoop(messageType: string, decisions: readonly string[] = []): void {
    const m = this.loopStats.messages
    m.set(messageType, (m.get(messageType) ?? 0) + 1)
    for (const d of decisions)
      this.loopStats.decisions.set(d, (this.loopStats.decisions.get(d) ?? 0) + 1)
  }

  /** Counts a stored lease upload of `leases` leases, for /metrics. */
  countLeaseUpload(leases: number): void {
    this.leaseStats.uploads++
    this.leaseStats.leases += leases
  }

  /** Writer statistics, for /metrics. */
  get writerStats(): WriterStats {
    return this.writer.stats
  }

  /** Finishes queued writes and closes the store. */
  async close(): Promise<void> {
    if (this.#sweeper !== undefined) clearInterval(this.#sweeper)
    await this.writer.close()
    await this.store.close()
  }
}
