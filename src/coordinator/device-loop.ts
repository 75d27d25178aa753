/**
 * The coordinator's half of the device protocol (docs/protocol.md) and the policy loop: each
 * device message is one write operation that checks the message against the device's grants,
 * records what it says, runs the policy engine and applies its decisions — grants, drains,
 * releases, alerts — with their events and the stream messages that announce them, all in one
 * transaction. A refused message changes nothing.
 *
 * @module
 */

import { CasmError } from '../errors/casm-error.js'
import { type Family, Prefix, aggregatePrefixes } from '../ip/index.js'
import { transition } from '../domain/grant-lifecycle.js'
import type {
  AckMessage,
  CoordinatorMessage,
  DeviceMessage,
  GrantInfo,
  HelloMessage,
  PoolRequestMessage,
  ReleaseConfirmMessage,
  ReleaseRequestMessage,
  RenewMessage,
  StatusReportMessage,
} from '../domain/device-protocol.js'
import { PROTOCOL_VERSION } from '../domain/device-protocol.js'
import type { Device, Pool } from '../domain/model.js'
import {
  addressesOf,
  type Decision,
  type DeviceFacts,
  type GrantFacts,
  type Verdict,
  decide,
} from '../domain/policy-engine.js'
import { type PoolPolicy, effectivePolicy } from '../domain/pool-policy.js'
import { rankPools } from '../domain/requestor.js'
import { endUnit, grantUnit, grantView } from './allocations.js'
import { type Caller, actorOf, notFound, requireRole } from './caller.js'
import {
  POLICY_ACTOR,
  clearAlert,
  drainGrant,
  emptyStatus,
  grantInfo,
  loopOf,
  pushMessage,
  raiseAlert,
  statusOf,
} from './device-outbox.js'
import type {
  AllocationRow,
  DeviceLoopRow,
  GrantStatusRow,
  StoreReader,
  UsagePoint,
} from './store.js'
import type { WriteContext, WriteOp } from './writer.js'

/** Most usage points kept per family for the forecast. */
export const HISTORY_POINTS = 120

/** Growth attempts failing in a row before a `grant-failures` alert. */
export const FAILURES_BEFORE_ALERT = 3

/** Kinds of pool the device loop hands out (static and multicast space is managed by hand). */
const LOOP_KINDS = new Set(['subscriber', 'cgn', 'ds-lite', 'lw4o6', 'map', 'dhcp', 'pd', 'custom'])

function outOfOrder(message: string, details?: Record<string, unknown>): CasmError {
  return new CasmError('CASM_ERR_OUT_OF_ORDER', message, details)
}

function invalid(path: string, message: string, value?: unknown): CasmError {
  return new CasmError('CASM_ERR_VALIDATION', `${path}: ${message}`, {
    errors: [{ path, message, value }],
  })
}

// ---- the device as the loop sees it ------------------------------------------------------------

/** A device, its live grants and their loop facts, read inside one operation. */
export interface DeviceView {
  readonly device: Device
  readonly loop: DeviceLoopRow
  /** Live grants (active or draining), oldest first. */
  readonly grants: readonly AllocationRow[]
  readonly status: ReadonlyMap<string, GrantStatusRow>
  readonly pools: ReadonlyMap<string, Pool>
}

const isHeld = (u: AllocationRow): boolean =>
  u.type === 'grant' && (u.state === 'active' || u.state === 'draining')

/** A device with its live grants (active or draining), oldest first. */
export async function heldGrants(reader: StoreReader, device: Device): Promise<HeldGrants> {
  return { device, grants: (await reader.deviceUnits(device.id)).filter(isHeld) }
}

/** Reads what the loop needs about a device. */
export async function viewDevice(reader: StoreReader, device: Device): Promise<DeviceView> {
  const [loop, rows] = await Promise.all([
    loopOf(reader, device.tenantId, device.id),
    reader.deviceGrants(device.id),
  ])
  const held = rows.filter((r) => isHeld(r.unit))
  const grants = held.map((r) => r.unit)
  const status = new Map(
    held.flatMap((r) => (r.status === null ? [] : [[r.unit.id, r.status] as const])),
  )
  const pools = new Map<string, Pool>()
  for (const g of grants) {
    if (!pools.has(g.poolId)) {
      const p = await reader.getPool(device.tenantId, g.poolId)
      if (p !== undefined) pools.set(p.id, p)
    }
  }
  return { device, loop, grants, status, pools }
}

function statusFor(v: DeviceView, row: AllocationRow): GrantStatusRow {
  return v.status.get(row.id) ?? emptyStatus(row.id, v.device.id)
}

function infoOf(v: DeviceView, row: AllocationRow): GrantInfo {
  const pool = v.pools.get(row.poolId)
  return grantInfo(row, pool ?? ({ name: row.poolId } as Pool), statusFor(v, row))
}

/** The policy in force for the device in `family`: the pool of its grants there, overridden. */
function policyFor(v: DeviceView, family: Family, fallback?: Pool): PoolPolicy | undefined {
  const row = v.grants.find((g) => g.family === family)
  const pool = (row === undefined ? undefined : v.pools.get(row.poolId)) ?? fallback
  return pool === undefined ? undefined : effectivePolicy(pool.policy, v.device.policy)
}

/** The facts the policy engine decides on, for one family's policy. */
export function factsOf(v: DeviceView, now: number, policy: PoolPolicy): DeviceFacts {
  const grants: GrantFacts[] = v.grants.map((g) => {
    const s = statusFor(v, g)
    return {
      id: g.id,
      poolId: g.poolId,
      family: g.family,
      prefix: g.prefix,
      size: unitSize(g),
      state: g.state === 'draining' ? 'draining' : 'active',
      pinned: s.pinned,
      expiresAt: g.expiresAt,
      drainCause: s.drainCause,
      drainApplied: drainApplied(s, v.loop),
      usage:
        s.reportedAt === null
          ? null
          : {
              used: s.used ?? 0,
              peak: s.peak ?? s.used ?? 0,
              average: s.average ?? s.used ?? 0,
              at: s.reportedAt,
            },
    }
  })
  const families = [...new Set(v.grants.map((g) => g.family))]
  return {
    deviceId: v.device.id,
    now,
    policy,
    grants,
    lowSince: v.loop.lowSince,
    history: v.loop.history,
    lastReportAt: v.loop.reportAt,
    families,
  }
}

/**
 * Whether the device has shown it applied a grant's drain: its last report says it serves the
 * grant as draining, or — from a device whose reports do not say — it acknowledged the drain
 * event (and reported since).
 */
export function drainApplied(s: GrantStatusRow, loop: DeviceLoopRow): boolean {
  if (s.servedState !== null) return s.servedState === 'draining'
  return s.drainSeq !== null && loop.ackedSeq >= s.drainSeq
}

/** Addresses (or, for prefix delegation, the smallest units) a grant holds. */
function unitSize(g: AllocationRow): number {
  return addressesOf(g.family, g.length)
}

/** The routes a device's live grants need once aggregated, per family. */
export function routeCount(grants: readonly AllocationRow[]): number {
  let n = 0
  for (const family of new Set(grants.map((g) => g.family))) {
    n += aggregatePrefixes(
      grants.filter((g) => g.family === family).map((g) => Prefix.of(g.family, g.first, g.length)),
    ).length
  }
  return n
}

/** Runs the engine for every family the device uses, each under its own pool's policy. */
export function verdictOf(v: DeviceView, now: number): Verdict {
  const decisions: Decision[] = []
  const lowSince: Partial<Record<Family, number | null>> = {}
  const utilisation: Partial<Record<Family, number>> = {}
  const families = [...new Set(v.grants.map((g) => g.family))]
  const seen = new Set<string>()
  for (const family of families) {
    const policy = policyFor(v, family)
    if (policy === undefined) continue
    const facts = factsOf(v, now, policy)
    const one = decide({ ...facts, families: [family] })
    for (const d of one.decisions) {
      // Per-grant rules (release, lifetime) and the alert come once, not once per family.
      const key = d.kind === 'grant' ? `grant:${d.family}` : JSON.stringify(d)
      if (d.kind !== 'grant' && d.kind !== 'undrain' && d.kind !== 'drain' && seen.has(key))
        continue
      if (
        (d.kind === 'release' || (d.kind === 'drain' && d.cause === 'lifetime')) &&
        v.grants.find((g) => g.id === d.grant)?.family !== family
      )
        continue
      if (d.kind === 'alert' && seen.has('alert')) continue
      seen.add(d.kind === 'alert' ? 'alert' : key)
      decisions.push(d)
    }
    lowSince[family] = one.lowSince[family] ?? null
    const u = one.utilisation[family]
    if (u !== undefined) utilisation[family] = u
  }
  return { decisions, lowSince, utilisation }
}

// ---- applying decisions ----------------------------------------------------------------------

/** Pools the device may draw `family` space from: its pools first, then by its attributes. */
async function candidatePools(ctx: WriteContext, v: DeviceView, family: Family): Promise<Pool[]> {
  const own = v.grants.filter((g) => g.family === family).map((g) => v.pools.get(g.poolId))
  const out: Pool[] = []
  for (const p of own) if (p !== undefined && !out.some((o) => o.id === p.id)) out.push(p)
  const all = (await ctx.tx.listPools(v.device.tenantId)).filter(
    (p) => p.family === family && LOOP_KINDS.has(p.kind),
  )
  for (const { pool } of rankPools(all, v.device.attributes)) {
    if (!out.some((o) => o.id === pool.id)) out.push(pool)
  }
  return out
}

/**
 * Grants one more unit of `family` to the device from the first candidate pool that has room,
 * next to its grants. Returns the new grant, or the pools tried when none could serve.
 */
async function growDevice(
  ctx: WriteContext,
  v: DeviceView,
  family: Family,
  o: { reason: string; actor: string; length?: number; requestId: string | null },
): Promise<{ row: AllocationRow; pool: Pool } | { tried: string[] }> {
  const tried: string[] = []
  for (const pool of await candidatePools(ctx, v, family)) {
    const length =
      o.length === undefined
        ? undefined
        : Math.min(pool.policy.unit.max, Math.max(pool.policy.unit.min, o.length))
    const outcome = await ctx.attempt(() =>
      grantUnit(ctx, pool, v.device, {
        ...(length === undefined ? {} : { length }),
        preferAdjacent: true,
        actor: o.actor,
        reason: o.reason,
        requestId: o.requestId,
      }),
    )
    if (outcome.ok) return { row: outcome.value, pool }
    if (outcome.error.code !== 'CASM_ERR_POOL_EXHAUSTED') throw outcome.error
    tried.push(pool.name)
  }
  return { tried }
}

/** Releases a drained grant its device reported empty (or hands it on, for a move). */
async function releaseDrained(
  ctx: WriteContext,
  v: DeviceView,
  row: AllocationRow,
  d: { expire: boolean; reason: string },
): Promise<void> {
  const pool = v.pools.get(row.poolId)
  if (pool === undefined) return
  const status = statusFor(v, row)
  const moving = status.movingTo
  const after = await endUnit(
    ctx,
    pool,
    row,
    d.expire ? 'expire' : 'release',
    moving === null ? pool.policy.quarantine : 0,
  )
  ctx.emit({
    tenantId: row.tenantId,
    actor: POLICY_ACTOR,
    action: d.expire ? 'grant.expire' : 'grant.release',
    objectType: 'grant',
    objectId: row.id,
    before: grantView(row),
    after: grantView(after),
    reason: d.reason,
  })
  await pushMessage(ctx, row.tenantId, v.device.id, {
    type: 'release-notification',
    grants: [{ grant: row.id, prefix: row.prefix, state: after.state }],
    reason: d.reason,
  })
  if (moving !== null) {
    const target = await ctx.tx.getDevice(row.tenantId, moving)
    if (target === undefined) return
    const moved = await ctx.attempt(() =>
      grantUnit(ctx, pool, target, {
        prefix: row.prefix,
        preferAdjacent: false,
        actor: POLICY_ACTOR,
        reason: `moved from device ${v.device.name} (grant ${row.id}) once it drained`,
        requestId: null,
      }),
    )
    if (!moved.ok) {
      await raiseAlert(ctx, {
        tenantId: row.tenantId,
        kind: 'move-failed',
        objectType: 'grant',
        objectId: row.id,
        message: `${row.prefix} could not move to ${target.name}: ${moved.error.message}`,
      })
      return
    }
    const targetView = await viewDevice(ctx.tx, target)
    await pushMessage(ctx, row.tenantId, target.id, {
      type: 'pool-reply',
      grants: [infoOf(targetView, moved.value)],
      reason: `moved from ${v.device.name}`,
    })
  }
}

/** Applies the engine's decisions; returns the kinds applied. */
async function applyVerdict(ctx: WriteContext, v: DeviceView, verdict: Verdict): Promise<string[]> {
  const applied: string[] = []
  const rowOf = (id: string): AllocationRow | undefined => v.grants.find((g) => g.id === id)
  for (const d of verdict.decisions) {
    switch (d.kind) {
      case 'grant': {
        // Grow by as many units as the engine asked, next to each other; stop at the first
        // that no pool can serve (what was granted stands).
        const rows: AllocationRow[] = []
        let tried: string[] = []
        for (let i = 0; i < d.units; i++) {
          const got = await growDevice(ctx, v, d.family, {
            reason: `policy: ${d.reason}${d.units > 1 ? ` (unit ${i + 1} of ${d.units})` : ''}`,
            actor: POLICY_ACTOR,
            requestId: null,
          })
          if (!('row' in got)) {
            tried = got.tried
            break
          }
          rows.push(got.row)
        }
        const loop = await loopOf(ctx.tx, v.device.tenantId, v.device.id)
        if (rows.length > 0) {
          await ctx.tx.putDeviceLoop({ ...loop, failures: 0 })
          for (const p of await candidatePools(ctx, v, d.family))
            await clearAlert(ctx, 'pool-exhausted', p.id, `${v.device.name} got space again`)
          await clearAlert(ctx, 'grant-failures', v.device.id, 'a grant succeeded')
          const view = await viewDevice(ctx.tx, v.device)
          await pushMessage(ctx, v.device.tenantId, v.device.id, {
            type: 'pool-reply',
            grants: rows.map((r) => infoOf(view, r)),
            reason: d.reason,
          })
          applied.push('grant')
        } else {
          const failures = loop.failures + 1
          await ctx.tx.putDeviceLoop({ ...loop, failures })
          for (const p of await candidatePools(ctx, v, d.family)) {
            await raiseAlert(ctx, {
              tenantId: v.device.tenantId,
              kind: 'pool-exhausted',
              objectType: 'pool',
              objectId: p.id,
              message: `pool ${p.name} has no free ${d.family} unit for ${v.device.name} (${d.reason})`,
            })
          }
          if (failures >= FAILURES_BEFORE_ALERT) {
            await raiseAlert(ctx, {
              tenantId: v.device.tenantId,
              kind: 'grant-failures',
              objectType: 'device',
              objectId: v.device.id,
              message: `${v.device.name} needed more ${d.family} space ${failures} times in a row and no pool could serve it${tried.length > 0 ? ` (tried ${tried.join(', ')})` : ' (no pool matches it)'}`,
            })
          }
          applied.push('grant-failed')
        }
        break
      }
      case 'undrain': {
        const row = rowOf(d.grant)
        if (row?.state !== 'draining') break
        const after: AllocationRow = {
          ...row,
          state: transition(row.state, 'undrain'),
          updatedAt: ctx.now,
        }
        await ctx.tx.updateAllocation(after)
        await ctx.tx.putGrantStatus([
          { ...statusFor(v, row), drainCause: null, movingTo: null, drainSeq: null },
        ])
        await pushMessage(ctx, row.tenantId, v.device.id, {
          type: 'undrain',
          grant: row.id,
          prefix: row.prefix,
          reason: d.reason,
        })
        ctx.emit({
          tenantId: row.tenantId,
          actor: POLICY_ACTOR,
          action: 'grant.undrain',
          objectType: 'grant',
          objectId: row.id,
          before: { state: 'draining' },
          after: { state: 'active' },
          reason: d.reason,
        })
        applied.push('undrain')
        break
      }
      case 'drain': {
        const row = rowOf(d.grant)
        if (row?.state !== 'active') break
        await drainGrant(ctx, row, { cause: d.cause, reason: d.reason, actor: POLICY_ACTOR })
        applied.push('drain')
        break
      }
      case 'release': {
        const row = rowOf(d.grant)
        // The engine releases only grants reported empty after the drain; check again.
        const s = row === undefined ? undefined : statusFor(v, row)
        if (row?.state !== 'draining' || s?.used !== 0 || !drainApplied(s, v.loop)) break
        await releaseDrained(ctx, v, row, d)
        applied.push(d.expire ? 'expire' : 'release')
        break
      }
      case 'alert':
        // Silence is raised by the loop's timer (a report proves the device is not silent).
        break
    }
  }
  return applied
}

// ---- the messages ----------------------------------------------------------------------------

/**
 * The device a device token speaks for.
 *
 * @throws CasmError `CASM_ERR_FORBIDDEN` for any other token, `CASM_ERR_NOT_FOUND` when the
 *   device is gone.
 */
export async function callingDevice(reader: StoreReader, c: Caller): Promise<Device> {
  requireRole(c, 'device')
  if (c.deviceId === null) {
    throw new CasmError(
      'CASM_ERR_FORBIDDEN',
      'the device protocol needs a device token (POST /api/v1/tokens with role device and a device)',
    )
  }
  const d = await reader.getDevice(c.tenantId, c.deviceId)
  if (d === undefined) throw notFound('device', c.deviceId)
  return d
}

/** A device and its live grants: what {@link ownGrant} looks in first. */
export type HeldGrants = Pick<DeviceView, 'device' | 'grants'>

/** The device's own grant `id` (any state), or not found — another device's answers the same. */
export async function ownGrant(
  reader: StoreReader,
  v: HeldGrants,
  id: string,
): Promise<AllocationRow> {
  const live = v.grants.find((g) => g.id === id)
  if (live !== undefined) return live
  const row = await reader.getAllocation(v.device.tenantId, id)
  if (row?.type !== 'grant' || row.deviceId !== v.device.id) throw notFound('grant', id)
  return row
}

/**
 * The device's own live grant `id`.
 *
 * @throws CasmError `CASM_ERR_NOT_FOUND` (not the device's), `CASM_ERR_OUT_OF_ORDER` (no
 *   longer live: the device must resynchronise).
 */
export async function liveGrant(
  reader: StoreReader,
  v: HeldGrants,
  id: string,
): Promise<AllocationRow> {
  const row = await ownGrant(reader, v, id)
  if (row.state !== 'active' && row.state !== 'draining') {
    throw outOfOrder(`grant ${id} is ${row.state}: remove it and send hello to resynchronise`, {
      grant: id,
      state: row.state,
    })
  }
  return row
}

function uniqueIds(ids: readonly string[], path: string): void {
  if (new Set(ids).size !== ids.length) throw invalid(path, 'names a grant twice')
}

async function hello(
  ctx: WriteContext,
  v: DeviceView,
  m: HelloMessage,
): Promise<CoordinatorMessage> {
  const mine = new Map(v.grants.map((g) => [g.prefix, g]))
  const remove: { prefix: string; reason: string }[] = []
  for (const h of m.holds) {
    let canonical: string
    try {
      canonical = Prefix.parse(h.prefix).toString()
    } catch {
      throw invalid('/holds', `'${h.prefix}' is not a prefix`, h.prefix)
    }
    if (!mine.has(canonical)) {
      remove.push({
        prefix: canonical,
        reason:
          h.grant === undefined
            ? 'not granted to this device'
            : `grant ${h.grant} is not live for this device (released, moved or unknown)`,
      })
    }
  }
  const wasSilent = v.loop.silent
  const loop = await loopOf(ctx.tx, v.device.tenantId, v.device.id)
  // The policy of its grants' pool, or of the pool it would draw from first.
  const first = v.grants[0]
  const fallback = first === undefined ? await firstPool(ctx, v) : undefined
  const policy =
    first !== undefined
      ? policyFor(v, first.family)
      : fallback === undefined
        ? undefined
        : effectivePolicy(fallback.policy, v.device.policy)
  const staleAfter = policy?.staleAfter ?? 60
  await ctx.tx.putDeviceLoop({
    ...loop,
    agent: {
      version: m.agent.version,
      backend: m.agent.backend,
      ...(m.agent.planes === undefined ? {} : { planes: m.agent.planes }),
    },
    helloAt: ctx.now,
    staleAt: ctx.now + staleAfter * 1000,
    silent: false,
  })
  if (wasSilent)
    await clearAlert(ctx, 'device-silent', v.device.id, `${v.device.name} connected again`)
  ctx.emit({
    tenantId: v.device.tenantId,
    actor: `device:${v.device.id}`,
    action: 'device.hello',
    objectType: 'device',
    objectId: v.device.id,
    after: {
      agent: m.agent,
      holds: m.holds.length,
      grants: v.grants.length,
      remove: remove.map((r) => r.prefix),
    },
    reason:
      remove.length > 0
        ? `reconciled: the device holds ${remove.length} prefix(es) it must remove`
        : null,
  })
  const lifetime = Math.min(
    ...[...v.pools.values()].map((p) => p.policy.lifetime).filter((x) => x > 0),
    Number.POSITIVE_INFINITY,
  )
  return {
    v: PROTOCOL_VERSION,
    txn: m.txn,
    type: 'sync',
    device: { id: v.device.id, name: v.device.name },
    grants: v.grants.map((g) => infoOf(v, g)),
    remove,
    reportInterval: policy?.reportInterval ?? 10,
    ...(policy === undefined ? {} : { highWatermark: policy.highWatermark }),
    renewBefore: Number.isFinite(lifetime) ? Math.max(1, Math.floor(lifetime / 2)) : 0,
    lastEventId: loop.streamSeq,
  }
}

/** The pool a device without grants would draw from first. */
async function firstPool(ctx: WriteContext, v: DeviceView): Promise<Pool | undefined> {
  const pools = (await ctx.tx.listPools(v.device.tenantId)).filter((p) => LOOP_KINDS.has(p.kind))
  return rankPools(pools, v.device.attributes)[0]?.pool
}

async function poolRequest(
  ctx: WriteContext,
  c: Caller,
  v: DeviceView,
  m: PoolRequestMessage,
): Promise<CoordinatorMessage> {
  const family = m.family ?? v.grants[0]?.family ?? (await firstPool(ctx, v))?.family
  if (family === undefined) {
    throw new CasmError(
      'CASM_ERR_POOL_EXHAUSTED',
      `no pool serves device ${v.device.name}: none matches its attributes; create a pool whose selectors match it`,
      { device: v.device.name },
    )
  }
  const reason = `requested by the device${m.reason === undefined ? '' : `: ${m.reason}`}`
  const got = await growDevice(ctx, v, family, {
    reason,
    actor: actorOf(c),
    ...(m.length === undefined ? {} : { length: m.length }),
    requestId: c.requestId,
  })
  if (!('row' in got)) {
    throw new CasmError(
      'CASM_ERR_POOL_EXHAUSTED',
      got.tried.length === 0
        ? `no ${family} pool serves device ${v.device.name}; create a pool whose selectors match it`
        : `no free ${family} unit for ${v.device.name} in ${got.tried.join(', ')}`,
      { family, tried: got.tried },
    )
  }
  const view = await viewDevice(ctx.tx, v.device)
  return {
    v: PROTOCOL_VERSION,
    txn: m.txn,
    type: 'pool-reply',
    grants: [infoOf(view, got.row)],
    reason,
  }
}

async function renew(
  ctx: WriteContext,
  c: Caller,
  v: DeviceView,
  m: RenewMessage,
): Promise<CoordinatorMessage> {
  uniqueIds(m.grants, '/grants')
  const out: { grant: string; expiresAt: string | null }[] = []
  const rows: AllocationRow[] = []
  for (const id of m.grants) {
    const row = await ownGrant(ctx.tx, v, id)
    const s = statusFor(v, row)
    if (row.state !== 'active' && !(row.state === 'draining' && s.drainCause !== 'lifetime')) {
      throw outOfOrder(
        row.state === 'draining'
          ? `grant ${id} drains since its lifetime ended; ask for a new pool instead`
          : `grant ${id} is ${row.state}; it can no longer be renewed`,
        { grant: id, state: row.state },
      )
    }
    rows.push(row)
  }
  for (const row of rows) {
    const pool = v.pools.get(row.poolId)
    const lifetime = pool?.policy.lifetime ?? 0
    const expiresAt = lifetime > 0 ? ctx.now + lifetime * 1000 : null
    if (expiresAt !== row.expiresAt) {
      await ctx.tx.updateAllocation({ ...row, expiresAt, updatedAt: ctx.now })
      ctx.emit({
        tenantId: row.tenantId,
        actor: actorOf(c),
        action: 'grant.renew',
        objectType: 'grant',
        objectId: row.id,
        before: { expiresAt: row.expiresAt },
        after: { expiresAt },
        requestId: c.requestId,
      })
    }
    out.push({
      grant: row.id,
      expiresAt: expiresAt === null ? null : new Date(expiresAt).toISOString(),
    })
  }
  return { v: PROTOCOL_VERSION, txn: m.txn, type: 'renew-reply', grants: out }
}

function checkUsage(row: AllocationRow, u: StatusReportMessage['grants'][number], i: number): void {
  const size = unitSize(row)
  const path = `/grants/${i}`
  for (const key of ['used', 'peak', 'average'] as const) {
    const x = u[key]
    if (x === undefined) continue
    if (!(Number.isFinite(x) && x >= 0 && x <= size)) {
      throw invalid(`${path}/${key}`, `must be between 0 and ${size}, the size of ${row.prefix}`, x)
    }
  }
  if (u.ports !== undefined) {
    const p = u.ports
    if (!(p.used <= p.total && (p.peak ?? p.used) <= p.total && (p.average ?? p.used) <= p.total))
      throw invalid(`${path}/ports`, 'used, peak and average must not exceed total', p)
  }
}

async function statusReport(
  ctx: WriteContext,
  v: DeviceView,
  m: StatusReportMessage,
): Promise<CoordinatorMessage> {
  uniqueIds(
    m.grants.map((g) => g.grant),
    '/grants',
  )
  // Check everything first: a refused report changes nothing.
  const rows: AllocationRow[] = []
  for (const [i, u] of m.grants.entries()) {
    const row = await liveGrant(ctx.tx, v, u.grant)
    checkUsage(row, u, i)
    rows.push(row)
  }
  const statuses: GrantStatusRow[] = []
  const status = new Map(v.status)
  for (const [i, u] of m.grants.entries()) {
    const row = rows[i] as AllocationRow
    const s: GrantStatusRow = {
      ...statusFor(v, row),
      used: u.used,
      peak: Math.max(u.peak ?? u.used, u.used),
      average: u.average ?? u.used,
      ports:
        u.ports === undefined
          ? null
          : {
              total: u.ports.total,
              used: u.ports.used,
              peak: u.ports.peak ?? u.ports.used,
              average: u.ports.average ?? u.ports.used,
            },
      plane: u.plane ?? null,
      reportedAt: ctx.now,
      servedState: u.state ?? null,
    }
    statuses.push(s)
    status.set(row.id, s)
  }
  if (statuses.length > 0) await ctx.tx.putGrantStatus(statuses)

  // Usage history per family, for the forecast.
  const history: Partial<Record<Family, UsagePoint[]>> = {}
  for (const family of new Set(v.grants.map((g) => g.family))) {
    const mine = v.grants.filter((g) => g.family === family)
    const used = mine.reduce((a, g) => a + (status.get(g.id)?.used ?? 0), 0)
    const capacity = mine.filter((g) => g.state === 'active').reduce((a, g) => a + unitSize(g), 0)
    const policy = policyFor(v, family)
    const window = Math.max(policy?.leadTime ?? 0, 6 * (policy?.reportInterval ?? 10)) * 1000
    // At most one point per half report interval: a device reporting faster (or resending)
    // refines its last point instead of growing the history.
    const spacing = (policy?.reportInterval ?? 10) * 500
    const past = (v.loop.history[family] ?? []).filter((p) => p.at >= ctx.now - window)
    const last = past[past.length - 1]
    const kept = last !== undefined && ctx.now - last.at < spacing ? past.slice(0, -1) : past
    history[family] = [...kept, { at: ctx.now, used, capacity }].slice(-HISTORY_POINTS)
  }
  const updated: DeviceView = {
    ...v,
    status,
    loop: { ...v.loop, history, reportAt: ctx.now },
  }
  const verdict = verdictOf(updated, ctx.now)
  const staleAfter = policyFor(v, v.grants[0]?.family ?? 'ipv4')?.staleAfter ?? 60
  await ctx.tx.putDeviceLoop({
    ...v.loop,
    history,
    lowSince: verdict.lowSince,
    reportAt: ctx.now,
    staleAt: ctx.now + staleAfter * 1000,
    silent: false,
  })
  if (v.loop.silent)
    await clearAlert(ctx, 'device-silent', v.device.id, `${v.device.name} reports again`)
  const applied = await applyVerdict(ctx, updated, verdict)
  return {
    v: PROTOCOL_VERSION,
    txn: m.txn,
    type: 'report-confirm',
    received: m.grants.length,
    decisions: applied,
  }
}

async function releaseRequest(
  ctx: WriteContext,
  c: Caller,
  v: DeviceView,
  m: ReleaseRequestMessage,
): Promise<CoordinatorMessage> {
  uniqueIds(m.grants, '/grants')
  const rows: AllocationRow[] = []
  for (const id of m.grants) {
    const row = await ownGrant(ctx.tx, v, id)
    if (row.state !== 'active' && row.state !== 'draining')
      throw outOfOrder(`grant ${id} is already ${row.state}`, { grant: id, state: row.state })
    rows.push(row)
  }
  const out: { grant: string; prefix: string; state: string }[] = []
  for (const row of rows) {
    const pool = v.pools.get(row.poolId)
    if (pool === undefined) continue
    if (statusFor(v, row).movingTo !== null) {
      // A grant on its way to another device: hand it on as a drained one would be.
      await releaseDrained(ctx, v, row, { expire: false, reason: 'released by its device' })
      const moved = await ctx.tx.getAllocation(row.tenantId, row.id)
      out.push({ grant: row.id, prefix: row.prefix, state: moved?.state ?? 'free' })
      continue
    }
    const after = await endUnit(ctx, pool, row, 'release')
    ctx.emit({
      tenantId: row.tenantId,
      actor: actorOf(c),
      action: 'grant.release',
      objectType: 'grant',
      objectId: row.id,
      before: grantView(row),
      after: grantView(after),
      reason: 'released by its device',
      requestId: c.requestId,
    })
    out.push({ grant: row.id, prefix: row.prefix, state: after.state })
  }
  return {
    v: PROTOCOL_VERSION,
    txn: m.txn,
    type: 'release-notification',
    grants: out,
    reason: 'released by the device',
  }
}

async function releaseConfirm(
  ctx: WriteContext,
  c: Caller,
  v: DeviceView,
  m: ReleaseConfirmMessage,
): Promise<CoordinatorMessage> {
  uniqueIds(m.grants, '/grants')
  const rows: AllocationRow[] = []
  for (const id of m.grants) {
    const row = await ownGrant(ctx.tx, v, id)
    if (row.state === 'active' || row.state === 'draining')
      throw outOfOrder(`grant ${id} is ${row.state}, not released: keep it`, {
        grant: id,
        state: row.state,
      })
    rows.push(row)
  }
  for (const row of rows) {
    const s = await statusOf(ctx.tx, row)
    if (s.confirmedAt !== null) continue
    await ctx.tx.putGrantStatus([{ ...s, confirmedAt: ctx.now }])
    ctx.emit({
      tenantId: row.tenantId,
      actor: actorOf(c),
      action: 'grant.release-confirm',
      objectType: 'grant',
      objectId: row.id,
      after: { confirmedAt: ctx.now },
      reason: 'the device removed it',
      requestId: c.requestId,
    })
  }
  return { v: PROTOCOL_VERSION, txn: m.txn, type: 'ok' }
}

async function ack(ctx: WriteContext, v: DeviceView, m: AckMessage): Promise<CoordinatorMessage> {
  const loop = await loopOf(ctx.tx, v.device.tenantId, v.device.id)
  if (m.upTo > loop.streamSeq) {
    throw outOfOrder(`ack up to ${m.upTo}, but the stream has only reached ${loop.streamSeq}`, {
      upTo: m.upTo,
      last: loop.streamSeq,
    })
  }
  if (m.upTo > loop.ackedSeq) {
    await ctx.tx.putDeviceLoop({ ...loop, ackedSeq: m.upTo })
    await ctx.tx.pruneDeviceMessages({ deviceId: v.device.id, upTo: m.upTo })
  }
  return { v: PROTOCOL_VERSION, txn: m.txn, type: 'ok' }
}

/**
 * Answers one device message (validated in shape by the API). The device is the token's; a
 * device acts only on its own grants.
 */
export function handleMessage(c: Caller, m: DeviceMessage): WriteOp<CoordinatorMessage> {
  return async (ctx) => {
    const device = await callingDevice(ctx.tx, c)
    const v = await viewDevice(ctx.tx, device)
    switch (m.type) {
      case 'hello':
        return hello(ctx, v, m)
      case 'pool-request':
        return poolRequest(ctx, c, v, m)
      case 'renew':
        return renew(ctx, c, v, m)
      case 'status-report':
        return statusReport(ctx, v, m)
      case 'status-query':
        return {
          v: PROTOCOL_VERSION,
          txn: m.txn,
          type: 'status',
          grants: v.grants.map((g) => infoOf(v, g)),
          lastEventId: v.loop.streamSeq,
        }
      case 'release-request':
        return releaseRequest(ctx, c, v, m)
      case 'release-confirm':
        return releaseConfirm(ctx, c, v, m)
      case 'ack':
        return ack(ctx, v, m)
    }
  }
}

// ---- the timer -------------------------------------------------------------------------------

/**
 * Flags devices that stopped reporting: an alert and an event each (nothing of theirs is
 * reclaimed while they are silent). At most `limit` per call.
 */
export function flagSilentDevices(limit = 200): WriteOp<number> {
  return async (ctx) => {
    const quiet = await ctx.tx.quietDevices(ctx.now, limit)
    for (const loop of quiet) {
      const device = await ctx.tx.getDevice(loop.tenantId, loop.deviceId)
      if (device === undefined) continue
      const since = loop.reportAt ?? loop.helloAt ?? ctx.now
      await ctx.tx.putDeviceLoop({ ...loop, silent: true })
      await raiseAlert(ctx, {
        tenantId: loop.tenantId,
        kind: 'device-silent',
        objectType: 'device',
        objectId: device.id,
        message: `${device.name} has not reported since ${new Date(since).toISOString()}; its grants are kept until it is back or an operator acts`,
      })
    }
    return quiet.length
  }
}
