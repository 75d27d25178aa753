/**
 * Lease replay (RF-4.3.3.4 of the CASM drafts): the leases a device's DHCP server gave out of its
 * grants, kept at the coordinator so that a replacement server can be given them again (Kea
 * `lease4-add` / `lease6-add`) and every subscriber keeps its address. The agent uploads one
 * snapshot per grant (`PUT /api/v1/agent/leases`) and fetches the leases back
 * (`GET /api/v1/agent/leases`); docs/protocol.md, "Lease replay".
 *
 * Types and the pure check of one lease against its grant. The coordinator stores leases
 * (`src/coordinator/lease-archive.ts`); the agent sends them (`CoordinatorClient.uploadLeases`).
 *
 * @module
 */

import { CasmError } from '../errors/casm-error.js'
import { Address, type Family, Prefix } from '../ip/index.js'

/** `v4`: a DHCPv4 address; `na`: a DHCPv6 address (IA_NA); `pd`: a delegated prefix (IA_PD). */
export type LeaseKind = 'v4' | 'na' | 'pd'

/** Every lease kind. */
export const LEASE_KINDS: readonly LeaseKind[] = ['v4', 'na', 'pd']

/** Most leases one upload carries; a grant's snapshot must fit in one upload. */
export const MAX_LEASES_PER_UPLOAD = 100_000

/** Longest lifetime, in seconds: Kea's 32-bit `valid-lft` (0xffffffff means infinite). */
export const MAX_LEASE_LIFETIME = 4_294_967_295

/** Latest `cltt`, in epoch seconds (9999-12-31T23:59:59Z). */
export const MAX_CLTT = 253_402_300_799

/**
 * A lease as the coordinator keeps it: Kea's lease fields under casm's names (Kea's in the
 * comments). What a replay needs: `hwAddress` for `v4`, `duid` and `iaid` for `na` and `pd`.
 *
 * @example
 * ```ts
 * const lease: StoredLease = {
 *   grant: 'gr_0mwws3gu6000tas6va2w', kind: 'v4', address: '100.64.8.17',
 *   hwAddress: '1a:1b:1c:1d:1e:1f', validLifetime: 3600, cltt: 1_767_225_600, subnetId: 1,
 * }
 * ```
 */
export interface StoredLease {
  /** The grant the lease lies in. */
  readonly grant: string
  readonly kind: LeaseKind
  /**
   * `ip-address`. For `pd` the delegated prefix's first address with `prefixLength`; an upload
   * may also give the prefix itself (`2001:db8:1:100::/56`).
   */
  readonly address: string
  /** `prefix-len`, of `pd` leases only. */
  readonly prefixLength?: number
  /** `hw-address` (`1a:1b:1c:1d:1e:1f`). */
  readonly hwAddress?: string
  /** `client-id` (DHCPv4). */
  readonly clientId?: string
  /** `duid` (DHCPv6). */
  readonly duid?: string
  /** `iaid` (DHCPv6). */
  readonly iaid?: number
  /** `valid-lft`, seconds. */
  readonly validLifetime: number
  /** `preferred-lft`, seconds (DHCPv6). */
  readonly preferredLifetime?: number
  /** `cltt`: when the client last renewed, in epoch seconds as Kea reports it. */
  readonly cltt: number
  /** `hostname`. */
  readonly hostname?: string
  /** `subnet-id`. */
  readonly subnetId?: number
  /** `state`: 0 default, 1 declined, 2 expired-reclaimed. */
  readonly state?: number
  /** `user-context`, kept as sent. */
  readonly userContext?: unknown
}

/** A lease in an upload: its grant is the one of the snapshot that carries it. */
export type LeaseInput = Omit<StoredLease, 'grant'>

/** One grant's snapshot: it replaces every lease stored for the grant (empty: none are left). */
export interface GrantLeases {
  readonly grant: string
  readonly leases: readonly LeaseInput[]
}

/** The body of `PUT /api/v1/agent/leases`. */
export interface LeaseUpload {
  readonly grants: readonly GrantLeases[]
}

/** A lease that passed {@link checkLease}. */
export interface CheckedLease {
  /** The address, or for `pd` the prefix, in canonical text: one lease per key and grant. */
  readonly key: string
  /** The lease with canonical text, `prefixLength` only on `pd`. */
  readonly lease: StoredLease
  /** When it ends (`cltt` + `validLifetime`), in epoch milliseconds. */
  readonly expiresAt: number
}

const FAMILY_OF: Readonly<Record<LeaseKind, Family>> = { v4: 'ipv4', na: 'ipv6', pd: 'ipv6' }

/** What a replay into Kea cannot do without, per kind. */
const NEEDED: Readonly<Record<LeaseKind, readonly (keyof LeaseInput)[]>> = {
  v4: ['hwAddress'],
  na: ['duid', 'iaid'],
  pd: ['duid', 'iaid'],
}

function invalid(path: string, message: string, value?: unknown): CasmError {
  return new CasmError('CASM_ERR_VALIDATION', `${path}: ${message}`, {
    errors: [{ path, message, value }],
  })
}

function wholeIn(value: number | undefined, max: number, path: string): void {
  if (value !== undefined && !(Number.isSafeInteger(value) && value >= 0 && value <= max))
    throw invalid(path, `must be a whole number of 0 to ${max}`, value)
}

/** The space a lease takes: its address (a full-length prefix), or its delegated prefix. */
function spaceOf(input: LeaseInput, family: Family, path: string): Prefix {
  const { address, prefixLength, kind } = input
  try {
    if (kind !== 'pd') {
      const width = family === 'ipv4' ? 32 : 128
      if (prefixLength !== undefined && prefixLength !== width)
        throw invalid(`${path}/prefixLength`, 'only pd leases have a prefix length', prefixLength)
      return Prefix.fromAddress(Address.parse(address, family))
    }
    const text = address.includes('/')
      ? address
      : prefixLength === undefined
        ? undefined
        : `${address}/${prefixLength}`
    if (text === undefined)
      throw invalid(`${path}/prefixLength`, 'a pd lease needs its prefix length', address)
    const p = Prefix.parse(text, { family })
    if (prefixLength !== undefined && prefixLength !== p.length)
      throw invalid(`${path}/prefixLength`, `${address} says /${p.length}`, prefixLength)
    return p
  } catch (e) {
    if (e instanceof CasmError && e.code !== 'CASM_ERR_VALIDATION')
      throw invalid(`${path}/address`, e.message, address)
    throw e
  }
}

/**
 * Checks one lease of an upload against its grant and returns it in canonical form: a known
 * kind of the grant's family, an address (or delegated prefix) inside the grant's prefix, the
 * fields a replay needs, lifetimes Kea can hold.
 *
 * @throws CasmError `CASM_ERR_VALIDATION`, naming `path` and the field.
 */
export function checkLease(
  grant: { readonly id: string; readonly prefix: Prefix },
  input: LeaseInput,
  path: string,
): CheckedLease {
  if (!LEASE_KINDS.includes(input.kind))
    throw invalid(`${path}/kind`, `must be one of ${LEASE_KINDS.join(', ')}`, input.kind)
  const family = grant.prefix.family
  if (FAMILY_OF[input.kind] !== family)
    throw invalid(`${path}/kind`, `a ${input.kind} lease cannot lie in ${family} grant ${grant.id}`)
  const space = spaceOf(input, family, path)
  if (!grant.prefix.contains(space)) {
    throw invalid(
      `${path}/address`,
      `${space.length === space.width ? space.firstAddress().toString() : space.toString()} is outside grant ${grant.id} (${grant.prefix.toString()})`,
      input.address,
    )
  }
  for (const field of NEEDED[input.kind]) {
    if (input[field] === undefined)
      throw invalid(`${path}/${field}`, `a ${input.kind} lease needs ${field} to be replayed`)
  }
  wholeIn(input.validLifetime, MAX_LEASE_LIFETIME, `${path}/validLifetime`)
  wholeIn(input.preferredLifetime, MAX_LEASE_LIFETIME, `${path}/preferredLifetime`)
  wholeIn(input.cltt, MAX_CLTT, `${path}/cltt`)
  const { prefixLength: _length, ...rest } = input
  const lease: StoredLease = {
    ...rest,
    grant: grant.id,
    address: space.firstAddress().toString(),
    ...(input.kind === 'pd' ? { prefixLength: space.length } : {}),
  }
  return {
    key: input.kind === 'pd' ? space.toString() : lease.address,
    lease,
    expiresAt: (input.cltt + input.validLifetime) * 1000,
  }
}
