/**
 * The seam between the agent and the thing that actually hands out addresses: a simulated
 * subscriber population, a user script driving a real device, or several user planes behind one
 * control plane. Every implementation passes the conformance suite in `backend.case.ts`.
 *
 * Backends name what they hold by prefix (canonical text, `100.64.8.0/27`): a device may hold a
 * prefix before the coordinator knows it as a grant, so the grant id is optional.
 *
 * @module
 */

import type { StoredLease } from '../../domain/device-lease.js'
import { type Family, Prefix } from '../../ip/index.js'

/**
 * How many usage units a prefix holds: addresses for IPv4 and MAC, /64s for IPv6 (what a
 * delegated prefix or a LAN uses; docs/protocol.md, "The policy loop"). `used` counts the same
 * units. Capped at `cap`.
 *
 * @example
 * ```ts
 * usageUnits('100.64.8.0/27') // 32
 * usageUnits('2001:db8:1::/56') // 256
 * ```
 */
export function usageUnits(prefix: string, cap = 2 ** 32): number {
  const p = Prefix.parse(prefix)
  const size = p.family === 'ipv6' ? 1n << BigInt(Math.max(0, 64 - p.length)) : p.size
  return size < BigInt(cap) ? Number(size) : cap
}

/** How a draining prefix lets its users go (the pool's drain policy, from the `drain` message). */
export type DrainMode = 'natural' | 'fast'

/** Whether a held prefix takes new subscribers (`active`) or only lets them leave (`draining`). */
export type BackendGrantState = 'active' | 'draining'

/** A prefix as the agent hands it to a backend. */
export interface BackendGrant {
  /** The coordinator's grant id; absent for a prefix the device holds without one. */
  readonly grant?: string
  /** Canonical prefix text. */
  readonly prefix: string
  /** Present for grants the coordinator gave. */
  readonly pool?: string
  readonly family?: Family
  /** The state to install it in (install) or that the agent believes it has (other calls). */
  readonly state: BackendGrantState
  /** When the grant ends unless renewed (ISO 8601), or null. */
  readonly expiresAt?: string | null
  /**
   * For `drain` (and `install` in state draining): `natural` lets addresses in use run out;
   * `fast` refuses their renewals so that users move to other space at once.
   */
  readonly drainMode?: DrainMode
}

/** What a backend holds. */
export interface HeldGrant {
  readonly grant?: string
  readonly prefix: string
  readonly state: BackendGrantState
  /** The user plane that carries it (multi-plane backends). */
  readonly plane?: string
}

/**
 * Usage of one held prefix over the window since the previous {@link Backend.usage} call, in
 * {@link usageUnits}.
 */
export interface BackendUsage {
  readonly grant?: string
  readonly prefix: string
  /** Addresses (or delegated prefixes) in use now. */
  readonly used: number
  /** Most in use at once during the window (defaults to `used`). */
  readonly peak?: number
  /** Time-weighted average in use during the window (defaults to `used`). */
  readonly average?: number
  /** For NAT kinds: ports of the prefix's addresses. */
  readonly ports?: {
    readonly total: number
    readonly used: number
    readonly peak?: number
    readonly average?: number
  }
  /** The user plane that carries it (multi-plane backends). */
  readonly plane?: string
}

/** What a lease replay did (see {@link Backend.replay}). */
export interface LeaseReplayResult {
  /** Leases put back. */
  readonly added: number
  /** Leases the server had already. */
  readonly present: number
  /** Leases not replayed: their grant is not held, or they have ended. */
  readonly skipped: number
  /** Leases the server refused, with the first few reasons. */
  readonly failed: number
  readonly errors: readonly string[]
}

/**
 * One way of serving addresses from the grants the coordinator gives.
 *
 * Contract, checked by `backend.case.ts` on every implementation:
 * - Calls come one at a time (the agent never overlaps them).
 * - `install`, `drain`, `undrain` and `remove` are idempotent: repeating a call, or calling it
 *   for a prefix in the state asked already, succeeds and changes nothing. `drain`, `undrain`
 *   and `remove` of a prefix the backend does not hold succeed and do nothing.
 * - A failure throws (a `CasmError` with code `CASM_ERR_BACKEND` and the reason); the agent logs
 *   it and tries again later, so a failed call must leave the backend as before or as after.
 *
 * @example
 * ```ts
 * const b: Backend = new SimBackend({ seed: 1, curve: { kind: 'constant', level: 50 } })
 * await b.start()
 * await b.install({ grant: 'gr_1', prefix: '100.64.8.0/27', state: 'active' })
 * await b.usage() // [{ grant: 'gr_1', prefix: '100.64.8.0/27', used: 27, peak: 30, average: 25.2 }]
 * ```
 */
export interface Backend {
  /** Short name for logs and the hello message (`sim`, `exec`). */
  readonly name: string
  /** The user planes it speaks for (multi-plane backends), for the hello message. */
  readonly planes?: readonly string[]
  /** Opens the backend and loads what it held before (a device keeps its pools across restarts). */
  start(): Promise<void>
  /**
   * Starts serving `grant.prefix` in `grant.state`. Installing a prefix already held changes
   * nothing, except that a held prefix without a grant id takes `grant.grant`.
   */
  install(grant: BackendGrant): Promise<void>
  /** Stops handing out new addresses from the prefix; addresses in use stay until they end. */
  drain(grant: BackendGrant): Promise<void>
  /** A draining prefix serves again. */
  undrain(grant: BackendGrant): Promise<void>
  /**
   * Takes the prefix out of service at once. The agent calls it only for released grants (the
   * coordinator confirmed them empty) and for foreign prefixes it saw empty, but an address still
   * in use is cut rather than kept.
   */
  remove(grant: BackendGrant): Promise<void>
  /**
   * Usage of every held prefix: in use now, and the peak and average over the window since the
   * previous call (each call starts a new window).
   */
  usage(): Promise<readonly BackendUsage[]>
  /** Everything it holds, in any state. */
  holds(): Promise<readonly HeldGrant[]>
  /**
   * Lease replay (RF-4.3.3.4), for backends in front of a DHCP server: the live leases of every
   * held grant with a grant id, which the agent stores at the coordinator.
   */
  leases?(): Promise<readonly StoredLease[]>
  /** True when the server behind has lost its leases (a new or rebuilt server): the agent replays. */
  needsReplay?(): Promise<boolean>
  /** Gives the server the stored leases back; leases it has already stay as they are. */
  replay?(leases: readonly StoredLease[]): Promise<LeaseReplayResult>
  /** Extra facts for the agent's report log line (subscribers, rejections...), if any. */
  describe?(): Record<string, unknown>
  /** Saves what must survive a restart and releases resources. */
  stop(): Promise<void>
}
