/**
 * Import and export of a whole tenant. {@link importDocument} checks a normalized import document
 * (src/domain/import-document.ts) against itself and the tenant's objects — every problem, with
 * its `ref` — and then applies all of it or nothing, in one writer transaction with one event per
 * created object. {@link exportTenant} writes casm's own lossless document of the tenant: export →
 * import into an empty tenant → export gives the same JSON (docs/import.md says what is and is
 * not carried).
 *
 * Cost: the checks sort and sweep (O(n log n)); applying writes one row per object with no
 * per-object lookups, so 100,000 prefixes import in seconds on SQLite.
 *
 * @module
 */

import { CasmError, isCasmError } from '../errors/casm-error.js'
import { PrefixAllocator } from '../alloc/prefix-allocator.js'
import { AddressRange, Prefix, mergeRanges } from '../ip/index.js'
import type { Block, Pool, Reservation } from '../domain/model.js'
import {
  type ExistingObjects,
  type ImportAssignment,
  type ImportDocument,
  type ImportGrant,
  type ImportProblem,
  type ImportReservation,
  IMPORT_DOCUMENT_VERSION,
  problemsError,
  rangeLabel,
  validateImportDocument,
} from '../domain/import-document.js'
import { resolvePolicy } from '../domain/pool-policy.js'
import { assignmentView, createReservation, grantView } from './allocations.js'
import { type Caller, actorOf, requireRole } from './caller.js'
import { newId } from './ids.js'
import { createDevice, createDomain } from './inventory.js'
import type { AllocationRow, StoreReader } from './store.js'
import type { WriteContext, WriteOp } from './writer.js'

/** Options of {@link importDocument}. */
export interface ImportOptions {
  /** Check and plan only; nothing is stored. */
  readonly dryRun?: boolean
}

/** One object an import creates (or would create). */
export interface ImportPlanItem {
  readonly type: 'domain' | 'block' | 'pool' | 'device' | 'reservation' | 'grant' | 'assignment'
  /** Its name, or its space for blocks and units. */
  readonly key: string
  readonly ref?: string
}

/** Counts of objects by type. */
export interface ImportCounts {
  readonly domains: number
  readonly blocks: number
  readonly pools: number
  readonly devices: number
  readonly reservations: number
  readonly grants: number
  readonly assignments: number
}

/** What {@link importDocument} answers: the plan, applied or not. */
export interface ImportResult {
  readonly dryRun: boolean
  /** True when the objects were stored. */
  readonly applied: boolean
  readonly counts: ImportCounts
  readonly created: readonly ImportPlanItem[]
}

function counts(doc: ImportDocument): ImportCounts {
  return {
    domains: doc.domains.length,
    blocks: doc.blocks.length,
    pools: doc.pools.length,
    devices: doc.devices?.length ?? 0,
    reservations: doc.reservations?.length ?? 0,
    grants: doc.grants?.length ?? 0,
    assignments: doc.assignments?.length ?? 0,
  }
}

function reservationKey(r: ImportReservation): string {
  return r.prefix ?? r.range ?? r.address ?? (r.pattern === undefined ? '' : 'pattern')
}

function plan(doc: ImportDocument): ImportPlanItem[] {
  const out: ImportPlanItem[] = []
  const add = (type: ImportPlanItem['type'], key: string, ref: string | undefined): void => {
    out.push(ref === undefined ? { type, key } : { type, key, ref })
  }
  for (const d of doc.domains) add('domain', d.name, d.ref)
  for (const b of doc.blocks) add('block', `${b.domain}:${b.space}`, b.ref)
  for (const p of doc.pools) add('pool', p.name, p.ref)
  for (const d of doc.devices ?? []) add('device', d.name, d.ref)
  for (const r of doc.reservations ?? []) add('reservation', reservationKey(r), r.ref)
  for (const g of doc.grants ?? []) add('grant', g.prefix, g.ref)
  for (const a of doc.assignments ?? []) add('assignment', a.prefix, a.ref)
  return out
}

/** The tenant's objects, as the document's checks need them (a few queries, no per-object reads). */
async function existingObjects(reader: StoreReader, c: Caller): Promise<ExistingObjects> {
  const [domains, blocks, pools, devices] = await Promise.all([
    reader.listDomains(c.tenantId),
    reader.listBlocks(c.tenantId),
    reader.listPools(c.tenantId),
    reader.listDevices(c.tenantId),
  ])
  const domainName = new Map(domains.map((d) => [d.id, d.name]))
  return {
    domains: domains.map((d) => d.name),
    blocks: blocks.map((b) => ({
      domain: domainName.get(b.domainId) ?? b.domainId,
      space: b.space,
      reserved: b.reserved,
    })),
    pools: pools.map((p) => ({
      name: p.name,
      domain: domainName.get(p.domainId) ?? p.domainId,
      space: p.space,
    })),
    devices: devices.map((d) => d.name),
  }
}

/**
 * Checks `doc` against the caller's tenant: every problem, or none. Reads committed data; the
 * import itself checks again under the write lock.
 */
export async function checkImport(
  reader: StoreReader,
  c: Caller,
  doc: unknown,
): Promise<readonly ImportProblem[]> {
  requireRole(c, 'operator')
  return validateImportDocument(doc, await existingObjects(reader, c)).problems
}

function epoch(t: string | null | undefined): number | null {
  return t === undefined || t === null ? null : Date.parse(t)
}

/**
 * Imports `doc` into the caller's tenant: all or nothing, in this one operation.
 *
 * @throws CasmError `CASM_ERR_VALIDATION` with `details.problems` (every problem, each with its
 *   `ref`) when anything is wrong; nothing is stored then.
 */
export function importDocument(
  c: Caller,
  doc: unknown,
  options: ImportOptions = {},
): WriteOp<ImportResult> {
  return async (ctx) => {
    requireRole(c, 'operator')
    const checked = validateImportDocument(doc, await existingObjects(ctx.tx, c))
    if (checked.document === undefined) throw problemsError(checked.problems)
    const d = checked.document
    const result: ImportResult = {
      dryRun: options.dryRun === true,
      applied: options.dryRun !== true,
      counts: counts(d),
      created: plan(d),
    }
    if (options.dryRun === true) return result
    const current = { ref: '/', path: '' }
    const outcome = await ctx.attempt(() => apply(ctx, c, d, checked.reservationPools, current))
    if (!outcome.ok) {
      throw problemsError([
        {
          ref: current.ref,
          path: current.path,
          code: outcome.error.code,
          message: outcome.error.message,
        },
      ])
    }
    return result
  }
}

/** Writes a checked document; `at` follows the item being written, for the problem's ref. */
async function apply(
  ctx: WriteContext,
  c: Caller,
  doc: ImportDocument,
  reservationPools: ReadonlyMap<number, string>,
  at: { ref: string; path: string },
): Promise<void> {
  const actor = actorOf(c)
  const emit = (action: string, objectType: string, objectId: string, after: unknown): void => {
    ctx.emit({
      tenantId: c.tenantId,
      actor,
      action,
      objectType,
      objectId,
      after,
      reason: 'import',
      requestId: c.requestId,
    })
  }
  const track = (ref: string | undefined, path: string): void => {
    at.ref = ref ?? path
    at.path = path
  }

  for (const [i, dm] of doc.domains.entries()) {
    track(dm.ref, `/domains/${i}`)
    await createDomain(c, {
      name: dm.name,
      ...(dm.description === undefined ? {} : { description: dm.description }),
    })(ctx)
  }
  const domainIds = new Map((await ctx.tx.listDomains(c.tenantId)).map((x) => [x.name, x.id]))

  for (const [i, b] of doc.blocks.entries()) {
    track(b.ref, `/blocks/${i}`)
    const r = AddressRange.parse(b.space.trim())
    const block: Block = {
      id: newId('block'),
      tenantId: c.tenantId,
      domainId: domainIds.get(b.domain) as string,
      family: r.family,
      space: rangeLabel(r),
      reserved: b.reserved ?? false,
      source: b.source ?? {},
      description: b.description ?? '',
      tags: b.tags ?? [],
      createdAt: ctx.now,
      updatedAt: ctx.now,
    }
    await ctx.tx.insertBlock(block, r.first, r.last)
    emit('block.create', 'block', block.id, block)
  }

  const pools = new Map<string, Pool>()
  for (const [i, p] of doc.pools.entries()) {
    track(p.ref, `/pools/${i}`)
    const ranges = mergeRanges(p.space.map((s) => AddressRange.parse(s.trim())))
    const family = (ranges[0] as AddressRange).family
    const pool: Pool = {
      id: newId('pool'),
      tenantId: c.tenantId,
      domainId: domainIds.get(p.domain) as string,
      name: p.name,
      kind: p.kind,
      family,
      space: ranges.map(rangeLabel),
      policy: resolvePolicy(family, p.policy),
      priority: p.priority ?? 0,
      selectors: p.selectors ?? {},
      tags: p.tags ?? [],
      description: p.description ?? '',
      createdAt: ctx.now,
      updatedAt: ctx.now,
    }
    const allocator = PrefixAllocator.create(family, ranges)
    const largest = Math.min(...allocator.space.flatMap((r) => r.toPrefixes()).map((x) => x.length))
    if (largest > pool.policy.unit.default) {
      throw new CasmError(
        'CASM_ERR_VALIDATION',
        `pool '${pool.name}': its largest aligned block is /${largest}; the default unit /${pool.policy.unit.default} can never be granted`,
      )
    }
    await ctx.tx.insertPool(pool, ranges)
    await ctx.installAllocator(pool, allocator)
    pools.set(pool.name, pool)
    emit('pool.create', 'pool', pool.id, pool)
  }

  for (const [i, dv] of (doc.devices ?? []).entries()) {
    track(dv.ref, `/devices/${i}`)
    await createDevice(c, dv)(ctx)
  }

  for (const [i, r] of (doc.reservations ?? []).entries()) {
    track(r.ref, `/reservations/${i}`)
    const poolName = r.pool ?? reservationPools.get(i) ?? ''
    const description =
      r.hostname === undefined || r.hostname === ''
        ? (r.description ?? '')
        : r.description === undefined || r.description === ''
          ? r.hostname
          : `${r.hostname} — ${r.description}`
    await createReservation(c, poolName, {
      ...(r.kind === undefined ? {} : { kind: r.kind }),
      ...(r.prefix !== undefined ? { prefix: r.prefix } : {}),
      ...(r.address !== undefined ? { prefix: r.address } : {}),
      ...(r.range !== undefined ? { range: r.range } : {}),
      ...(r.pattern !== undefined ? { pattern: r.pattern } : {}),
      description,
    })(ctx)
  }

  const poolOf = async (name: string): Promise<Pool> => {
    const known = pools.get(name)
    if (known !== undefined) return known
    const p = await ctx.tx.getPool(c.tenantId, name)
    if (p === undefined) throw new CasmError('CASM_ERR_NOT_FOUND', `pool '${name}' does not exist`)
    pools.set(name, p)
    return p
  }
  const deviceIds = new Map((await ctx.tx.listDevices(c.tenantId)).map((x) => [x.name, x.id]))
  const rows: AllocationRow[] = []
  const place = async (
    u: ImportGrant | ImportAssignment,
    path: string,
    type: 'grant' | 'assignment',
  ): Promise<AllocationRow> => {
    track(u.ref, path)
    const pool = await poolOf(u.pool)
    const a = await ctx.allocator(pool)
    const prefix = a.allocatePrefix(Prefix.parse(u.prefix.trim(), { family: pool.family }))
    ctx.onUndo(() => {
      a.release(prefix)
    })
    ctx.unitsChanged(pool.id)
    const row: AllocationRow = {
      id: newId(type),
      tenantId: c.tenantId,
      domainId: pool.domainId,
      poolId: pool.id,
      type,
      family: pool.family,
      prefix: prefix.toString(),
      first: prefix.first,
      last: prefix.last,
      length: prefix.length,
      state: u.state ?? 'active',
      deviceId: 'device' in u ? (deviceIds.get(u.device) ?? null) : null,
      reservationId: null,
      requestor: 'requestor' in u ? (u.requestor ?? {}) : null,
      hostname: 'hostname' in u ? (u.hostname ?? '') : '',
      description: 'description' in u ? (u.description ?? '') : '',
      createdAt: ctx.now,
      updatedAt: ctx.now,
      expiresAt: 'expiresAt' in u ? epoch(u.expiresAt) : null,
      releasedAt: u.state === 'quarantined' ? ctx.now : null,
      quarantineUntil: epoch(u.quarantineUntil),
      changedVersion: ctx.versionFor(pool.id),
    }
    rows.push(row)
    return row
  }
  for (const [i, g] of (doc.grants ?? []).entries()) {
    const row = await place(g, `/grants/${i}`, 'grant')
    emit('grant.create', 'grant', row.id, grantView(row))
  }
  for (const [i, as] of (doc.assignments ?? []).entries()) {
    const row = await place({ requestor: {}, ...as }, `/assignments/${i}`, 'assignment')
    emit('assignment.create', 'assignment', row.id, assignmentView(row))
  }
  track(undefined, '/')
  if (rows.length > 0) await ctx.tx.insertAllocations(rows)
}

// ---- export ----------------------------------------------------------------------------------

function iso(t: number | null): string | null {
  return t === null ? null : new Date(t).toISOString()
}

function byText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** Orders ranges numerically (family first), as the store does. */
function byRange(a: string, b: string): number {
  const x = AddressRange.parse(a)
  const y = AddressRange.parse(b)
  if (x.family !== y.family) return byText(x.family, y.family)
  return x.first < y.first ? -1 : x.first > y.first ? 1 : 0
}

function reservationOut(r: Reservation, pool: string): ImportReservation {
  const t = r.target
  return {
    pool,
    kind: r.kind,
    ...('prefix' in t
      ? { prefix: t.prefix }
      : 'range' in t
        ? { range: t.range }
        : { pattern: t.pattern }),
    description: r.description,
  }
}

/**
 * casm's own lossless document of the caller's tenant: domains, blocks, pools with their full
 * policies, devices with attributes and policy overrides, reservations, and live grants and
 * assignments with their state. Objects are named, never referred to by id; generated ids and
 * creation times are not part of it, so export → import → export is byte-for-byte the same.
 */
export async function exportTenant(reader: StoreReader, c: Caller): Promise<ImportDocument> {
  requireRole(c, 'viewer')
  const [domains, blocks, pools, devices, reservations] = await Promise.all([
    reader.listDomains(c.tenantId),
    reader.listBlocks(c.tenantId),
    reader.listPools(c.tenantId),
    reader.listDevices(c.tenantId),
    reader.listReservations(c.tenantId),
  ])
  const domainName = new Map(domains.map((d) => [d.id, d.name]))
  const poolName = new Map(pools.map((p) => [p.id, p.name]))
  const deviceName = new Map(devices.map((d) => [d.id, d.name]))
  const units: AllocationRow[] = []
  for (const p of [...pools].sort((a, b) => byText(a.name, b.name))) {
    for (const u of await reader.liveUnits(p.id)) {
      if ((u.type === 'grant' || u.type === 'assignment') && u.state !== 'free') units.push(u)
    }
  }
  const live = (u: AllocationRow): boolean =>
    u.state === 'active' || u.state === 'draining' || u.state === 'quarantined'
  const unitOrder = (a: AllocationRow, b: AllocationRow): number =>
    byText(poolName.get(a.poolId) ?? '', poolName.get(b.poolId) ?? '') ||
    (a.first < b.first ? -1 : a.first > b.first ? 1 : a.length - b.length)
  return {
    version: IMPORT_DOCUMENT_VERSION,
    domains: [...domains]
      .sort((a, b) => byText(a.name, b.name))
      .map((d) => ({ name: d.name, description: d.description })),
    blocks: blocks
      .map((b) => ({
        domain: domainName.get(b.domainId) ?? b.domainId,
        space: b.space,
        reserved: b.reserved,
        source: b.source,
        description: b.description,
        tags: b.tags,
      }))
      .sort((a, b) => byText(a.domain, b.domain) || byRange(a.space, b.space)),
    pools: [...pools]
      .sort((a, b) => byText(a.name, b.name))
      .map((p) => ({
        name: p.name,
        domain: domainName.get(p.domainId) ?? p.domainId,
        kind: p.kind,
        family: p.family,
        space: p.space,
        policy: p.policy,
        priority: p.priority,
        selectors: p.selectors,
        tags: p.tags,
        description: p.description,
      })),
    devices: [...devices]
      .sort((a, b) => byText(a.name, b.name))
      .map((d) => ({
        name: d.name,
        attributes: d.attributes,
        policy: d.policy,
        description: d.description,
      })),
    reservations: reservations
      .map((r) => ({ r, pool: poolName.get(r.poolId) ?? r.poolId }))
      .sort(
        (a, b) =>
          byText(a.pool, b.pool) ||
          byText(a.r.prefixes[0] ?? '', b.r.prefixes[0] ?? '') ||
          byText(JSON.stringify(a.r.target), JSON.stringify(b.r.target)),
      )
      .map(({ r, pool }) => reservationOut(r, pool)),
    grants: units
      .filter((u) => u.type === 'grant' && live(u))
      .sort(unitOrder)
      .map((u) => ({
        pool: poolName.get(u.poolId) ?? u.poolId,
        device: deviceName.get(u.deviceId ?? '') ?? '',
        prefix: u.prefix,
        state: u.state as 'active' | 'draining' | 'quarantined',
        expiresAt: iso(u.expiresAt),
        quarantineUntil: iso(u.quarantineUntil),
      })),
    assignments: units
      .filter((u) => u.type === 'assignment' && live(u))
      .sort(unitOrder)
      .map((u) => ({
        pool: poolName.get(u.poolId) ?? u.poolId,
        prefix: u.prefix,
        state: u.state as 'active' | 'draining' | 'quarantined',
        requestor: u.requestor ?? {},
        hostname: u.hostname,
        description: u.description,
        quarantineUntil: iso(u.quarantineUntil),
      })),
  }
}

/** True for a CasmError carrying import problems. */
export function importProblemsOf(e: unknown): readonly ImportProblem[] | undefined {
  if (!isCasmError(e)) return undefined
  const p = (e.details as { problems?: ImportProblem[] } | undefined)?.problems
  return Array.isArray(p) ? p : undefined
}
