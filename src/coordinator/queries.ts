/**
 * Questions about the address space: what holds an address or prefix, and how full a pool, a
 * block or a domain is. Sizes are decimal strings: IPv6 counts do not fit in a JSON number.
 *
 * @module
 */

import {
  AddressRange,
  type Family,
  Prefix,
  familyInfo,
  mergeRanges,
  specialPurposeOf,
} from '../ip/index.js'
import type { PrefixAllocator } from '../alloc/prefix-allocator.js'
import type { Block, Domain, Pool } from '../domain/model.js'
import { CasmError, isCasmError } from '../errors/casm-error.js'
import { type Caller, notFound, requireRole } from './caller.js'
import type { StoreReader } from './store.js'
import type { WriteOp } from './writer.js'

// ---- search ----------------------------------------------------------------------------------

/** How a found object relates to the searched prefix. */
export type Relation = 'equal' | 'contains' | 'inside' | 'overlaps'

function relation(
  query: { first: bigint; last: bigint },
  other: { first: bigint; last: bigint },
): Relation {
  if (other.first === query.first && other.last === query.last) return 'equal'
  if (other.first <= query.first && other.last >= query.last) return 'contains'
  if (other.first >= query.first && other.last <= query.last) return 'inside'
  return 'overlaps'
}

/** One domain's answer to a search. */
export interface SearchHit {
  readonly domain: { readonly id: string; readonly name: string }
  readonly blocks: readonly { id: string; space: string; relation: Relation; reserved: boolean }[]
  readonly pools: readonly { id: string; name: string; range: string; relation: Relation }[]
  readonly units: readonly {
    id: string
    type: string
    prefix: string
    state: string
    relation: Relation
    pool: string
    device: { id: string; name: string } | null
    hostname: string
  }[]
  /** True when more units overlap than were listed. */
  readonly truncated: boolean
}

/** The answer to a search. */
export interface SearchResult {
  readonly query: string
  readonly family: Family
  readonly specialPurpose: readonly { prefix: string; name: string; rfc: string }[]
  readonly domains: readonly SearchHit[]
}

/**
 * What contains `q` (an address or prefix), what it contains, and who holds it, in every domain
 * of the tenant (or one domain).
 */
export async function search(
  reader: StoreReader,
  c: Caller,
  q: string,
  options: { domain?: string; limit?: number } = {},
): Promise<SearchResult> {
  requireRole(c, 'viewer')
  const query = Prefix.parse(q.trim(), { lenient: true })
  const limit = Math.min(options.limit ?? 100, 1000)
  let domains: Domain[] = await reader.listDomains(c.tenantId)
  if (options.domain !== undefined) {
    const d = await reader.getDomain(c.tenantId, options.domain)
    if (d === undefined) throw notFound('domain', options.domain)
    domains = [d]
  }
  const poolNames = new Map<string, string>()
  const deviceNames = new Map<string, string>()
  const hits: SearchHit[] = []
  for (const d of domains) {
    const blocks = await reader.blocksOverlapping(d.id, query.family, query.first, query.last)
    const ranges = await reader.poolRangesOverlapping(d.id, query.family, query.first, query.last)
    const units = await reader.liveUnitsOverlapping(
      d.id,
      query.family,
      query.first,
      query.last,
      limit + 1,
    )
    if (blocks.length === 0 && ranges.length === 0 && units.length === 0) continue
    const nameOfPool = async (id: string): Promise<string> => {
      let n = poolNames.get(id)
      if (n === undefined) {
        n = (await reader.getPool(c.tenantId, id))?.name ?? id
        poolNames.set(id, n)
      }
      return n
    }
    const nameOfDevice = async (id: string): Promise<string> => {
      let n = deviceNames.get(id)
      if (n === undefined) {
        n = (await reader.getDevice(c.tenantId, id))?.name ?? id
        deviceNames.set(id, n)
      }
      return n
    }
    hits.push({
      domain: { id: d.id, name: d.name },
      blocks: blocks.map((b) => {
        const r = AddressRange.parse(b.space, b.family)
        return { id: b.id, space: b.space, relation: relation(query, r), reserved: b.reserved }
      }),
      pools: await Promise.all(
        ranges.map(async (r) => {
          const range = AddressRange.of(query.family, r.first, r.last)
          return {
            id: r.poolId,
            name: await nameOfPool(r.poolId),
            range: range.toPrefix()?.toString() ?? range.toString(),
            relation: relation(query, r),
          }
        }),
      ),
      units: await Promise.all(
        units.slice(0, limit).map(async (u) => ({
          id: u.id,
          type: u.type,
          prefix: u.prefix,
          state: u.state,
          relation: relation(query, u),
          pool: await nameOfPool(u.poolId),
          device:
            u.deviceId === null ? null : { id: u.deviceId, name: await nameOfDevice(u.deviceId) },
          hostname: u.hostname,
        })),
      ),
      truncated: units.length > limit,
    })
  }
  return {
    query: query.toString(),
    family: query.family,
    specialPurpose: specialPurposeOf(query).map((e) => ({
      prefix: e.prefix.toString(),
      name: e.name,
      rfc: e.rfc,
    })),
    domains: hits,
  }
}

// ---- usage -----------------------------------------------------------------------------------

/** How full a pool is. */
export interface PoolUsage {
  readonly pool: string
  readonly family: Family
  readonly total: string
  readonly allocated: string
  readonly reserved: string
  readonly used: string
  readonly free: string
  readonly excluded: string
  /** `used / total`, 0..1. */
  readonly utilisation: number
  readonly freeBlocks: number
  readonly freeBlocksByLength: Readonly<Record<number, number>>
  readonly largestFree: string | null
  /** For the pool's default unit. */
  readonly fragmentation: {
    readonly length: number
    readonly possible: string
    readonly ideal: string
    readonly ratio: number
  }
}

/** `part / whole` to six decimals; 0 when `whole` is 0. */
export function ratio(part: bigint, whole: bigint): number {
  return whole === 0n ? 0 : Number((part * 1_000_000n) / whole) / 1_000_000
}

/** Usage of a pool from its allocator. */
export function poolUsage(pool: Pool, a: PrefixAllocator): PoolUsage {
  const s = a.statistics()
  const f = a.fragmentation(pool.policy.unit.default)
  return {
    pool: pool.name,
    family: pool.family,
    total: s.total.toString(),
    allocated: s.allocated.toString(),
    reserved: s.reserved.toString(),
    used: s.used.toString(),
    free: s.free.toString(),
    excluded: s.excluded.toString(),
    utilisation: ratio(s.used, s.total),
    freeBlocks: s.freeBlocks,
    freeBlocksByLength: s.freeBlocksByLength,
    largestFree: s.largestFree?.toString() ?? null,
    fragmentation: {
      length: f.length,
      possible: f.possible.toString(),
      ideal: f.ideal.toString(),
      ratio: f.ratio,
    },
  }
}

/** Usage of a pool, read through the writer so the allocator is current. */
export function getPoolUsage(c: Caller, key: string): WriteOp<PoolUsage> {
  return async (ctx) => {
    requireRole(c, 'viewer')
    const pool = await ctx.tx.getPool(c.tenantId, key)
    if (pool === undefined) throw notFound('pool', key)
    return poolUsage(pool, await ctx.allocator(pool))
  }
}

/** How a block or a domain is used, per family. */
export interface SpaceUsage {
  readonly family: Family
  /** Addresses in blocks. */
  readonly total: string
  /** Addresses of blocks given to pools. */
  readonly pooled: string
  /** Addresses of blocks in no pool. */
  readonly unpooled: string
  /** Addresses in reserved blocks. */
  readonly reservedBlocks: string
  readonly allocated: string
  readonly reserved: string
  readonly excluded: string
  /** Pooled addresses neither allocated, reserved nor excluded. */
  readonly free: string
  /** `(allocated + reserved) / (pooled - excluded)`. */
  readonly utilisation: number
  /** The largest aligned prefix of unpooled block space (room for a new pool). */
  readonly largestUnpooled: string | null
}

async function spaceUsage(
  reader: StoreReader,
  domainId: string,
  family: Family,
  blocks: readonly Block[],
): Promise<SpaceUsage> {
  const info = familyInfo(family)
  const ranges = mergeRanges(blocks.map((b) => AddressRange.parse(b.space, b.family)))
  let total = 0n
  let pooled = 0n
  let reservedBlocks = 0n
  let allocated = 0n
  let reserved = 0n
  let excluded = 0n
  let largest: Prefix | undefined
  for (const b of blocks)
    if (b.reserved) reservedBlocks += AddressRange.parse(b.space, b.family).size
  for (const r of ranges) {
    total += r.size
    const poolRanges = await reader.poolRangesOverlapping(domainId, family, r.first, r.last)
    let cursor = r.first
    for (const pr of poolRanges) {
      const first = pr.first > r.first ? pr.first : r.first
      const last = pr.last < r.last ? pr.last : r.last
      pooled += last - first + 1n
      if (first > cursor) {
        for (const p of AddressRange.of(family, cursor, first - 1n).toPrefixes())
          if (largest === undefined || p.length < largest.length) largest = p
      }
      cursor = last + 1n
    }
    if (cursor <= r.last) {
      for (const p of AddressRange.of(family, cursor, r.last).toPrefixes())
        if (largest === undefined || p.length < largest.length) largest = p
    }
    for (const u of await reader.liveUsageIn(domainId, family, r.first, r.last)) {
      const size = (info.blockSize[u.length] as bigint) * BigInt(u.count)
      if (u.type === 'reservation') reserved += size
      else if (u.type === 'exclusion') excluded += size
      else allocated += size
    }
  }
  const usable = pooled - excluded
  return {
    family,
    total: total.toString(),
    pooled: pooled.toString(),
    unpooled: (total - pooled).toString(),
    reservedBlocks: reservedBlocks.toString(),
    allocated: allocated.toString(),
    reserved: reserved.toString(),
    excluded: excluded.toString(),
    free: (usable - allocated - reserved).toString(),
    utilisation: ratio(allocated + reserved, usable),
    largestUnpooled: largest?.toString() ?? null,
  }
}

/** Usage of one block. */
export async function getBlockUsage(
  reader: StoreReader,
  c: Caller,
  id: string,
): Promise<SpaceUsage & { block: string }> {
  requireRole(c, 'viewer')
  const b = await reader.getBlock(c.tenantId, id)
  if (b === undefined) throw notFound('block', id)
  return { block: b.space, ...(await spaceUsage(reader, b.domainId, b.family, [b])) }
}

/** Usage of a domain: per family, and per pool. */
export function getDomainUsage(
  c: Caller,
  key: string,
): WriteOp<{ domain: string; families: SpaceUsage[]; pools: PoolUsage[] }> {
  return async (ctx) => {
    requireRole(c, 'viewer')
    const d = await ctx.tx.getDomain(c.tenantId, key)
    if (d === undefined) throw notFound('domain', key)
    const blocks = await ctx.tx.listBlocks(c.tenantId, d.id)
    const families: SpaceUsage[] = []
    for (const family of ['ipv4', 'ipv6', 'mac'] as const) {
      const of = blocks.filter((b) => b.family === family)
      if (of.length > 0) families.push(await spaceUsage(ctx.tx, d.id, family, of))
    }
    const pools: PoolUsage[] = []
    for (const p of await ctx.tx.listPools(c.tenantId, d.id))
      pools.push(poolUsage(p, await ctx.allocator(p)))
    return { domain: d.name, families, pools }
  }
}

/** Parses a search query, turning a parse failure into a validation error on `q`. */
export function checkQuery(q: string): void {
  try {
    Prefix.parse(q.trim(), { lenient: true })
  } catch (e) {
    if (isCasmError(e))
      throw new CasmError(e.code, `q: ${e.message}`, { ...e.details, path: '/q' }, { cause: e })
    throw e
  }
}
