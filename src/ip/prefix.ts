/**
 * Prefixes (CIDR blocks) of every family on bigint: strict and lenient parsing, containment,
 * overlap, ordering, splitting, supernets and buddies.
 *
 * A prefix is always canonical: its host bits are zero. Text with host bits set is refused unless
 * the caller asks for lenient parsing, which masks them.
 *
 * @module
 */

import { CasmError } from '../errors/casm-error.js'
import {
  Address,
  detectFamily,
  familyOrder,
  formatAddressValue,
  parseAddressValue,
} from './address.js'
import { type Family, type FamilyInfo, familyInfo } from './family.js'

/** Options of {@link Prefix.parse}. */
export interface PrefixParseOptions {
  /** Accept only this family. */
  readonly family?: Family
  /** Mask host bits instead of refusing them (`10.1.2.3/8` → `10.0.0.0/8`). */
  readonly lenient?: boolean
}

/** Most prefixes {@link Prefix.split} returns in one array; use {@link Prefix.subnets} beyond. */
export const SPLIT_LIMIT = 1 << 20

const LENGTH_TEXT = /^[0-9]{1,3}$/

/**
 * An aligned block of `2^(width - length)` addresses.
 *
 * @example
 * ```ts
 * const p = Prefix.parse('100.64.0.0/10')
 * p.contains(Prefix.parse('100.64.3.0/24')) // true
 * p.split(12).map(String) // ['100.64.0.0/12', '100.80.0.0/12', '100.96.0.0/12', '100.112.0.0/12']
 * ```
 */
export class Prefix {
  readonly family: Family
  /** The first address of the block (host bits zero). */
  readonly network: bigint
  /** Prefix length in bits, 0..width. */
  readonly length: number

  private constructor(family: Family, network: bigint, length: number) {
    this.family = family
    this.network = network
    this.length = length
    Object.freeze(this)
  }

  /**
   * The prefix `network/length` of `family`. Refuses a length outside 0..width, a network outside
   * the family, and host bits set (unless `lenient`, which masks them).
   */
  static of(family: Family, network: bigint, length: number, lenient = false): Prefix {
    const info = familyInfo(family)
    checkLength(info, length, `${length}`)
    if (network < 0n || network > info.maxValue) {
      throw new CasmError(
        'CASM_ERR_INVALID_ARGUMENT',
        `${network} is outside the ${family} address space`,
        { family, network: network.toString() },
      )
    }
    const hostPart = network & (info.hostMask[length] as bigint)
    if (hostPart !== 0n) {
      if (!lenient)
        throw hostBitsError(
          `${formatAddressValue(family, network)}/${length}`,
          info,
          network,
          length,
        )
      network ^= hostPart
    }
    return new Prefix(family, network, length)
  }

  /**
   * Parses `address/length`. A bare address is the prefix of full length (`/32`, `/128`, `/48`).
   *
   * @throws CasmError `CASM_ERR_ADDRESS_SYNTAX`, `CASM_ERR_ADDRESS_ZONE`,
   *   `CASM_ERR_PREFIX_LENGTH`, `CASM_ERR_HOST_BITS`, `CASM_ERR_FAMILY_MISMATCH`
   */
  static parse(text: string, options: PrefixParseOptions = {}): Prefix {
    const slash = text.indexOf('/')
    const addrText = slash < 0 ? text : text.slice(0, slash)
    const family = detectFamilyFor(addrText, text, options.family)
    const info = familyInfo(family)
    const { value } = parseAddressValue(addrText, family)
    let length = info.width
    if (slash >= 0) {
      const lenText = text.slice(slash + 1)
      if (!LENGTH_TEXT.test(lenText)) {
        throw new CasmError(
          'CASM_ERR_PREFIX_LENGTH',
          `'${text}' has prefix length '${lenText}'; expected a number 0-${info.width}`,
          { input: text },
        )
      }
      length = Number(lenText)
      checkLength(info, length, text)
    }
    const hostPart = value & (info.hostMask[length] as bigint)
    if (hostPart !== 0n && options.lenient !== true) {
      throw hostBitsError(text, info, value, length)
    }
    return new Prefix(family, value ^ hostPart, length)
  }

  /** The single-address prefix of `address`. */
  static fromAddress(address: Address): Prefix {
    return new Prefix(address.family, address.value, familyInfo(address.family).width)
  }

  /** The whole address space of `family` (`0.0.0.0/0`, `::/0`). */
  static all(family: Family): Prefix {
    return new Prefix(family, 0n, 0)
  }

  /** Width of the family in bits. */
  get width(): number {
    return familyInfo(this.family).width
  }

  /** Number of addresses in the block. */
  get size(): bigint {
    return familyInfo(this.family).blockSize[this.length] as bigint
  }

  /** First address value (same as {@link Prefix.network}). */
  get first(): bigint {
    return this.network
  }

  /** Last address value. */
  get last(): bigint {
    return this.network | (familyInfo(this.family).hostMask[this.length] as bigint)
  }

  /** First address of the block. */
  firstAddress(): Address {
    return Address.of(this.family, this.first)
  }

  /** Last address of the block. */
  lastAddress(): Address {
    return Address.of(this.family, this.last)
  }

  /** True when `other` (a prefix or an address) lies wholly inside this prefix. */
  contains(other: Prefix | Address): boolean {
    if (other.family !== this.family) return false
    if (other instanceof Address) return (other.value & this.netMask()) === this.network
    return other.length >= this.length && (other.network & this.netMask()) === this.network
  }

  /** True when the two prefixes share at least one address. */
  overlaps(other: Prefix): boolean {
    if (other.family !== this.family) return false
    return this.length <= other.length ? this.contains(other) : other.contains(this)
  }

  /** Orders by family, then network, then length (a covering prefix before what it covers). */
  compare(other: Prefix): number {
    if (this.family !== other.family) return familyOrder(this.family) - familyOrder(other.family)
    if (this.network !== other.network) return this.network < other.network ? -1 : 1
    return this.length - other.length
  }

  /** True when both name the same block of the same family. */
  equals(other: Prefix): boolean {
    return (
      this.family === other.family && this.network === other.network && this.length === other.length
    )
  }

  /** The enclosing prefix of length `length` (default one bit shorter). */
  supernet(length = this.length - 1): Prefix {
    const info = familyInfo(this.family)
    checkLength(info, length, `${length}`)
    if (length > this.length) {
      throw new CasmError(
        'CASM_ERR_PREFIX_LENGTH',
        `a supernet of ${this.toString()} must be /${this.length} or shorter, not /${length}`,
        { prefix: this.toString(), length },
      )
    }
    return new Prefix(this.family, this.network & (info.netMask[length] as bigint), length)
  }

  /** The other half of this prefix's parent: together they make the supernet. */
  buddy(): Prefix {
    if (this.length === 0) {
      throw new CasmError(
        'CASM_ERR_PREFIX_LENGTH',
        `${this.toString()} is the whole address space and has no buddy`,
        { prefix: this.toString() },
      )
    }
    const size = familyInfo(this.family).blockSize[this.length] as bigint
    return new Prefix(this.family, this.network ^ size, this.length)
  }

  /**
   * Splits into every sub-prefix of length `length`, in address order. Refuses more than
   * {@link SPLIT_LIMIT} pieces; iterate {@link Prefix.subnets} for those.
   */
  split(length: number): Prefix[] {
    this.checkSubLength(length)
    if (length - this.length > 20) {
      throw new CasmError(
        'CASM_ERR_LIMIT',
        `splitting ${this.toString()} into /${length} gives 2^${length - this.length} prefixes, over the limit of ${SPLIT_LIMIT}`,
        { prefix: this.toString(), length, limit: SPLIT_LIMIT },
      )
    }
    return [...this.subnets(length)]
  }

  /** Yields every sub-prefix of length `length` lazily, in address order. */
  *subnets(length: number): Generator<Prefix, void, undefined> {
    this.checkSubLength(length)
    const step = familyInfo(this.family).blockSize[length] as bigint
    for (let n = this.network; n <= this.last; n += step) yield new Prefix(this.family, n, length)
  }

  /** `family/network/length` as text, e.g. `2001:db8::/32`. */
  toString(): string {
    return `${formatAddressValue(this.family, this.network)}/${this.length}`
  }

  /** Same as {@link Prefix.toString}, so prefixes serialise as text. */
  toJSON(): string {
    return this.toString()
  }

  private netMask(): bigint {
    return familyInfo(this.family).netMask[this.length] as bigint
  }

  private checkSubLength(length: number): void {
    const info = familyInfo(this.family)
    checkLength(info, length, `${length}`)
    if (length < this.length) {
      throw new CasmError(
        'CASM_ERR_PREFIX_LENGTH',
        `cannot split ${this.toString()} into /${length}: pieces must be /${this.length} or longer`,
        { prefix: this.toString(), length },
      )
    }
  }
}

function detectFamilyFor(addrText: string, whole: string, wanted: Family | undefined): Family {
  if (wanted === undefined) return detectFamily(addrText)
  let seen: Family
  try {
    seen = detectFamily(addrText)
  } catch {
    return wanted // let the family's own parser explain what is wrong
  }
  if (seen !== wanted) {
    throw new CasmError(
      'CASM_ERR_FAMILY_MISMATCH',
      `'${whole}' is ${seen} but ${wanted} is expected here`,
      { input: whole, expected: wanted, found: seen },
    )
  }
  return wanted
}

function checkLength(info: FamilyInfo, length: number, input: string): void {
  if (!Number.isInteger(length) || length < 0 || length > info.width) {
    throw new CasmError(
      'CASM_ERR_PREFIX_LENGTH',
      `prefix length ${length} is out of range for ${info.family} (0-${info.width})`,
      { input, family: info.family, width: info.width },
    )
  }
}

function hostBitsError(text: string, info: FamilyInfo, value: bigint, length: number): CasmError {
  const masked = value & (info.netMask[length] as bigint)
  const canonical = `${formatAddressValue(info.family, masked)}/${length}`
  return new CasmError(
    'CASM_ERR_HOST_BITS',
    `'${text}' has host bits set; the network is ${canonical}`,
    { input: text, canonical },
  )
}
