/**
 * The persistence seam the coordinator declares. `src/store` implements it for SQLite and
 * PostgreSQL with the same migrations; `src/store/store.case.ts` is the conformance suite both
 * pass.
 *
 * Writes happen only inside {@link Store.write}: one transaction that is serialised against every
 * other writer, in this process and in any other process sharing the database (SQLite: one
 * `BEGIN IMMEDIATE` writer; PostgreSQL: a transaction-scoped advisory lock). Reads see committed
 * data only.
 *
 * @module
 */

import type { Family } from '../ip/index.js'
import type { GrantState } from '../domain/grant-lifecycle.js'
import type {
  AllocationType,
  Block,
  CasmEvent,
  Device,
  Domain,
  Pool,
  Reservation,
  Tenant,
  Token,
} from '../domain/model.js'
import type { RequestorAttributes } from '../domain/requestor.js'
import type { LeaseInput, LeaseKind } from '../domain/device-lease.js'

/** One used unit of a pool as stored: a grant, an assignment, or a piece of a reservation. */
export interface AllocationRow {
  readonly id: string
  readonly tenantId: string
  readonly domainId: string
  readonly poolId: string
  readonly type: AllocationType
  readonly family: Family
  readonly prefix: string
  readonly first: bigint
  readonly last: bigint
  readonly length: number
  readonly state: GrantState
  readonly deviceId: string | null
  readonly reservationId: string | null
  readonly requestor: RequestorAttributes | null
  readonly hostname: string
  readonly description: string
  readonly createdAt: number
  readonly updatedAt: number
  readonly expiresAt: number | null
  readonly releasedAt: number | null
  readonly quarantineUntil: number | null
  /** The pool version at which this row last changed what the allocator holds. */
  readonly changedVersion: number
}

/** A live unit reduced to what the address map draws: where it is, what it is, who holds it. */
export interface UnitSpan {
  readonly first: bigint
  readonly last: bigint
  readonly type: AllocationType
  readonly state: GrantState
  readonly deviceId: string | null
}

/** The part of a unit its pool's allocator needs. */
export interface UnitKey {
  readonly first: bigint
  readonly length: number
  readonly type: AllocationType
}

/** A stored token with its hash. */
export interface TokenRow extends Token {
  readonly hash: string
}

/** Versions of a pool: `version` moves on every change of its units, `spaceVersion` on resize. */
export interface PoolVersion {
  readonly version: number
  readonly spaceVersion: number
}

/** A range of one pool's space as stored, for overlap checks. */
export interface PoolRangeRow {
  readonly poolId: string
  readonly first: bigint
  readonly last: bigint
}

/** Filters of {@link StoreReader.listAllocations}. */
export interface AllocationFilter {
  readonly type?: AllocationType
  readonly poolId?: string
  readonly deviceId?: string
  readonly state?: GrantState
  /** Only units whose space is held. */
  readonly live?: boolean
}

/** Filters of {@link StoreReader.listEvents}; `tenantId` undefined lists every tenant's. */
export interface EventFilter {
  readonly tenantId?: string | null
  readonly objectId?: string
  readonly objectType?: string
  readonly action?: string
  readonly actor?: string
  readonly since?: number
  readonly until?: number
}

/** A page request: items after `after` (an opaque cursor value), at most `limit`. */
export interface Page {
  readonly after?: string
  readonly limit: number
}

/** A stored idempotent answer. */
export interface IdempotencyRow {
  readonly tenantId: string
  readonly key: string
  readonly requestHash: string
  readonly status: number
  readonly body: string
  readonly createdAt: number
}

/** The event chain's head moved under a writer that expected another (a second coordinator). */
export class ChainMovedError extends Error {
  constructor(expected: number) {
    super(`the event chain moved past seq ${expected} under this writer; the batch is retried`)
    this.name = 'ChainMovedError'
  }
}

/** The head of the event chain. */
export interface ChainHead {
  readonly seq: number
  readonly hash: string
}

/** What the device loop knows of one grant: its pin, why it drains, its last usage report. */
export interface GrantStatusRow {
  readonly grantId: string
  readonly deviceId: string
  /** A pinned grant is never reclaimed by the policy (operators may still drain it). */
  readonly pinned: boolean
  /** Why the grant drains (`policy`, `lifetime`, `operator`, `move`), or null. */
  readonly drainCause: string | null
  /** The device a move hands the grant's space to, once drained. */
  readonly movingTo: string | null
  readonly used: number | null
  readonly peak: number | null
  readonly average: number | null
  readonly ports: {
    readonly total: number
    readonly used: number
    readonly peak: number
    readonly average: number
  } | null
  /** The user plane that carries it (CUPS). */
  readonly plane: string | null
  readonly reportedAt: number | null
  /** When the device confirmed it removed the grant after its release. */
  readonly confirmedAt: number | null
  /** The state the device said it serves the grant in, in its last report (null: not said). */
  readonly servedState: 'active' | 'draining' | null
  /** The stream event id of the drain message, while it drains. */
  readonly drainSeq: number | null
}

/** One point of a device's usage history (per family). */
export interface UsagePoint {
  readonly at: number
  readonly used: number
  readonly capacity: number
}

/** The device loop's state of one device. */
export interface DeviceLoopRow {
  readonly deviceId: string
  readonly tenantId: string
  /** What the agent said in its last hello. */
  readonly agent: {
    readonly version: string
    readonly backend: string
    readonly planes?: readonly string[]
  } | null
  readonly helloAt: number | null
  readonly reportAt: number | null
  /** When the device counts as silent unless it reports before. */
  readonly staleAt: number | null
  /** Since when utilisation is under the low watermark, per family. */
  readonly lowSince: Partial<Record<Family, number | null>>
  /** Recent usage per family, oldest first, for the forecast. */
  readonly history: Partial<Record<Family, readonly UsagePoint[]>>
  /** The id of the last message put on the device's stream. */
  readonly streamSeq: number
  /** The device processed the stream up to here. */
  readonly ackedSeq: number
  /** A silent-device alert is raised. */
  readonly silent: boolean
  /** Growth attempts that failed in a row (pool exhausted). */
  readonly failures: number
}

/** A message on a device's stream. */
export interface DeviceMessageRow {
  readonly deviceId: string
  readonly seq: number
  readonly type: string
  /** The message as JSON text. */
  readonly body: string
  readonly createdAt: number
}

/** An alert: raised once per kind and object, cleared when the condition ends. */
export interface AlertRow {
  /** `kind:objectId`: one alert per condition. */
  readonly id: string
  readonly tenantId: string
  /** `pool-exhausted`, `device-silent`, `grant-failures`. */
  readonly kind: string
  readonly objectType: string
  readonly objectId: string
  readonly message: string
  readonly raisedAt: number
  readonly clearedAt: number | null
}

/** A lease a device's agent stored for one of its grants (lease replay). */
export interface DeviceLeaseRow {
  readonly tenantId: string
  readonly deviceId: string
  readonly grantId: string
  /** Canonical address; for prefix delegation the prefix (`2001:db8:1:100::/56`). */
  readonly address: string
  readonly kind: LeaseKind
  /** The lease as checked, without its grant (the row names it). */
  readonly lease: LeaseInput
  /** When the lease ends, epoch ms. */
  readonly expiresAt: number
  readonly storedAt: number
}

/** Filters of {@link StoreReader.deviceLeases}. */
export interface DeviceLeaseFilter {
  /** Only leases of these grants. */
  readonly grantIds?: readonly string[]
  /** Only leases that have not ended at this time (epoch ms). */
  readonly liveAt?: number
  /** Only leases after this one, in (grant, address) order: the cursor of the previous page. */
  readonly after?: { readonly grantId: string; readonly address: string }
  /** At most this many. */
  readonly limit: number
}

/** One sample of a pool's or a device's usage in one family (the usage history, for charts). */
export interface UsageSampleRow {
  readonly tenantId: string
  readonly objectType: 'pool' | 'device'
  readonly objectId: string
  readonly family: Family
  /** When it was taken, epoch ms. */
  readonly at: number
  /** Addresses in use (a pool: allocated and reserved; a device: what it reported). */
  readonly used: bigint
  /** Addresses there are (a pool: its space less exclusions; a device: its active grants). */
  readonly total: bigint
  /** `used / total`, 0 when there is nothing. */
  readonly utilisation: number
}

/** Reads; on a {@link WriteTx} they see the transaction's own writes. */
export interface StoreReader {
  getTenant(idOrName: string): Promise<Tenant | undefined>
  listTenants(): Promise<Tenant[]>

  getTokenByHash(hash: string): Promise<TokenRow | undefined>
  getToken(id: string): Promise<TokenRow | undefined>
  /** Tokens of a tenant, or root tokens for `null`; `undefined` lists all. */
  listTokens(tenantId: string | null | undefined): Promise<TokenRow[]>
  countTokens(): Promise<number>

  getDomain(tenantId: string, idOrName: string): Promise<Domain | undefined>
  listDomains(tenantId: string): Promise<Domain[]>

  getBlock(tenantId: string, id: string): Promise<Block | undefined>
  listBlocks(tenantId: string, domainId?: string): Promise<Block[]>
  /** Blocks of a domain and family overlapping first..last. */
  blocksOverlapping(domainId: string, family: Family, first: bigint, last: bigint): Promise<Block[]>

  getPool(tenantId: string, idOrName: string): Promise<Pool | undefined>
  listPools(tenantId: string, domainId?: string): Promise<Pool[]>
  /** Every pool of every tenant (for metrics and warming the caches). */
  listAllPools(): Promise<Pool[]>
  /** Ranges of any pool of a domain and family overlapping first..last. */
  poolRangesOverlapping(
    domainId: string,
    family: Family,
    first: bigint,
    last: bigint,
  ): Promise<PoolRangeRow[]>
  poolVersion(poolId: string): Promise<PoolVersion | undefined>

  getDevice(tenantId: string, idOrName: string): Promise<Device | undefined>
  listDevices(tenantId: string): Promise<Device[]>

  getAllocation(tenantId: string, id: string): Promise<AllocationRow | undefined>
  listAllocations(tenantId: string, filter: AllocationFilter, page: Page): Promise<AllocationRow[]>
  countAllocations(tenantId: string, filter: AllocationFilter): Promise<number>
  /** Live units held by a device, in id order (served by the device index, whatever the tenant holds). */
  deviceUnits(deviceId: string): Promise<AllocationRow[]>
  /** Every live unit of a pool. */
  liveUnits(poolId: string): Promise<AllocationRow[]>
  /** Only what rebuilding a pool's allocator needs of its live units, in address order. */
  liveUnitKeys(poolId: string): Promise<UnitKey[]>
  /** Units of a pool changed after pool version `since`, to bring a cached allocator up to date. */
  unitsChangedSince(poolId: string, since: number): Promise<AllocationRow[]>
  /** Live units of a domain and family overlapping first..last, in address order. */
  liveUnitsOverlapping(
    domainId: string,
    family: Family,
    first: bigint,
    last: bigint,
    limit: number,
  ): Promise<AllocationRow[]>
  /**
   * Live units of a domain and family overlapping first..last, in address order, as spans: the
   * same units as {@link StoreReader.liveUnitsOverlapping}, with only the columns the address map
   * needs, so a million of them read in about a second.
   */
  liveSpansOverlapping(
    domainId: string,
    family: Family,
    first: bigint,
    last: bigint,
    limit: number,
  ): Promise<UnitSpan[]>
  /** Counts of live units inside first..last of a domain, by type and prefix length. */
  liveUsageIn(
    domainId: string,
    family: Family,
    first: bigint,
    last: bigint,
  ): Promise<{ type: AllocationType; length: number; count: number }[]>
  /**
   * Live units the sweep must move on: grants and assignments whose `expiresAt`, or quarantines
   * whose `quarantineUntil`, is at or before `now`, and any unit left `released` or `expired`.
   */
  dueUnits(now: number, limit: number): Promise<AllocationRow[]>

  getReservation(tenantId: string, id: string): Promise<Reservation | undefined>
  listReservations(tenantId: string, poolId?: string): Promise<Reservation[]>

  listEvents(filter: EventFilter, page: Page): Promise<CasmEvent[]>
  /** Events with `seq` > `after` in chain order, for verification. */
  scanEvents(after: number, limit: number): Promise<CasmEvent[]>
  chainHead(): Promise<ChainHead>

  getIdempotency(tenantId: string, key: string): Promise<IdempotencyRow | undefined>

  /** The live units of a device with their loop facts (null when none are stored), in id order. */
  deviceGrants(
    deviceId: string,
  ): Promise<{ readonly unit: AllocationRow; readonly status: GrantStatusRow | null }[]>
  getGrantStatus(grantId: string): Promise<GrantStatusRow | undefined>
  getDeviceLoop(deviceId: string): Promise<DeviceLoopRow | undefined>
  /** Devices not yet flagged silent that should have reported by `now`. */
  quietDevices(now: number, limit: number): Promise<DeviceLoopRow[]>
  /** Stream messages of a device after `after`, in order. */
  deviceMessages(deviceId: string, after: number, limit: number): Promise<DeviceMessageRow[]>
  /** Alerts of a tenant (`undefined`: all), newest first; `open` only those not cleared. */
  listAlerts(tenantId: string | undefined, open: boolean, limit: number): Promise<AlertRow[]>
  getAlert(id: string): Promise<AlertRow | undefined>

  /**
   * Stored leases of a device's live grants (active or draining, still held by the device), in
   * (grant, address) order: leases of a grant that left the device are never returned.
   */
  deviceLeases(deviceId: string, filter: DeviceLeaseFilter): Promise<DeviceLeaseRow[]>

  /** The loop state of every device of every tenant that has one (for usage sampling). */
  listDeviceLoops(): Promise<DeviceLoopRow[]>
  /**
   * Usage samples of a pool or device taken at or after `since` (of one family, or all), oldest
   * first (then by family), at most `limit`.
   */
  usageHistory(
    objectId: string,
    family: Family | undefined,
    since: number,
    limit: number,
  ): Promise<UsageSampleRow[]>
}

/** Writes, available inside {@link Store.write}. */
export interface WriteTx extends StoreReader {
  /** Runs `fn` in a savepoint: when it throws, its writes are undone and the error rethrown. */
  savepoint<T>(fn: () => Promise<T>): Promise<T>

  insertTenant(t: Tenant): Promise<void>
  deleteTenant(id: string): Promise<void>

  insertToken(t: TokenRow): Promise<void>
  revokeToken(id: string, at: number): Promise<void>

  insertDomain(d: Domain): Promise<void>
  updateDomain(d: Domain): Promise<void>
  deleteDomain(id: string): Promise<void>

  insertBlock(b: Block, first: bigint, last: bigint): Promise<void>
  updateBlock(b: Block, first: bigint, last: bigint): Promise<void>
  deleteBlock(id: string): Promise<void>

  /** Stores a pool and its ranges (sorted, merged). */
  insertPool(p: Pool, ranges: readonly { first: bigint; last: bigint }[]): Promise<void>
  /** Updates a pool; replaces its ranges when `ranges` is given (a resize). */
  updatePool(p: Pool, ranges?: readonly { first: bigint; last: bigint }[]): Promise<void>
  deletePool(id: string): Promise<void>
  /** Sets a pool's versions (after the coordinator changed its units or space). */
  setPoolVersion(poolId: string, v: PoolVersion): Promise<void>

  insertDevice(d: Device): Promise<void>
  updateDevice(d: Device): Promise<void>
  deleteDevice(id: string): Promise<void>

  insertAllocations(rows: readonly AllocationRow[]): Promise<void>
  /** Changes the state-related fields of a unit. */
  updateAllocation(row: AllocationRow): Promise<void>
  /** Deletes every unit of a pool (when the pool goes) or of a reservation. */
  deleteAllocations(by: { poolId: string } | { reservationId: string }): Promise<void>

  insertReservation(r: Reservation): Promise<void>
  deleteReservation(id: string): Promise<void>

  /** Appends events (already hashed, seq contiguous after the head) and moves the head. */
  appendEvents(events: readonly CasmEvent[]): Promise<void>
  /**
   * Ends a batch of the writer in as few statements as the database allows: inserts `rows`, sets
   * pool versions, appends `events` after `head` and moves the head. Rejects with
   * {@link ChainMovedError} when the stored head is not `head` (another writer appended).
   */
  finishBatch(batch: {
    readonly rows: readonly AllocationRow[]
    readonly versions: readonly { readonly poolId: string; readonly version: PoolVersion }[]
    readonly events: readonly CasmEvent[]
    readonly head: ChainHead
  }): Promise<void>

  /** Stores loop facts of grants (insert or replace). */
  putGrantStatus(rows: readonly GrantStatusRow[]): Promise<void>
  /** Stores a device's loop state (insert or replace). */
  putDeviceLoop(row: DeviceLoopRow): Promise<void>
  appendDeviceMessages(rows: readonly DeviceMessageRow[]): Promise<void>
  /** Forgets a device's stream messages up to `upTo`, or everything older than `before`. */
  pruneDeviceMessages(by: { deviceId: string; upTo: number } | { before: number }): Promise<number>
  /** Stores an alert (insert or replace). */
  putAlert(row: AlertRow): Promise<void>

  /** Replaces every stored lease of a grant by `rows` (all of that grant). */
  replaceGrantLeases(grantId: string, rows: readonly DeviceLeaseRow[]): Promise<void>
  /** Forgets the stored leases of a grant; returns how many. */
  deleteGrantLeases(grantId: string): Promise<number>

  /** Stores usage samples (a sample of the same object, family and time is replaced). */
  putUsageSamples(rows: readonly UsageSampleRow[]): Promise<void>
  /** Forgets usage samples taken before `before`; returns how many. */
  pruneUsageSamples(before: number): Promise<number>

  insertIdempotency(row: IdempotencyRow): Promise<void>
  /** Forgets idempotent answers older than `before` (only keys starting `keyPrefix`, if given). */
  pruneIdempotency(before: number, keyPrefix?: string): Promise<number>
}

/** The persistence seam. */
export interface Store {
  readonly kind: 'sqlite' | 'postgres'
  /** Where the data lives, for messages (a path, or a URL without password). */
  readonly location: string
  /**
   * Applies pending migrations at start.
   *
   * @throws CasmError `CASM_ERR_SCHEMA_TOO_NEW` when the database was written by a newer casm.
   */
  migrate(): Promise<{ from: number; to: number }>
  /** Runs `fn` in one serialised write transaction; commits when it returns, rolls back when it throws. */
  write<T>(fn: (tx: WriteTx) => Promise<T>): Promise<T>
  /** Reads committed data. */
  readonly reader: StoreReader
  close(): Promise<void>
}
