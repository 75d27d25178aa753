/**
 * Usage history: the housekeeping samples every pool's and every device's usage every few
 * minutes (one transaction for all), keeps the samples a week, and answers the console's charts
 * with them. A pool's sample comes from its allocator (as `GET /pools/{pool}/usage`); a device's
 * from the last point of its loop history per family (what it reported, out of its active
 * grants).
 *
 * @module
 */

import type { Family } from '../ip/index.js'
import { CasmError } from '../errors/casm-error.js'
import { type Caller, notFound, requireRole } from './caller.js'
import { ratio } from './queries.js'
import type { StoreReader, UsageSampleRow } from './store.js'
import type { WriteOp } from './writer.js'

/** How often the housekeeping samples usage by default (5 minutes). */
export const USAGE_SAMPLE_INTERVAL_MS = 300_000

/** How long usage samples are kept (7 days). */
export const USAGE_HISTORY_KEEP_MS = 7 * 86_400_000

/** How far back a history request looks by default (24 hours). */
export const USAGE_HISTORY_DEFAULT_MS = 86_400_000

/** The most samples one history request returns. */
export const USAGE_HISTORY_MAX_LIMIT = 10_000

/** Pools sampled in one round at most: a pool's usage needs its allocator loaded. */
export const USAGE_POOLS_PER_ROUND = 2000

/**
 * Takes one usage sample of every device (per family it reported) and of up to `poolsPerRound`
 * pools — the next ones by id after `after`, going round, so an installation of 100,000 pools
 * costs a bounded transaction and each pool is sampled every (pools ÷ poolsPerRound) rounds —
 * at the batch's time, and forgets samples older than `keepMs`. Returns how many samples it
 * stored and the id to continue after.
 */
export function sampleUsage(
  keepMs: number = USAGE_HISTORY_KEEP_MS,
  after = '',
  poolsPerRound: number = USAGE_POOLS_PER_ROUND,
): WriteOp<{ samples: number; next: string }> {
  return async (ctx) => {
    const rows: UsageSampleRow[] = []
    const all = [...(await ctx.tx.listAllPools())].sort((a, b) =>
      a.id < b.id ? -1 : a.id > b.id ? 1 : 0,
    )
    const start = all.findIndex((p) => p.id > after)
    const from = start < 0 ? 0 : start
    const round = [...all.slice(from), ...all.slice(0, from)].slice(0, poolsPerRound)
    for (const pool of round) {
      const s = (await ctx.allocator(pool)).statistics()
      rows.push({
        tenantId: pool.tenantId,
        objectType: 'pool',
        objectId: pool.id,
        family: pool.family,
        at: ctx.now,
        used: s.used,
        total: s.total,
        utilisation: ratio(s.used, s.total),
      })
    }
    for (const loop of await ctx.tx.listDeviceLoops()) {
      for (const [family, points] of Object.entries(loop.history)) {
        const last = points.at(-1)
        if (last === undefined) continue
        const used = BigInt(Math.max(0, Math.round(last.used)))
        const total = BigInt(Math.max(0, Math.round(last.capacity)))
        rows.push({
          tenantId: loop.tenantId,
          objectType: 'device',
          objectId: loop.deviceId,
          family: family as Family,
          at: ctx.now,
          used,
          total,
          utilisation: ratio(used, total),
        })
      }
    }
    await ctx.tx.putUsageSamples(rows)
    await ctx.tx.pruneUsageSamples(ctx.now - keepMs)
    return { samples: rows.length, next: round[round.length - 1]?.id ?? '' }
  }
}

/** What a history request asks: since when (epoch ms), how many samples, which family. */
export interface UsageHistoryQuery {
  readonly since: number
  readonly limit: number
  readonly family?: Family
}

/** Checks a history request's limit: 1..{@link USAGE_HISTORY_MAX_LIMIT}. */
function checkLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 1 || limit > USAGE_HISTORY_MAX_LIMIT) {
    throw new CasmError('CASM_ERR_VALIDATION', `limit must be 1-${USAGE_HISTORY_MAX_LIMIT}`, {
      errors: [
        { path: 'querystring/limit', message: `1-${USAGE_HISTORY_MAX_LIMIT}`, value: limit },
      ],
    })
  }
}

/** Usage samples of a pool of the caller's tenant, oldest first. */
export async function poolUsageHistory(
  reader: StoreReader,
  c: Caller,
  key: string,
  q: UsageHistoryQuery,
): Promise<UsageSampleRow[]> {
  requireRole(c, 'viewer')
  checkLimit(q.limit)
  const pool = await reader.getPool(c.tenantId, key)
  if (pool === undefined) throw notFound('pool', key)
  return reader.usageHistory(pool.id, undefined, q.since, q.limit)
}

/** Usage samples of a device of the caller's tenant (one family, or all), oldest first. */
export async function deviceUsageHistory(
  reader: StoreReader,
  c: Caller,
  key: string,
  q: UsageHistoryQuery,
): Promise<UsageSampleRow[]> {
  requireRole(c, 'viewer')
  checkLimit(q.limit)
  const device = await reader.getDevice(c.tenantId, key)
  if (device === undefined) throw notFound('device', key)
  return reader.usageHistory(device.id, q.family, q.since, q.limit)
}
