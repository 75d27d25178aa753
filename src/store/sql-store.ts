/**
 * The {@link Store} on SQL, shared by SQLite and PostgreSQL: the statements are the same text for
 * both, the {@link SqlDriver} under it differs. Addresses are 16-byte big-endian byte strings;
 * JSON fields are text.
 *
 * @module
 */

import { CasmError } from '../errors/casm-error.js'
import { type Family, familyWidth } from '../ip/index.js'
import type { GrantState } from '../domain/grant-lifecycle.js'
import type {
  AllocationType,
  Block,
  CasmEvent,
  Device,
  Domain,
  Pool,
  Reservation,
  Role,
  Tenant,
} from '../domain/model.js'
import type { LeaseKind } from '../domain/device-lease.js'
import type {
  AlertRow,
  DeviceLeaseFilter,
  DeviceLeaseRow,
  DeviceLoopRow,
  DeviceMessageRow,
  GrantStatusRow,
  AllocationFilter,
  AllocationRow,
  ChainHead,
  EventFilter,
  IdempotencyRow,
  Page,
  PoolRangeRow,
  PoolVersion,
  Store,
  StoreReader,
  TokenRow,
  UnitKey,
  UnitSpan,
  UsageSampleRow,
  WriteTx,
} from '../coordinator/store.js'
import { ChainMovedError } from '../coordinator/store.js'
import { completePolicy } from '../domain/pool-policy.js'
import { MIGRATIONS, SCHEMA_VERSION } from './migrations.js'
import {
  type SqlDriver,
  type SqlExecutor,
  type SqlRow,
  type SqlValue,
  fromBytes,
  toBytes,
} from './sql-driver.js'

const str = (v: unknown): string => (typeof v === 'string' ? v : String(v))
const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v))
const optNum = (v: unknown): number | null => (v === null || v === undefined ? null : num(v))
const optStr = (v: unknown): string | null => (v === null || v === undefined ? null : str(v))
const bool = (v: unknown): boolean => v === true || v === 1 || v === '1' || v === 't'
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the caller names the stored shape
const json = <T>(v: unknown): T => JSON.parse(str(v)) as T
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- as above
const optJson = <T>(v: unknown): T | null => (v === null || v === undefined ? null : json<T>(v))

function tenantOf(r: SqlRow): Tenant {
  return { id: str(r['id']), name: str(r['name']), createdAt: num(r['created_at']) }
}

function tokenOf(r: SqlRow): TokenRow {
  return {
    id: str(r['id']),
    tenantId: optStr(r['tenant_id']),
    name: str(r['name']),
    role: str(r['role']) as Role,
    hash: str(r['hash']),
    deviceId: optStr(r['device_id']),
    createdAt: num(r['created_at']),
    revokedAt: optNum(r['revoked_at']),
  }
}

function domainOf(r: SqlRow): Domain {
  return {
    id: str(r['id']),
    tenantId: str(r['tenant_id']),
    name: str(r['name']),
    description: str(r['description']),
    createdAt: num(r['created_at']),
    updatedAt: num(r['updated_at']),
  }
}

function blockOf(r: SqlRow): Block {
  return {
    id: str(r['id']),
    tenantId: str(r['tenant_id']),
    domainId: str(r['domain_id']),
    family: str(r['family']) as Family,
    space: str(r['space']),
    reserved: bool(r['reserved']),
    source: json(r['source']),
    description: str(r['description']),
    tags: json(r['tags']),
    createdAt: num(r['created_at']),
    updatedAt: num(r['updated_at']),
  }
}

function poolOf(r: SqlRow): Pool {
  return {
    id: str(r['id']),
    tenantId: str(r['tenant_id']),
    domainId: str(r['domain_id']),
    name: str(r['name']),
    kind: str(r['kind']) as Pool['kind'],
    family: str(r['family']) as Family,
    space: json(r['space']),
    policy: completePolicy(str(r['family']) as Family, json(r['policy'])),
    priority: num(r['priority']),
    selectors: json(r['selectors']),
    tags: json(r['tags']),
    description: str(r['description']),
    createdAt: num(r['created_at']),
    updatedAt: num(r['updated_at']),
  }
}

function deviceOf(r: SqlRow): Device {
  return {
    id: str(r['id']),
    tenantId: str(r['tenant_id']),
    name: str(r['name']),
    attributes: json(r['attributes']),
    policy: json(r['policy'] ?? '{}'),
    description: str(r['description']),
    createdAt: num(r['created_at']),
    updatedAt: num(r['updated_at']),
  }
}

function reservationOf(r: SqlRow): Reservation {
  return {
    id: str(r['id']),
    tenantId: str(r['tenant_id']),
    poolId: str(r['pool_id']),
    kind: str(r['kind']) as Reservation['kind'],
    target: json(r['target']),
    prefixes: json(r['prefixes']),
    description: str(r['description']),
    createdAt: num(r['created_at']),
  }
}

function allocationOf(r: SqlRow): AllocationRow {
  return {
    id: str(r['id']),
    tenantId: str(r['tenant_id']),
    domainId: str(r['domain_id']),
    poolId: str(r['pool_id']),
    type: str(r['type']) as AllocationType,
    family: str(r['family']) as Family,
    prefix: str(r['prefix']),
    first: fromBytes(r['first']),
    last: fromBytes(r['last']),
    length: num(r['length']),
    state: str(r['state']) as GrantState,
    deviceId: optStr(r['device_id']),
    reservationId: optStr(r['reservation_id']),
    requestor: optJson(r['requestor']),
    hostname: str(r['hostname']),
    description: str(r['description']),
    createdAt: num(r['created_at']),
    updatedAt: num(r['updated_at']),
    expiresAt: optNum(r['expires_at']),
    releasedAt: optNum(r['released_at']),
    quarantineUntil: optNum(r['quarantine_until']),
    changedVersion: num(r['changed_version']),
  }
}

function grantStatusOf(r: SqlRow): GrantStatusRow {
  return {
    grantId: str(r['grant_id']),
    deviceId: str(r['device_id']),
    pinned: bool(r['pinned']),
    drainCause: optStr(r['drain_cause']),
    movingTo: optStr(r['moving_to']),
    used: optNum(r['used']),
    peak: optNum(r['peak']),
    average: optNum(r['average']),
    ports: optJson(r['ports']),
    plane: optStr(r['plane']),
    reportedAt: optNum(r['reported_at']),
    confirmedAt: optNum(r['confirmed_at']),
    servedState: optStr(r['served_state']) as GrantStatusRow['servedState'],
    drainSeq: optNum(r['drain_seq']),
  }
}

function deviceLoopOf(r: SqlRow): DeviceLoopRow {
  return {
    deviceId: str(r['device_id']),
    tenantId: str(r['tenant_id']),
    agent: optJson(r['agent']),
    helloAt: optNum(r['hello_at']),
    reportAt: optNum(r['report_at']),
    staleAt: optNum(r['stale_at']),
    lowSince: json(r['low_since']),
    history: json(r['history']),
    streamSeq: num(r['stream_seq']),
    ackedSeq: num(r['acked_seq']),
    silent: bool(r['silent']),
    failures: num(r['failures']),
  }
}

function alertOf(r: SqlRow): AlertRow {
  return {
    id: str(r['id']),
    tenantId: str(r['tenant_id']),
    kind: str(r['kind']),
    objectType: str(r['object_type']),
    objectId: str(r['object_id']),
    message: str(r['message']),
    raisedAt: num(r['raised_at']),
    clearedAt: optNum(r['cleared_at']),
  }
}

function usageSampleOf(r: SqlRow): UsageSampleRow {
  return {
    tenantId: str(r['tenant_id']),
    objectType: str(r['object_type']) as UsageSampleRow['objectType'],
    objectId: str(r['object_id']),
    family: str(r['family']) as Family,
    at: num(r['at']),
    used: BigInt(str(r['used'])),
    total: BigInt(str(r['total'])),
    utilisation: num(r['utilisation']),
  }
}

function deviceLeaseOf(r: SqlRow): DeviceLeaseRow {
  return {
    tenantId: str(r['tenant_id']),
    deviceId: str(r['device_id']),
    grantId: str(r['grant_id']),
    address: str(r['address']),
    kind: str(r['kind']) as LeaseKind,
    lease: json(r['lease']),
    expiresAt: num(r['expires_at']),
    storedAt: num(r['stored_at']),
  }
}

function eventOf(r: SqlRow): CasmEvent {
  return {
    seq: num(r['seq']),
    id: str(r['id']),
    tenantId: optStr(r['tenant_id']),
    at: num(r['at']),
    actor: str(r['actor']),
    action: str(r['action']),
    objectType: str(r['object_type']),
    objectId: optStr(r['object_id']),
    before: optJson(r['before_json']),
    after: optJson(r['after_json']),
    reason: optStr(r['reason']),
    requestId: optStr(r['request_id']),
    prevHash: str(r['prev_hash']),
    hash: str(r['hash']),
  }
}

/** The bound values of an event row, in EVENT_COLUMNS order. */
function eventValues(e: CasmEvent): SqlValue[] {
  return [
    e.seq,
    e.id,
    e.tenantId,
    e.at,
    e.actor,
    e.action,
    e.objectType,
    e.objectId,
    eventJson(e.before),
    eventJson(e.after),
    e.reason,
    e.requestId,
    e.prevHash,
    e.hash,
  ]
}

/** The stored JSON text of an event's `before`/`after` (what its hash covers). */
export function eventJson(value: unknown): string | null {
  return value === null || value === undefined ? null : JSON.stringify(value)
}

const ALLOCATION_COLUMNS =
  'id, tenant_id, domain_id, pool_id, type, family, first, last, length, prefix, state, live, device_id, reservation_id, requestor, hostname, description, created_at, updated_at, expires_at, released_at, quarantine_until, changed_version'

/** Types and states of {@link SqlReader.liveSpansOverlapping}, by the codes its SQL computes. */
const SPAN_TYPES: readonly AllocationType[] = ['grant', 'assignment', 'reservation', 'exclusion']
const SPAN_STATES: readonly GrantState[] = [
  'active',
  'draining',
  'released',
  'quarantined',
  'expired',
  'free',
]
/** `type` × 8 + `state`, in the order of SPAN_TYPES and SPAN_STATES. */
const SPAN_KIND_SQL = `(CASE type ${SPAN_TYPES.map((t, i) => `WHEN '${t}' THEN ${i * 8}`).join(' ')} END) + (CASE state ${SPAN_STATES.map((t, i) => `WHEN '${t}' THEN ${i}`).join(' ')} END)`
/** Per family and prefix length: the size of the prefix minus one. */
const SPAN_SIZES: Readonly<Record<Family, readonly bigint[]>> = {
  ipv4: spanSizes(32),
  ipv6: spanSizes(128),
  mac: spanSizes(48),
}

function spanSizes(width: number): bigint[] {
  return Array.from({ length: width + 1 }, (_, l) => (1n << BigInt(width - l)) - 1n)
}

const EVENT_COLUMNS =
  'seq, id, tenant_id, at, actor, action, object_type, object_id, before_json, after_json, reason, request_id, prev_hash, hash'

/** An id or a name: ids of casm carry a type prefix and a time-ordered body. */
const looksLikeId = (s: string): boolean => /^[a-z]{2,5}_[0-9a-z]{16,}$/.test(s)

/** Reads shared by the committed-data reader and the write transaction. */
class SqlReader implements StoreReader {
  protected readonly q: SqlExecutor
  protected readonly dialect: 'sqlite' | 'postgres'

  constructor(q: SqlExecutor, dialect: 'sqlite' | 'postgres') {
    this.q = q
    this.dialect = dialect
  }

  async getTenant(idOrName: string): Promise<Tenant | undefined> {
    const r = await this.q.get(
      `SELECT * FROM tenant WHERE ${looksLikeId(idOrName) ? 'id' : 'name'} = ?`,
      [idOrName],
    )
    return r === undefined ? undefined : tenantOf(r)
  }

  async listTenants(): Promise<Tenant[]> {
    return (await this.q.all('SELECT * FROM tenant ORDER BY name')).map(tenantOf)
  }

  async getTokenByHash(hash: string): Promise<TokenRow | undefined> {
    const r = await this.q.get('SELECT * FROM token WHERE hash = ?', [hash])
    return r === undefined ? undefined : tokenOf(r)
  }

  async getToken(id: string): Promise<TokenRow | undefined> {
    const r = await this.q.get('SELECT * FROM token WHERE id = ?', [id])
    return r === undefined ? undefined : tokenOf(r)
  }

  async listTokens(tenantId: string | null | undefined): Promise<TokenRow[]> {
    const rows =
      tenantId === undefined
        ? await this.q.all('SELECT * FROM token ORDER BY id')
        : tenantId === null
          ? await this.q.all('SELECT * FROM token WHERE tenant_id IS NULL ORDER BY id')
          : await this.q.all('SELECT * FROM token WHERE tenant_id = ? ORDER BY id', [tenantId])
    return rows.map(tokenOf)
  }

  async countTokens(): Promise<number> {
    const r = await this.q.get('SELECT COUNT(*) AS n FROM token')
    return num(r?.['n'] ?? 0)
  }

  async getDomain(tenantId: string, idOrName: string): Promise<Domain | undefined> {
    const col = looksLikeId(idOrName) ? 'id' : 'name'
    const r = await this.q.get(`SELECT * FROM domain WHERE tenant_id = ? AND ${col} = ?`, [
      tenantId,
      idOrName,
    ])
    return r === undefined ? undefined : domainOf(r)
  }

  async listDomains(tenantId: string): Promise<Domain[]> {
    return (
      await this.q.all('SELECT * FROM domain WHERE tenant_id = ? ORDER BY name', [tenantId])
    ).map(domainOf)
  }

  async getBlock(tenantId: string, id: string): Promise<Block | undefined> {
    const r = await this.q.get('SELECT * FROM block WHERE tenant_id = ? AND id = ?', [tenantId, id])
    return r === undefined ? undefined : blockOf(r)
  }

  async listBlocks(tenantId: string, domainId?: string): Promise<Block[]> {
    const rows =
      domainId === undefined
        ? await this.q.all(
            'SELECT * FROM block WHERE tenant_id = ? ORDER BY domain_id, family, first',
            [tenantId],
          )
        : await this.q.all(
            'SELECT * FROM block WHERE tenant_id = ? AND domain_id = ? ORDER BY family, first',
            [tenantId, domainId],
          )
    return rows.map(blockOf)
  }

  async blocksOverlapping(
    domainId: string,
    family: Family,
    first: bigint,
    last: bigint,
  ): Promise<Block[]> {
    const rows = await this.q.all(
      'SELECT * FROM block WHERE domain_id = ? AND family = ? AND first <= ? AND last >= ? ORDER BY first',
      [domainId, family, toBytes(last), toBytes(first)],
    )
    return rows.map(blockOf)
  }

  /** Called with every pool row read; the write transaction remembers its versions. */
  protected sawPool(_row: SqlRow): void {
    // Nothing to remember outside a write transaction.
  }

  async getPool(tenantId: string, idOrName: string): Promise<Pool | undefined> {
    const col = looksLikeId(idOrName) ? 'id' : 'name'
    const r = await this.q.get(`SELECT * FROM pool WHERE tenant_id = ? AND ${col} = ?`, [
      tenantId,
      idOrName,
    ])
    if (r === undefined) return undefined
    this.sawPool(r)
    return poolOf(r)
  }

  async listPools(tenantId: string, domainId?: string): Promise<Pool[]> {
    const rows =
      domainId === undefined
        ? await this.q.all('SELECT * FROM pool WHERE tenant_id = ? ORDER BY name', [tenantId])
        : await this.q.all(
            'SELECT * FROM pool WHERE tenant_id = ? AND domain_id = ? ORDER BY name',
            [tenantId, domainId],
          )
    return rows.map(poolOf)
  }

  async listAllPools(): Promise<Pool[]> {
    return (await this.q.all('SELECT * FROM pool ORDER BY tenant_id, name')).map(poolOf)
  }

  async poolRangesOverlapping(
    domainId: string,
    family: Family,
    first: bigint,
    last: bigint,
  ): Promise<PoolRangeRow[]> {
    const rows = await this.q.all(
      'SELECT pool_id, first, last FROM pool_range WHERE domain_id = ? AND family = ? AND first <= ? AND last >= ? ORDER BY first',
      [domainId, family, toBytes(last), toBytes(first)],
    )
    return rows.map((r) => ({
      poolId: str(r['pool_id']),
      first: fromBytes(r['first']),
      last: fromBytes(r['last']),
    }))
  }

  async poolVersion(poolId: string): Promise<PoolVersion | undefined> {
    const r = await this.q.get('SELECT version, space_version FROM pool WHERE id = ?', [poolId])
    return r === undefined
      ? undefined
      : { version: num(r['version']), spaceVersion: num(r['space_version']) }
  }

  async getDevice(tenantId: string, idOrName: string): Promise<Device | undefined> {
    const col = looksLikeId(idOrName) ? 'id' : 'name'
    const r = await this.q.get(`SELECT * FROM device WHERE tenant_id = ? AND ${col} = ?`, [
      tenantId,
      idOrName,
    ])
    return r === undefined ? undefined : deviceOf(r)
  }

  async listDevices(tenantId: string): Promise<Device[]> {
    return (
      await this.q.all('SELECT * FROM device WHERE tenant_id = ? ORDER BY name', [tenantId])
    ).map(deviceOf)
  }

  async getAllocation(tenantId: string, id: string): Promise<AllocationRow | undefined> {
    const r = await this.q.get(
      `SELECT ${ALLOCATION_COLUMNS} FROM allocation WHERE tenant_id = ? AND id = ?`,
      [tenantId, id],
    )
    return r === undefined ? undefined : allocationOf(r)
  }

  #allocationWhere(tenantId: string, f: AllocationFilter): { where: string; params: SqlValue[] } {
    const clauses = ['tenant_id = ?']
    const params: SqlValue[] = [tenantId]
    if (f.type !== undefined) {
      clauses.push('type = ?')
      params.push(f.type)
    }
    if (f.poolId !== undefined) {
      clauses.push('pool_id = ?')
      params.push(f.poolId)
    }
    if (f.deviceId !== undefined) {
      clauses.push('device_id = ?')
      params.push(f.deviceId)
    }
    if (f.state !== undefined) {
      clauses.push('state = ?')
      params.push(f.state)
    }
    if (f.live !== undefined) {
      clauses.push('live = ?')
      params.push(f.live)
    }
    return { where: clauses.join(' AND '), params }
  }

  /**
   * The table to read units from for `f`. SQLite without statistics prefers the tenant index,
   * which walks every unit of the tenant; a device's units are few, so its index is named.
   */
  #allocationFrom(f: AllocationFilter): string {
    return this.dialect === 'sqlite' && f.deviceId !== undefined
      ? 'allocation INDEXED BY allocation_device'
      : 'allocation'
  }

  async listAllocations(
    tenantId: string,
    filter: AllocationFilter,
    page: Page,
  ): Promise<AllocationRow[]> {
    const { where, params } = this.#allocationWhere(tenantId, filter)
    const after = page.after === undefined ? '' : ' AND id > ?'
    if (page.after !== undefined) params.push(page.after)
    params.push(page.limit)
    const rows = await this.q.all(
      `SELECT ${ALLOCATION_COLUMNS} FROM ${this.#allocationFrom(filter)} WHERE ${where}${after} ORDER BY id LIMIT ?`,
      params,
    )
    return rows.map(allocationOf)
  }

  async countAllocations(tenantId: string, filter: AllocationFilter): Promise<number> {
    const { where, params } = this.#allocationWhere(tenantId, filter)
    const r = await this.q.get(
      `SELECT COUNT(*) AS n FROM ${this.#allocationFrom(filter)} WHERE ${where}`,
      params,
    )
    return num(r?.['n'] ?? 0)
  }

  async deviceUnits(deviceId: string): Promise<AllocationRow[]> {
    return (
      await this.q.all(
        `SELECT ${ALLOCATION_COLUMNS} FROM allocation WHERE device_id = ? AND live ORDER BY id`,
        [deviceId],
      )
    ).map(allocationOf)
  }

  async liveUnits(poolId: string): Promise<AllocationRow[]> {
    const rows = await this.q.all(
      `SELECT ${ALLOCATION_COLUMNS} FROM allocation WHERE pool_id = ? AND live = ?`,
      [poolId, true],
    )
    return rows.map(allocationOf)
  }

  async liveUnitKeys(poolId: string): Promise<UnitKey[]> {
    const rows = await this.q.all(
      'SELECT first, length, type FROM allocation WHERE pool_id = ? AND live = ? ORDER BY first',
      [poolId, true],
    )
    return rows.map((r) => ({
      first: fromBytes(r['first']),
      length: num(r['length']),
      type: str(r['type']) as AllocationType,
    }))
  }

  async unitsChangedSince(poolId: string, since: number): Promise<AllocationRow[]> {
    const rows = await this.q.all(
      `SELECT ${ALLOCATION_COLUMNS} FROM allocation WHERE pool_id = ? AND changed_version > ? ORDER BY changed_version, id`,
      [poolId, since],
    )
    return rows.map(allocationOf)
  }

  async liveUnitsOverlapping(
    domainId: string,
    family: Family,
    first: bigint,
    last: bigint,
    limit: number,
  ): Promise<AllocationRow[]> {
    // The unit containing `first` starts at or before it: take the last such, then those inside.
    const before = await this.q.get(
      `SELECT ${ALLOCATION_COLUMNS} FROM allocation WHERE domain_id = ? AND family = ? AND live = ? AND first <= ? ORDER BY first DESC LIMIT 1`,
      [domainId, family, true, toBytes(first)],
    )
    const out: AllocationRow[] = []
    if (before !== undefined) {
      const row = allocationOf(before)
      if (row.last >= first) out.push(row)
    }
    const rows = await this.q.all(
      `SELECT ${ALLOCATION_COLUMNS} FROM allocation WHERE domain_id = ? AND family = ? AND live = ? AND first > ? AND first <= ? ORDER BY first LIMIT ?`,
      [domainId, family, true, toBytes(first), toBytes(last), limit],
    )
    out.push(...rows.map(allocationOf))
    return out.slice(0, limit)
  }

  async liveSpansOverlapping(
    domainId: string,
    family: Family,
    first: bigint,
    last: bigint,
    limit: number,
  ): Promise<UnitSpan[]> {
    // Only the family's bytes of the address, as hex text, and type and state as one small
    // number: turning a million BLOBs and strings into JavaScript values costs more than reading
    // the rows.
    const width = familyWidth(family)
    const from = 17 - width / 8
    const hex =
      this.dialect === 'postgres'
        ? `encode(substring(first from ${from}), 'hex')`
        : `hex(substr(first, ${from}))`
    const columns = `${hex} AS first_hex, length, ${SPAN_KIND_SQL} AS kind, device_id`
    const sizes = SPAN_SIZES[family]
    const span = (r: SqlRow): UnitSpan => {
      const a = BigInt(`0x${str(r['first_hex'])}`)
      const kind = num(r['kind'])
      return {
        first: a,
        last: a + (sizes[num(r['length'])] as bigint),
        type: SPAN_TYPES[kind >> 3] as AllocationType,
        state: SPAN_STATES[kind & 7] as GrantState,
        deviceId: optStr(r['device_id']),
      }
    }
    // As liveUnitsOverlapping: the unit holding `first` starts at or before it.
    const before = await this.q.get(
      `SELECT ${columns} FROM allocation WHERE domain_id = ? AND family = ? AND live = ? AND first <= ? ORDER BY first DESC LIMIT 1`,
      [domainId, family, true, toBytes(first)],
    )
    const out: UnitSpan[] = []
    if (before !== undefined) {
      const s = span(before)
      if (s.last >= first) out.push(s)
    }
    const rows = await this.q.all(
      `SELECT ${columns} FROM allocation WHERE domain_id = ? AND family = ? AND live = ? AND first > ? AND first <= ? ORDER BY first LIMIT ?`,
      [domainId, family, true, toBytes(first), toBytes(last), limit],
    )
    for (const r of rows) out.push(span(r))
    return out.length > limit ? out.slice(0, limit) : out
  }

  async liveUsageIn(
    domainId: string,
    family: Family,
    first: bigint,
    last: bigint,
  ): Promise<{ type: AllocationType; length: number; count: number }[]> {
    const rows = await this.q.all(
      'SELECT type, length, COUNT(*) AS n FROM allocation WHERE domain_id = ? AND family = ? AND live = ? AND first >= ? AND last <= ? GROUP BY type, length',
      [domainId, family, true, toBytes(first), toBytes(last)],
    )
    return rows.map((r) => ({
      type: str(r['type']) as AllocationType,
      length: num(r['length']),
      count: num(r['n']),
    }))
  }

  async dueUnits(now: number, limit: number): Promise<AllocationRow[]> {
    // Three indexed branches (partial indexes on expires_at, quarantine_until and the transient
    // states): the sweep runs every second and must not scan the table.
    const rows = await this.q.all(
      `SELECT * FROM (
         SELECT ${ALLOCATION_COLUMNS} FROM allocation
           WHERE expires_at IS NOT NULL AND expires_at <= ? AND state IN ('active', 'draining') AND live = ?
         UNION ALL
         SELECT ${ALLOCATION_COLUMNS} FROM allocation
           WHERE quarantine_until IS NOT NULL AND quarantine_until <= ? AND state = 'quarantined' AND live = ?
         UNION ALL
         SELECT ${ALLOCATION_COLUMNS} FROM allocation WHERE state IN ('released', 'expired') AND live = ?
       ) due ORDER BY id LIMIT ?`,
      [now, true, now, true, true, limit],
    )
    return rows.map(allocationOf)
  }

  async getReservation(tenantId: string, id: string): Promise<Reservation | undefined> {
    const r = await this.q.get('SELECT * FROM reservation WHERE tenant_id = ? AND id = ?', [
      tenantId,
      id,
    ])
    return r === undefined ? undefined : reservationOf(r)
  }

  async listReservations(tenantId: string, poolId?: string): Promise<Reservation[]> {
    const rows =
      poolId === undefined
        ? await this.q.all('SELECT * FROM reservation WHERE tenant_id = ? ORDER BY id', [tenantId])
        : await this.q.all(
            'SELECT * FROM reservation WHERE tenant_id = ? AND pool_id = ? ORDER BY id',
            [tenantId, poolId],
          )
    return rows.map(reservationOf)
  }

  async listEvents(filter: EventFilter, page: Page): Promise<CasmEvent[]> {
    const clauses: string[] = []
    const params: SqlValue[] = []
    if (filter.tenantId !== undefined) {
      clauses.push(filter.tenantId === null ? 'tenant_id IS NULL' : 'tenant_id = ?')
      if (filter.tenantId !== null) params.push(filter.tenantId)
    }
    const eq: [keyof EventFilter, string][] = [
      ['objectId', 'object_id'],
      ['objectType', 'object_type'],
      ['action', 'action'],
      ['actor', 'actor'],
    ]
    for (const [key, col] of eq) {
      const v = filter[key]
      if (v !== undefined) {
        clauses.push(`${col} = ?`)
        params.push(v)
      }
    }
    if (filter.since !== undefined) {
      clauses.push('at >= ?')
      params.push(filter.since)
    }
    if (filter.until !== undefined) {
      clauses.push('at < ?')
      params.push(filter.until)
    }
    if (page.after !== undefined) {
      clauses.push('seq > ?')
      params.push(Number(page.after))
    }
    params.push(page.limit)
    const where = clauses.length === 0 ? '' : `WHERE ${clauses.join(' AND ')}`
    const rows = await this.q.all(
      `SELECT ${EVENT_COLUMNS} FROM event ${where} ORDER BY seq LIMIT ?`,
      params,
    )
    return rows.map(eventOf)
  }

  async scanEvents(after: number, limit: number): Promise<CasmEvent[]> {
    const rows = await this.q.all(
      `SELECT ${EVENT_COLUMNS} FROM event WHERE seq > ? ORDER BY seq LIMIT ?`,
      [after, limit],
    )
    return rows.map(eventOf)
  }

  async chainHead(): Promise<ChainHead> {
    const r = await this.q.get('SELECT seq, hash FROM chain_head WHERE id = 1')
    return { seq: num(r?.['seq'] ?? 0), hash: str(r?.['hash'] ?? '0'.repeat(64)) }
  }

  async getIdempotency(tenantId: string, key: string): Promise<IdempotencyRow | undefined> {
    const r = await this.q.get('SELECT * FROM idempotency WHERE tenant_id = ? AND key = ?', [
      tenantId,
      key,
    ])
    if (r === undefined) return undefined
    return {
      tenantId: str(r['tenant_id']),
      key: str(r['key']),
      requestHash: str(r['request_hash']),
      status: num(r['status']),
      body: str(r['body']),
      createdAt: num(r['created_at']),
    }
  }

  async deviceGrants(
    deviceId: string,
  ): Promise<{ readonly unit: AllocationRow; readonly status: GrantStatusRow | null }[]> {
    // One statement for both: this runs on every status report.
    const rows = await this.q.all(
      `SELECT a.*, s.grant_id, s.device_id AS s_device_id, s.pinned, s.drain_cause, s.moving_to,
         s.used, s.peak, s.average, s.ports, s.plane, s.reported_at, s.confirmed_at,
         s.served_state, s.drain_seq
       FROM allocation a LEFT JOIN grant_status s ON s.grant_id = a.id
       WHERE a.device_id = ? AND a.live ORDER BY a.id`,
      [deviceId],
    )
    return rows.map((r) => ({
      unit: allocationOf(r),
      status:
        r['grant_id'] === null || r['grant_id'] === undefined
          ? null
          : grantStatusOf({ ...r, device_id: r['s_device_id'] }),
    }))
  }

  async getGrantStatus(grantId: string): Promise<GrantStatusRow | undefined> {
    const r = await this.q.get('SELECT * FROM grant_status WHERE grant_id = ?', [grantId])
    return r === undefined ? undefined : grantStatusOf(r)
  }

  async getDeviceLoop(deviceId: string): Promise<DeviceLoopRow | undefined> {
    const r = await this.q.get('SELECT * FROM device_loop WHERE device_id = ?', [deviceId])
    return r === undefined ? undefined : deviceLoopOf(r)
  }

  async quietDevices(now: number, limit: number): Promise<DeviceLoopRow[]> {
    return (
      await this.q.all(
        'SELECT * FROM device_loop WHERE NOT silent AND stale_at <= ? ORDER BY stale_at LIMIT ?',
        [now, limit],
      )
    ).map(deviceLoopOf)
  }

  async deviceMessages(
    deviceId: string,
    after: number,
    limit: number,
  ): Promise<DeviceMessageRow[]> {
    const rows = await this.q.all(
      'SELECT * FROM device_message WHERE device_id = ? AND seq > ? ORDER BY seq LIMIT ?',
      [deviceId, after, limit],
    )
    return rows.map((r) => ({
      deviceId: str(r['device_id']),
      seq: num(r['seq']),
      type: str(r['type']),
      body: str(r['body']),
      createdAt: num(r['created_at']),
    }))
  }

  async listAlerts(
    tenantId: string | undefined,
    open: boolean,
    limit: number,
  ): Promise<AlertRow[]> {
    const where: string[] = []
    const args: SqlValue[] = []
    if (tenantId !== undefined) {
      where.push('tenant_id = ?')
      args.push(tenantId)
    }
    if (open) where.push('cleared_at IS NULL')
    const rows = await this.q.all(
      `SELECT * FROM alert ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY raised_at DESC, id LIMIT ?`,
      [...args, limit],
    )
    return rows.map(alertOf)
  }

  async getAlert(id: string): Promise<AlertRow | undefined> {
    const r = await this.q.get('SELECT * FROM alert WHERE id = ?', [id])
    return r === undefined ? undefined : alertOf(r)
  }

  async deviceLeases(deviceId: string, f: DeviceLeaseFilter): Promise<DeviceLeaseRow[]> {
    if (f.grantIds?.length === 0) return []
    // Joined with the grant: only leases of grants the device still holds live.
    const clauses = [
      'l.device_id = ?',
      'a.device_id = l.device_id',
      "a.state IN ('active', 'draining')",
    ]
    const params: SqlValue[] = [deviceId]
    if (f.grantIds !== undefined) {
      clauses.push(`l.grant_id IN (${f.grantIds.map(() => '?').join(', ')})`)
      params.push(...f.grantIds)
    }
    if (f.liveAt !== undefined) {
      clauses.push('l.expires_at > ?')
      params.push(f.liveAt)
    }
    if (f.after !== undefined) {
      clauses.push('(l.grant_id > ? OR (l.grant_id = ? AND l.address > ?))')
      params.push(f.after.grantId, f.after.grantId, f.after.address)
    }
    params.push(f.limit)
    const rows = await this.q.all(
      `SELECT l.* FROM device_lease l JOIN allocation a ON a.id = l.grant_id
       WHERE ${clauses.join(' AND ')} ORDER BY l.grant_id, l.address LIMIT ?`,
      params,
    )
    return rows.map(deviceLeaseOf)
  }

  async listDeviceLoops(): Promise<DeviceLoopRow[]> {
    return (await this.q.all('SELECT * FROM device_loop ORDER BY device_id')).map(deviceLoopOf)
  }

  async usageHistory(
    objectId: string,
    family: Family | undefined,
    since: number,
    limit: number,
  ): Promise<UsageSampleRow[]> {
    const rows =
      family === undefined
        ? await this.q.all(
            'SELECT * FROM usage_sample WHERE object_id = ? AND at >= ? ORDER BY at, family LIMIT ?',
            [objectId, since, limit],
          )
        : await this.q.all(
            'SELECT * FROM usage_sample WHERE object_id = ? AND family = ? AND at >= ? ORDER BY at LIMIT ?',
            [objectId, family, since, limit],
          )
    return rows.map(usageSampleOf)
  }
}

class SqlWriteTx extends SqlReader implements WriteTx {
  #depth = 0
  /** Pool versions read in this transaction (the writer lock keeps them current until we write). */
  readonly #versions = new Map<string, PoolVersion>()

  protected override sawPool(row: SqlRow): void {
    this.#versions.set(str(row['id']), {
      version: num(row['version']),
      spaceVersion: num(row['space_version']),
    })
  }

  override async poolVersion(poolId: string): Promise<PoolVersion | undefined> {
    return this.#versions.get(poolId) ?? super.poolVersion(poolId)
  }

  async savepoint<T>(fn: () => Promise<T>): Promise<T> {
    const name = `sp${++this.#depth}`
    // What a rolled-back savepoint wrote must not be remembered.
    this.#versions.clear()
    await this.q.run(`SAVEPOINT ${name}`)
    try {
      const result = await fn()
      await this.q.run(`RELEASE SAVEPOINT ${name}`)
      return result
    } catch (error) {
      await this.q.run(`ROLLBACK TO SAVEPOINT ${name}`)
      await this.q.run(`RELEASE SAVEPOINT ${name}`)
      throw error
    } finally {
      this.#depth--
    }
  }

  async insertTenant(t: Tenant): Promise<void> {
    await this.q.run('INSERT INTO tenant (id, name, created_at) VALUES (?, ?, ?)', [
      t.id,
      t.name,
      t.createdAt,
    ])
  }

  async deleteTenant(id: string): Promise<void> {
    await this.q.run('DELETE FROM token WHERE tenant_id = ?', [id])
    await this.q.run('DELETE FROM idempotency WHERE tenant_id = ?', [id])
    await this.q.run('DELETE FROM tenant WHERE id = ?', [id])
  }

  async insertToken(t: TokenRow): Promise<void> {
    await this.q.run(
      'INSERT INTO token (id, tenant_id, name, role, hash, device_id, created_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      [t.id, t.tenantId, t.name, t.role, t.hash, t.deviceId, t.createdAt, t.revokedAt],
    )
  }

  async revokeToken(id: string, at: number): Promise<void> {
    await this.q.run('UPDATE token SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL', [
      at,
      id,
    ])
  }

  async insertDomain(d: Domain): Promise<void> {
    await this.q.run(
      'INSERT INTO domain (id, tenant_id, name, description, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)',
      [d.id, d.tenantId, d.name, d.description, d.createdAt, d.updatedAt],
    )
  }

  async updateDomain(d: Domain): Promise<void> {
    await this.q.run('UPDATE domain SET name = ?, description = ?, updated_at = ? WHERE id = ?', [
      d.name,
      d.description,
      d.updatedAt,
      d.id,
    ])
  }

  async deleteDomain(id: string): Promise<void> {
    await this.q.run('DELETE FROM domain WHERE id = ?', [id])
  }

  async insertBlock(b: Block, first: bigint, last: bigint): Promise<void> {
    await this.q.run(
      `INSERT INTO block (id, tenant_id, domain_id, family, first, last, space, reserved, source, description, tags, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        b.id,
        b.tenantId,
        b.domainId,
        b.family,
        toBytes(first),
        toBytes(last),
        b.space,
        b.reserved,
        JSON.stringify(b.source),
        b.description,
        JSON.stringify(b.tags),
        b.createdAt,
        b.updatedAt,
      ],
    )
  }

  async updateBlock(b: Block, first: bigint, last: bigint): Promise<void> {
    await this.q.run(
      `UPDATE block SET first = ?, last = ?, space = ?, reserved = ?, source = ?, description = ?, tags = ?, updated_at = ? WHERE id = ?`,
      [
        toBytes(first),
        toBytes(last),
        b.space,
        b.reserved,
        JSON.stringify(b.source),
        b.description,
        JSON.stringify(b.tags),
        b.updatedAt,
        b.id,
      ],
    )
  }

  async deleteBlock(id: string): Promise<void> {
    await this.q.run('DELETE FROM block WHERE id = ?', [id])
  }

  async #insertRanges(p: Pool, ranges: readonly { first: bigint; last: bigint }[]): Promise<void> {
    for (const r of ranges) {
      await this.q.run(
        'INSERT INTO pool_range (pool_id, domain_id, family, first, last) VALUES (?, ?, ?, ?, ?)',
        [p.id, p.domainId, p.family, toBytes(r.first), toBytes(r.last)],
      )
    }
  }

  async insertPool(p: Pool, ranges: readonly { first: bigint; last: bigint }[]): Promise<void> {
    this.#versions.clear()
    await this.q.run(
      `INSERT INTO pool (id, tenant_id, domain_id, name, kind, family, space, policy, priority, selectors, tags, description, version, space_version, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, ?, ?)`,
      [
        p.id,
        p.tenantId,
        p.domainId,
        p.name,
        p.kind,
        p.family,
        JSON.stringify(p.space),
        JSON.stringify(p.policy),
        p.priority,
        JSON.stringify(p.selectors),
        JSON.stringify(p.tags),
        p.description,
        p.createdAt,
        p.updatedAt,
      ],
    )
    await this.#insertRanges(p, ranges)
  }

  async updatePool(p: Pool, ranges?: readonly { first: bigint; last: bigint }[]): Promise<void> {
    this.#versions.clear()
    await this.q.run(
      `UPDATE pool SET name = ?, kind = ?, space = ?, policy = ?, priority = ?, selectors = ?, tags = ?, description = ?, updated_at = ? WHERE id = ?`,
      [
        p.name,
        p.kind,
        JSON.stringify(p.space),
        JSON.stringify(p.policy),
        p.priority,
        JSON.stringify(p.selectors),
        JSON.stringify(p.tags),
        p.description,
        p.updatedAt,
        p.id,
      ],
    )
    if (ranges !== undefined) {
      await this.q.run('DELETE FROM pool_range WHERE pool_id = ?', [p.id])
      await this.#insertRanges(p, ranges)
    }
  }

  async deletePool(id: string): Promise<void> {
    this.#versions.clear()
    await this.q.run('DELETE FROM pool_range WHERE pool_id = ?', [id])
    await this.q.run('DELETE FROM pool WHERE id = ?', [id])
  }

  async setPoolVersion(poolId: string, v: PoolVersion): Promise<void> {
    this.#versions.clear()
    await this.q.run('UPDATE pool SET version = ?, space_version = ? WHERE id = ?', [
      v.version,
      v.spaceVersion,
      poolId,
    ])
  }

  async insertDevice(d: Device): Promise<void> {
    await this.q.run(
      'INSERT INTO device (id, tenant_id, name, attributes, policy, description, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      [
        d.id,
        d.tenantId,
        d.name,
        JSON.stringify(d.attributes),
        JSON.stringify(d.policy),
        d.description,
        d.createdAt,
        d.updatedAt,
      ],
    )
  }

  async updateDevice(d: Device): Promise<void> {
    await this.q.run(
      'UPDATE device SET name = ?, attributes = ?, policy = ?, description = ?, updated_at = ? WHERE id = ?',
      [
        d.name,
        JSON.stringify(d.attributes),
        JSON.stringify(d.policy),
        d.description,
        d.updatedAt,
        d.id,
      ],
    )
  }

  async deleteDevice(id: string): Promise<void> {
    await this.q.run('DELETE FROM token WHERE device_id = ?', [id])
    await this.q.run('DELETE FROM device WHERE id = ?', [id])
  }

  /** The bound values of a unit row (and, on PostgreSQL, its span bounds). */
  allocationValues(a: AllocationRow): SqlValue[] {
    const values: SqlValue[] = [
      a.id,
      a.tenantId,
      a.domainId,
      a.poolId,
      a.type,
      a.family,
      toBytes(a.first),
      toBytes(a.last),
      a.length,
      a.prefix,
      a.state,
      a.state !== 'free',
      a.deviceId,
      a.reservationId,
      a.requestor === null ? null : JSON.stringify(a.requestor),
      a.hostname,
      a.description,
      a.createdAt,
      a.updatedAt,
      a.expiresAt,
      a.releasedAt,
      a.quarantineUntil,
      a.changedVersion,
    ]
    if (this.dialect === 'postgres') values.push(a.first.toString(), a.last.toString())
    return values
  }

  async insertAllocations(rows: readonly AllocationRow[]): Promise<void> {
    const pg = this.dialect === 'postgres'
    const columns = pg ? `${ALLOCATION_COLUMNS}, span` : ALLOCATION_COLUMNS
    // PostgreSQL also stores the unit as a numeric range for the exclusion constraint.
    const one = `(${Array.from({ length: 23 }, () => '?').join(', ')}${pg ? ", numrange(?::numeric, ?::numeric, '[]')" : ''})`
    // PostgreSQL: many rows per statement saves round trips; SQLite: one prepared row is fastest.
    const chunk = this.dialect === 'postgres' ? 400 : 1
    for (let i = 0; i < rows.length; i += chunk) {
      const part = rows.slice(i, i + chunk)
      await this.q.run(
        `INSERT INTO allocation (${columns}) VALUES ${part.map(() => one).join(', ')}`,
        part.flatMap((r) => this.allocationValues(r)),
      )
    }
  }

  async updateAllocation(a: AllocationRow): Promise<void> {
    await this.q.run(
      `UPDATE allocation SET state = ?, live = ?, device_id = ?, hostname = ?, description = ?, updated_at = ?, expires_at = ?, released_at = ?, quarantine_until = ?, changed_version = ? WHERE id = ?`,
      [
        a.state,
        a.state !== 'free',
        a.deviceId,
        a.hostname,
        a.description,
        a.updatedAt,
        a.expiresAt,
        a.releasedAt,
        a.quarantineUntil,
        a.changedVersion,
        a.id,
      ],
    )
  }

  async deleteAllocations(by: { poolId: string } | { reservationId: string }): Promise<void> {
    if ('poolId' in by) await this.q.run('DELETE FROM allocation WHERE pool_id = ?', [by.poolId])
    else await this.q.run('DELETE FROM allocation WHERE reservation_id = ?', [by.reservationId])
  }

  async insertReservation(r: Reservation): Promise<void> {
    await this.q.run(
      'INSERT INTO reservation (id, tenant_id, pool_id, kind, target, prefixes, description, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      [
        r.id,
        r.tenantId,
        r.poolId,
        r.kind,
        JSON.stringify(r.target),
        JSON.stringify(r.prefixes),
        r.description,
        r.createdAt,
      ],
    )
  }

  async deleteReservation(id: string): Promise<void> {
    await this.q.run('DELETE FROM allocation WHERE reservation_id = ?', [id])
    await this.q.run('DELETE FROM reservation WHERE id = ?', [id])
  }

  async appendEvents(events: readonly CasmEvent[]): Promise<void> {
    const last = events[events.length - 1]
    if (last === undefined) return
    const one = '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)'
    const values = (part: readonly CasmEvent[]): SqlValue[] => part.flatMap(eventValues)
    if (this.dialect === 'postgres' && events.length <= 400) {
      // One statement inserts the events and moves the head.
      await this.q.run(
        `WITH appended AS (INSERT INTO event (${EVENT_COLUMNS}) VALUES ${events.map(() => one).join(', ')})
         UPDATE chain_head SET seq = ?, hash = ? WHERE id = 1`,
        [...values(events), last.seq, last.hash],
      )
      return
    }
    const chunk = this.dialect === 'postgres' ? 400 : 1
    for (let i = 0; i < events.length; i += chunk) {
      const part = events.slice(i, i + chunk)
      await this.q.run(
        `INSERT INTO event (${EVENT_COLUMNS}) VALUES ${part.map(() => one).join(', ')}`,
        values(part),
      )
    }
    await this.q.run('UPDATE chain_head SET seq = ?, hash = ? WHERE id = 1', [last.seq, last.hash])
  }

  async finishBatch(batch: {
    readonly rows: readonly AllocationRow[]
    readonly versions: readonly { readonly poolId: string; readonly version: PoolVersion }[]
    readonly events: readonly CasmEvent[]
    readonly head: ChainHead
  }): Promise<void> {
    const { rows, versions, events, head } = batch
    const last = events[events.length - 1]
    if (
      this.dialect !== 'postgres' ||
      rows.length > 400 ||
      events.length > 400 ||
      versions.length > 100
    ) {
      // SQLite runs in-process: separate statements cost nothing extra.
      const stored = await this.chainHead()
      if (stored.seq !== head.seq || stored.hash !== head.hash) throw new ChainMovedError(head.seq)
      await this.insertAllocations(rows)
      for (const v of versions) await this.setPoolVersion(v.poolId, v.version)
      await this.appendEvents(events)
      return
    }
    // PostgreSQL: one statement of data-modifying CTEs; the head update is guarded by the
    // expected head, and reports whether it matched.
    const params: SqlValue[] = []
    const parts: string[] = []
    if (rows.length > 0) {
      const one = `(${Array.from({ length: 23 }, () => '?').join(', ')}, numrange(?::numeric, ?::numeric, '[]'))`
      parts.push(
        `a AS (INSERT INTO allocation (${ALLOCATION_COLUMNS}, span) VALUES ${rows.map(() => one).join(', ')})`,
      )
      for (const r of rows) params.push(...this.allocationValues(r))
    }
    versions.forEach((v, i) => {
      parts.push(`v${i} AS (UPDATE pool SET version = ?, space_version = ? WHERE id = ?)`)
      params.push(v.version.version, v.version.spaceVersion, v.poolId)
    })
    if (events.length > 0) {
      const one = '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)'
      parts.push(
        `e AS (INSERT INTO event (${EVENT_COLUMNS}) VALUES ${events.map(() => one).join(', ')})`,
      )
      for (const e of events) params.push(...eventValues(e))
    }
    const next = last ?? head
    params.push(next.seq, next.hash, head.seq, head.hash)
    const sql = `${parts.length > 0 ? `WITH ${parts.join(', ')} ` : ''}UPDATE chain_head SET seq = ?, hash = ? WHERE id = 1 AND seq = ? AND hash = ?`
    if ((await this.q.run(sql, params)) !== 1) throw new ChainMovedError(head.seq)
  }

  async putGrantStatus(rows: readonly GrantStatusRow[]): Promise<void> {
    // One statement per 500 rows: a status report of a device with many grants writes them all.
    for (let i = 0; i < rows.length; i += 500) {
      const chunk = rows.slice(i, i + 500)
      await this.q.run(
        `INSERT INTO grant_status (grant_id, device_id, pinned, drain_cause, moving_to, used, peak, average, ports, plane, reported_at, confirmed_at, served_state, drain_seq)
         VALUES ${chunk.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}
         ON CONFLICT (grant_id) DO UPDATE SET device_id = excluded.device_id, pinned = excluded.pinned,
           drain_cause = excluded.drain_cause, moving_to = excluded.moving_to, used = excluded.used,
           peak = excluded.peak, average = excluded.average, ports = excluded.ports, plane = excluded.plane,
           reported_at = excluded.reported_at, confirmed_at = excluded.confirmed_at,
           served_state = excluded.served_state, drain_seq = excluded.drain_seq`,
        chunk.flatMap((g) => [
          g.grantId,
          g.deviceId,
          g.pinned,
          g.drainCause,
          g.movingTo,
          g.used,
          g.peak,
          g.average,
          g.ports === null ? null : JSON.stringify(g.ports),
          g.plane,
          g.reportedAt,
          g.confirmedAt,
          g.servedState,
          g.drainSeq,
        ]),
      )
    }
  }

  async putDeviceLoop(d: DeviceLoopRow): Promise<void> {
    await this.q.run(
      `INSERT INTO device_loop (device_id, tenant_id, agent, hello_at, report_at, stale_at, low_since, history, stream_seq, acked_seq, silent, failures)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (device_id) DO UPDATE SET agent = excluded.agent, hello_at = excluded.hello_at,
         report_at = excluded.report_at, stale_at = excluded.stale_at, low_since = excluded.low_since, history = excluded.history,
         stream_seq = excluded.stream_seq, acked_seq = excluded.acked_seq, silent = excluded.silent,
         failures = excluded.failures`,
      [
        d.deviceId,
        d.tenantId,
        d.agent === null ? null : JSON.stringify(d.agent),
        d.helloAt,
        d.reportAt,
        d.staleAt,
        JSON.stringify(d.lowSince),
        JSON.stringify(d.history),
        d.streamSeq,
        d.ackedSeq,
        d.silent,
        d.failures,
      ],
    )
  }

  async appendDeviceMessages(rows: readonly DeviceMessageRow[]): Promise<void> {
    for (const m of rows) {
      await this.q.run(
        'INSERT INTO device_message (device_id, seq, type, body, created_at) VALUES (?, ?, ?, ?, ?)',
        [m.deviceId, m.seq, m.type, m.body, m.createdAt],
      )
    }
  }

  async pruneDeviceMessages(
    by: { deviceId: string; upTo: number } | { before: number },
  ): Promise<number> {
    return 'before' in by
      ? this.q.run('DELETE FROM device_message WHERE created_at < ?', [by.before])
      : this.q.run('DELETE FROM device_message WHERE device_id = ? AND seq <= ?', [
          by.deviceId,
          by.upTo,
        ])
  }

  async putAlert(a: AlertRow): Promise<void> {
    await this.q.run(
      `INSERT INTO alert (id, tenant_id, kind, object_type, object_id, message, raised_at, cleared_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET message = excluded.message, raised_at = excluded.raised_at,
         cleared_at = excluded.cleared_at`,
      [a.id, a.tenantId, a.kind, a.objectType, a.objectId, a.message, a.raisedAt, a.clearedAt],
    )
  }

  async replaceGrantLeases(grantId: string, rows: readonly DeviceLeaseRow[]): Promise<void> {
    if (rows.some((r) => r.grantId !== grantId))
      throw new Error(`replaceGrantLeases(${grantId}) was given a lease of another grant`)
    await this.deleteGrantLeases(grantId)
    const one = '(?, ?, ?, ?, ?, ?, ?, ?)'
    // As for units: many rows per statement on PostgreSQL, one prepared row on SQLite.
    const chunk = this.dialect === 'postgres' ? 500 : 100
    for (let i = 0; i < rows.length; i += chunk) {
      const part = rows.slice(i, i + chunk)
      await this.q.run(
        `INSERT INTO device_lease (tenant_id, device_id, grant_id, address, kind, lease, expires_at, stored_at) VALUES ${part.map(() => one).join(', ')}`,
        part.flatMap((r) => [
          r.tenantId,
          r.deviceId,
          r.grantId,
          r.address,
          r.kind,
          JSON.stringify(r.lease),
          r.expiresAt,
          r.storedAt,
        ]),
      )
    }
  }

  deleteGrantLeases(grantId: string): Promise<number> {
    return this.q.run('DELETE FROM device_lease WHERE grant_id = ?', [grantId])
  }

  async putUsageSamples(rows: readonly UsageSampleRow[]): Promise<void> {
    const one = '(?, ?, ?, ?, ?, ?, ?, ?)'
    // Many rows per statement on PostgreSQL, one prepared row on SQLite (as for leases).
    const chunk = this.dialect === 'postgres' ? 500 : 100
    for (let i = 0; i < rows.length; i += chunk) {
      const part = rows.slice(i, i + chunk)
      await this.q.run(
        `INSERT INTO usage_sample (tenant_id, object_type, object_id, family, at, used, total, utilisation)
         VALUES ${part.map(() => one).join(', ')}
         ON CONFLICT (object_id, family, at) DO UPDATE SET tenant_id = excluded.tenant_id,
           object_type = excluded.object_type, used = excluded.used, total = excluded.total,
           utilisation = excluded.utilisation`,
        part.flatMap((r) => [
          r.tenantId,
          r.objectType,
          r.objectId,
          r.family,
          r.at,
          r.used.toString(),
          r.total.toString(),
          r.utilisation,
        ]),
      )
    }
  }

  pruneUsageSamples(before: number): Promise<number> {
    return this.q.run('DELETE FROM usage_sample WHERE at < ?', [before])
  }

  async insertIdempotency(row: IdempotencyRow): Promise<void> {
    await this.q.run(
      'INSERT INTO idempotency (tenant_id, key, request_hash, status, body, created_at) VALUES (?, ?, ?, ?, ?, ?)',
      [row.tenantId, row.key, row.requestHash, row.status, row.body, row.createdAt],
    )
  }

  async pruneIdempotency(before: number, keyPrefix?: string): Promise<number> {
    if (keyPrefix !== undefined) {
      const pattern = `${keyPrefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`
      return this.q.run("DELETE FROM idempotency WHERE created_at < ? AND key LIKE ? ESCAPE '\\'", [
        before,
        pattern,
      ])
    }
    return this.q.run('DELETE FROM idempotency WHERE created_at < ?', [before])
  }
}

/** The store on a {@link SqlDriver}. */
export class SqlStore implements Store {
  readonly kind: 'sqlite' | 'postgres'
  readonly location: string
  readonly reader: StoreReader
  readonly #driver: SqlDriver

  constructor(driver: SqlDriver, location: string) {
    this.#driver = driver
    this.kind = driver.dialect
    this.location = location
    this.reader = new SqlReader(driver, driver.dialect)
  }

  async migrate(): Promise<{ from: number; to: number }> {
    await this.#driver.exec(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)',
    )
    return this.#driver.writeTransaction(async (tx) => {
      const r = await tx.get('SELECT MAX(version) AS v FROM schema_migrations')
      const from = num(r?.['v'] ?? 0)
      if (from > SCHEMA_VERSION) {
        throw new CasmError(
          'CASM_ERR_SCHEMA_TOO_NEW',
          `the database at ${this.location} has schema version ${from}, newer than this casm's ${SCHEMA_VERSION}; refusing to run`,
          { found: from, supported: SCHEMA_VERSION },
        )
      }
      for (const m of MIGRATIONS) {
        if (m.version <= from) continue
        await tx.exec(this.kind === 'sqlite' ? m.sqlite : m.postgres)
        await tx.run('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)', [
          m.version,
          m.name,
          Date.now(),
        ])
      }
      return { from, to: Math.max(from, SCHEMA_VERSION) }
    })
  }

  write<T>(fn: (tx: WriteTx) => Promise<T>): Promise<T> {
    return this.#driver.writeTransaction((q) => fn(new SqlWriteTx(q, this.kind)))
  }

  close(): Promise<void> {
    return this.#driver.close()
  }
}
