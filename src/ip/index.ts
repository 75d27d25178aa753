/**
 * Address and prefix math on bigint for IPv4, IPv6 and EUI-48 MAC. Pure; no I/O.
 *
 * @module
 */

export {
  type Family,
  type FamilyInfo,
  FAMILIES,
  familyInfo,
  familyWidth,
  isFamily,
} from './family.js'
export {
  Address,
  detectFamily,
  formatAddressValue,
  formatIpv4,
  formatIpv6,
  formatMac,
  parseAddressValue,
  parseIpv4,
  parseIpv6,
  parseMac,
} from './address.js'
export { Prefix, type PrefixParseOptions, SPLIT_LIMIT } from './prefix.js'
export { bitLength, trailingZeros } from './bits.js'
export {
  AddressRange,
  aggregatePrefixes,
  mergeRanges,
  rangeToPrefixes,
  subtractRanges,
} from './address-range.js'
export {
  SPECIAL_PURPOSE,
  type SpecialPurposeEntry,
  type SpecialPurposeKind,
  classifyAddress,
  specialPurposeOf,
} from './special-purpose.js'
