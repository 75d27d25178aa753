/**
 * Grants, assignments and reservations: taking space out of pools and giving it back, and the
 * sweep that ends lifetimes and quarantines.
 *
 * Every change to a pool's allocator registers its undo with the writer, so an operation that
 * fails later in its transaction leaves the allocator as it found it.
 *
 * @module
 */

import { CasmError, isCasmError } from '../errors/casm-error.js'
import type { PrefixAllocator } from '../alloc/prefix-allocator.js'
import { AddressRange, type Family, Prefix, bitLength, familyWidth } from '../ip/index.js'
import { afterRelease, transition, type GrantState } from '../domain/grant-lifecycle.js'
import type {
  Assignment,
  Device,
  Grant,
  Pool,
  Reservation,
  ReservationTarget,
} from '../domain/model.js'
import { unitLength } from '../domain/pool-policy.js'
import { type RequestorAttributes, rankPools } from '../domain/requestor.js'
import { type Caller, actorOf, notFound, requireRole } from './caller.js'
import { newId } from './ids.js'
import type { AllocationFilter, AllocationRow, Page, StoreReader } from './store.js'
import type { WriteContext, WriteOp } from './writer.js'
import { POLICY_ACTOR, drainGrant, statusOf } from './device-outbox.js'

/** Most prefixes one reservation may hold. */
export const MAX_RESERVATION_UNITS = 65_536

// ---- views -----------------------------------------------------------------------------------

/** The grant a row stores. */
export function grantView(r: AllocationRow): Grant {
  return {
    id: r.id,
    tenantId: r.tenantId,
    domainId: r.domainId,
    poolId: r.poolId,
    deviceId: r.deviceId ?? '',
    prefix: r.prefix,
    state: r.state,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    expiresAt: r.expiresAt,
    releasedAt: r.releasedAt,
    quarantineUntil: r.quarantineUntil,
  }
}

/** The assignment a row stores. */
export function assignmentView(r: AllocationRow): Assignment {
  return {
    id: r.id,
    tenantId: r.tenantId,
    domainId: r.domainId,
    poolId: r.poolId,
    prefix: r.prefix,
    state: r.state,
    requestor: r.requestor ?? {},
    hostname: r.hostname,
    description: r.description,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    releasedAt: r.releasedAt,
    quarantineUntil: r.quarantineUntil,
  }
}

// ---- helpers ---------------------------------------------------------------------------------

function validation(path: string, message: string, value?: unknown): CasmError {
  return new CasmError('CASM_ERR_VALIDATION', message, { errors: [{ path, message, value }] })
}

async function poolOrThrow(reader: StoreReader, c: Caller, key: string): Promise<Pool> {
  const p = await reader.getPool(c.tenantId, key)
  if (p === undefined) throw notFound('pool', key)
  return p
}

async function deviceOrThrow(reader: StoreReader, c: Caller, key: string): Promise<Device> {
  const d = await reader.getDevice(c.tenantId, key)
  if (d === undefined) throw notFound('device', key)
  return d
}

/** Allocates in `a` with `fn` and registers the release as the undo. */
function take(ctx: WriteContext, a: PrefixAllocator, fn: () => Prefix): Prefix {
  const p = fn()
  ctx.onUndo(() => {
    a.release(p)
  })
  return p
}

/** Gives an allocated unit back to `a`, with re-taking it as the undo. */
function giveBack(ctx: WriteContext, a: PrefixAllocator, p: Prefix): void {
  a.release(p)
  ctx.onUndo(() => a.allocatePrefix(p))
}

function parsePrefixIn(text: string, family: Family, path: string): Prefix {
  try {
    return Prefix.parse(text, { family })
  } catch (e) {
    if (isCasmError(e))
      throw new CasmError(e.code, `${path}: ${e.message}`, { ...e.details, path }, { cause: e })
    throw e
  }
}

function newRow(
  ctx: WriteContext,
  tenantId: string,
  pool: Pool,
  prefix: Prefix,
  fields: Partial<AllocationRow> & Pick<AllocationRow, 'type'>,
): AllocationRow {
  return {
    id: newId(
      fields.type === 'grant' ? 'grant' : fields.type === 'assignment' ? 'assignment' : 'unit',
    ),
    tenantId,
    domainId: pool.domainId,
    poolId: pool.id,
    family: pool.family,
    prefix: prefix.toString(),
    first: prefix.first,
    last: prefix.last,
    length: prefix.length,
    state: 'active',
    deviceId: null,
    reservationId: null,
    requestor: null,
    hostname: '',
    description: '',
    createdAt: ctx.now,
    updatedAt: ctx.now,
    expiresAt: null,
    releasedAt: null,
    quarantineUntil: null,
    changedVersion: ctx.versionFor(pool.id),
    ...fields,
  }
}

/**
 * Moves a grant or assignment row by `event` (`release` or `expire`) through the lifecycle into
 * quarantine or straight back to the pool; returns the changed row. `quarantineSeconds`
 * overrides the pool's (a move hands the space on at once). A grant's stored leases go with it:
 * every way a grant leaves its device comes through here.
 */
export async function endUnit(
  ctx: WriteContext,
  pool: Pool,
  row: AllocationRow,
  event: 'release' | 'expire',
  quarantineSeconds = pool.policy.quarantine,
): Promise<AllocationRow> {
  const ended = transition(row.state, event)
  const next = afterRelease(quarantineSeconds * 1000, ctx.now)
  const state: GrantState = transition(ended, next.state === 'free' ? 'free' : 'quarantine')
  const a = await ctx.allocator(pool)
  if (state === 'free') {
    giveBack(ctx, a, Prefix.of(row.family, row.first, row.length))
    ctx.unitsChanged(pool.id)
  }
  const after: AllocationRow = {
    ...row,
    state,
    updatedAt: ctx.now,
    releasedAt: ctx.now,
    quarantineUntil: next.quarantineUntil,
    changedVersion: state === 'free' ? ctx.versionFor(pool.id) : row.changedVersion,
  }
  await ctx.tx.updateAllocation(after)
  if (row.type === 'grant') await ctx.tx.deleteGrantLeases(row.id)
  return after
}

// ---- grants ----------------------------------------------------------------------------------

/** Input of {@link createGrant}. */
export interface GrantInput {
  /** The device (name or id) that receives the grant. */
  readonly device: string
  /** Prefix length wanted; the pool's default unit when omitted. */
  readonly length?: number
  /** An exact prefix of the pool instead of letting the pool choose. */
  readonly prefix?: string
}

/**
 * Grants a unit of a pool to a device. The device may come already looked up (outside the
 * writer, so concurrent requests do not queue for it); the store's foreign key still refuses a
 * device deleted meanwhile.
 */
export function createGrant(
  c: Caller,
  poolKey: string,
  input: GrantInput,
  resolved?: Device,
): WriteOp<Grant> {
  return async (ctx) => {
    requireRole(c, 'operator')
    const pool = await poolOrThrow(ctx.tx, c, poolKey)
    const device = resolved ?? (await deviceOrThrow(ctx.tx, c, input.device))
    const row = await grantUnit(ctx, pool, device, {
      ...(input.length === undefined ? {} : { length: input.length }),
      ...(input.prefix === undefined ? {} : { prefix: input.prefix }),
      preferAdjacent: pool.policy.strategy === 'adjacent',
      actor: actorOf(c),
      reason: null,
      requestId: c.requestId,
    })
    return grantView(row)
  }
}

/** How {@link grantUnit} carves and records a grant. */
export interface GrantUnitOptions {
  /** Prefix length (checked against the pool's unit bounds); the default unit when omitted. */
  readonly length?: number
  /** An exact prefix of the pool. */
  readonly prefix?: string
  /** Carve next to the device's grants in this pool, so its routes aggregate. */
  readonly preferAdjacent: boolean
  readonly actor: string
  /** Why, for the event (the policy engine says). */
  readonly reason: string | null
  readonly requestId: string | null
}

/**
 * Takes a unit of `pool` for `device` and stores the grant with its event: the grant operation
 * of the API and of the device loop.
 *
 * @throws CasmError `CASM_ERR_POOL_EXHAUSTED`, `CASM_ERR_VALIDATION` (length), `CASM_ERR_OVERLAP`.
 */
export async function grantUnit(
  ctx: WriteContext,
  pool: Pool,
  device: Device,
  o: GrantUnitOptions,
): Promise<AllocationRow> {
  const a = await ctx.allocator(pool)
  let prefix: Prefix
  if (o.prefix !== undefined) {
    const p = parsePrefixIn(o.prefix, pool.family, '/prefix')
    unitLength(pool.policy, p.length)
    prefix = take(ctx, a, () => a.allocatePrefix(p))
  } else {
    const length = unitLength(pool.policy, o.length)
    const near = o.preferAdjacent
      ? (await ctx.tx.deviceUnits(device.id))
          .filter((r) => r.poolId === pool.id)
          .slice(0, 64)
          .map((r) => Prefix.of(r.family, r.first, r.length))
      : []
    const strategy = near.length > 0 ? 'adjacent' : pool.policy.strategy
    prefix = take(ctx, a, () => a.allocate(length, { strategy, near }))
  }
  ctx.unitsChanged(pool.id)
  const row = newRow(ctx, device.tenantId, pool, prefix, {
    type: 'grant',
    deviceId: device.id,
    expiresAt: pool.policy.lifetime > 0 ? ctx.now + pool.policy.lifetime * 1000 : null,
  })
  await ctx.tx.insertAllocations([row])
  ctx.emit({
    tenantId: device.tenantId,
    actor: o.actor,
    action: 'grant.create',
    objectType: 'grant',
    objectId: row.id,
    after: grantView(row),
    reason: o.reason,
    requestId: o.requestId,
  })
  return row
}

/** Looks a grant's device up on committed data, before the write (see {@link createGrant}). */
export async function resolveDevice(reader: StoreReader, c: Caller, key: string): Promise<Device> {
  requireRole(c, 'operator')
  return deviceOrThrow(reader, c, key)
}

/** Reads a grant. */
export async function getGrant(reader: StoreReader, c: Caller, id: string): Promise<Grant> {
  requireRole(c, 'viewer')
  const r = await reader.getAllocation(c.tenantId, id)
  if (r?.type !== 'grant') throw notFound('grant', id)
  return grantView(r)
}

/** Filters of {@link listGrants}. */
export interface GrantFilter {
  readonly pool?: string
  readonly device?: string
  readonly state?: GrantState
}

/** Lists grants, a page at a time in creation order. */
export async function listGrants(
  reader: StoreReader,
  c: Caller,
  f: GrantFilter,
  page: Page,
): Promise<Grant[]> {
  requireRole(c, 'viewer')
  const filter: AllocationFilter = {
    type: 'grant',
    ...(f.pool === undefined ? {} : { poolId: (await poolOrThrow(reader, c, f.pool)).id }),
    ...(f.device === undefined ? {} : { deviceId: (await deviceOrThrow(reader, c, f.device)).id }),
    ...(f.state === undefined ? {} : { state: f.state }),
  }
  return (await reader.listAllocations(c.tenantId, filter, page)).map(grantView)
}

/** Releases a grant: quarantined, or back to the pool at once when the pool has no quarantine. */
export function releaseGrant(c: Caller, id: string): WriteOp<Grant> {
  return async (ctx) => {
    requireRole(c, 'operator')
    const row = await ctx.tx.getAllocation(c.tenantId, id)
    if (row?.type !== 'grant') throw notFound('grant', id)
    const pool = await poolOrThrow(ctx.tx, c, row.poolId)
    const after = await endUnit(ctx, pool, row, 'release')
    ctx.emit({
      tenantId: c.tenantId,
      actor: actorOf(c),
      action: 'grant.release',
      objectType: 'grant',
      objectId: id,
      before: grantView(row),
      after: grantView(after),
      requestId: c.requestId,
    })
    return grantView(after)
  }
}

// ---- assignments -----------------------------------------------------------------------------

/** Input of {@link createAssignment}: what the requestor is and what it needs (RF-4.2.1). */
export interface AssignmentInput {
  readonly requestor?: RequestorAttributes
  /** Family wanted when no pool or prefix says it. */
  readonly family?: Family
  /** Number of addresses needed (rounded up to a prefix); one when neither size nor length is given. */
  readonly size?: number
  /** Prefix length wanted. */
  readonly length?: number
  /** Pick from this pool instead of by metadata. */
  readonly pool?: string
  /** Restrict the search to one domain. */
  readonly domain?: string
  /** An exact address or prefix (static hosts). */
  readonly prefix?: string
  readonly hostname?: string
  readonly description?: string
}

/** An assignment and how its pool was chosen. */
export interface AssignmentResult {
  readonly assignment: Assignment
  readonly pool: string
  /** Requestor attributes the pool's selectors tested. */
  readonly matchedSelectors: number
}

function lengthFor(family: Family, input: AssignmentInput): number {
  const width = familyWidth(family)
  if (input.length !== undefined) {
    if (!Number.isInteger(input.length) || input.length < 0 || input.length > width) {
      throw validation('/length', `length must be 0-${width} for ${family}`, input.length)
    }
    return input.length
  }
  if (input.size !== undefined) {
    if (!Number.isSafeInteger(input.size) || input.size < 1)
      throw validation('/size', 'size must be a positive whole number', input.size)
    const bits = bitLength(BigInt(input.size) - 1n)
    if (bits > width)
      throw validation('/size', `${input.size} addresses do not fit in ${family}`, input.size)
    return width - bits
  }
  return width
}

/**
 * Assigns an address or block. With `pool`, from that pool; with `prefix`, exactly that space
 * from the pool holding it; otherwise from the best pool for the requestor: pools whose
 * selectors match, higher priority first, more specific selectors next, trying the next when one
 * is exhausted.
 */
export function createAssignment(c: Caller, input: AssignmentInput): WriteOp<AssignmentResult> {
  return async (ctx) => {
    requireRole(c, 'operator')
    const requestor = input.requestor ?? {}
    const domainId =
      input.domain === undefined
        ? undefined
        : (await ctx.tx.getDomain(c.tenantId, input.domain))?.id
    if (input.domain !== undefined && domainId === undefined) throw notFound('domain', input.domain)
    let candidates: { pool: Pool; matched: number }[]
    if (input.pool !== undefined) {
      candidates = [{ pool: await poolOrThrow(ctx.tx, c, input.pool), matched: 0 }]
    } else {
      let pools = await ctx.tx.listPools(c.tenantId, domainId)
      if (input.family !== undefined) pools = pools.filter((p) => p.family === input.family)
      if (input.prefix !== undefined) {
        const text = input.prefix
        pools = pools.filter((p) => {
          try {
            const want = Prefix.parse(text, { family: p.family })
            return p.space.some((s) => AddressRange.parse(s, p.family).contains(want))
          } catch {
            return false
          }
        })
        if (pools.length > 1) {
          throw validation(
            '/domain',
            `${text} lies in pools of ${pools.length} domains; name the domain or the pool`,
          )
        }
        candidates = pools.map((pool) => ({ pool, matched: 0 }))
        if (candidates.length === 0) {
          throw new CasmError(
            'CASM_ERR_OUT_OF_POOL',
            `${text} is not inside any pool${input.domain === undefined ? '' : ` of domain '${input.domain}'`}`,
          )
        }
      } else {
        candidates = rankPools(pools, requestor)
        if (candidates.length === 0) {
          throw new CasmError(
            'CASM_ERR_NOT_FOUND',
            "no pool serves a requestor with these attributes; check the pools' selectors",
            {
              requestor,
            },
          )
        }
      }
    }
    const tried: string[] = []
    for (const { pool, matched } of candidates) {
      const a = await ctx.allocator(pool)
      let prefix: Prefix
      try {
        if (input.prefix !== undefined) {
          const p = parsePrefixIn(input.prefix, pool.family, '/prefix')
          prefix = take(ctx, a, () => a.allocatePrefix(p))
        } else {
          const length = lengthFor(pool.family, input)
          if (length < pool.policy.unit.min) {
            tried.push(`${pool.name} (its largest unit is /${pool.policy.unit.min})`)
            continue
          }
          prefix = take(ctx, a, () => a.allocate(length, { strategy: pool.policy.strategy }))
        }
      } catch (e) {
        if (isCasmError(e, 'CASM_ERR_POOL_EXHAUSTED') && candidates.length > 1) {
          tried.push(`${pool.name} (exhausted)`)
          continue
        }
        throw e
      }
      ctx.unitsChanged(pool.id)
      const row = newRow(ctx, c.tenantId, pool, prefix, {
        type: 'assignment',
        requestor,
        hostname: input.hostname ?? '',
        description: input.description ?? '',
      })
      await ctx.tx.insertAllocations([row])
      const assignment = assignmentView(row)
      ctx.emit({
        tenantId: c.tenantId,
        actor: actorOf(c),
        action: 'assignment.create',
        objectType: 'assignment',
        objectId: row.id,
        after: assignment,
        reason:
          input.pool === undefined && input.prefix === undefined
            ? `pool '${pool.name}' chosen by priority ${pool.priority} and ${matched} matching selector(s)`
            : null,
        requestId: c.requestId,
      })
      return { assignment, pool: pool.name, matchedSelectors: matched }
    }
    throw new CasmError(
      'CASM_ERR_POOL_EXHAUSTED',
      `no matching pool could serve the request: ${tried.join(', ')}`,
      { tried },
    )
  }
}

/** Reads an assignment. */
export async function getAssignment(
  reader: StoreReader,
  c: Caller,
  id: string,
): Promise<Assignment> {
  requireRole(c, 'viewer')
  const r = await reader.getAllocation(c.tenantId, id)
  if (r?.type !== 'assignment') throw notFound('assignment', id)
  return assignmentView(r)
}

/** Lists assignments. */
export async function listAssignments(
  reader: StoreReader,
  c: Caller,
  f: { pool?: string; state?: GrantState },
  page: Page,
): Promise<Assignment[]> {
  requireRole(c, 'viewer')
  const filter: AllocationFilter = {
    type: 'assignment',
    ...(f.pool === undefined ? {} : { poolId: (await poolOrThrow(reader, c, f.pool)).id }),
    ...(f.state === undefined ? {} : { state: f.state }),
  }
  return (await reader.listAllocations(c.tenantId, filter, page)).map(assignmentView)
}

/** Releases an assignment. */
export function releaseAssignment(c: Caller, id: string): WriteOp<Assignment> {
  return async (ctx) => {
    requireRole(c, 'operator')
    const row = await ctx.tx.getAllocation(c.tenantId, id)
    if (row?.type !== 'assignment') throw notFound('assignment', id)
    const pool = await poolOrThrow(ctx.tx, c, row.poolId)
    const after = await endUnit(ctx, pool, row, 'release')
    ctx.emit({
      tenantId: c.tenantId,
      actor: actorOf(c),
      action: 'assignment.release',
      objectType: 'assignment',
      objectId: id,
      before: assignmentView(row),
      after: assignmentView(after),
      requestId: c.requestId,
    })
    return assignmentView(after)
  }
}

// ---- reservations ----------------------------------------------------------------------------

/** Input of {@link createReservation}: one of prefix, range or pattern. */
export interface ReservationInput {
  readonly kind?: 'reserved' | 'excluded'
  readonly prefix?: string
  readonly range?: string
  readonly pattern?: { every: number; offsets: readonly number[]; length?: number; within?: string }
  readonly description?: string
}

/** Keeps space of a pool back (`reserved`) or takes it out of the pool (`excluded`). */
export function createReservation(
  c: Caller,
  poolKey: string,
  input: ReservationInput,
): WriteOp<Reservation> {
  return async (ctx) => {
    requireRole(c, 'operator')
    const pool = await poolOrThrow(ctx.tx, c, poolKey)
    const kind = input.kind ?? 'reserved'
    const given = [input.prefix, input.range, input.pattern].filter((x) => x !== undefined).length
    if (given !== 1) throw validation('/', 'give exactly one of prefix, range or pattern')
    const a = await ctx.allocator(pool)
    let target: ReservationTarget
    let prefixes: Prefix[]
    if (input.pattern !== undefined) {
      if (kind === 'excluded')
        throw validation('/pattern', 'patterns reserve; exclude a prefix or a range instead')
      const pat = input.pattern
      const within =
        pat.within === undefined
          ? undefined
          : parsePrefixIn(pat.within, pool.family, '/pattern/within')
      prefixes = a.reservePattern({
        every: pat.every,
        offsets: pat.offsets,
        ...(pat.length === undefined ? {} : { length: pat.length }),
        ...(within === undefined ? {} : { within }),
      })
      target = {
        pattern: {
          every: pat.every,
          offsets: [...pat.offsets],
          ...(pat.length === undefined ? {} : { length: pat.length }),
          ...(within === undefined ? {} : { within: within.toString() }),
        },
      }
    } else {
      const t: Prefix | AddressRange =
        input.prefix !== undefined
          ? parsePrefixIn(input.prefix, pool.family, '/prefix')
          : AddressRange.parse(input.range ?? '', pool.family)
      prefixes = kind === 'reserved' ? a.reserve(t) : a.exclude(t)
      target = input.prefix !== undefined ? { prefix: t.toString() } : { range: t.toString() }
    }
    const undo = (): void => {
      for (const p of prefixes) {
        if (kind === 'reserved') a.unreserve(p)
        else a.include(p)
      }
    }
    ctx.onUndo(undo)
    if (prefixes.length > MAX_RESERVATION_UNITS) {
      throw new CasmError(
        'CASM_ERR_LIMIT',
        `the reservation would hold ${prefixes.length} prefixes; at most ${MAX_RESERVATION_UNITS}`,
        {
          count: prefixes.length,
        },
      )
    }
    ctx.unitsChanged(pool.id)
    const reservation: Reservation = {
      id: newId('reservation'),
      tenantId: c.tenantId,
      poolId: pool.id,
      kind,
      target,
      prefixes: prefixes.map(String),
      description: input.description ?? '',
      createdAt: ctx.now,
    }
    await ctx.tx.insertReservation(reservation)
    await ctx.tx.insertAllocations(
      prefixes.map((p) =>
        newRow(ctx, c.tenantId, pool, p, {
          type: kind === 'reserved' ? 'reservation' : 'exclusion',
          reservationId: reservation.id,
          description: reservation.description,
        }),
      ),
    )
    ctx.emit({
      tenantId: c.tenantId,
      actor: actorOf(c),
      action: 'reservation.create',
      objectType: 'reservation',
      objectId: reservation.id,
      after: {
        ...reservation,
        prefixes: reservation.prefixes.slice(0, 100),
        count: prefixes.length,
      },
      requestId: c.requestId,
    })
    return reservation
  }
}

/** Reads a reservation. */
export async function getReservation(
  reader: StoreReader,
  c: Caller,
  id: string,
): Promise<Reservation> {
  requireRole(c, 'viewer')
  const r = await reader.getReservation(c.tenantId, id)
  if (r === undefined) throw notFound('reservation', id)
  return r
}

/** Lists reservations, optionally of one pool. */
export async function listReservations(
  reader: StoreReader,
  c: Caller,
  pool?: string,
): Promise<Reservation[]> {
  requireRole(c, 'viewer')
  return reader.listReservations(
    c.tenantId,
    pool === undefined ? undefined : (await poolOrThrow(reader, c, pool)).id,
  )
}

/** Ends a reservation: its space returns to the pool. */
export function deleteReservation(c: Caller, id: string): WriteOp<void> {
  return async (ctx) => {
    requireRole(c, 'operator')
    const r = await ctx.tx.getReservation(c.tenantId, id)
    if (r === undefined) throw notFound('reservation', id)
    const pool = await poolOrThrow(ctx.tx, c, r.poolId)
    const a = await ctx.allocator(pool)
    for (const text of r.prefixes) {
      const p = Prefix.parse(text, { family: pool.family })
      if (r.kind === 'reserved') {
        a.unreserve(p)
        ctx.onUndo(() => a.reserve(p))
      } else {
        a.include(p)
        ctx.onUndo(() => a.exclude(p))
      }
    }
    await ctx.tx.deleteReservation(r.id)
    ctx.spaceChanged(pool.id)
    ctx.emit({
      tenantId: c.tenantId,
      actor: actorOf(c),
      action: 'reservation.delete',
      objectType: 'reservation',
      objectId: r.id,
      before: { ...r, prefixes: r.prefixes.slice(0, 100) },
      requestId: c.requestId,
    })
  }
}

// ---- the sweep -------------------------------------------------------------------------------

/**
 * Ends what is due at `ctx.now`: grants whose lifetime ran out expire (into quarantine or back to
 * the pool), quarantines that are over return their space. At most `limit` units per call.
 */
export function sweep(limit = 500): WriteOp<{ expired: number; freed: number }> {
  return async (ctx) => {
    let expired = 0
    let freed = 0
    const pools = new Map<string, Pool>()
    for (const row of await ctx.tx.dueUnits(ctx.now, limit)) {
      let pool = pools.get(row.poolId)
      if (pool === undefined) {
        pool = await ctx.tx.getPool(row.tenantId, row.poolId)
        if (pool === undefined) continue
        pools.set(pool.id, pool)
      }
      const system: Caller = {
        tokenId: null,
        role: 'admin',
        tenantId: row.tenantId,
        root: true,
        deviceId: null,
        requestId: null,
      }
      const view = row.type === 'grant' ? grantView : assignmentView
      if (
        row.type === 'grant' &&
        row.deviceId !== null &&
        (row.state === 'active' || row.state === 'draining')
      ) {
        // A device's grant is withdrawn only after drain: it drains now and expires once its
        // device reports it empty (the device loop).
        const status = await statusOf(ctx.tx, row)
        if (status.pinned) {
          const after: AllocationRow = { ...row, expiresAt: null, updatedAt: ctx.now }
          await ctx.tx.updateAllocation(after)
          ctx.emit({
            tenantId: row.tenantId,
            actor: POLICY_ACTOR,
            action: 'grant.update',
            objectType: 'grant',
            objectId: row.id,
            before: { expiresAt: row.expiresAt },
            after: { expiresAt: null },
            reason: 'its lifetime ended, but it is pinned: it stays until unpinned',
          })
          continue
        }
        await drainGrant(ctx, row, {
          cause: 'lifetime',
          reason: `its lifetime ended at ${new Date(row.expiresAt ?? ctx.now).toISOString()} without renewal; it expires once its device reports it empty`,
          actor: POLICY_ACTOR,
        })
        expired++
        continue
      }
      if (row.state === 'active' || row.state === 'draining') {
        const after = await endUnit(ctx, pool, row, 'expire')
        expired++
        if (after.state === 'free') freed++
        ctx.emit({
          tenantId: row.tenantId,
          actor: actorOf(system),
          action: `${row.type}.expire`,
          objectType: row.type,
          objectId: row.id,
          before: view(row),
          after: view(after),
          reason: 'its lifetime ended without renewal',
        })
      } else {
        const state = transition(row.state, 'free')
        const a = await ctx.allocator(pool)
        giveBack(ctx, a, Prefix.of(row.family, row.first, row.length))
        ctx.unitsChanged(pool.id)
        const after: AllocationRow = {
          ...row,
          state,
          updatedAt: ctx.now,
          quarantineUntil: null,
          changedVersion: ctx.versionFor(pool.id),
        }
        await ctx.tx.updateAllocation(after)
        freed++
        ctx.emit({
          tenantId: row.tenantId,
          actor: actorOf(system),
          action: `${row.type}.free`,
          objectType: row.type,
          objectId: row.id,
          before: view(row),
          after: view(after),
          reason: 'quarantine over: the space is back in the pool',
        })
      }
    }
    return { expired, freed }
  }
}
