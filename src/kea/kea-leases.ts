/**
 * Reading and writing Kea's leases through the lease_cmds hook (`libdhcp_lease_cmds.so`, which
 * Debian ships): the leases inside one grant by paging (`lease4-get-page` / `lease6-get-page`
 * walk leases in address order from just below the grant's first address and stop past its
 * last, so a grant costs one page per 1,000 leases whatever else the server holds), which of
 * them are live, their usage in casm's units, and the conversion to and from the form the
 * coordinator stores for replay.
 *
 * @module
 */

import { Address, Prefix } from '../ip/index.js'
import type { StoredLease } from '../domain/device-lease.js'
import type { KeaControl } from './kea-control.js'
import type { KeaMode } from './kea-subnets.js'

/** Leases asked for per page. */
export const LEASE_PAGE = 1000

/** Kea's lease states (Kea ARM, lease_cmds): 0 default, 1 declined, 2 expired-reclaimed. */
export const LEASE_STATE = { default: 0, declined: 1, reclaimed: 2 } as const

/** A lease as Kea's lease commands return it (the fields casm reads). */
export interface KeaLease {
  readonly 'ip-address': string
  readonly 'prefix-len'?: number
  readonly type?: string
  readonly 'hw-address'?: string
  readonly 'client-id'?: string
  readonly duid?: string
  readonly iaid?: number
  readonly 'valid-lft': number
  readonly 'preferred-lft'?: number
  readonly cltt: number
  readonly hostname?: string
  readonly 'subnet-id'?: number
  readonly state?: number
  readonly 'user-context'?: unknown
  readonly 'fqdn-fwd'?: boolean
  readonly 'fqdn-rev'?: boolean
}

/**
 * True for a lease a client may still be using: in the default state and not past its valid
 * lifetime. Expired leases stay in Kea until its reclamation runs; declined ones hold no client.
 */
export function isLive(lease: KeaLease, nowSeconds: number): boolean {
  return (lease.state ?? 0) === LEASE_STATE.default && lease.cltt + lease['valid-lft'] > nowSeconds
}

/** Whether a lease is of the kind the mode hands out (addresses, or delegated prefixes). */
function ofMode(lease: KeaLease, mode: KeaMode): boolean {
  if (mode === 'v4') return true
  return mode === 'pd' ? lease.type === 'IA_PD' : lease.type !== 'IA_PD'
}

/**
 * Every lease of the mode's kind inside `prefix`, in any state.
 *
 * @throws CasmError `CASM_ERR_BACKEND` when Kea cannot answer (lease_cmds not loaded, down).
 */
export async function leasesIn(
  kea: KeaControl,
  mode: KeaMode,
  prefix: Prefix,
): Promise<KeaLease[]> {
  const command = mode === 'v4' ? 'lease4-get-page' : 'lease6-get-page'
  const out: KeaLease[] = []
  // `from` is exclusive: start one below the first address ("start" at the bottom of the space).
  let from: string =
    prefix.first === 0n ? 'start' : Address.of(prefix.family, prefix.first - 1n).toString()
  for (;;) {
    const page = await kea.call<{ leases?: KeaLease[]; count?: number }>(
      command,
      { from, limit: LEASE_PAGE },
      true,
    )
    const leases = (page as { leases?: KeaLease[] } | undefined)?.leases ?? []
    let last: string | undefined
    for (const lease of leases) {
      const at = Address.parse(lease['ip-address'])
      if (at.value > prefix.last) return out
      if (ofMode(lease, mode) && prefix.contains(at)) out.push(lease)
      last = lease['ip-address']
    }
    if (leases.length < LEASE_PAGE || last === undefined) return out
    from = last
  }
}

/**
 * How many of casm's usage units live leases fill (backend.ts `usageUnits`), scaled to the
 * clients the pool can serve (`size`, see kea-subnets `poolSize`), rounded up: a /27 whose 30
 * leasable addresses are all taken reports 32 of 32, so watermarks mean the same for any unit.
 */
export function usedUnits(
  live: readonly KeaLease[],
  mode: KeaMode,
  prefix: Prefix,
  units: number,
  size: bigint,
): number {
  if (mode === 'pd') {
    let sum = 0
    for (const l of live) sum += 2 ** Math.max(0, 64 - (l['prefix-len'] ?? 128))
    return Math.min(sum, units)
  }
  return scaled(live.length, units, size)
}

/** `count` of `size` as a share of `units`, rounded up, at most `units`. */
function scaled(count: number, units: number, size: bigint): number {
  if (count === 0 || size <= 0n) return 0
  const share = Number((BigInt(count) * 1_000_000n) / size) / 1_000_000
  return Math.min(units, Math.max(1, Math.ceil(share * units - 1e-9)))
}

/** Kea's per-subnet statistic of leases in use, by mode (Kea ARM, "Statistics"). */
const ASSIGNED_STAT: Readonly<Record<KeaMode, string>> = {
  v4: 'assigned-addresses',
  na: 'assigned-nas',
  pd: 'assigned-pds',
}

/**
 * Leases in use per subnet id from one `statistic-get-all`: cheap enough to read several times
 * a second whatever the number of subnets. Kea counts a lease until its reclamation runs, so an
 * expired lease may count for up to `reclaim-timer-wait-time` (10 s by default) after it ended —
 * fine for deciding to grow, not for deciding a grant is empty (that reads the leases).
 */
export async function assignedBySubnet(
  kea: KeaControl,
  mode: KeaMode,
): Promise<Map<number, number>> {
  const stats = await kea.call<Record<string, [number, string][]>>('statistic-get-all')
  const out = new Map<number, number>()
  const suffix = `].${ASSIGNED_STAT[mode]}`
  for (const [key, values] of Object.entries(
    (stats as Record<string, [number, string][]> | undefined) ?? {},
  )) {
    if (!key.startsWith('subnet[') || !key.endsWith(suffix)) continue
    out.set(Number(key.slice(7, -suffix.length)), values[0]?.[0] ?? 0)
  }
  return out
}

/** {@link usedUnits} from a count of leases of `delegatedLength` (pd) or addresses. */
export function unitsOfCount(
  count: number,
  mode: KeaMode,
  prefix: Prefix,
  units: number,
  delegatedLength: number,
  size: bigint,
): number {
  if (mode === 'pd') return Math.min(count * 2 ** Math.max(0, 64 - delegatedLength), units)
  return scaled(count, units, size)
}

/** A live Kea lease in the form the coordinator stores for replay. */
export function toStoredLease(lease: KeaLease, mode: KeaMode, grant: string): StoredLease {
  const kind: StoredLease['kind'] = mode === 'v4' ? 'v4' : lease.type === 'IA_PD' ? 'pd' : 'na'
  return {
    grant,
    kind,
    address: lease['ip-address'],
    ...(kind === 'pd' ? { prefixLength: lease['prefix-len'] ?? 128 } : {}),
    ...(lease['hw-address'] ? { hwAddress: lease['hw-address'] } : {}),
    ...(lease['client-id'] ? { clientId: lease['client-id'] } : {}),
    ...(lease.duid ? { duid: lease.duid } : {}),
    ...(lease.iaid === undefined ? {} : { iaid: lease.iaid }),
    validLifetime: lease['valid-lft'],
    ...(lease['preferred-lft'] === undefined ? {} : { preferredLifetime: lease['preferred-lft'] }),
    cltt: lease.cltt,
    ...(lease.hostname ? { hostname: lease.hostname } : {}),
    ...(lease['subnet-id'] === undefined ? {} : { subnetId: lease['subnet-id'] }),
    ...(lease.state === undefined ? {} : { state: lease.state }),
    ...(lease['user-context'] === undefined ? {} : { userContext: lease['user-context'] }),
  }
}

/**
 * The arguments of `lease4-add` / `lease6-add` that put a stored lease back, ending when it
 * would have ended (`expire` = last transmission + valid lifetime; Kea derives the cltt).
 * Kea finds the subnet from the address.
 */
export function leaseAddArguments(lease: StoredLease): Record<string, unknown> {
  const expire = lease.cltt + lease.validLifetime
  const common = {
    'valid-lft': lease.validLifetime,
    expire,
    ...(lease.hostname === undefined ? {} : { hostname: lease.hostname }),
    ...(lease.hwAddress === undefined ? {} : { 'hw-address': lease.hwAddress }),
    ...(lease.userContext === undefined ? {} : { 'user-context': lease.userContext }),
  }
  if (lease.kind === 'v4')
    return {
      'ip-address': lease.address,
      ...(lease.clientId === undefined ? {} : { 'client-id': lease.clientId }),
      ...common,
    }
  // A delegated prefix may be stored as `2001:db8:1:100::/56` or as its address and length.
  const slash = lease.address.indexOf('/')
  const address = slash < 0 ? lease.address : Prefix.parse(lease.address).firstAddress().toString()
  const length = lease.prefixLength ?? (slash < 0 ? 128 : Prefix.parse(lease.address).length)
  return {
    'ip-address': address,
    type: lease.kind === 'pd' ? 'IA_PD' : 'IA_NA',
    ...(lease.kind === 'pd' ? { 'prefix-len': length } : {}),
    duid: lease.duid ?? '',
    iaid: lease.iaid ?? 0,
    ...(lease.preferredLifetime === undefined ? {} : { 'preferred-lft': lease.preferredLifetime }),
    ...common,
  }
}
