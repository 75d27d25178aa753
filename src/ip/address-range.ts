/**
 * Address ranges (first–last, any alignment) and the conversions between ranges and prefixes:
 * a range to its minimal list of prefixes, prefixes to their minimal list of ranges, and a list
 * of prefixes to its minimal aggregate.
 *
 * @module
 */

import { CasmError } from '../errors/casm-error.js'
import { Address, familyOrder, formatAddressValue, parseAddressValue } from './address.js'
import { bitLength, trailingZeros } from './bits.js'
import { type Family, familyInfo } from './family.js'
import { Prefix } from './prefix.js'

/**
 * A contiguous run of addresses `first..last` (inclusive) of one family. Need not be aligned.
 *
 * @example
 * ```ts
 * AddressRange.parse('192.0.2.5-192.0.2.20').toPrefixes().map(String)
 * // ['192.0.2.5/32', '192.0.2.6/31', '192.0.2.8/29', '192.0.2.16/30', '192.0.2.20/32']
 * ```
 */
export class AddressRange {
  readonly family: Family
  readonly first: bigint
  readonly last: bigint

  private constructor(family: Family, first: bigint, last: bigint) {
    this.family = family
    this.first = first
    this.last = last
    Object.freeze(this)
  }

  /** The range `first..last` of `family`; refuses `first > last` and values out of the family. */
  static of(family: Family, first: bigint, last: bigint): AddressRange {
    const max = familyInfo(family).maxValue
    if (first < 0n || last > max || first > last) {
      throw new CasmError(
        'CASM_ERR_RANGE',
        first > last
          ? `range ${formatAddressValue(family, first)}-${formatAddressValue(family, last)} ends before it starts`
          : `range ${first}-${last} is outside the ${family} address space`,
        { family, first: first.toString(), last: last.toString() },
      )
    }
    return new AddressRange(family, first, last)
  }

  /**
   * Parses `first-last` (e.g. `10.0.0.5-10.0.0.77`) or a prefix (`10.0.0.0/24`), or a single
   * address. Both ends must be of the same family.
   */
  static parse(text: string, family?: Family): AddressRange {
    const dash = text.indexOf('-')
    // A hyphenated MAC (02-00-5e-...) has five hyphens; a range has exactly one.
    if (dash < 0 || text.split('-').length > 2) {
      return AddressRange.fromPrefix(Prefix.parse(text, family === undefined ? {} : { family }))
    }
    const a = parseAddressValue(text.slice(0, dash).trim(), family)
    const b = parseAddressValue(text.slice(dash + 1).trim(), family)
    if (a.family !== b.family) {
      throw new CasmError(
        'CASM_ERR_FAMILY_MISMATCH',
        `range '${text}' mixes ${a.family} and ${b.family}`,
        { input: text },
      )
    }
    if (a.value > b.value) {
      throw new CasmError('CASM_ERR_RANGE', `range '${text}' ends before it starts`, {
        input: text,
      })
    }
    return new AddressRange(a.family, a.value, b.value)
  }

  /** The range a prefix covers. */
  static fromPrefix(prefix: Prefix): AddressRange {
    return new AddressRange(prefix.family, prefix.first, prefix.last)
  }

  /**
   * The minimal list of ranges covering exactly the union of `prefixes` (overlapping and
   * touching prefixes merge), sorted. All must be of one family.
   */
  static fromPrefixes(prefixes: readonly Prefix[]): AddressRange[] {
    return mergeRanges(prefixes.map((p) => AddressRange.fromPrefix(p)))
  }

  /** Number of addresses in the range. */
  get size(): bigint {
    return this.last - this.first + 1n
  }

  /** First address. */
  firstAddress(): Address {
    return Address.of(this.family, this.first)
  }

  /** Last address. */
  lastAddress(): Address {
    return Address.of(this.family, this.last)
  }

  /** True when `other` lies wholly inside this range. */
  contains(other: AddressRange | Prefix | Address): boolean {
    if (other.family !== this.family) return false
    if (other instanceof Address) return other.value >= this.first && other.value <= this.last
    return other.first >= this.first && other.last <= this.last
  }

  /** True when the two share at least one address. */
  overlaps(other: AddressRange | Prefix): boolean {
    return other.family === this.family && other.first <= this.last && other.last >= this.first
  }

  /** Orders by family, then first, then last. */
  compare(other: AddressRange): number {
    if (this.family !== other.family) return familyOrder(this.family) - familyOrder(other.family)
    if (this.first !== other.first) return this.first < other.first ? -1 : 1
    return this.last === other.last ? 0 : this.last < other.last ? -1 : 1
  }

  /** True when both cover the same addresses of the same family. */
  equals(other: AddressRange): boolean {
    return this.family === other.family && this.first === other.first && this.last === other.last
  }

  /**
   * The minimal list of prefixes that covers exactly this range, in address order. At most
   * `2 × width` prefixes; computed from the bit pattern of the ends, never address by address.
   */
  toPrefixes(): Prefix[] {
    return rangeToPrefixes(this.family, this.first, this.last)
  }

  /** The range as a single prefix when it is one, otherwise `undefined`. */
  toPrefix(): Prefix | undefined {
    const pieces = this.toPrefixes()
    return pieces.length === 1 ? pieces[0] : undefined
  }

  /** `first-last` text. */
  toString(): string {
    return `${formatAddressValue(this.family, this.first)}-${formatAddressValue(this.family, this.last)}`
  }

  /** Same as {@link AddressRange.toString}. */
  toJSON(): string {
    return this.toString()
  }
}

/**
 * Minimal prefixes covering `first..last` of `family`, in address order.
 *
 * At each step the block starting at `first` is as large as both its alignment (trailing zero
 * bits of `first`) and the remaining count allow:
 *
 * ```
 *   first ─┬─ aligned /30 ─┬─ aligned /29 ───┬─ /32 ─ last
 * ```
 */
export function rangeToPrefixes(family: Family, first: bigint, last: bigint): Prefix[] {
  const info = familyInfo(family)
  const out: Prefix[] = []
  let cur = first
  while (cur <= last) {
    const alignBits = trailingZeros(cur, info.width)
    const countBits = bitLength(last - cur + 1n) - 1
    const hostBits = Math.min(alignBits, countBits)
    const length = info.width - hostBits
    out.push(Prefix.of(family, cur, length))
    cur += info.blockSize[length] as bigint
  }
  return out
}

/**
 * Sorts and merges ranges of one family: overlapping or touching ranges become one.
 *
 * @throws CasmError `CASM_ERR_FAMILY_MISMATCH` when families differ.
 */
export function mergeRanges(ranges: readonly AddressRange[]): AddressRange[] {
  const first = ranges[0]
  if (first === undefined) return []
  checkOneFamily(ranges, first.family)
  const sorted = [...ranges].sort((a, b) => a.compare(b))
  const out: AddressRange[] = []
  let cur = sorted[0] as AddressRange
  for (const r of sorted.slice(1)) {
    if (r.first <= cur.last + 1n) {
      if (r.last > cur.last) cur = AddressRange.of(cur.family, cur.first, r.last)
    } else {
      out.push(cur)
      cur = r
    }
  }
  out.push(cur)
  return out
}

/**
 * The minimal aggregate of `prefixes`: the fewest prefixes covering exactly their union.
 * Duplicates and nested prefixes vanish, buddies merge into their supernet.
 *
 * @example
 * ```ts
 * aggregatePrefixes(['10.0.0.0/25', '10.0.0.128/25', '10.0.1.0/24'].map((t) => Prefix.parse(t)))
 * // [10.0.0.0/23]
 * ```
 */
export function aggregatePrefixes(prefixes: readonly Prefix[]): Prefix[] {
  return AddressRange.fromPrefixes(prefixes).flatMap((r) => r.toPrefixes())
}

/**
 * The parts of `base` not covered by `remove`, as sorted disjoint ranges. Both lists must be of
 * one family.
 */
export function subtractRanges(
  base: readonly AddressRange[],
  remove: readonly AddressRange[],
): AddressRange[] {
  const b = mergeRanges(base)
  const r = mergeRanges(remove)
  const family = b[0]?.family
  if (family === undefined) return []
  checkOneFamily(r, family)
  const out: AddressRange[] = []
  let j = 0
  for (const piece of b) {
    let start = piece.first
    while (j < r.length && (r[j] as AddressRange).last < start) j++
    let k = j
    while (k < r.length && start <= piece.last) {
      const cut = r[k] as AddressRange
      if (cut.first > piece.last) break
      if (cut.first > start) out.push(AddressRange.of(family, start, cut.first - 1n))
      start = cut.last + 1n
      k++
    }
    if (start <= piece.last) out.push(AddressRange.of(family, start, piece.last))
  }
  return out
}

function checkOneFamily(items: readonly { family: Family }[], family: Family): void {
  const other = items.find((x) => x.family !== family)
  if (other !== undefined) {
    throw new CasmError(
      'CASM_ERR_FAMILY_MISMATCH',
      `cannot combine ${family} and ${other.family} in one list`,
      { expected: family, found: other.family },
    )
  }
}
