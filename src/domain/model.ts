/**
 * The entities of casm (design.md, "Vocabulary"). Addresses are canonical text here (prefixes
 * like `100.64.0.0/10`, ranges like `198.18.0.5-198.18.3.250`); times are epoch milliseconds.
 *
 * Ownership: every object belongs to one tenant. Domains scope addresses: inside a domain no two
 * blocks, pools or live units overlap; two domains may hold the same private space (PS2-R5).
 *
 * @module
 */

import type { UnitKind } from '../alloc/prefix-allocator.js'
import type { Family } from '../ip/index.js'
import type { GrantState } from './grant-lifecycle.js'
import type { DevicePolicyOverrides, PoolKind, PoolPolicy } from './pool-policy.js'
import type { RequestorAttributes, Selectors } from './requestor.js'

/** Token roles, weakest first. `device` tokens act for one device only. */
export type Role = 'viewer' | 'operator' | 'admin' | 'device'

/** Every role. */
export const ROLES: readonly Role[] = ['viewer', 'operator', 'admin', 'device']

/** An isolated customer or organisation: sees only its own objects. */
export interface Tenant {
  readonly id: string
  readonly name: string
  readonly createdAt: number
}

/** A bearer token (stored hashed). `tenantId` null: a root token acting across tenants. */
export interface Token {
  readonly id: string
  readonly tenantId: string | null
  readonly name: string
  readonly role: Role
  readonly deviceId: string | null
  readonly createdAt: number
  readonly revokedAt: number | null
}

/** A routing/addressing scope (VRF, tenant network). */
export interface Domain {
  readonly id: string
  readonly tenantId: string
  readonly name: string
  readonly description: string
  readonly createdAt: number
  readonly updatedAt: number
}

/** Where a block comes from. */
export interface BlockSource {
  /** Regional Internet Registry (RIPE, ARIN, APNIC, LACNIC, AFRINIC) or `private`. */
  readonly rir?: string
  /** Origin AS the block is announced from. */
  readonly originAs?: number
  readonly notes?: string
}

/** An aggregate the operator owns (the drafts' overall address pool entry). */
export interface Block {
  readonly id: string
  readonly tenantId: string
  readonly domainId: string
  readonly family: Family
  /** The block as a prefix, or as a range when it is not one prefix. */
  readonly space: string
  /** A reserved block feeds no pool. */
  readonly reserved: boolean
  readonly source: BlockSource
  readonly description: string
  readonly tags: readonly string[]
  readonly createdAt: number
  readonly updatedAt: number
}

/** A named slice of one or more blocks with a policy. */
export interface Pool {
  readonly id: string
  readonly tenantId: string
  readonly domainId: string
  readonly name: string
  readonly kind: PoolKind
  readonly family: Family
  /** The pool's space: prefixes or ranges inside the domain's blocks. */
  readonly space: readonly string[]
  readonly policy: PoolPolicy
  /** Higher is tried first when requests pick a pool by metadata (RF-4.3.2.6). */
  readonly priority: number
  readonly selectors: Selectors
  readonly tags: readonly string[]
  readonly description: string
  readonly createdAt: number
  readonly updatedAt: number
}

/** An address consumer (BNG, CGN, DHCP server, ...) with its requestor attributes. */
export interface Device {
  readonly id: string
  readonly tenantId: string
  readonly name: string
  readonly attributes: RequestorAttributes
  /** Overrides of its pools' device-loop policy. */
  readonly policy: DevicePolicyOverrides
  readonly description: string
  readonly createdAt: number
  readonly updatedAt: number
}

/** What a used unit of a pool is, as stored. */
export type AllocationType = 'grant' | 'assignment' | 'reservation' | 'exclusion'

/** The allocator kind each allocation type occupies. */
export const UNIT_KIND_OF: Readonly<Record<AllocationType, UnitKind>> = {
  grant: 'allocated',
  assignment: 'allocated',
  reservation: 'reserved',
  exclusion: 'excluded',
}

/** A prefix of a pool held by a device, with a lifetime and a state. */
export interface Grant {
  readonly id: string
  readonly tenantId: string
  readonly domainId: string
  readonly poolId: string
  readonly deviceId: string
  readonly prefix: string
  readonly state: GrantState
  readonly createdAt: number
  readonly updatedAt: number
  /** When the grant expires unless renewed; null: never. */
  readonly expiresAt: number | null
  readonly releasedAt: number | null
  /** While quarantined: when the space returns to the pool. */
  readonly quarantineUntil: number | null
}

/** A single address or block handed to a host or an OSS request through the northbound API. */
export interface Assignment {
  readonly id: string
  readonly tenantId: string
  readonly domainId: string
  readonly poolId: string
  readonly prefix: string
  readonly state: GrantState
  readonly requestor: RequestorAttributes
  readonly hostname: string
  readonly description: string
  readonly createdAt: number
  readonly updatedAt: number
  readonly releasedAt: number | null
  readonly quarantineUntil: number | null
}

/** What a reservation covers: a prefix, a range, or a repeating pattern. */
export type ReservationTarget =
  | { readonly prefix: string }
  | { readonly range: string }
  | {
      readonly pattern: {
        readonly every: number
        readonly offsets: readonly number[]
        readonly length?: number
        readonly within?: string
      }
    }

/** Space of a pool kept back (`reserved`) or taken out (`excluded`). */
export interface Reservation {
  readonly id: string
  readonly tenantId: string
  readonly poolId: string
  readonly kind: 'reserved' | 'excluded'
  readonly target: ReservationTarget
  /** The aligned prefixes it holds. */
  readonly prefixes: readonly string[]
  readonly description: string
  readonly createdAt: number
}

/** One append-only record of a change. */
export interface CasmEvent {
  /** Position in the hash chain, from 1, without gaps. */
  readonly seq: number
  readonly id: string
  readonly tenantId: string | null
  readonly at: number
  /** Who: `token:<id>`, `system`, `device:<id>`. */
  readonly actor: string
  /** What, as `object.verb`: `pool.create`, `grant.release`, ... */
  readonly action: string
  readonly objectType: string
  readonly objectId: string | null
  readonly before: unknown
  readonly after: unknown
  /** Why, for decisions casm takes itself. */
  readonly reason: string | null
  readonly requestId: string | null
  readonly prevHash: string
  readonly hash: string
}
