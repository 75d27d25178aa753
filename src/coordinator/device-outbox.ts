/**
 * What every part of the coordinator needs to act on a device's grants: its loop state, the
 * stream of messages to it (stored in the same transaction as the change they announce, so a
 * device that reconnects misses nothing), the loop facts of a grant, draining, and alerts.
 *
 * @module
 */

import { transition } from '../domain/grant-lifecycle.js'
import type { GrantInfo, StreamMessage } from '../domain/device-protocol.js'
import { PROTOCOL_VERSION } from '../domain/device-protocol.js'
import type { Pool } from '../domain/model.js'
import type {
  AllocationRow,
  AlertRow,
  DeviceLoopRow,
  GrantStatusRow,
  StoreReader,
} from './store.js'
import type { WriteContext } from './writer.js'

/** A stream message before the outbox gives it its envelope. */
export type OutgoingMessage = StreamMessage extends infer M
  ? M extends StreamMessage
    ? Omit<M, 'v' | 'txn'>
    : never
  : never

/** The loop state of a device that has never spoken. */
export function freshLoop(tenantId: string, deviceId: string): DeviceLoopRow {
  return {
    deviceId,
    tenantId,
    agent: null,
    helloAt: null,
    reportAt: null,
    staleAt: null,
    lowSince: {},
    history: {},
    streamSeq: 0,
    ackedSeq: 0,
    silent: false,
    failures: 0,
  }
}

/** The loop state of a device, as stored or fresh. */
export async function loopOf(
  reader: StoreReader,
  tenantId: string,
  deviceId: string,
): Promise<DeviceLoopRow> {
  return (await reader.getDeviceLoop(deviceId)) ?? freshLoop(tenantId, deviceId)
}

/** The loop facts of a grant nothing was recorded for yet. */
export function emptyStatus(grantId: string, deviceId: string): GrantStatusRow {
  return {
    grantId,
    deviceId,
    pinned: false,
    drainCause: null,
    movingTo: null,
    used: null,
    peak: null,
    average: null,
    ports: null,
    plane: null,
    reportedAt: null,
    confirmedAt: null,
    servedState: null,
    drainSeq: null,
  }
}

/** The loop facts of a grant, as stored or the defaults. */
export async function statusOf(reader: StoreReader, row: AllocationRow): Promise<GrantStatusRow> {
  return (await reader.getGrantStatus(row.id)) ?? emptyStatus(row.id, row.deviceId ?? '')
}

/**
 * Puts a message on a device's stream (in the operation's transaction); returns its event id.
 * The writer wakes the device's open streams after the commit.
 */
export async function pushMessage(
  ctx: WriteContext,
  tenantId: string,
  deviceId: string,
  message: OutgoingMessage,
): Promise<number> {
  const loop = await loopOf(ctx.tx, tenantId, deviceId)
  const seq = loop.streamSeq + 1
  const body = { v: PROTOCOL_VERSION, txn: `s-${seq}`, ...message }
  await ctx.tx.appendDeviceMessages([
    { deviceId, seq, type: message.type, body: JSON.stringify(body), createdAt: ctx.now },
  ])
  await ctx.tx.putDeviceLoop({ ...loop, streamSeq: seq })
  return seq
}

/** How a device sees one of its grants. */
export function grantInfo(row: AllocationRow, pool: Pool, status: GrantStatusRow): GrantInfo {
  return {
    grant: row.id,
    prefix: row.prefix,
    pool: pool.name,
    family: row.family,
    state: row.state === 'draining' ? 'draining' : 'active',
    expiresAt: row.expiresAt === null ? null : new Date(row.expiresAt).toISOString(),
    pinned: status.pinned,
  }
}

/** Why a grant drains. */
export type DrainCause = 'policy' | 'lifetime' | 'operator' | 'move'

/**
 * Drains an active grant: its device hands out no new address from it and tells as they leave;
 * the grant is released once reported empty. A lifetime drain also clears `expiresAt` (the
 * grant expires when empty instead). Returns the changed row.
 */
export async function drainGrant(
  ctx: WriteContext,
  row: AllocationRow,
  drain: {
    readonly cause: DrainCause
    readonly reason: string
    readonly actor: string
    readonly movingTo?: string | null
    readonly requestId?: string | null
  },
): Promise<AllocationRow> {
  const status = await statusOf(ctx.tx, row)
  const state = row.state === 'draining' ? 'draining' : transition(row.state, 'drain')
  const after: AllocationRow = {
    ...row,
    state,
    updatedAt: ctx.now,
    expiresAt: drain.cause === 'lifetime' ? null : row.expiresAt,
  }
  await ctx.tx.updateAllocation(after)
  let drainSeq: number | null = null
  if (row.deviceId !== null) {
    const pool = await ctx.tx.getPool(row.tenantId, row.poolId)
    drainSeq = await pushMessage(ctx, row.tenantId, row.deviceId, {
      type: 'drain',
      grant: row.id,
      prefix: row.prefix,
      cause: drain.cause,
      mode: pool?.policy.drain ?? 'natural',
      reason: drain.reason,
    })
  }
  // The drain counts once the device shows it applied it (docs/protocol.md, "Reclamation").
  await ctx.tx.putGrantStatus([
    { ...status, drainCause: drain.cause, movingTo: drain.movingTo ?? null, drainSeq },
  ])
  ctx.emit({
    tenantId: row.tenantId,
    actor: drain.actor,
    action: 'grant.drain',
    objectType: 'grant',
    objectId: row.id,
    before: { state: row.state, drainCause: status.drainCause, expiresAt: row.expiresAt },
    after: {
      state,
      drainCause: drain.cause,
      movingTo: drain.movingTo ?? null,
      expiresAt: after.expiresAt,
    },
    reason: drain.reason,
    requestId: drain.requestId ?? null,
  })
  return after
}

/** The actor of what the policy engine does. */
export const POLICY_ACTOR = 'system:policy'

/**
 * Raises an alert (once per kind and object: raising an open one again only updates its
 * message) and writes an event when it is new.
 */
export async function raiseAlert(
  ctx: WriteContext,
  alert: Omit<AlertRow, 'id' | 'raisedAt' | 'clearedAt'>,
): Promise<void> {
  const id = `${alert.kind}:${alert.objectId}`
  const found = await ctx.tx.getAlert(id)
  if (found !== undefined && found.clearedAt === null) {
    if (found.message !== alert.message) await ctx.tx.putAlert({ ...found, message: alert.message })
    return
  }
  const row: AlertRow = { ...alert, id, raisedAt: ctx.now, clearedAt: null }
  await ctx.tx.putAlert(row)
  ctx.emit({
    tenantId: alert.tenantId,
    actor: POLICY_ACTOR,
    action: 'alert.raise',
    objectType: alert.objectType,
    objectId: alert.objectId,
    after: { kind: alert.kind, message: alert.message },
    reason: alert.message,
  })
}

/** Clears an open alert, with an event saying why. */
export async function clearAlert(
  ctx: WriteContext,
  kind: string,
  objectId: string,
  reason: string,
): Promise<void> {
  const found = await ctx.tx.getAlert(`${kind}:${objectId}`)
  if (found === undefined || found.clearedAt !== null) return
  await ctx.tx.putAlert({ ...found, clearedAt: ctx.now })
  ctx.emit({
    tenantId: found.tenantId,
    actor: POLICY_ACTOR,
    action: 'alert.clear',
    objectType: found.objectType,
    objectId,
    before: { kind, message: found.message },
    reason,
  })
}
