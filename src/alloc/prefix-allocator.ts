/**
 * The free-space index of one pool: a buddy allocator over aligned free blocks.
 *
 * A pool's space is any list of address ranges, contiguous or not, aligned or not. Its free part
 * is kept as the unique set of aligned blocks in which no two free blocks are buddies (the
 * minimal prefix cover of each free gap). One ordered set per prefix length holds the free
 * blocks, so every operation costs O(log n) per prefix length touched and never walks
 * addresses:
 *
 * ```
 *   pool 10.0.0.0/29      [ . . . . . . . . ]
 *   allocate /31          [ A A . . . . . . ]   free: 10.0.0.2/31, 10.0.0.4/30
 *   allocate /32          [ A A B . . . . . ]   free: 10.0.0.3/32, 10.0.0.4/30   (best fit)
 *   release A             [ . . B . . . . . ]   free: 10.0.0.0/31, 10.0.0.3/32, 10.0.0.4/30
 *   release B             [ . . . . . . . . ]   free: 10.0.0.0/29  (buddies coalesce)
 * ```
 *
 * Used space is a set of units, each an aligned prefix of one kind: `allocated` (grants and
 * assignments), `reserved` (kept back inside the pool: gateways, broadcast-like addresses) or
 * `excluded` (taken out of the pool altogether, not counted in its total).
 *
 * @module
 */

import { CasmError } from '../errors/casm-error.js'
import {
  AddressRange,
  type Family,
  type FamilyInfo,
  Prefix,
  familyInfo,
  mergeRanges,
  rangeToPrefixes,
} from '../ip/index.js'
import { BigIntSortedMap } from './bigint-sorted-map.js'

/**
 * How {@link PrefixAllocator.allocate} picks a block.
 *
 * - `dense`: best fit — carve from the smallest free block that is large enough, lowest address
 *   first. Keeps large blocks intact. The IPv4 and MAC default.
 * - `sparse`: bisection — carve from the largest free block, so grants spread out and each keeps
 *   free room beside it to grow into. The IPv6 default.
 * - `adjacent`: carve next to the `near` prefixes (a device's existing grants) so the new block
 *   shares the longest possible common prefix with them and they aggregate into few routes.
 */
export type AllocationStrategy = 'dense' | 'sparse' | 'adjacent'

/** Every strategy, for validation and documentation. */
export const ALLOCATION_STRATEGIES: readonly AllocationStrategy[] = ['dense', 'sparse', 'adjacent']

/** What a used unit is. */
export type UnitKind = 'allocated' | 'reserved' | 'excluded'

const KIND_CODES: readonly UnitKind[] = ['allocated', 'reserved', 'excluded']

/** The default strategy for a family: `sparse` for IPv6, `dense` otherwise. */
export function defaultStrategy(family: Family): AllocationStrategy {
  return family === 'ipv6' ? 'sparse' : 'dense'
}

/** Options of {@link PrefixAllocator.allocate}. */
export interface AllocateOptions {
  /** Strategy; defaults to {@link defaultStrategy} of the pool's family. */
  readonly strategy?: AllocationStrategy
  /**
   * For `adjacent`: the prefixes the new block should sit next to (typically the device's
   * grants). Without them `adjacent` behaves as `dense`.
   */
  readonly near?: Prefix | readonly Prefix[]
}

/**
 * A reservation that repeats in every aligned block of length `every`, as BNG vendors offer for
 * "skip .0 and .255 in every /24" or "keep the gateway .1 of every /24".
 *
 * @example
 * ```ts
 * // the first and last address of every /24 of the pool
 * allocator.reservePattern({ every: 24, offsets: [0n, -1n] })
 * ```
 */
export interface ReservationPattern {
  /** Length of the repeating block (e.g. 24 for "in every /24"). */
  readonly every: number
  /**
   * Where each reserved piece starts inside the repeating block, in addresses from its start; a
   * negative offset counts from the end (-1 is the last address, -4 the last /30 start).
   */
  readonly offsets: readonly (bigint | number)[]
  /** Length of each reserved piece; a single address when omitted. */
  readonly length?: number
  /** Apply only inside this prefix; the whole pool when omitted. */
  readonly within?: Prefix
}

/** Most units one call may create or remove (a pattern over a huge pool is refused). */
export const UNIT_LIMIT = 1 << 20

/** A used unit: an aligned prefix and what it is used for. */
export interface Unit {
  readonly prefix: Prefix
  readonly kind: UnitKind
}

/** Input of {@link PrefixAllocator.rebuild}. */
export interface RebuildInput {
  readonly family: Family
  /** The pool's space: prefixes or ranges, in any order; touching pieces merge. */
  readonly space: readonly (Prefix | AddressRange)[]
  /** The stored units. Must lie inside the space and not overlap. */
  readonly units: readonly Unit[]
}

/** Counters of a pool; sizes in addresses as bigint. */
export interface PoolStatistics {
  readonly family: Family
  /** Addresses in the pool: its space minus excluded units. */
  readonly total: bigint
  /** Addresses in allocated units. */
  readonly allocated: bigint
  /** Addresses in reserved units. */
  readonly reserved: bigint
  /** `allocated + reserved`. */
  readonly used: bigint
  /** `total - used`. */
  readonly free: bigint
  /** Addresses of the space taken out of the pool. */
  readonly excluded: bigint
  /** Number of allocated units. */
  readonly allocations: number
  /** Number of reserved units. */
  readonly reservations: number
  /** Number of excluded units. */
  readonly exclusions: number
  /** Number of free aligned blocks. */
  readonly freeBlocks: number
  /** Number of free blocks per prefix length (only lengths that have some). */
  readonly freeBlocksByLength: Readonly<Record<number, number>>
  /** The largest free block (lowest address among equals), if any. */
  readonly largestFree: Prefix | undefined
}

/**
 * How fragmented the free space is for blocks of one length: `possible` blocks of that length can
 * still be carved, against `ideal = floor(free / size)` if the free space were one piece.
 */
export interface Fragmentation {
  readonly length: number
  readonly possible: bigint
  readonly ideal: bigint
  /** `possible / ideal` (1 when nothing is free): 1 is perfect, near 0 is shattered. */
  readonly ratio: number
}

/** What holds a prefix, as answered by {@link PrefixAllocator.lookup}. */
export type Lookup =
  | { readonly state: 'used'; readonly unit: Unit }
  | { readonly state: 'free'; readonly block: Prefix }
  | { readonly state: 'outside' }
  | { readonly state: 'mixed' }

/**
 * The free-space index and allocator of one pool.
 *
 * @example
 * ```ts
 * const pool = PrefixAllocator.create('ipv4', [Prefix.parse('100.64.0.0/16')])
 * pool.reservePattern({ every: 24, offsets: [0n, -1n] })
 * const a = pool.allocate(27) // 100.64.0.32/27 (the first /27 holds the reserved .0)
 * const b = pool.allocate(27, { strategy: 'adjacent', near: a }) // 100.64.0.64/27: the buddy .0/27 holds the reserved .0
 * pool.release(a)
 * ```
 */
export class PrefixAllocator {
  readonly family: Family
  readonly #info: FamilyInfo
  /** The pool's space, merged and sorted. */
  #space: AddressRange[]
  /** Free blocks: `#free[l]` holds the network of every free /l. */
  readonly #free: (BigIntSortedMap | undefined)[]
  /** Bit l is set when `#free[l]` is non-empty (five 32-bit words cover /0../128). */
  readonly #nonEmpty = new Uint32Array(5)
  /** Used units by network, ordered: value is `length | kindCode << 8`. */
  #used = new BigIntSortedMap<number>()
  #spaceSize = 0n
  #freeSize = 0n
  readonly #kindSize = [0n, 0n, 0n]
  readonly #kindCount = [0, 0, 0]

  private constructor(family: Family) {
    this.family = family
    this.#info = familyInfo(family)
    this.#free = new Array<BigIntSortedMap | undefined>(this.#info.width + 1).fill(undefined)
    this.#space = []
  }

  /** A pool of `family` whose space is `space` (prefixes or ranges), all free. */
  static create(family: Family, space: readonly (Prefix | AddressRange)[]): PrefixAllocator {
    return PrefixAllocator.rebuild({ family, space, units: [] })
  }

  /**
   * Rebuilds an allocator from stored state in O(n log n) for sorting plus O(n) for the rest:
   * the free blocks are computed from the gaps between units and bulk-loaded.
   *
   * @throws CasmError `CASM_ERR_OUT_OF_POOL` for a unit outside the space, `CASM_ERR_OVERLAP`
   *   for two overlapping units, `CASM_ERR_FAMILY_MISMATCH` for a unit of another family.
   */
  static rebuild(input: RebuildInput): PrefixAllocator {
    const a = new PrefixAllocator(input.family)
    const width = a.#info.width
    a.#space = toRanges(input.family, input.space)
    a.#spaceSize = a.#space.reduce((s, r) => s + r.size, 0n)
    const units = [...input.units]
    let sorted = true
    for (let i = 0; i < units.length; i++) {
      const u = units[i] as Unit
      checkFamily(input.family, u.prefix)
      if (i > 0 && (units[i - 1] as Unit).prefix.network > u.prefix.network) sorted = false
    }
    // Stored units usually come in address order; sort only when they do not.
    if (!sorted)
      units.sort((x, y) =>
        x.prefix.network < y.prefix.network ? -1 : x.prefix.network > y.prefix.network ? 1 : 0,
      )
    const freeByLength: bigint[][] = Array.from({ length: width + 1 }, () => [])
    const addGap = (first: bigint, last: bigint): void => {
      if (first > last) return
      for (const p of rangeToPrefixes(input.family, first, last)) {
        ;(freeByLength[p.length] as bigint[]).push(p.network)
        a.#freeSize += p.size
      }
    }
    let ui = 0
    const starts: bigint[] = []
    const codes: number[] = []
    let previous: Prefix | undefined
    for (const range of a.#space) {
      let cursor = range.first
      for (; ui < units.length; ui++) {
        const unit = units[ui] as Unit
        const p = unit.prefix
        if (p.first > range.last) break
        if (p.first < range.first || p.last > range.last) throw outOfPool(p, a.#space)
        if (previous !== undefined && p.first <= previous.last) throw overlapBetween(p, previous)
        addGap(cursor, p.first - 1n)
        cursor = p.last + 1n
        const code = KIND_CODES.indexOf(unit.kind)
        if (code < 0) {
          throw new CasmError(
            'CASM_ERR_INVALID_ARGUMENT',
            `unit ${p.toString()} has unknown kind '${unit.kind}'`,
            {
              unit: p.toString(),
            },
          )
        }
        starts.push(p.network)
        codes.push(p.length | (code << 8))
        a.#kindSize[code] = (a.#kindSize[code] as bigint) + p.size
        a.#kindCount[code] = (a.#kindCount[code] as number) + 1
        previous = p
      }
      addGap(cursor, range.last)
    }
    const stray = units[ui]
    if (stray !== undefined) throw outOfPool(stray.prefix, a.#space)
    a.#used = BigIntSortedMap.fromSorted(starts, codes)
    for (let l = 0; l <= width; l++) {
      const nets = freeByLength[l] as bigint[]
      if (nets.length > 0) {
        a.#free[l] = BigIntSortedMap.fromSorted(nets)
        a.#setNonEmpty(l, true)
      }
    }
    return a
  }

  /** The pool's space as merged, sorted ranges (excluded units still inside it). */
  get space(): readonly AddressRange[] {
    return this.#space
  }

  /**
   * Allocates a block of length `length` by strategy.
   *
   * @throws CasmError `CASM_ERR_POOL_EXHAUSTED` (with the largest free block in `details`) when
   *   no free block of that size is left; `CASM_ERR_PREFIX_LENGTH` for a bad length.
   */
  allocate(length: number, options: AllocateOptions = {}): Prefix {
    this.#checkLength(length)
    const strategy = options.strategy ?? defaultStrategy(this.family)
    let net: bigint | undefined
    switch (strategy) {
      case 'dense':
        net = this.#takeDense(length)
        break
      case 'sparse':
        net = this.#takeSparse(length)
        break
      case 'adjacent': {
        const near =
          options.near === undefined
            ? []
            : options.near instanceof Prefix
              ? [options.near]
              : options.near
        net = this.#takeAdjacent(length, near) ?? this.#takeDense(length)
        break
      }
      default:
        throw new CasmError(
          'CASM_ERR_INVALID_ARGUMENT',
          `unknown allocation strategy '${String(strategy)}'; use one of ${ALLOCATION_STRATEGIES.join(', ')}`,
          { strategy },
        )
    }
    if (net === undefined) throw this.#exhausted(length)
    this.#recordUsed(net, length, 0)
    return Prefix.of(this.family, net, length)
  }

  /**
   * Allocates exactly `prefix`.
   *
   * @throws CasmError `CASM_ERR_OUT_OF_POOL` when it is not inside the pool, `CASM_ERR_OVERLAP`
   *   (naming what it overlaps) when part of it is in use.
   */
  allocatePrefix(prefix: Prefix): Prefix {
    this.#takeExact(prefix, 0)
    return prefix
  }

  /**
   * Reserves a prefix or a range inside the pool: it stays in the pool but is never allocated.
   * A range is reserved as its minimal prefixes. All or nothing.
   *
   * @returns the reserved units' prefixes.
   */
  reserve(target: Prefix | AddressRange): Prefix[] {
    const pieces = this.#piecesOf(target)
    for (const p of pieces) this.#checkTakeable(p)
    for (const p of pieces) this.#takeExact(p, 1)
    return pieces
  }

  /**
   * Reserves a repeating pattern over the pool (see {@link ReservationPattern}). Pieces outside
   * the pool's space or already excluded are skipped; a piece that overlaps an allocation or
   * another reservation refuses the whole call. All or nothing.
   *
   * @returns the reserved units' prefixes.
   * @throws CasmError `CASM_ERR_LIMIT` when the pattern would create more than
   *   {@link UNIT_LIMIT} units, `CASM_ERR_INVALID_ARGUMENT` for a malformed pattern.
   */
  reservePattern(pattern: ReservationPattern): Prefix[] {
    const targets = this.#expandPattern(pattern)
    const conflicts: Unit[] = []
    const pieces: Prefix[] = []
    for (const p of targets) {
      const found = this.lookup(p)
      if (found.state === 'free') pieces.push(p)
      else if (found.state === 'used' && found.unit.kind !== 'excluded') conflicts.push(found.unit)
      else if (found.state === 'mixed')
        conflicts.push(this.#firstUsedIn(p) ?? { prefix: p, kind: 'allocated' })
    }
    if (conflicts.length > 0) {
      const shown = conflicts.slice(0, 5).map((u) => `${u.prefix.toString()} (${u.kind})`)
      throw new CasmError(
        'CASM_ERR_OVERLAP',
        `the pattern overlaps ${conflicts.length} used unit(s): ${shown.join(', ')}${conflicts.length > 5 ? ', ...' : ''}`,
        { conflicts: conflicts.length, first: shown },
      )
    }
    for (const p of pieces) this.#takeExact(p, 1)
    return pieces
  }

  /**
   * Takes a prefix or range out of the pool: it no longer counts in the total and is never
   * allocated. Parts outside the space or already excluded are skipped; a part in use refuses
   * the call. All or nothing.
   *
   * @returns the excluded units' prefixes.
   */
  exclude(target: Prefix | AddressRange): Prefix[] {
    checkFamily(this.family, target)
    const inside = intersect(this.#space, AddressRange.of(target.family, target.first, target.last))
    if (inside.length === 0) throw outOfPool(target, this.#space)
    const pieces: Prefix[] = []
    for (const r of inside) {
      for (const p of r.toPrefixes()) {
        const blocker = this.#firstUsedIn(p, 'excluded')
        if (blocker !== undefined) throw overlapWith(p, blocker)
        // Either p lies in one free block, or every free block touching it lies inside it.
        pieces.push(
          ...(this.#freeContaining(p.network, p.length) === undefined
            ? this.#freeBlocksIn(p)
            : [p]),
        )
        if (pieces.length > UNIT_LIMIT) throw limitError(pieces.length)
      }
    }
    for (const p of pieces) this.#takeExact(p, 2)
    return pieces
  }

  /**
   * Releases an allocated unit.
   *
   * @throws CasmError `CASM_ERR_NOT_ALLOCATED` unless `prefix` is exactly an allocated unit.
   */
  release(prefix: Prefix): void {
    checkFamily(this.family, prefix)
    const v = this.#used.get(prefix.network)
    if (v === undefined || (v & 0xff) !== prefix.length || v >> 8 !== 0) {
      // A grant is one unit: never release several allocations through their supernet.
      const inside = this.#unitsIn(prefix, 3)
      if (inside.length > 1 && inside.every((u) => prefix.contains(u.prefix))) {
        const shown = inside.slice(0, 2).map((u) => u.prefix.toString())
        throw new CasmError(
          'CASM_ERR_NOT_ALLOCATED',
          `${prefix.toString()} is not one allocation: it holds ${shown.join(', ')}${inside.length > 2 ? ', ...' : ''}; release each`,
          { target: prefix.toString() },
        )
      }
      // Not an allocated unit: the general path explains what it is (and always refuses here).
      this.#releaseUnits(prefix, 0)
      return
    }
    this.#dropUsed(prefix.network, prefix.length, 0)
    this.#addFree(prefix.network, prefix.length)
  }

  /**
   * Ends reservations: `target` must be covered exactly by reserved units (one or several).
   *
   * @throws CasmError `CASM_ERR_NOT_ALLOCATED` otherwise; nothing changes then.
   */
  unreserve(target: Prefix | AddressRange): void {
    this.#releaseUnits(target, 1)
  }

  /**
   * Puts excluded space back into the pool: `target` must be covered exactly by excluded units.
   *
   * @throws CasmError `CASM_ERR_NOT_ALLOCATED` otherwise; nothing changes then.
   */
  include(target: Prefix | AddressRange): void {
    this.#releaseUnits(target, 2)
  }

  /**
   * Adds space to the pool. It must not overlap the existing space.
   *
   * @throws CasmError `CASM_ERR_OVERLAP` when it does.
   */
  addSpace(target: Prefix | AddressRange): void {
    checkFamily(this.family, target)
    const added = AddressRange.of(target.family, target.first, target.last)
    const clash = this.#space.find((r) => r.overlaps(added))
    if (clash !== undefined) {
      throw new CasmError(
        'CASM_ERR_OVERLAP',
        `${target.toString()} overlaps the pool's space ${clash.toString()}`,
        { target: target.toString(), space: clash.toString() },
      )
    }
    this.#space = mergeRanges([...this.#space, added])
    this.#spaceSize += added.size
    for (const p of added.toPrefixes()) this.#addFree(p.network, p.length)
  }

  /**
   * Removes space from the pool. All of it must be free (or excluded, which then goes too).
   *
   * @throws CasmError `CASM_ERR_OUT_OF_POOL` when part of it is not in the space,
   *   `CASM_ERR_OVERLAP` when part of it is allocated or reserved.
   */
  removeSpace(target: Prefix | AddressRange): void {
    checkFamily(this.family, target)
    const removed = AddressRange.of(target.family, target.first, target.last)
    if (!this.#space.some((r) => r.contains(removed))) throw outOfPool(target, this.#space)
    const blocker = this.#firstUsedIn(removed, 'excluded')
    if (blocker !== undefined) throw overlapWith(target, blocker)
    const excluded = this.#unitsIn(removed)
    const straddling = excluded.find(
      (u) => u.prefix.first < removed.first || u.prefix.last > removed.last,
    )
    if (straddling !== undefined) {
      throw new CasmError(
        'CASM_ERR_OVERLAP',
        `${target.toString()} cuts through the excluded unit ${straddling.prefix.toString()}; include it first or remove all of it`,
        { target: target.toString(), overlaps: straddling.prefix.toString(), kind: 'excluded' },
      )
    }
    for (const unit of excluded) this.#dropUsed(unit.prefix.network, unit.prefix.length, 2)
    for (const p of removed.toPrefixes()) {
      const container = this.#freeContaining(p.network, p.length)
      if (container !== undefined) {
        // Carve p out of its free block; the rest of the block stays free.
        this.#carve(container.net, container.len, p.network, p.length)
        this.#removeFree(p.network, p.length)
      } else {
        for (const block of this.#freeBlocksIn(p)) this.#removeFree(block.network, block.length)
      }
    }
    this.#space = intersectComplement(this.#space, removed)
    this.#spaceSize -= removed.size
  }

  /** What holds `target`: one used unit, one free block, nothing (outside), or several. */
  lookup(target: Prefix): Lookup {
    checkFamily(this.family, target)
    const start = this.#used.floor(target.last)
    if (start !== undefined) {
      const v = this.#used.get(start) as number
      const len = v & 0xff
      const last = start | (this.#info.hostMask[len] as bigint)
      if (last >= target.first) {
        if (start <= target.first && last >= target.last) {
          return {
            state: 'used',
            unit: {
              prefix: Prefix.of(this.family, start, len),
              kind: KIND_CODES[v >> 8] as UnitKind,
            },
          }
        }
        return { state: 'mixed' }
      }
    }
    const container = this.#freeContaining(target.network, target.length)
    if (container !== undefined)
      return { state: 'free', block: Prefix.of(this.family, container.net, container.len) }
    if (!this.#space.some((r) => r.contains(target))) {
      return this.#space.some((r) => r.overlaps(target)) ? { state: 'mixed' } : { state: 'outside' }
    }
    return { state: 'mixed' }
  }

  /** Counters and the shape of the free space; O(width). */
  statistics(): PoolStatistics {
    const byLength: Record<number, number> = {}
    let blocks = 0
    for (let l = 0; l <= this.#info.width; l++) {
      const n = this.#free[l]?.size ?? 0
      if (n > 0) {
        byLength[l] = n
        blocks += n
      }
    }
    const allocated = this.#kindSize[0] as bigint
    const reserved = this.#kindSize[1] as bigint
    const excluded = this.#kindSize[2] as bigint
    return {
      family: this.family,
      total: this.#spaceSize - excluded,
      allocated,
      reserved,
      used: allocated + reserved,
      free: this.#freeSize,
      excluded,
      allocations: this.#kindCount[0] as number,
      reservations: this.#kindCount[1] as number,
      exclusions: this.#kindCount[2] as number,
      freeBlocks: blocks,
      freeBlocksByLength: byLength,
      largestFree: this.largestFree(),
    }
  }

  /** The largest free block (lowest address among equals), if any; O(width + log n). */
  largestFree(): Prefix | undefined {
    const l = this.#shortestNonEmpty()
    if (l === undefined) return undefined
    return Prefix.of(this.family, (this.#free[l] as BigIntSortedMap).min() as bigint, l)
  }

  /** Free addresses; O(1). */
  get freeSize(): bigint {
    return this.#freeSize
  }

  /**
   * Fragmentation for blocks of `length`: how many could still be allocated, against how many
   * fit in the free space if it were contiguous. O(width).
   */
  fragmentation(length: number): Fragmentation {
    this.#checkLength(length)
    let possible = 0n
    for (let l = 0; l <= length; l++) {
      const n = this.#free[l]?.size ?? 0
      if (n > 0) possible += BigInt(n) << BigInt(length - l)
    }
    const ideal = this.#freeSize / (this.#info.blockSize[length] as bigint)
    const ratio = ideal === 0n ? 1 : Number((possible * 1_000_000n) / ideal) / 1_000_000
    return { length, possible, ideal, ratio }
  }

  /** Free blocks in address order. O(n log n); meant for reports and tests. */
  freeBlocks(): Prefix[] {
    const all: Prefix[] = []
    for (let l = 0; l <= this.#info.width; l++) {
      for (const net of this.#free[l] ?? []) all.push(Prefix.of(this.family, net, l))
    }
    return all.sort((a, b) => a.compare(b))
  }

  /** Used units in address order, optionally of one kind. */
  *units(kind?: UnitKind): Generator<Unit> {
    for (const start of this.#used) {
      const unit = this.#unitAt(start)
      if (kind === undefined || unit.kind === kind) yield unit
    }
  }

  /** Number of used units of every kind. */
  get unitCount(): number {
    return this.#used.size
  }

  // ---- strategies -------------------------------------------------------------------------

  #takeDense(length: number): bigint | undefined {
    const l = this.#longestNonEmptyAtMost(length)
    if (l === undefined) return undefined
    const net = (this.#free[l] as BigIntSortedMap).min() as bigint
    this.#carve(net, l, net, length)
    return net
  }

  #takeSparse(length: number): bigint | undefined {
    const l = this.#shortestNonEmpty()
    if (l === undefined || l > length) return undefined
    const net = (this.#free[l] as BigIntSortedMap).min() as bigint
    this.#carve(net, l, net, length)
    return net
  }

  /**
   * For each `near` prefix p, walk up its ancestors; at each level c the buddy S of p's ancestor
   * of length c+1 is the closest subtree. The first free /length found in S shares c bits with p.
   * The deepest hit over all `near` wins; ties go to the lower address.
   */
  #takeAdjacent(length: number, near: readonly Prefix[]): bigint | undefined {
    let best: { depth: number; blockNet: bigint; blockLen: number; net: bigint } | undefined
    for (const p of near) {
      checkFamily(this.family, p)
      const hit = this.#nearestTo(p, length, best?.depth ?? -1)
      if (hit === undefined) continue
      if (
        best === undefined ||
        hit.depth > best.depth ||
        (hit.depth === best.depth && hit.net < best.net)
      )
        best = hit
    }
    if (best === undefined) return undefined
    this.#carve(best.blockNet, best.blockLen, best.net, length)
    return best.net
  }

  #nearestTo(
    p: Prefix,
    length: number,
    minDepth: number,
  ): { depth: number; blockNet: bigint; blockLen: number; net: bigint } | undefined {
    const info = this.#info
    const top = Math.min(p.length, length)
    const size = info.blockSize[length] as bigint
    // When a free block contains p's ancestor at `top - 1`, it contains the first sibling too.
    const container = top > 0 ? this.#freeContaining(p.network, top - 1) : undefined
    for (let c = top - 1; c >= 0 && c >= minDepth; c--) {
      const sLen = c + 1
      const sNet = (p.network & (info.netMask[sLen] as bigint)) ^ (info.blockSize[sLen] as bigint)
      const sLast = sNet | (info.hostMask[sLen] as bigint)
      const below = sNet < p.network
      if (container !== undefined) {
        const net = below ? sLast - size + 1n : sNet
        return { depth: c, blockNet: container.net, blockLen: container.len, net }
      }
      // Best fit inside S: the longest free length that fits, nearest to p.
      for (
        let l = this.#longestNonEmptyAtMost(length);
        l !== undefined && l >= sLen;
        l = this.#longestNonEmptyAtMost(l - 1)
      ) {
        const set = this.#free[l] as BigIntSortedMap
        const k = below ? set.floor(sLast) : set.ceiling(sNet)
        if (k === undefined || k < sNet || k > sLast) continue
        const net = below ? (k | (info.hostMask[l] as bigint)) - size + 1n : k
        return { depth: c, blockNet: k, blockLen: l, net }
      }
    }
    return undefined
  }

  // ---- exact takes and releases ------------------------------------------------------------

  /** Throws unless `p` lies wholly inside one free block. */
  #checkTakeable(p: Prefix): { net: bigint; len: number } {
    checkFamily(this.family, p)
    const container = this.#freeContaining(p.network, p.length)
    if (container !== undefined) return container
    if (!this.#space.some((r) => r.contains(p))) throw outOfPool(p, this.#space)
    const unit = this.#firstUsedIn(p)
    throw overlapWith(p, unit ?? { prefix: p, kind: 'allocated' })
  }

  #takeExact(p: Prefix, code: number): void {
    const container = this.#checkTakeable(p)
    this.#carve(container.net, container.len, p.network, p.length)
    this.#recordUsed(p.network, p.length, code)
  }

  /** Releases the units of kind `code` that cover `target` exactly; all or nothing. */
  #releaseUnits(target: Prefix | AddressRange, code: number): void {
    checkFamily(this.family, target)
    const kind = KIND_CODES[code] as UnitKind
    const found: Unit[] = []
    let covered = 0n
    const whole = AddressRange.of(target.family, target.first, target.last)
    const direct = this.#used.get(target.first)
    if (
      direct !== undefined &&
      (this.#info.blockSize[direct & 0xff] as bigint) === whole.size &&
      direct >> 8 === code
    ) {
      found.push(this.#unitAt(target.first))
      covered = whole.size
    } else {
      for (const unit of this.#unitsIn(whole, UNIT_LIMIT + 1)) {
        if (unit.prefix.first < whole.first || unit.prefix.last > whole.last) break
        if (unit.kind !== kind) {
          throw new CasmError(
            'CASM_ERR_NOT_ALLOCATED',
            `${target.toString()} contains ${unit.prefix.toString()}, which is ${unit.kind}, not ${kind}`,
            { target: target.toString(), unit: unit.prefix.toString(), kind: unit.kind },
          )
        }
        found.push(unit)
        covered += unit.prefix.size
      }
      if (found.length > UNIT_LIMIT) throw limitError(found.length)
    }
    if (covered !== whole.size) {
      const container = this.lookup(
        target instanceof Prefix ? target : (whole.toPrefixes()[0] as Prefix),
      )
      const why =
        container.state === 'used' && container.unit.kind === kind
          ? `it is part of the ${kind} unit ${container.unit.prefix.toString()}; give that whole prefix`
          : found.length === 0
            ? `nothing in it is ${kind}`
            : `only part of it is ${kind}`
      throw new CasmError('CASM_ERR_NOT_ALLOCATED', `${target.toString()} is not ${kind}: ${why}`, {
        target: target.toString(),
        kind,
      })
    }
    for (const unit of found) {
      this.#dropUsed(unit.prefix.network, unit.prefix.length, code)
      this.#addFree(unit.prefix.network, unit.prefix.length)
    }
  }

  #piecesOf(target: Prefix | AddressRange): Prefix[] {
    checkFamily(this.family, target)
    if (target instanceof Prefix) return [target]
    const pieces = target.toPrefixes()
    return pieces
  }

  #expandPattern(pattern: ReservationPattern): Prefix[] {
    const info = this.#info
    const every = pattern.every
    const pieceLen = pattern.length ?? info.width
    if (!Number.isInteger(every) || every < 0 || every > info.width) {
      throw badPattern(`'every' must be a prefix length 0-${info.width}, not ${every}`)
    }
    if (!Number.isInteger(pieceLen) || pieceLen < every || pieceLen > info.width) {
      throw badPattern(`'length' must be between /${every} and /${info.width}, not ${pieceLen}`)
    }
    if (pattern.offsets.length === 0) throw badPattern("'offsets' is empty")
    const period = info.blockSize[every] as bigint
    const piece = info.blockSize[pieceLen] as bigint
    const offsets = pattern.offsets.map((o) => {
      let off: bigint
      try {
        off = BigInt(o)
      } catch {
        throw badPattern(`offset ${String(o)} is not an integer`)
      }
      if (off < 0n) off += period
      if (off < 0n || off + piece > period)
        throw badPattern(`offset ${String(o)} falls outside a /${every}`)
      if (off % piece !== 0n)
        throw badPattern(`offset ${String(o)} is not aligned to a /${pieceLen}`)
      return off
    })
    const uniqueOffsets = [...new Set(offsets)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    if (pattern.within !== undefined) checkFamily(this.family, pattern.within)
    const regions =
      pattern.within === undefined
        ? this.#space
        : intersect(this.#space, AddressRange.fromPrefix(pattern.within))
    let count = 0n
    for (const r of regions)
      count += (r.last / period - r.first / period + 1n) * BigInt(uniqueOffsets.length)
    if (count > BigInt(UNIT_LIMIT)) throw limitError(count)
    const out: Prefix[] = []
    for (const r of regions) {
      for (let base = r.first - (r.first % period); base <= r.last; base += period) {
        for (const off of uniqueOffsets) {
          const first = base + off
          if (first >= r.first && first + piece - 1n <= r.last)
            out.push(Prefix.of(this.family, first, pieceLen))
        }
      }
    }
    return out
  }

  // ---- the free sets -------------------------------------------------------------------------

  /** Removes free block (net, len) and frees the halves not on the path to (target, tLen). */
  #carve(net: bigint, len: number, target: bigint, tLen: number): void {
    this.#removeFree(net, len)
    let cur = net
    for (let l = len + 1; l <= tLen; l++) {
      const half = this.#info.blockSize[l] as bigint
      if ((target & half) !== 0n) {
        this.#insertFree(cur, l)
        cur |= half
      } else {
        this.#insertFree(cur | half, l)
      }
    }
  }

  /** Adds a block to the free space, merging it with its buddy as long as the buddy is free. */
  #addFree(net: bigint, len: number): void {
    const info = this.#info
    while (len > 0) {
      const set = this.#free[len]
      const size = info.blockSize[len] as bigint
      // One descent both tests and removes the buddy.
      if (set === undefined || !set.delete(net ^ size)) break
      if (set.size === 0) this.#setNonEmpty(len, false)
      this.#freeSize -= size
      net &= info.netMask[len - 1] as bigint
      len--
    }
    this.#insertFree(net, len)
  }

  #insertFree(net: bigint, len: number): void {
    let set = this.#free[len]
    if (set === undefined) {
      set = BigIntSortedMap.set()
      this.#free[len] = set
    }
    set.set(net)
    if (set.size === 1) this.#setNonEmpty(len, true)
    this.#freeSize += this.#info.blockSize[len] as bigint
  }

  #removeFree(net: bigint, len: number): void {
    const set = this.#free[len] as BigIntSortedMap
    set.delete(net)
    if (set.size === 0) this.#setNonEmpty(len, false)
    this.#freeSize -= this.#info.blockSize[len] as bigint
  }

  /** The free block containing the aligned block (net, len), if one does. O(width log n). */
  #freeContaining(net: bigint, len: number): { net: bigint; len: number } | undefined {
    for (
      let l = this.#longestNonEmptyAtMost(len);
      l !== undefined;
      l = this.#longestNonEmptyAtMost(l - 1)
    ) {
      const anc = net & (this.#info.netMask[l] as bigint)
      if ((this.#free[l] as BigIntSortedMap).has(anc)) return { net: anc, len: l }
    }
    return undefined
  }

  /** Free blocks inside the aligned block `p`, in no particular order. */
  #freeBlocksIn(p: Prefix): Prefix[] {
    const out: Prefix[] = []
    for (let l = p.length; l <= this.#info.width; l++) {
      const set = this.#free[l]
      if (set === undefined) continue
      for (let k = set.ceiling(p.first); k !== undefined && k <= p.last; k = set.ceiling(k + 1n)) {
        out.push(Prefix.of(this.family, k, l))
        if (out.length > UNIT_LIMIT) throw limitError(out.length)
      }
    }
    return out
  }

  // ---- used units -----------------------------------------------------------------------------

  #recordUsed(net: bigint, len: number, code: number): void {
    this.#used.set(net, len | (code << 8))
    this.#kindSize[code] = (this.#kindSize[code] as bigint) + (this.#info.blockSize[len] as bigint)
    this.#kindCount[code] = (this.#kindCount[code] as number) + 1
  }

  #dropUsed(net: bigint, len: number, code: number): void {
    this.#used.delete(net)
    this.#kindSize[code] = (this.#kindSize[code] as bigint) - (this.#info.blockSize[len] as bigint)
    this.#kindCount[code] = (this.#kindCount[code] as number) - 1
  }

  #unitAt(start: bigint): Unit {
    const v = this.#used.get(start) as number
    return { prefix: Prefix.of(this.family, start, v & 0xff), kind: KIND_CODES[v >> 8] as UnitKind }
  }

  /** Units overlapping `r`, in address order, at most `limit`. */
  #unitsIn(r: AddressRange | Prefix, limit = Number.POSITIVE_INFINITY): Unit[] {
    const out: Unit[] = []
    let start = this.#used.floor(r.first)
    if (start !== undefined) {
      const unit = this.#unitAt(start)
      if (unit.prefix.last >= r.first) out.push(unit)
    }
    for (
      start = this.#used.ceiling(r.first + (out.length > 0 ? 1n : 0n));
      start !== undefined && start <= r.last;
      start = this.#used.ceiling(start + 1n)
    ) {
      out.push(this.#unitAt(start))
      if (out.length >= limit) break
    }
    return out
  }

  /** The first unit overlapping `r`, skipping units of kind `skip`. */
  #firstUsedIn(r: AddressRange | Prefix, skip?: UnitKind): Unit | undefined {
    let start = this.#used.floor(r.first)
    if (start !== undefined) {
      const unit = this.#unitAt(start)
      if (unit.prefix.last >= r.first && unit.kind !== skip) return unit
    }
    for (
      start = this.#used.ceiling(r.first + 1n);
      start !== undefined && start <= r.last;
      start = this.#used.ceiling(start + 1n)
    ) {
      const unit = this.#unitAt(start)
      if (unit.kind !== skip) return unit
    }
    return undefined
  }

  // ---- the length bitmap ---------------------------------------------------------------------

  #setNonEmpty(len: number, on: boolean): void {
    const w = len >>> 5
    const bit = 1 << (len & 31)
    this.#nonEmpty[w] = on
      ? (this.#nonEmpty[w] as number) | bit
      : (this.#nonEmpty[w] as number) & ~bit
  }

  /** The longest length ≤ `len` that has free blocks. */
  #longestNonEmptyAtMost(len: number): number | undefined {
    if (len < 0) return undefined
    for (let w = len >>> 5; w >= 0; w--) {
      let bits = this.#nonEmpty[w] as number
      if (w === len >>> 5) {
        const top = len & 31
        bits &= top === 31 ? 0xffffffff : (1 << (top + 1)) - 1
      }
      if (bits !== 0) return w * 32 + 31 - Math.clz32(bits)
    }
    return undefined
  }

  /** The shortest length that has free blocks (the largest blocks). */
  #shortestNonEmpty(): number | undefined {
    for (let w = 0; w < this.#nonEmpty.length; w++) {
      const bits = this.#nonEmpty[w] as number
      if (bits !== 0) return w * 32 + 31 - Math.clz32(bits & -bits)
    }
    return undefined
  }

  #checkLength(length: number): void {
    if (!Number.isInteger(length) || length < 0 || length > this.#info.width) {
      throw new CasmError(
        'CASM_ERR_PREFIX_LENGTH',
        `prefix length ${length} is out of range for ${this.family} (0-${this.#info.width})`,
        { length, family: this.family },
      )
    }
  }

  #exhausted(length: number): CasmError {
    const largest = this.largestFree()
    const left =
      largest === undefined
        ? 'nothing is free'
        : `the largest free block is ${largest.toString()} and ${this.#freeSize} address(es) are free in ${this.statistics().freeBlocks} block(s)`
    return new CasmError(
      'CASM_ERR_POOL_EXHAUSTED',
      `no free /${length} is left in the pool: ${left}`,
      {
        length,
        largestFree: largest?.toString() ?? null,
        free: this.#freeSize.toString(),
      },
    )
  }
}

function toRanges(family: Family, space: readonly (Prefix | AddressRange)[]): AddressRange[] {
  for (const s of space) checkFamily(family, s)
  return mergeRanges(space.map((s) => (s instanceof Prefix ? AddressRange.fromPrefix(s) : s)))
}

function checkFamily(family: Family, item: { family: Family; toString(): string }): void {
  if (item.family !== family) {
    throw new CasmError(
      'CASM_ERR_FAMILY_MISMATCH',
      `${item.toString()} is ${item.family} but the pool is ${family}`,
      { input: item.toString(), expected: family, found: item.family },
    )
  }
}

/** The parts of `r` inside the sorted ranges `space`. */
function intersect(space: readonly AddressRange[], r: AddressRange): AddressRange[] {
  const out: AddressRange[] = []
  for (const s of space) {
    if (s.last < r.first || s.first > r.last) continue
    out.push(
      AddressRange.of(
        s.family,
        s.first > r.first ? s.first : r.first,
        s.last < r.last ? s.last : r.last,
      ),
    )
  }
  return out
}

/** `space` without `r` (which lies inside one of its ranges). */
function intersectComplement(space: readonly AddressRange[], r: AddressRange): AddressRange[] {
  const out: AddressRange[] = []
  for (const s of space) {
    if (!s.overlaps(r)) {
      out.push(s)
      continue
    }
    if (s.first < r.first) out.push(AddressRange.of(s.family, s.first, r.first - 1n))
    if (s.last > r.last) out.push(AddressRange.of(s.family, r.last + 1n, s.last))
  }
  return out
}

function outOfPool(p: Prefix | AddressRange, space: readonly AddressRange[]): CasmError {
  const shown = space.slice(0, 3).map((r) => r.toPrefix()?.toString() ?? r.toString())
  const desc =
    space.length === 0
      ? 'the pool has no space'
      : `the pool holds ${shown.join(', ')}${space.length > 3 ? `, ... (${space.length} ranges)` : ''}`
  return new CasmError('CASM_ERR_OUT_OF_POOL', `${p.toString()} is not inside the pool: ${desc}`, {
    target: p.toString(),
  })
}

function overlapWith(p: Prefix | AddressRange, unit: Unit): CasmError {
  return new CasmError(
    'CASM_ERR_OVERLAP',
    `${p.toString()} overlaps ${unit.prefix.toString()}, which is ${unit.kind}`,
    { target: p.toString(), overlaps: unit.prefix.toString(), kind: unit.kind },
  )
}

function overlapBetween(a: Prefix, b: Prefix): CasmError {
  return new CasmError(
    'CASM_ERR_OVERLAP',
    `stored units ${b.toString()} and ${a.toString()} overlap`,
    {
      first: b.toString(),
      second: a.toString(),
    },
  )
}

function badPattern(why: string): CasmError {
  return new CasmError('CASM_ERR_INVALID_ARGUMENT', `invalid reservation pattern: ${why}`)
}

function limitError(count: bigint | number): CasmError {
  return new CasmError(
    'CASM_ERR_LIMIT',
    `the request would touch ${count} units; at most ${UNIT_LIMIT} are allowed in one call`,
    { count: count.toString(), limit: UNIT_LIMIT },
  )
}
