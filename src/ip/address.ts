/**
 * Addresses of every family as bigints: strict parsing with precise errors, and canonical text
 * output (dotted quad for IPv4, RFC 5952 for IPv6, lower-case colon form for EUI-48 MAC).
 *
 * @module
 */

import { CasmError } from '../errors/casm-error.js'
import { type Family, familyInfo } from './family.js'

const IPV4_OCTET = /^(0|[1-9][0-9]{0,2})$/
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/
const MAC_COLON = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/
const MAC_HYPHEN = /^[0-9a-fA-F]{2}(-[0-9a-fA-F]{2}){5}$/
const MAC_DOTTED = /^[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}$/

/** RFC 4291 §2.5.5.2: IPv4-mapped IPv6 addresses live in ::ffff:0:0/96. */
const IPV4_MAPPED_PREFIX = 0xffffn << 32n

function syntaxError(
  text: string,
  family: Family | 'address',
  why: string,
  options?: ErrorOptions,
): CasmError {
  const name =
    family === 'ipv4' ? 'IPv4' : family === 'ipv6' ? 'IPv6' : family === 'mac' ? 'MAC' : ''
  const what = name === '' ? 'an address' : `an ${name} address`
  return new CasmError(
    'CASM_ERR_ADDRESS_SYNTAX',
    `'${text}' is not ${what}: ${why}`,
    { input: text },
    options,
  )
}

/**
 * Parses dotted-quad IPv4 text. Strict: exactly four decimal octets 0-255 and no leading zeros
 * (`010` would be octal to some tools and decimal to others).
 */
export function parseIpv4(text: string): bigint {
  const parts = text.split('.')
  if (parts.length !== 4) {
    throw syntaxError(text, 'ipv4', `expected 4 dot-separated octets, found ${parts.length}`)
  }
  let value = 0n
  for (const part of parts) {
    if (!IPV4_OCTET.test(part)) {
      const why =
        part === ''
          ? 'an octet is empty'
          : /^0[0-9]+$/.test(part)
            ? `octet '${part}' has a leading zero, which some tools read as octal`
            : /^[0-9]+$/.test(part)
              ? `octet ${part} is out of range 0-255`
              : `octet '${part}' is not a decimal number`
      throw syntaxError(text, 'ipv4', why)
    }
    const octet = Number(part)
    if (octet > 255) throw syntaxError(text, 'ipv4', `octet ${part} is out of range 0-255`)
    value = (value << 8n) | BigInt(octet)
  }
  return value
}

function parseHexGroups(groups: string[], whole: string): bigint[] {
  const out: bigint[] = []
  for (const g of groups) {
    if (!HEX_GROUP.test(g)) {
      const why =
        g === ''
          ? 'an empty group (a single ":" where "::" or a group was expected)'
          : g.length > 4 && /^[0-9a-fA-F]+$/.test(g)
            ? `group '${g}' has more than 4 hex digits`
            : `group '${g}' is not hexadecimal`
      throw syntaxError(whole, 'ipv6', why)
    }
    out.push(BigInt(`0x${g}`))
  }
  return out
}

/** Splits the last group off when it is an embedded IPv4 address (RFC 4291 §2.2, form 3). */
function withEmbeddedIpv4(groups: string[], whole: string): bigint[] {
  const last = groups[groups.length - 1]
  if (last?.includes('.') !== true) return parseHexGroups(groups, whole)
  let v4: bigint
  try {
    v4 = parseIpv4(last)
  } catch (e) {
    throw syntaxError(whole, 'ipv6', `the embedded IPv4 part '${last}' is invalid`, { cause: e })
  }
  const head = parseHexGroups(groups.slice(0, -1), whole)
  return [...head, v4 >> 16n, v4 & 0xffffn]
}

/**
 * Parses IPv6 text in any RFC 4291 §2.2 form: full, `::`-compressed, and with an embedded IPv4
 * tail. Zone identifiers (`fe80::1%eth0`, RFC 4007) are refused: they name an interface of one
 * host, never pool space.
 */
export function parseIpv6(text: string): bigint {
  if (text.includes('%')) {
    throw new CasmError(
      'CASM_ERR_ADDRESS_ZONE',
      `'${text}' carries a zone identifier; zones are not allowed here`,
      { input: text },
    )
  }
  if (text.startsWith('[') || text.endsWith(']')) {
    throw syntaxError(text, 'ipv6', 'remove the [brackets] (they belong in URLs, not addresses)')
  }
  const halves = text.split('::')
  if (halves.length > 2) throw syntaxError(text, 'ipv6', '"::" may appear only once')
  const split = (s: string): string[] => (s === '' ? [] : s.split(':'))
  if (halves.length === 1) {
    const groups = withEmbeddedIpv4(split(text), text)
    if (groups.length !== 8) {
      throw syntaxError(text, 'ipv6', `expected 8 groups of 16 bits, found ${groups.length}`)
    }
    return groups.reduce((acc, g) => (acc << 16n) | g, 0n)
  }
  const [left = '', right = ''] = halves
  if (left.includes('.')) throw syntaxError(text, 'ipv6', 'an IPv4 part may only come last')
  const head = parseHexGroups(split(left), text)
  const tail = withEmbeddedIpv4(split(right), text)
  if (head.length + tail.length > 7) {
    throw syntaxError(text, 'ipv6', '"::" must stand for at least one group of zeros')
  }
  const zeros: bigint[] = Array.from({ length: 8 - head.length - tail.length }, () => 0n)
  return [...head, ...zeros, ...tail].reduce((acc, g) => (acc << 16n) | g, 0n)
}

/**
 * Parses an EUI-48 MAC address: `02:00:5e:10:00:01`, `02-00-5e-10-00-01` or `0200.5e10.0001`.
 */
export function parseMac(text: string): bigint {
  if (MAC_COLON.test(text) || MAC_HYPHEN.test(text) || MAC_DOTTED.test(text)) {
    return BigInt(`0x${text.replace(/[:.-]/g, '')}`)
  }
  throw syntaxError(text, 'mac', 'expected six hex pairs like 02:00:5e:10:00:01')
}

/**
 * Guesses the family of address text: a dot-only form is IPv4, six colon- or hyphen-separated hex
 * pairs (or Cisco's dotted triple) is a MAC, anything else with a colon is IPv6.
 */
export function detectFamily(text: string): Family {
  if (MAC_COLON.test(text) || MAC_HYPHEN.test(text) || MAC_DOTTED.test(text)) return 'mac'
  if (text.includes(':') || text.includes('%')) return 'ipv6'
  if (text.includes('.')) return 'ipv4'
  throw syntaxError(text, 'address', 'it is neither IPv4, IPv6 nor MAC text')
}

/** Parses address text of `family` (detected when omitted) into its value. */
export function parseAddressValue(
  text: string,
  family?: Family,
): { family: Family; value: bigint } {
  const fam = family ?? detectFamily(text)
  switch (fam) {
    case 'ipv4':
      return { family: fam, value: parseIpv4(text) }
    case 'ipv6':
      return { family: fam, value: parseIpv6(text) }
    case 'mac':
      return { family: fam, value: parseMac(text) }
  }
}

/** Dotted-quad text of an IPv4 value. */
export function formatIpv4(value: bigint): string {
  const n = Number(value)
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`
}

/**
 * RFC 5952 text of an IPv6 value: lower case, no leading zeros in a group, the longest run of two
 * or more zero groups (the first of equal runs) written as `::`, and IPv4-mapped addresses in
 * mixed notation (§5).
 */
export function formatIpv6(value: bigint): string {
  if (value >> 32n === IPV4_MAPPED_PREFIX >> 32n) {
    return `::ffff:${formatIpv4(value & 0xffffffffn)}`
  }
  const groups: number[] = []
  for (let shift = 112n; shift >= 0n; shift -= 16n) groups.push(Number((value >> shift) & 0xffffn))
  let bestStart = -1
  let bestLen = 1 // RFC 5952 §4.2.2: a single zero group is never compressed.
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > bestLen) {
      bestStart = i
      bestLen = j - i
    }
    i = j
  }
  const hex = groups.map((g) => g.toString(16))
  if (bestStart < 0) return hex.join(':')
  const left = hex.slice(0, bestStart).join(':')
  const right = hex.slice(bestStart + bestLen).join(':')
  return `${left}::${right}`
}

/** Lower-case colon text of an EUI-48 value. */
export function formatMac(value: bigint): string {
  return value
    .toString(16)
    .padStart(12, '0')
    .replace(/(..)(?!$)/g, '$1:')
}

/** Canonical text of an address value of `family`. */
export function formatAddressValue(family: Family, value: bigint): string {
  switch (family) {
    case 'ipv4':
      return formatIpv4(value)
    case 'ipv6':
      return formatIpv6(value)
    case 'mac':
      return formatMac(value)
  }
}

/**
 * One address of a family. Immutable; always in range for its family.
 *
 * @example
 * ```ts
 * Address.parse('2001:DB8:0:0::1').toString() // '2001:db8::1'
 * ```
 */
export class Address {
  readonly family: Family
  readonly value: bigint

  private constructor(family: Family, value: bigint) {
    this.family = family
    this.value = value
    Object.freeze(this)
  }

  /** Parses address text; `family` restricts the accepted family. */
  static parse(text: string, family?: Family): Address {
    const parsed = parseAddressValue(text, family)
    return new Address(parsed.family, parsed.value)
  }

  /** The address of `family` with numeric `value`; refuses values outside the family. */
  static of(family: Family, value: bigint): Address {
    if (value < 0n || value > familyInfo(family).maxValue) {
      throw new CasmError(
        'CASM_ERR_INVALID_ARGUMENT',
        `${value} is outside the ${family} address space`,
        { family, value: value.toString() },
      )
    }
    return new Address(family, value)
  }

  /** Width of this address in bits. */
  get width(): number {
    return familyInfo(this.family).width
  }

  /** Orders by family (ipv4, ipv6, mac), then numerically. */
  compare(other: Address): number {
    if (this.family !== other.family) return familyOrder(this.family) - familyOrder(other.family)
    return this.value < other.value ? -1 : this.value > other.value ? 1 : 0
  }

  /** True when both have the same family and value. */
  equals(other: Address): boolean {
    return this.family === other.family && this.value === other.value
  }

  /** Canonical text (RFC 5952 for IPv6). */
  toString(): string {
    return formatAddressValue(this.family, this.value)
  }

  /** Same as {@link Address.toString}, so addresses serialise as text. */
  toJSON(): string {
    return this.toString()
  }
}

/** Stable sort order of families. */
export function familyOrder(family: Family): number {
  return family === 'ipv4' ? 0 : family === 'ipv6' ? 1 : 2
}
