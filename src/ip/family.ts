/**
 * Address families casm manages and their fixed facts: width in bits and precomputed block sizes
 * and masks per prefix length, so hot paths never rebuild a bigint mask.
 *
 * @module
 */

/** The address families casm knows: IPv4 (32 bits), IPv6 (128 bits) and EUI-48 MAC (48 bits). */
export type Family = 'ipv4' | 'ipv6' | 'mac'

/** Every family, in a stable order. */
export const FAMILIES: readonly Family[] = ['ipv4', 'ipv6', 'mac']

/** Precomputed facts about one family. */
export interface FamilyInfo {
  readonly family: Family
  /** Width of an address in bits. */
  readonly width: number
  /** The largest address value, `2^width - 1`. */
  readonly maxValue: bigint
  /** `blockSize[l]` is the number of addresses in a prefix of length `l` (`2^(width-l)`). */
  readonly blockSize: readonly bigint[]
  /** `hostMask[l]` has the `width-l` low bits set: the host part of a prefix of length `l`. */
  readonly hostMask: readonly bigint[]
  /** `netMask[l]` has the `l` high bits set: the network part of a prefix of length `l`. */
  readonly netMask: readonly bigint[]
}

function makeInfo(family: Family, width: number): FamilyInfo {
  const maxValue = (1n << BigInt(width)) - 1n
  const blockSize: bigint[] = []
  const hostMask: bigint[] = []
  const netMask: bigint[] = []
  for (let l = 0; l <= width; l++) {
    const size = 1n << BigInt(width - l)
    blockSize.push(size)
    hostMask.push(size - 1n)
    netMask.push(maxValue ^ (size - 1n))
  }
  return Object.freeze({
    family,
    width,
    maxValue,
    blockSize: Object.freeze(blockSize),
    hostMask: Object.freeze(hostMask),
    netMask: Object.freeze(netMask),
  })
}

const INFO: Readonly<Record<Family, FamilyInfo>> = Object.freeze({
  ipv4: makeInfo('ipv4', 32),
  ipv6: makeInfo('ipv6', 128),
  mac: makeInfo('mac', 48),
})

/** Facts about `family`. */
export function familyInfo(family: Family): FamilyInfo {
  return INFO[family]
}

/** Width in bits of an address of `family`. */
export function familyWidth(family: Family): number {
  return INFO[family].width
}

/** True when `value` names a known family. */
export function isFamily(value: unknown): value is Family {
  return value === 'ipv4' || value === 'ipv6' || value === 'mac'
}
