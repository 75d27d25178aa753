/**
 * `kea`: feeds real ISC Kea DHCP servers — a DHCPv4 server, a DHCPv6 server (addresses or
 * prefix delegation), or both — through their management API (unix control socket, or the
 * Control Agent's HTTP API). Each grant becomes a Kea subnet in casm's shared network
 * (`src/kea/kea-subnets.ts` has the layout); every change is `config-get` → edit →
 * `config-test` → `config-set` → `config-write`, so the running server and its configuration
 * file agree and a restarted Kea comes back with its pools.
 *
 * What the backend holds is recorded in its state file as well as in Kea (subnets tagged in
 * `user-context.casm`): on every usage call it compares Kea's configuration with the record and
 * puts back what is missing, so a Kea restarted from an older file, or a new Kea, serves the
 * grants again with the same subnet ids. Usage of active grants comes from Kea's statistics
 * (one command for all); usage of draining grants from the leases themselves
 * (`lease4-get-page` / `lease6-get-page`), counting only live ones, so a drained grant is
 * reported empty only when Kea has no live lease in it. docs/kea.md describes the behaviour of
 * Kea 2.2 this relies on.
 *
 * @module
 */

import { readFile, rename } from 'node:fs/promises'
import type { StoredLease } from '../../domain/device-lease.js'
import { CasmError } from '../../errors/casm-error.js'
import { Prefix } from '../../ip/index.js'
import { KeaControl, type KeaEndpoint, type KeaService } from '../../kea/kea-control.js'
import {
  assignedBySubnet,
  isLive,
  leaseAddArguments,
  leasesIn,
  toStoredLease,
  unitsOfCount,
  usedUnits,
} from '../../kea/kea-leases.js'
import {
  type Json,
  type KeaGrant,
  type KeaLayout,
  type KeaMode,
  ownedSubnets,
  placeGrants,
  poolSize,
  usedSubnetIds,
} from '../../kea/kea-subnets.js'
import { writeFileAtomic } from '../write-file-atomic.js'
import {
  type Backend,
  type BackendGrant,
  type BackendUsage,
  type DrainMode,
  type HeldGrant,
  type LeaseReplayResult,
  usageUnits,
} from './backend.js'

/** Options of {@link KeaBackend}. At least one server. */
export interface KeaBackendOptions {
  /** The DHCPv4 server (serves IPv4 grants). */
  readonly dhcp4?: KeaEndpoint | undefined
  /** The DHCPv6 server (serves IPv6 grants). */
  readonly dhcp6?: KeaEndpoint | undefined
  /** What the DHCPv6 server hands out from a grant: delegated prefixes (default) or addresses. */
  readonly v6Mode?: 'pd' | 'na' | undefined
  /** Length of each delegated prefix (default 56). */
  readonly delegatedLength?: number | undefined
  /** Shared network holding casm's subnets (default `casm`); made when missing. */
  readonly sharedNetwork?: string | undefined
  /** Relay addresses of a shared network casm makes, per family. */
  readonly relay4?: readonly string[] | undefined
  readonly relay6?: readonly string[] | undefined
  /** Interface of a shared network casm makes, per family (directly attached clients). */
  readonly interface4?: string | undefined
  readonly interface6?: string | undefined
  /** IPv4: the first usable address of each grant is the router (option 3), not leased. */
  readonly gateway?: boolean | undefined
  /** Owner tag in `user-context.casm.owner` (default `casm`); one per agent sharing a Kea. */
  readonly owner?: string | undefined
  /** Lowest subnet id casm picks (default 1,000,000), away from ids operators write by hand. */
  readonly subnetIdBase?: number | undefined
  /** Where the backend records what it holds (none: Kea's configuration is the only record). */
  readonly stateFile?: string | undefined
  /** Longest one Kea command may take, in milliseconds. */
  readonly timeoutMs?: number | undefined
  /** The clock, in epoch milliseconds (tests). */
  readonly now?: (() => number) | undefined
}

/** One held grant as the backend records it. */
interface Entry {
  readonly prefix: string
  readonly grant?: string | undefined
  readonly state: 'active' | 'draining'
  readonly drainMode: DrainMode
  /** 0 until the subnet is first written. */
  readonly subnetId: number
}

/** The backend's state file. */
interface StateRecord {
  readonly nextSubnetId: number
  readonly grants: readonly Entry[]
}

/** One Kea server and how casm's grants sit in its configuration. */
interface Server {
  readonly control: KeaControl
  readonly layout: KeaLayout
  /** Kea's pid and uptime when last seen: a new pid, or less uptime, is a restarted server. */
  pid?: number | undefined
  uptime?: number | undefined
  /** The server (re)started and has not been given the archived leases yet. */
  replayPending: boolean
  /** `config-write` failed after a change: Kea runs what it should, its file does not have it. */
  writePending: boolean
}

const DEFAULT_SUBNET_ID_BASE = 1_000_000
/** Least time between two comparisons of Kea's configuration with the record, in usage calls. */
const HEAL_EVERY_MS = 2_000
/** Kea's subnet ids are 32-bit; 0 means "none". */
const MAX_SUBNET_ID = 0xffffffff

/**
 * The Kea backend.
 *
 * @example
 * ```ts
 * const b = new KeaBackend({ dhcp4: { socket: '/run/kea/kea4.sock' }, relay4: ['192.0.2.1'] })
 * await b.start()
 * await b.install({ grant: 'gr_1', prefix: '100.64.8.0/27', state: 'active' })
 * // Kea now has subnet 100.64.8.0/27 (id 1000000) with pool 100.64.8.1-100.64.8.30
 * ```
 */
export class KeaBackend implements Backend {
  /** @inheritdoc */
  readonly name = 'kea'
  readonly #options: KeaBackendOptions
  readonly #servers = new Map<'ipv4' | 'ipv6', Server>()
  #entries = new Map<string, Entry>()
  /** The next subnet id to give: ids only go up, so a removed grant's id (whose expired leases
   * may linger in Kea) never names another subnet. */
  #nextSubnetId: number
  readonly #stats = {
    reapplied: 0,
    configSets: 0,
    leases: 0,
    replayed: 0,
    unarchivable: 0,
    lastError: undefined as string | undefined,
  }
  /** When Kea's configuration was last compared with the record (usage may be read often). */
  #healedAt = Number.NEGATIVE_INFINITY

  constructor(options: KeaBackendOptions) {
    if (options.dhcp4 === undefined && options.dhcp6 === undefined)
      throw new CasmError(
        'CASM_ERR_VALIDATION',
        'the kea backend needs a server: give --kea-socket4 (DHCPv4) and/or --kea-socket6 (DHCPv6), or --kea-http with --kea-service',
        { option: '--kea-socket4' },
      )
    this.#options = options
    this.#nextSubnetId = options.subnetIdBase ?? DEFAULT_SUBNET_ID_BASE
    const common = {
      sharedNetwork: options.sharedNetwork ?? 'casm',
      owner: options.owner ?? 'casm',
      delegatedLength: options.delegatedLength ?? 56,
      gateway: options.gateway === true,
    }
    const add = (
      family: 'ipv4' | 'ipv6',
      endpoint: KeaEndpoint | undefined,
      service: KeaService,
      mode: KeaMode,
    ): void => {
      if (endpoint === undefined) return
      const v4 = family === 'ipv4'
      this.#servers.set(family, {
        control: new KeaControl({
          endpoint,
          service,
          ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
        }),
        layout: {
          ...common,
          mode,
          relay: v4 ? options.relay4 : options.relay6,
          interface: v4 ? options.interface4 : options.interface6,
        },
        replayPending: true,
        writePending: false,
      })
    }
    add('ipv4', options.dhcp4, 'dhcp4', 'v4')
    add('ipv6', options.dhcp6, 'dhcp6', options.v6Mode ?? 'pd')
  }

  /** @inheritdoc */
  async start(): Promise<void> {
    const recorded = await this.#load()
    for (const [family, server] of this.#servers) {
      const config = await this.#config(server)
      if (!recorded)
        // No record (first start, or it was lost): Kea's tagged subnets are what is held.
        for (const [prefix, { id, tag }] of ownedSubnets(config, server.layout)) {
          this.#entries.set(prefix, {
            prefix,
            ...(tag.grant === undefined ? {} : { grant: tag.grant }),
            state: tag.state,
            drainMode: tag.drain,
            subnetId: id,
          })
          this.#nextSubnetId = Math.max(this.#nextSubnetId, id + 1)
        }
      await this.#apply(family, server, config)
      await this.#observe(server)
    }
    await this.#save()
  }

  /** @inheritdoc */
  async install(grant: BackendGrant): Promise<void> {
    const prefix = this.#canonical(grant.prefix)
    const held = this.#entries.get(prefix)
    if (held !== undefined) {
      if (held.grant === undefined && grant.grant !== undefined)
        await this.#change(prefix, { ...held, grant: grant.grant })
      return
    }
    await this.#change(prefix, {
      prefix,
      ...(grant.grant === undefined ? {} : { grant: grant.grant }),
      state: grant.state,
      drainMode: grant.drainMode ?? 'natural',
      subnetId: 0,
    })
  }

  /** @inheritdoc */
  async drain(grant: BackendGrant): Promise<void> {
    const prefix = this.#canonical(grant.prefix)
    const held = this.#entries.get(prefix)
    const mode = grant.drainMode ?? held?.drainMode ?? 'natural'
    if (held === undefined || (held.state === 'draining' && held.drainMode === mode)) return
    await this.#change(prefix, { ...held, state: 'draining', drainMode: mode })
  }

  /** @inheritdoc */
  async undrain(grant: BackendGrant): Promise<void> {
    const prefix = this.#canonical(grant.prefix)
    const held = this.#entries.get(prefix)
    if (held === undefined || held.state === 'active') return
    await this.#change(prefix, { ...held, state: 'active' })
  }

  /** @inheritdoc */
  async remove(grant: BackendGrant): Promise<void> {
    const prefix = this.#canonical(grant.prefix)
    if (!this.#entries.has(prefix)) return
    await this.#change(prefix, undefined)
  }

  /**
   * Usage from Kea's live leases in each held prefix. First (at most every 2 s) puts back into
   * Kea whatever its configuration lacks (a restarted server).
   */
  async usage(): Promise<readonly BackendUsage[]> {
    const out: BackendUsage[] = []
    const now = this.#nowSeconds()
    let leases = 0
    const heal = (this.#options.now?.() ?? Date.now()) - this.#healedAt >= HEAL_EVERY_MS
    if (heal) this.#healedAt = this.#options.now?.() ?? Date.now()
    for (const [family, server] of this.#servers) {
      // A failed repair is reported in describe() and tried again; it never stops the reading.
      if (heal)
        await this.#heal(family, server).catch((e: unknown) => {
          this.#stats.lastError = (e as Error).message
        })
      const { mode, delegatedLength } = server.layout
      const assigned = await assignedBySubnet(server.control, mode)
      for (const [e, p] of this.#entriesOf(family)) {
        const units = usageUnits(e.prefix)
        const counted = assigned.get(e.subnetId)
        let used: number
        if (e.state === 'active' && counted !== undefined) {
          // Active: Kea's statistics (one command for every grant).
          leases += counted
          used = unitsOfCount(counted, mode, p, units, delegatedLength, poolSize(p, server.layout))
        } else {
          // Draining: the leases themselves, live ones only — empty must mean empty.
          const live = (await leasesIn(server.control, mode, p)).filter((l) => isLive(l, now))
          leases += live.length
          used = usedUnits(live, mode, p, units, poolSize(p, server.layout))
        }
        out.push({ ...(e.grant === undefined ? {} : { grant: e.grant }), prefix: e.prefix, used })
      }
    }
    this.#stats.leases = leases
    return out
  }

  /** @inheritdoc */
  holds(): Promise<readonly HeldGrant[]> {
    return Promise.resolve(
      [...this.#entries.values()].map((e) => ({
        ...(e.grant === undefined ? {} : { grant: e.grant }),
        prefix: e.prefix,
        state: e.state,
      })),
    )
  }

  /** Live leases of every held grant that has a grant id, for the coordinator's lease archive. */
  async leases(): Promise<readonly StoredLease[]> {
    const out: StoredLease[] = []
    const now = this.#nowSeconds()
    for (const [family, server] of this.#servers)
      for (const [e, p] of this.#entriesOf(family)) {
        if (e.grant === undefined) continue
        for (const l of await leasesIn(server.control, server.layout.mode, p)) {
          if (!isLive(l, now)) continue
          const stored = toStoredLease(l, server.layout.mode, e.grant)
          // lease4-add needs the hardware address, lease6-add the DUID: without them a lease
          // cannot be replayed, so it is not archived (and cannot make the upload refused).
          if (stored.kind === 'v4' ? stored.hwAddress === undefined : stored.duid === undefined) {
            this.#stats.unarchivable++
            continue
          }
          out.push(stored)
        }
      }
    return out
  }

  /**
   * True when a server (re)started — at the agent's start, or seen since with a new pid or less
   * uptime — and has not been given the archived leases yet. Stays true until {@link replay}
   * has run, so a replay that could not happen (the coordinator away) is tried again, and the
   * agent uploads nothing meanwhile (an upload would replace the archive with what a rebuilt
   * server has: nothing).
   */
  async needsReplay(): Promise<boolean> {
    let wanted = false
    for (const [family, server] of this.#servers) {
      await this.#observe(server)
      if (server.replayPending && this.#entriesOf(family).length > 0) wanted = true
    }
    return wanted
  }

  /**
   * Puts archived leases back into Kea (`lease4-add` / `lease6-add`): those of held grants that
   * have not ended; a lease Kea already has is left as Kea has it.
   */
  async replay(leases: readonly StoredLease[]): Promise<LeaseReplayResult> {
    const result = { added: 0, present: 0, skipped: 0, failed: 0, errors: [] as string[] }
    // A restarted server may not have had its subnets put back yet (that happens at most every
    // 2 s, with the usage): a lease can only go into a subnet Kea has, so put them back first.
    for (const [family, server] of this.#servers) await this.#heal(family, server)
    const held = new Map([...this.#entries.values()].map((e) => [e.grant, e]))
    const now = this.#nowSeconds()
    for (const lease of leases) {
      const family = lease.kind === 'v4' ? 'ipv4' : 'ipv6'
      const server = this.#servers.get(family)
      const entry = held.get(lease.grant)
      if (server === undefined || entry === undefined || lease.cltt + lease.validLifetime <= now) {
        result.skipped++
        continue
      }
      // The grant's subnet as it is now (Kea needs it for delegated prefixes).
      const answer = await server.control.send(lease.kind === 'v4' ? 'lease4-add' : 'lease6-add', {
        ...leaseAddArguments(lease),
        'subnet-id': entry.subnetId,
      })
      if (answer.result === 0) result.added++
      else if (/already exists/i.test(answer.text ?? '')) result.present++
      else {
        result.failed++
        if (result.errors.length < 5)
          result.errors.push(`${lease.address}: ${answer.text ?? answer.result}`)
      }
    }
    this.#stats.replayed += result.added
    for (const server of this.#servers.values()) server.replayPending = false
    return result
  }

  /** @inheritdoc */
  describe(): Record<string, unknown> {
    return {
      leases: this.#stats.leases,
      keaConfigSets: this.#stats.configSets,
      keaReapplied: this.#stats.reapplied,
      ...(this.#stats.unarchivable === 0 ? {} : { leasesNotArchivable: this.#stats.unarchivable }),
      ...(this.#stats.lastError === undefined ? {} : { keaLastError: this.#stats.lastError }),
    }
  }

  /** @inheritdoc */
  async stop(): Promise<void> {
    await this.#save()
  }

  /** The canonical text of a prefix, checked against the servers configured. */
  #canonical(text: string): string {
    const p = Prefix.parse(text)
    if (!this.#servers.has(p.family === 'ipv6' ? 'ipv6' : 'ipv4'))
      throw new CasmError(
        'CASM_ERR_BACKEND',
        `${p.toString()} is ${p.family === 'ipv6' ? 'IPv6' : 'IPv4'} but this agent feeds no ${p.family === 'ipv6' ? 'DHCPv6 (--kea-socket6)' : 'DHCPv4 (--kea-socket4)'} server`,
        { prefix: p.toString() },
      )
    return p.toString()
  }

  /** Sets (or with `undefined` drops) one entry and writes its server's configuration; undone on failure. */
  async #change(prefix: string, entry: Entry | undefined): Promise<void> {
    const before = new Map(this.#entries)
    if (entry === undefined) this.#entries.delete(prefix)
    else this.#entries.set(prefix, entry)
    const family = Prefix.parse(prefix).family === 'ipv6' ? 'ipv6' : 'ipv4'
    const server = this.#servers.get(family)
    if (server === undefined)
      throw new CasmError('CASM_ERR_BACKEND', `no Kea server for ${prefix}`, { prefix })
    try {
      await this.#apply(family, server, await this.#config(server))
    } catch (error) {
      this.#entries = before
      throw error
    }
    await this.#save()
  }

  /** The held entries of one family, each with its parsed prefix. */
  #entriesOf(family: 'ipv4' | 'ipv6'): [Entry, Prefix][] {
    const out: [Entry, Prefix][] = []
    for (const e of this.#entries.values()) {
      const p = Prefix.parse(e.prefix)
      if (p.family === family) out.push([e, p])
    }
    return out
  }

  /** Re-applies the record to a server whose configuration lacks it; notes a restart. */
  async #heal(family: 'ipv4' | 'ipv6', server: Server): Promise<void> {
    await this.#observe(server)
    if (await this.#apply(family, server, await this.#config(server))) this.#stats.reapplied++
    else if (server.writePending) await this.#write(server)
  }

  /** Notes a restart: a new pid, or uptime that went down (a container may reuse the pid). */
  async #observe(server: Server): Promise<void> {
    const status = await server.control.call<{ pid?: number; uptime?: number } | undefined>(
      'status-get',
    )
    const restarted =
      server.pid !== undefined &&
      (status?.pid !== server.pid || (status.uptime ?? 0) < (server.uptime ?? 0))
    if (restarted) server.replayPending = true
    server.pid = status?.pid
    server.uptime = status?.uptime
  }

  /** `config-write`: a failure is kept for describe() and tried again, never thrown. */
  async #write(server: Server): Promise<void> {
    try {
      await server.control.call('config-write')
      server.writePending = false
    } catch (e) {
      server.writePending = true
      this.#stats.lastError = `config-write failed (Kea runs the change, its file lacks it): ${(e as Error).message}`
    }
  }

  async #config(server: Server): Promise<Json> {
    const config = await server.control.call<Json>('config-get')
    const copy = { ...config }
    delete copy['hash']
    return copy
  }

  /**
   * Makes the server's configuration hold exactly this family's entries; gives new entries a
   * subnet id first. Returns whether Kea's configuration changed.
   */
  async #apply(family: 'ipv4' | 'ipv6', server: Server, config: Json): Promise<boolean> {
    const mine = this.#entriesOf(family).map(([e]) => e)
    const taken = usedSubnetIds(config, server.layout.mode)
    const grants: KeaGrant[] = mine.map((e) => {
      if (e.subnetId !== 0) return e
      while (taken.has(this.#nextSubnetId)) this.#nextSubnetId++
      if (this.#nextSubnetId > MAX_SUBNET_ID)
        throw new CasmError(
          'CASM_ERR_BACKEND',
          'no Kea subnet id left above --kea-subnet-id-base',
          {},
        )
      const withId = { ...e, subnetId: this.#nextSubnetId++ }
      this.#entries.set(e.prefix, withId)
      return withId
    })
    const placed = placeGrants(config, grants, server.layout)
    if (!placed.changed) return false
    await server.control.call('config-test', placed.config)
    await server.control.call('config-set', placed.config)
    this.#stats.configSets++
    // The file Kea was started with: a restart then comes back with the same subnets.
    await this.#write(server)
    return true
  }

  #nowSeconds(): number {
    return Math.floor((this.#options.now?.() ?? Date.now()) / 1000)
  }

  /** Reads the record; false when there is none. */
  async #load(): Promise<boolean> {
    const file = this.#options.stateFile
    if (file === undefined) return false
    let text: string
    try {
      text = await readFile(file, 'utf8')
    } catch {
      return false
    }
    let record: StateRecord
    try {
      const parsed = JSON.parse(text) as { grants?: unknown }
      if (!Array.isArray(parsed.grants)) throw new Error('no grants list')
      record = parsed as StateRecord
    } catch {
      // Unreadable: kept aside for a person to look at; Kea's tagged subnets are the record.
      await rename(file, `${file}.unreadable-${Date.now()}`).catch(() => undefined)
      return false
    }
    this.#entries = new Map(record.grants.map((e): [string, Entry] => [e.prefix, e]))
    this.#nextSubnetId = Math.max(this.#nextSubnetId, record.nextSubnetId)
    return true
  }

  async #save(): Promise<void> {
    const file = this.#options.stateFile
    if (file === undefined) return
    const record: StateRecord = {
      nextSubnetId: this.#nextSubnetId,
      grants: [...this.#entries.values()],
    }
    await writeFileAtomic(file, JSON.stringify(record, null, 1))
  }
}
