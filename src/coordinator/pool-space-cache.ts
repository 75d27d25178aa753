/**
 * The in-memory allocators of pools, kept honest by the pool versions in the store.
 *
 * The store is the source of truth. Each pool row carries `version` (moved whenever its units
 * change) and `spaceVersion` (moved when its space changes or units are deleted). The writer
 * reads both under the write lock before it uses a cached allocator:
 *
 * - same versions: the cache is current;
 * - only `version` moved (another coordinator wrote): apply the units changed since;
 * - `spaceVersion` moved, or nothing cached: rebuild from the live units.
 *
 * So a cache can be behind but never silently stale, and one coordinator alone never reloads.
 *
 * @module
 */

import { CasmError } from '../errors/casm-error.js'
import { PrefixAllocator } from '../alloc/prefix-allocator.js'
import { AddressRange, Prefix } from '../ip/index.js'
import { UNIT_KIND_OF, type Pool } from '../domain/model.js'
import { isLive } from '../domain/grant-lifecycle.js'
import type { AllocationRow, PoolVersion, StoreReader, UnitKey } from './store.js'

/** A cached allocator and the pool versions it reflects. */
export interface CachedPool {
  readonly allocator: PrefixAllocator
  version: number
  spaceVersion: number
}

/** Builds a pool's allocator from its space and live units. */
export function buildAllocator(pool: Pool, units: readonly UnitKey[]): PrefixAllocator {
  return PrefixAllocator.rebuild({
    family: pool.family,
    space: pool.space.map((s) => AddressRange.parse(s, pool.family)),
    units: units.map((u) => ({
      prefix: Prefix.of(pool.family, u.first, u.length),
      kind: UNIT_KIND_OF[u.type],
    })),
  })
}

/** Allocators by pool id. */
export class PoolSpaceCache {
  readonly #pools = new Map<string, CachedPool>()
  /** Full rebuilds done (for metrics and tests). */
  rebuilds = 0
  /** Incremental refreshes done. */
  refreshes = 0

  /** The cached entry, without checking it (for metrics and read-only views). */
  peek(poolId: string): CachedPool | undefined {
    return this.#pools.get(poolId)
  }

  /** Forgets a pool (after a failed transaction or a delete). */
  evict(poolId: string): void {
    this.#pools.delete(poolId)
  }

  /** Number of cached pools. */
  get size(): number {
    return this.#pools.size
  }

  /**
   * The allocator of `pool`, brought to `current` (the versions read under the write lock).
   * Must be called inside the writer.
   */
  async current(reader: StoreReader, pool: Pool, current: PoolVersion): Promise<CachedPool> {
    const cached = this.#pools.get(pool.id)
    if (cached !== undefined && cached.spaceVersion === current.spaceVersion) {
      if (cached.version === current.version) return cached
      if (
        cached.version < current.version &&
        this.#applyChanges(cached, await reader.unitsChangedSince(pool.id, cached.version))
      ) {
        cached.version = current.version
        this.refreshes++
        return cached
      }
    }
    const fresh: CachedPool = {
      allocator: buildAllocator(pool, await reader.liveUnitKeys(pool.id)),
      version: current.version,
      spaceVersion: current.spaceVersion,
    }
    this.#pools.set(pool.id, fresh)
    this.rebuilds++
    return fresh
  }

  /** Applies rows changed by another writer; false when they do not fit (then rebuild). */
  #applyChanges(cached: CachedPool, rows: readonly AllocationRow[]): boolean {
    const a = cached.allocator
    try {
      for (const row of rows) {
        const prefix = Prefix.of(row.family, row.first, row.length)
        const kind = UNIT_KIND_OF[row.type]
        const found = a.lookup(prefix)
        const held =
          found.state === 'used' && found.unit.prefix.equals(prefix) && found.unit.kind === kind
        if (isLive(row.state) && !held) {
          if (kind === 'allocated') a.allocatePrefix(prefix)
          else if (kind === 'reserved') a.reserve(prefix)
          else a.exclude(prefix)
        } else if (!isLive(row.state) && held) {
          if (kind === 'allocated') a.release(prefix)
          else if (kind === 'reserved') a.unreserve(prefix)
          else a.include(prefix)
        }
      }
      return true
    } catch (e) {
      if (e instanceof CasmError) return false
      throw e
    }
  }

  /** Records that a committed transaction moved the pool to `v`. */
  committed(poolId: string, v: PoolVersion): void {
    const cached = this.#pools.get(poolId)
    if (cached === undefined) return
    cached.version = v.version
    cached.spaceVersion = v.spaceVersion
  }

  /** Installs an allocator built by the writer itself (a new pool, a resize). */
  install(poolId: string, allocator: PrefixAllocator, v: PoolVersion): void {
    this.#pools.set(poolId, { allocator, version: v.version, spaceVersion: v.spaceVersion })
  }
}
