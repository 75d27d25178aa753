/**
 * What operators do to grants besides create and release (design.md, "The policy loop"; UC-2):
 * force-drain, undrain, pin, move to another device; and what they look at: a device's loop
 * status and the engine's dry run ("what would it do now, and why").
 *
 * @module
 */

import { CasmError } from '../errors/casm-error.js'
import { transition } from '../domain/grant-lifecycle.js'
import type { Decision } from '../domain/policy-engine.js'
import { effectivePolicy, type PoolPolicy } from '../domain/pool-policy.js'
import { grantView } from './allocations.js'
import { type Caller, actorOf, notFound, requireRole } from './caller.js'
import { drainGrant, emptyStatus, pushMessage, statusOf } from './device-outbox.js'
import { routeCount, verdictOf, viewDevice } from './device-loop.js'
import type { AlertRow, AllocationRow, GrantStatusRow, StoreReader } from './store.js'
import type { WriteOp } from './writer.js'
import type { Device, Grant } from '../domain/model.js'

/** A grant with what the device loop knows of it. */
export interface GrantDetail extends Grant {
  readonly pinned: boolean
  readonly drainCause: string | null
  readonly movingTo: string | null
  readonly usage: {
    readonly used: number
    readonly peak: number
    readonly average: number
    readonly ports: GrantStatusRow['ports']
    readonly plane: string | null
    readonly reportedAt: number
  } | null
  readonly confirmedAt: number | null
}

/** A grant and its loop facts. */
export function grantDetail(row: AllocationRow, s: GrantStatusRow): GrantDetail {
  return {
    ...grantView(row),
    pinned: s.pinned,
    drainCause: row.state === 'draining' ? s.drainCause : null,
    movingTo: row.state === 'draining' ? s.movingTo : null,
    usage:
      s.reportedAt === null
        ? null
        : {
            used: s.used ?? 0,
            peak: s.peak ?? 0,
            average: s.average ?? 0,
            ports: s.ports,
            plane: s.plane,
            reportedAt: s.reportedAt,
          },
    confirmedAt: s.confirmedAt,
  }
}

async function grantRow(reader: StoreReader, c: Caller, id: string): Promise<AllocationRow> {
  const row = await reader.getAllocation(c.tenantId, id)
  if (row?.type !== 'grant') throw notFound('grant', id)
  return row
}

function mustBeLive(row: AllocationRow, what: string): void {
  if (row.state !== 'active' && row.state !== 'draining') {
    throw new CasmError(
      'CASM_ERR_ILLEGAL_TRANSITION',
      `grant ${row.id} is ${row.state}: only a live grant can be ${what}`,
      { from: row.state },
    )
  }
}

/** Reads a grant with its loop facts. */
export async function getGrantDetail(
  reader: StoreReader,
  c: Caller,
  id: string,
): Promise<GrantDetail> {
  requireRole(c, 'viewer')
  const row = await grantRow(reader, c, id)
  return grantDetail(row, await statusOf(reader, row))
}

/**
 * Drains a grant by hand: its device stops handing out addresses from it; it is released once
 * reported empty. Works on pinned grants too (the operator decides).
 */
export function forceDrain(c: Caller, id: string, reason?: string): WriteOp<GrantDetail> {
  return async (ctx) => {
    requireRole(c, 'operator')
    const row = await grantRow(ctx.tx, c, id)
    mustBeLive(row, 'drained')
    if (row.state === 'draining') {
      throw new CasmError('CASM_ERR_ILLEGAL_TRANSITION', `grant ${id} is already draining`, {
        from: row.state,
      })
    }
    const after = await drainGrant(ctx, row, {
      cause: 'operator',
      reason: reason ?? 'drained by an operator',
      actor: actorOf(c),
      requestId: c.requestId,
    })
    return grantDetail(after, await statusOf(ctx.tx, after))
  }
}

/** Ends a drain: the grant serves again. */
export function undrain(c: Caller, id: string): WriteOp<GrantDetail> {
  return async (ctx) => {
    requireRole(c, 'operator')
    const row = await grantRow(ctx.tx, c, id)
    const state = transition(row.state, 'undrain')
    const s = await statusOf(ctx.tx, row)
    const after: AllocationRow = { ...row, state, updatedAt: ctx.now }
    await ctx.tx.updateAllocation(after)
    const status = { ...s, drainCause: null, movingTo: null, drainSeq: null }
    await ctx.tx.putGrantStatus([status])
    if (row.deviceId !== null) {
      await pushMessage(ctx, row.tenantId, row.deviceId, {
        type: 'undrain',
        grant: row.id,
        prefix: row.prefix,
        reason: 'an operator ended the drain',
      })
    }
    ctx.emit({
      tenantId: row.tenantId,
      actor: actorOf(c),
      action: 'grant.undrain',
      objectType: 'grant',
      objectId: row.id,
      before: { state: row.state, drainCause: s.drainCause, movingTo: s.movingTo },
      after: { state },
      requestId: c.requestId,
    })
    return grantDetail(after, status)
  }
}

/** Pins (never reclaimed by the policy, nor withdrawn at the end of its lifetime) or unpins. */
export function pin(c: Caller, id: string, pinned: boolean): WriteOp<GrantDetail> {
  return async (ctx) => {
    requireRole(c, 'operator')
    const row = await grantRow(ctx.tx, c, id)
    mustBeLive(row, pinned ? 'pinned' : 'unpinned')
    const s = await statusOf(ctx.tx, row)
    if (s.pinned === pinned) return grantDetail(row, s)
    const status = { ...s, pinned }
    await ctx.tx.putGrantStatus([status])
    ctx.emit({
      tenantId: row.tenantId,
      actor: actorOf(c),
      action: pinned ? 'grant.pin' : 'grant.unpin',
      objectType: 'grant',
      objectId: row.id,
      before: { pinned: s.pinned },
      after: { pinned },
      requestId: c.requestId,
    })
    return grantDetail(row, status)
  }
}

/**
 * Moves a grant to another device (UC-2): it drains on its device; once that device reports it
 * empty it is released and the same prefix is granted to `target` (no quarantine between).
 */
export function moveGrant(c: Caller, id: string, targetKey: string): WriteOp<GrantDetail> {
  return async (ctx) => {
    requireRole(c, 'operator')
    const row = await grantRow(ctx.tx, c, id)
    mustBeLive(row, 'moved')
    const target = await ctx.tx.getDevice(c.tenantId, targetKey)
    if (target === undefined) throw notFound('device', targetKey)
    if (target.id === row.deviceId) {
      throw new CasmError('CASM_ERR_VALIDATION', `grant ${id} already belongs to ${target.name}`, {
        errors: [{ path: '/device', message: 'name another device', value: targetKey }],
      })
    }
    const after = await drainGrant(ctx, row, {
      cause: 'move',
      reason: `moving to ${target.name}: it drains here and goes to ${target.name} once empty`,
      actor: actorOf(c),
      movingTo: target.id,
      requestId: c.requestId,
    })
    return grantDetail(after, await statusOf(ctx.tx, after))
  }
}

/** Asks a device to report now (a `status-query` on its stream). */
export function queryDevice(c: Caller, key: string): WriteOp<{ eventId: number }> {
  return async (ctx) => {
    requireRole(c, 'operator')
    const d = await ctx.tx.getDevice(c.tenantId, key)
    if (d === undefined) throw notFound('device', key)
    const eventId = await pushMessage(ctx, c.tenantId, d.id, { type: 'status-query' })
    return { eventId }
  }
}

/** The loop status of a device, and what the engine would do now (a dry run: nothing changes). */
export interface DeviceLoopStatus {
  readonly device: Device
  readonly agent: { version: string; backend: string; planes?: readonly string[] } | null
  readonly connectedAt: number | null
  readonly lastReportAt: number | null
  readonly silent: boolean
  readonly streamEventId: number
  readonly ackedEventId: number
  /** Routes the device's grants need once aggregated. */
  readonly routes: number
  readonly grants: readonly GrantDetail[]
  readonly utilisation: Readonly<Record<string, number>>
  readonly lowSince: Readonly<Record<string, number | null>>
  /** The policy in force per family (pool's, with the device's overrides). */
  readonly policy: Readonly<Record<string, PoolPolicy>>
  /** What the engine would decide now, and why. */
  readonly plan: readonly Decision[]
  readonly alerts: readonly AlertRow[]
}

/** Reads a device's loop status and runs the engine without applying it. */
export async function deviceLoopStatus(
  reader: StoreReader,
  c: Caller,
  key: string,
  now: number,
): Promise<DeviceLoopStatus> {
  requireRole(c, 'viewer')
  const device = await reader.getDevice(c.tenantId, key)
  if (device === undefined) throw notFound('device', key)
  const v = await viewDevice(reader, device)
  const verdict = verdictOf(v, now)
  const policy: Record<string, PoolPolicy> = {}
  for (const g of v.grants) {
    const pool = v.pools.get(g.poolId)
    if (pool !== undefined && policy[g.family] === undefined)
      policy[g.family] = effectivePolicy(pool.policy, device.policy)
  }
  const alerts = (await reader.listAlerts(c.tenantId, true, 1000)).filter(
    (a) => a.objectId === device.id || v.grants.some((g) => g.id === a.objectId),
  )
  return {
    device,
    agent: v.loop.agent,
    connectedAt: v.loop.helloAt,
    lastReportAt: v.loop.reportAt,
    silent: v.loop.silent,
    streamEventId: v.loop.streamSeq,
    ackedEventId: v.loop.ackedSeq,
    routes: routeCount(v.grants),
    grants: v.grants.map((g) => grantDetail(g, v.status.get(g.id) ?? emptyStatus(g.id, device.id))),
    utilisation: verdict.utilisation,
    lowSince: { ...v.loop.lowSince },
    policy,
    plan: verdict.decisions,
    alerts,
  }
}

/** Alerts of the caller's tenant, newest first. */
export async function listAlerts(
  reader: StoreReader,
  c: Caller,
  open: boolean,
  limit: number,
): Promise<AlertRow[]> {
  requireRole(c, 'viewer')
  return reader.listAlerts(c.tenantId, open, limit)
}
