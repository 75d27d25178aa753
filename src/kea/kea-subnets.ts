/**
 * How casm's grants appear in a Kea configuration, as pure functions over the JSON that
 * `config-get` returns and `config-set` takes. No I/O: the Kea backend reads the configuration,
 * calls {@link placeGrants}, and writes the result back only when it changed.
 *
 * Layout (docs/kea.md gives the reasons):
 * - Every grant is one subnet (`subnet4` / `subnet6`) in one shared network (default `casm`),
 *   so a client whose subnet is full or draining is served from another grant of the same link.
 *   The shared network carries the link's settings (relay addresses, interface, options); casm
 *   creates it when missing and leaves an existing one's settings alone.
 * - Subnet ids are chosen once per grant and kept for as long as the grant is held: Kea ties
 *   leases to subnet ids, so an id that changed would orphan every lease of the subnet.
 * - Ownership is in the subnet's `user-context.casm`; subnets without it (or of another owner)
 *   are the operator's and are never changed. A grant overlapping one is refused.
 * - Draining is a client class on the pool. `natural`: the class admits every message except
 *   DHCPDISCOVER (RFC 2131) / SOLICIT (RFC 8415), so no new client is offered an address or prefix
 *   from it while renewals, rebinds and INIT-REBOOT requests keep theirs. `fast`: the class
 *   admits nobody, so Kea answers renewals with DHCPNAK (v4) or takes the binding away (v6) and
 *   clients move to another grant at once.
 *
 * @module
 */

import { CasmError } from '../errors/casm-error.js'
import { Address, Prefix } from '../ip/index.js'

/** What a Kea server hands out from casm's grants: IPv4 addresses, IPv6 addresses, delegated prefixes. */
export type KeaMode = 'v4' | 'na' | 'pd'

/** DHCP message type of DHCPDISCOVER (RFC 2131 §9.6, option 53). */
export const DHCPDISCOVER = 1
/** DHCPv6 message type of SOLICIT (RFC 8415 §7.3). */
export const DHCPV6_SOLICIT = 1

/** The client classes casm defines for draining pools. */
export const DRAIN_CLASSES = {
  natural: 'casm-drain-natural',
  fast: 'casm-drain-fast',
} as const

/** One grant as a Kea subnet. */
export interface KeaGrant {
  /** Canonical prefix text. */
  readonly prefix: string
  readonly grant?: string | undefined
  readonly state: 'active' | 'draining'
  readonly drainMode: 'natural' | 'fast'
  /** The subnet id, fixed for as long as the grant is held. */
  readonly subnetId: number
}

/** How grants are laid out in one server's configuration. */
export interface KeaLayout {
  readonly mode: KeaMode
  /** Name of the shared network holding casm's subnets. */
  readonly sharedNetwork: string
  /** Relay addresses for a shared network casm creates (subnet selection of relayed traffic). */
  readonly relay?: readonly string[] | undefined
  /** Interface for a shared network casm creates (directly attached clients). */
  readonly interface?: string | undefined
  /** Tag in `user-context.casm.owner`: which agent owns the subnet. */
  readonly owner: string
  /** Length of each delegated prefix (`pd` only). */
  readonly delegatedLength: number
  /** IPv4: give the first usable address to the router option and keep it out of the pool. */
  readonly gateway: boolean
}

/** A JSON object as Kea writes it. */
export type Json = Record<string, unknown>

/** What casm stores in a subnet's `user-context`. */
export interface CasmTag {
  readonly owner: string
  readonly prefix: string
  readonly grant?: string
  readonly state: 'active' | 'draining'
  readonly drain: 'natural' | 'fast'
}

const rootKey = (mode: KeaMode): 'Dhcp4' | 'Dhcp6' => (mode === 'v4' ? 'Dhcp4' : 'Dhcp6')
const subnetKey = (mode: KeaMode): 'subnet4' | 'subnet6' => (mode === 'v4' ? 'subnet4' : 'subnet6')

const refuse = (message: string, details: Record<string, unknown>): CasmError =>
  new CasmError('CASM_ERR_BACKEND', message, details)

/** The server section (`Dhcp4` / `Dhcp6`) of a configuration. */
export function serverSection(config: Json, mode: KeaMode): Json {
  const section = config[rootKey(mode)]
  if (typeof section !== 'object' || section === null)
    throw refuse(
      `the Kea configuration has no ${rootKey(mode)} section: is this the right server?`,
      {},
    )
  return section as Json
}

const list = (o: Json, key: string): Json[] => (Array.isArray(o[key]) ? (o[key] as Json[]) : [])

/** casm's tag of a subnet, if casm made it. */
export function casmTag(subnet: Json): CasmTag | undefined {
  const ctx = subnet['user-context']
  if (typeof ctx !== 'object' || ctx === null) return undefined
  const tag = (ctx as Json)['casm']
  if (typeof tag !== 'object' || tag === null) return undefined
  const t = tag as Json
  return typeof t['owner'] === 'string' && typeof t['prefix'] === 'string'
    ? (t as unknown as CasmTag)
    : undefined
}

/** Every subnet of a server section, with where it sits. */
function allSubnets(section: Json, mode: KeaMode): { subnet: Json; network?: string }[] {
  const key = subnetKey(mode)
  const out: { subnet: Json; network?: string }[] = list(section, key).map((subnet) => ({ subnet }))
  for (const net of list(section, 'shared-networks'))
    for (const subnet of list(net, key)) out.push({ subnet, network: String(net['name']) })
  return out
}

/** The subnets `owner` holds in the configuration, by prefix. */
export function ownedSubnets(
  config: Json,
  layout: KeaLayout,
): Map<string, { id: number; tag: CasmTag }> {
  const out = new Map<string, { id: number; tag: CasmTag }>()
  for (const { subnet } of allSubnets(serverSection(config, layout.mode), layout.mode)) {
    const tag = casmTag(subnet)
    if (tag?.owner === layout.owner) out.set(tag.prefix, { id: Number(subnet['id']), tag })
  }
  return out
}

/** Subnet ids in use by anyone, so a new grant's id collides with none. */
export function usedSubnetIds(config: Json, mode: KeaMode): Set<number> {
  return new Set(allSubnets(serverSection(config, mode), mode).map((s) => Number(s.subnet['id'])))
}

/** The pool range of an IPv4 grant: without network and broadcast addresses (and gateway). */
export function v4PoolRange(
  prefix: Prefix,
  gateway: boolean,
): { first: string; last: string; router?: string } {
  let first = prefix.first
  let last = prefix.last
  if (prefix.length <= 30) {
    first += 1n
    last -= 1n
  }
  let router: string | undefined
  if (gateway && last > first) {
    router = Address.of('ipv4', first).toString()
    first += 1n
  }
  return {
    first: Address.of('ipv4', first).toString(),
    last: Address.of('ipv4', last).toString(),
    ...(router === undefined ? {} : { router }),
  }
}

/**
 * How many clients a grant's pool can serve: IPv4 addresses (without network, broadcast and
 * gateway), IPv6 addresses, or delegated prefixes. Usage is scaled to this, so a full pool is
 * 100 % whatever the addresses it leaves out.
 */
export function poolSize(prefix: Prefix, layout: KeaLayout): bigint {
  if (layout.mode === 'v4') {
    const r = v4PoolRange(prefix, layout.gateway)
    return Address.parse(r.last).value - Address.parse(r.first).value + 1n
  }
  if (layout.mode === 'pd') return 1n << BigInt(Math.max(0, layout.delegatedLength - prefix.length))
  return prefix.size - (prefix.length < 127 ? 1n : 0n)
}

/** The subnet entry of one grant, as casm writes it (Kea adds its defaults). */
export function subnetEntry(g: KeaGrant, layout: KeaLayout): Json {
  const prefix = Prefix.parse(g.prefix)
  const cls = g.state === 'draining' ? { 'client-class': DRAIN_CLASSES[g.drainMode] } : {}
  const tag: CasmTag = {
    owner: layout.owner,
    prefix: g.prefix,
    ...(g.grant === undefined ? {} : { grant: g.grant }),
    state: g.state,
    drain: g.drainMode,
  }
  const entry: Json = { id: g.subnetId, subnet: g.prefix, 'user-context': { casm: tag } }
  if (layout.mode === 'v4') {
    if (prefix.family !== 'ipv4')
      throw refuse(`${g.prefix} is not IPv4: this Kea server (DHCPv4) serves IPv4 grants only`, {
        prefix: g.prefix,
      })
    const r = v4PoolRange(prefix, layout.gateway)
    entry['pools'] = [{ pool: `${r.first}-${r.last}`, ...cls }]
    if (r.router !== undefined) entry['option-data'] = [{ name: 'routers', data: r.router }]
    return entry
  }
  if (prefix.family !== 'ipv6')
    throw refuse(`${g.prefix} is not IPv6: this Kea server (DHCPv6) serves IPv6 grants only`, {
      prefix: g.prefix,
    })
  if (layout.mode === 'na') {
    const first = Address.of('ipv6', prefix.first + (prefix.length < 127 ? 1n : 0n))
    entry['pools'] = [{ pool: `${first.toString()}-${prefix.lastAddress().toString()}`, ...cls }]
    return entry
  }
  if (prefix.length > layout.delegatedLength)
    throw refuse(
      `${g.prefix} is smaller than one delegated prefix (/${layout.delegatedLength}): ask for grants of /${layout.delegatedLength} or shorter, or lower --kea-delegated-length`,
      { prefix: g.prefix, delegatedLength: layout.delegatedLength },
    )
  entry['pd-pools'] = [
    {
      prefix: prefix.firstAddress().toString(),
      'prefix-len': prefix.length,
      'delegated-len': layout.delegatedLength,
      ...cls,
    },
  ]
  return entry
}

/** The parts of a subnet that casm decides, to tell whether Kea already has what casm wants. */
function fingerprint(subnet: Json): string {
  const pools = list(subnet, 'pools').map((p) => [p['pool'], p['client-class'] ?? null])
  const pd = list(subnet, 'pd-pools').map((p) => [
    p['prefix'],
    p['prefix-len'],
    p['delegated-len'],
    p['client-class'] ?? null,
  ])
  const t = casmTag(subnet)
  // Kea gives maps back with their keys sorted: compare the tag field by field.
  const tag = t === undefined ? null : [t.owner, t.prefix, t.grant ?? null, t.state, t.drain]
  return JSON.stringify([subnet['id'], subnet['subnet'], pools, pd, tag])
}

/**
 * Checks that no grant overlaps a subnet casm does not own (anywhere in the configuration).
 *
 * @throws CasmError `CASM_ERR_BACKEND` naming the subnet.
 */
export function checkForeignOverlap(
  config: Json,
  grants: readonly KeaGrant[],
  layout: KeaLayout,
): void {
  const foreign = allSubnets(serverSection(config, layout.mode), layout.mode).filter(
    ({ subnet }) => casmTag(subnet)?.owner !== layout.owner,
  )
  for (const g of grants) {
    const p = Prefix.parse(g.prefix)
    for (const { subnet, network } of foreign) {
      let other: Prefix
      try {
        other = Prefix.parse(String(subnet['subnet']), { lenient: true })
      } catch {
        continue
      }
      if (other.family === p.family && other.overlaps(p))
        throw refuse(
          `grant ${g.prefix} overlaps subnet ${String(subnet['subnet'])} (id ${String(subnet['id'])}${network === undefined ? '' : ` in shared network ${network}`}), which casm does not own; remove that subnet from Kea or take the space out of casm's pool`,
          { prefix: g.prefix, subnet: subnet['subnet'], subnetId: subnet['id'] },
        )
    }
  }
}

/** The drain classes, with the test that fits the server's protocol. */
function drainClasses(mode: KeaMode): Json[] {
  const msgtype =
    mode === 'v4' ? `pkt4.msgtype == ${DHCPDISCOVER}` : `pkt6.msgtype == ${DHCPV6_SOLICIT}`
  return [
    { name: DRAIN_CLASSES.natural, test: `not (${msgtype})` },
    { name: DRAIN_CLASSES.fast, test: "'casm' == 'never'" },
  ]
}

/**
 * Returns `config` with exactly `grants` as `layout.owner`'s subnets: missing ones added,
 * changed ones rewritten, others of the owner removed; every other subnet untouched. Adds the
 * drain classes and the shared network when missing.
 *
 * @returns the new configuration and whether anything changed.
 * @throws CasmError `CASM_ERR_BACKEND` when a grant overlaps a subnet casm does not own.
 */
export function placeGrants(
  config: Json,
  grants: readonly KeaGrant[],
  layout: KeaLayout,
): { config: Json; changed: boolean } {
  checkForeignOverlap(config, grants, layout)
  const next = structuredClone(config)
  const section = serverSection(next, layout.mode)
  let changed = false

  const classes = list(section, 'client-classes')
  for (const cls of drainClasses(layout.mode))
    if (!classes.some((c) => c['name'] === cls['name'])) {
      classes.push(cls)
      changed = true
    }
  section['client-classes'] = classes

  const key = subnetKey(layout.mode)
  // Subnets of ours outside the shared network (moved by an operator): taken out, put back inside.
  const drop = (subnets: Json[]): Json[] =>
    subnets.filter((s) => {
      const mine = casmTag(s)?.owner === layout.owner
      if (mine) changed = true
      return !mine
    })
  section[key] = drop(list(section, key))
  const networks = list(section, 'shared-networks')
  let network = networks.find((n) => n['name'] === layout.sharedNetwork)
  for (const n of networks) if (n !== network) n[key] = drop(list(n, key))
  if (network === undefined) {
    network = { name: layout.sharedNetwork, [key]: [] }
    if (layout.relay !== undefined && layout.relay.length > 0)
      network['relay'] = { 'ip-addresses': [...layout.relay] }
    if (layout.interface !== undefined) network['interface'] = layout.interface
    networks.push(network)
    changed = true
  }
  section['shared-networks'] = networks

  const wanted = new Map(grants.map((g) => [g.prefix, subnetEntry(g, layout)]))
  const kept: Json[] = []
  for (const s of list(network, key)) {
    const tag = casmTag(s)
    if (tag?.owner !== layout.owner) {
      kept.push(s)
      continue
    }
    const want = wanted.get(tag.prefix)
    if (want === undefined) {
      changed = true
      continue
    }
    wanted.delete(tag.prefix)
    if (fingerprint(s) === fingerprint(want)) kept.push(s)
    else {
      // Kea's own fields (timers, options it filled in) stay; casm's parts are replaced.
      const merged: Json = { ...s, ...want }
      if (want['pools'] === undefined) delete merged['pools']
      if (want['pd-pools'] === undefined) delete merged['pd-pools']
      kept.push(merged)
      changed = true
    }
  }
  for (const entry of wanted.values()) {
    kept.push(entry)
    changed = true
  }
  network[key] = kept
  return { config: next, changed }
}
