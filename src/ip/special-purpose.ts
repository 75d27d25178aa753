/**
 * The special-purpose address registry: blocks of IPv4 and IPv6 that the IETF set aside
 * (RFC 6890 and the RFCs that add to or update it), plus the multicast blocks. casm uses it to
 * warn when an operator adds such space as a block and to label addresses in searches.
 *
 * Each entry cites the RFC that defines it. The flags follow the columns of the IANA registries
 * (RFC 6890 §2.2.1): whether the address may appear as a source or a destination, whether routers
 * may forward it, and whether it is globally reachable.
 *
 * @module
 */

import type { Address } from './address.js'
import { Prefix } from './prefix.js'

/** What a special-purpose block is for, in casm's words. */
export type SpecialPurposeKind =
  | 'this-network'
  | 'private'
  | 'shared'
  | 'loopback'
  | 'link-local'
  | 'protocol'
  | 'documentation'
  | 'benchmarking'
  | 'translation'
  | 'multicast'
  | 'reserved'
  | 'broadcast'
  | 'unique-local'
  | 'unspecified'
  | 'discard'
  | 'anycast'
  | 'tunnel'
  | 'deprecated'

/** One block of the registry. */
export interface SpecialPurposeEntry {
  readonly prefix: Prefix
  /** Short name of the block's purpose. */
  readonly name: string
  readonly kind: SpecialPurposeKind
  /** The RFC(s) that define the block, e.g. `RFC 1918`. */
  readonly rfc: string
  /** May be a source address. */
  readonly source: boolean
  /** May be a destination address. */
  readonly destination: boolean
  /** Routers may forward packets carrying it. */
  readonly forwardable: boolean
  /** Reachable across the public Internet. */
  readonly globallyReachable: boolean
}

type Row = [
  text: string,
  name: string,
  kind: SpecialPurposeKind,
  rfc: string,
  source: boolean,
  destination: boolean,
  forwardable: boolean,
  global: boolean,
]

// prettier-ignore
const ROWS: readonly Row[] = [
  // IPv4 — RFC 6890 §2.2.2 and later additions.
  ['0.0.0.0/8', 'This network', 'this-network', 'RFC 791 §3.2', true, false, false, false],
  ['0.0.0.0/32', 'This host on this network', 'this-network', 'RFC 1122 §3.2.1.3', true, false, false, false],
  ['10.0.0.0/8', 'Private use', 'private', 'RFC 1918', true, true, true, false],
  ['100.64.0.0/10', 'Shared address space (CGN)', 'shared', 'RFC 6598', true, true, true, false],
  ['127.0.0.0/8', 'Loopback', 'loopback', 'RFC 1122 §3.2.1.3', false, false, false, false],
  ['169.254.0.0/16', 'Link local', 'link-local', 'RFC 3927', true, true, false, false],
  ['172.16.0.0/12', 'Private use', 'private', 'RFC 1918', true, true, true, false],
  ['192.0.0.0/24', 'IETF protocol assignments', 'protocol', 'RFC 6890 §2.1', false, false, false, false],
  ['192.0.0.0/29', 'IPv4 service continuity prefix (DS-Lite)', 'protocol', 'RFC 7335', true, true, true, false],
  ['192.0.0.8/32', 'IPv4 dummy address', 'protocol', 'RFC 7600', true, false, false, false],
  ['192.0.0.9/32', 'Port Control Protocol anycast', 'anycast', 'RFC 7723', true, true, true, true],
  ['192.0.0.10/32', 'TURN anycast', 'anycast', 'RFC 8155', true, true, true, true],
  ['192.0.0.170/32', 'NAT64/DNS64 discovery', 'translation', 'RFC 8880, RFC 7050 §2.2', false, false, false, false],
  ['192.0.0.171/32', 'NAT64/DNS64 discovery', 'translation', 'RFC 8880, RFC 7050 §2.2', false, false, false, false],
  ['192.0.2.0/24', 'Documentation (TEST-NET-1)', 'documentation', 'RFC 5737', false, false, false, false],
  ['192.31.196.0/24', 'AS112 (IPv4)', 'anycast', 'RFC 7535', true, true, true, true],
  ['192.52.193.0/24', 'Automatic Multicast Tunneling', 'tunnel', 'RFC 7450', true, true, true, true],
  ['192.88.99.0/24', '6to4 relay anycast (deprecated)', 'deprecated', 'RFC 7526', false, false, false, false],
  ['192.168.0.0/16', 'Private use', 'private', 'RFC 1918', true, true, true, false],
  ['192.175.48.0/24', 'Direct delegation AS112 service', 'anycast', 'RFC 7534', true, true, true, true],
  ['198.18.0.0/15', 'Benchmarking', 'benchmarking', 'RFC 2544', true, true, true, false],
  ['198.51.100.0/24', 'Documentation (TEST-NET-2)', 'documentation', 'RFC 5737', false, false, false, false],
  ['203.0.113.0/24', 'Documentation (TEST-NET-3)', 'documentation', 'RFC 5737', false, false, false, false],
  ['224.0.0.0/4', 'Multicast', 'multicast', 'RFC 5771', false, true, true, true],
  ['240.0.0.0/4', 'Reserved for future use', 'reserved', 'RFC 1112 §4', false, false, false, false],
  ['255.255.255.255/32', 'Limited broadcast', 'broadcast', 'RFC 919 §7, RFC 8190', false, true, false, false],
  // IPv6 — RFC 6890 §2.2.3 and later additions.
  ['::/128', 'Unspecified address', 'unspecified', 'RFC 4291 §2.5.2', true, false, false, false],
  ['::1/128', 'Loopback', 'loopback', 'RFC 4291 §2.5.3', false, false, false, false],
  ['::ffff:0:0/96', 'IPv4-mapped address', 'translation', 'RFC 4291 §2.5.5.2', false, false, false, false],
  ['64:ff9b::/96', 'IPv4/IPv6 translation (well-known prefix)', 'translation', 'RFC 6052', true, true, true, true],
  ['64:ff9b:1::/48', 'Local-use IPv4/IPv6 translation', 'translation', 'RFC 8215', true, true, true, false],
  ['100::/64', 'Discard-only', 'discard', 'RFC 6666', true, true, true, false],
  ['2001::/23', 'IETF protocol assignments', 'protocol', 'RFC 2928', false, false, false, false],
  ['2001::/32', 'Teredo', 'tunnel', 'RFC 4380, RFC 8190', true, true, true, false],
  ['2001:1::1/128', 'Port Control Protocol anycast', 'anycast', 'RFC 7723', true, true, true, true],
  ['2001:1::2/128', 'TURN anycast', 'anycast', 'RFC 8155', true, true, true, true],
  ['2001:2::/48', 'Benchmarking', 'benchmarking', 'RFC 5180', true, true, true, false],
  ['2001:3::/32', 'Automatic Multicast Tunneling', 'tunnel', 'RFC 7450', true, true, true, true],
  ['2001:4:112::/48', 'AS112 (IPv6)', 'anycast', 'RFC 7535', true, true, true, true],
  ['2001:10::/28', 'ORCHID (deprecated)', 'deprecated', 'RFC 4843', false, false, false, false],
  ['2001:20::/28', 'ORCHIDv2', 'protocol', 'RFC 7343', true, true, true, true],
  ['2001:db8::/32', 'Documentation', 'documentation', 'RFC 3849', false, false, false, false],
  ['2002::/16', '6to4', 'tunnel', 'RFC 3056', true, true, true, false],
  ['2620:4f:8000::/48', 'Direct delegation AS112 service', 'anycast', 'RFC 7534', true, true, true, true],
  ['3fff::/20', 'Documentation', 'documentation', 'RFC 9637', false, false, false, false],
  ['5f00::/16', 'Segment routing (SRv6) SIDs', 'protocol', 'RFC 9602', true, true, true, false],
  ['fc00::/7', 'Unique local', 'unique-local', 'RFC 4193, RFC 8190', true, true, true, false],
  ['fe80::/10', 'Link-local unicast', 'link-local', 'RFC 4291 §2.5.6', true, true, false, false],
  ['ff00::/8', 'Multicast', 'multicast', 'RFC 4291 §2.7', false, true, true, true],
]

/** Every registry entry, ordered by family, then address, then length (covering first). */
export const SPECIAL_PURPOSE: readonly SpecialPurposeEntry[] = Object.freeze(
  ROWS.map(
    ([text, name, kind, rfc, source, destination, forwardable, globallyReachable]) =>
      Object.freeze({
        prefix: Prefix.parse(text),
        name,
        kind,
        rfc,
        source,
        destination,
        forwardable,
        globallyReachable,
      }) satisfies SpecialPurposeEntry,
  ).sort((a, b) => a.prefix.compare(b.prefix)),
)

/**
 * Registry entries that overlap `target` (contain it or lie inside it), most specific first.
 *
 * @example
 * ```ts
 * specialPurposeOf(Prefix.parse('192.0.0.8/32')).map((e) => e.rfc) // ['RFC 7600', 'RFC 6890 §2.1']
 * ```
 */
export function specialPurposeOf(target: Prefix | Address): SpecialPurposeEntry[] {
  const hits = SPECIAL_PURPOSE.filter((e) =>
    target instanceof Prefix ? e.prefix.overlaps(target) : e.prefix.contains(target),
  )
  return hits.sort((a, b) => b.prefix.length - a.prefix.length)
}

/** The most specific registry entry containing `address`, if any. */
export function classifyAddress(address: Address): SpecialPurposeEntry | undefined {
  return specialPurposeOf(address)[0]
}
