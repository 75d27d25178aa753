/**
 * Lease replay at the coordinator (RF-4.3.3.4; docs/protocol.md, "Lease replay"): a device's
 * agent stores the leases its DHCP server gave out of the device's grants, one snapshot per
 * grant, and fetches them back to replay them into a replacement server.
 *
 * - An upload is checked whole before anything is written, outside the writer: every grant must
 *   be a live grant of the calling device and every lease must lie inside its grant; one bad row
 *   refuses the upload and nothing changes. Under the writer the grants are checked again and each
 *   grant's snapshot replaces what was stored for it.
 * - Uploads write no event: they come every few tens of seconds from every device and change no
 *   address space, so they would drown the hash-chained audit trail. `/metrics` counts them
 *   (`casm_lease_uploads_total`, `casm_lease_upload_leases_total`) and each lease carries the
 *   time it was stored.
 * - Leases go with their grant: a release or expiry deletes them in its own transaction
 *   (`endUnit`), the store drops them with their grant or device, and reads return only leases of
 *   grants the device still holds live.
 *
 * @module
 */

import { CasmError } from '../errors/casm-error.js'
import { Prefix } from '../ip/index.js'
import {
  type LeaseUpload,
  type StoredLease,
  MAX_LEASES_PER_UPLOAD,
  checkLease,
} from '../domain/device-lease.js'
import { type Caller, notFound, requireRole } from './caller.js'
import { type HeldGrants, callingDevice, heldGrants, liveGrant, ownGrant } from './device-loop.js'
import type { Device } from '../domain/model.js'
import type { DeviceLeaseRow, StoreReader } from './store.js'
import type { WriteOp } from './writer.js'

/** Most leases one read returns, and how many it returns when not told. */
export const MAX_LEASE_PAGE = 100_000
export const DEFAULT_LEASE_PAGE = 10_000

/** What an upload stored: the leases of each grant now kept. */
export interface LeaseUploadResult {
  readonly grants: readonly { readonly grant: string; readonly stored: number }[]
  readonly stored: number
}

/** A stored lease with when it ends and when it was stored (epoch ms). */
export interface LeaseRecord {
  readonly lease: StoredLease
  readonly expiresAt: number
  readonly storedAt: number
}

/** What a read asks for. */
export interface LeaseQuery {
  /** Only leases of these grants (of the device). */
  readonly grants?: readonly string[]
  /** Ended leases too (left out by default). */
  readonly includeExpired?: boolean
  /** The `next` cursor of the previous page. */
  readonly after?: string
  readonly limit?: number
}

/** A page of leases, in (grant, address) order; `next` is null on the last page. */
export interface LeasePage {
  readonly items: readonly LeaseRecord[]
  readonly next: string | null
}

function invalid(path: string, message: string, value?: unknown): CasmError {
  return new CasmError('CASM_ERR_VALIDATION', `${path}: ${message}`, {
    errors: [{ path, message, value }],
  })
}

/** An upload checked whole against committed data, ready for {@link storeLeases}. */
export interface CheckedUpload {
  readonly device: Device
  readonly snapshots: readonly { readonly grant: string; readonly rows: DeviceLeaseRow[] }[]
  readonly stored: number
}

/**
 * Checks the calling device's upload, on committed data and outside the writer (a large upload
 * costs the writer only its rows): every grant a live grant of the device, every lease inside its
 * grant, well formed and there once. Needs a device token.
 *
 * @throws CasmError `CASM_ERR_VALIDATION` (a lease outside its grant, malformed or twice; more than
 *   {@link MAX_LEASES_PER_UPLOAD} leases; a grant twice), `CASM_ERR_NOT_FOUND` (a grant that is
 *   not the device's), `CASM_ERR_OUT_OF_ORDER` (a grant no longer live), `CASM_ERR_FORBIDDEN`.
 */
export async function checkUpload(
  reader: StoreReader,
  c: Caller,
  upload: LeaseUpload,
  now: number,
): Promise<CheckedUpload> {
  const device = await callingDevice(reader, c)
  const stored = upload.grants.reduce((n, g) => n + g.leases.length, 0)
  if (stored > MAX_LEASES_PER_UPLOAD) {
    throw invalid(
      '/grants',
      `an upload holds at most ${MAX_LEASES_PER_UPLOAD} leases, this one ${stored}: send the grants in several uploads`,
    )
  }
  const ids = upload.grants.map((g) => g.grant)
  if (new Set(ids).size !== ids.length) throw invalid('/grants', 'names a grant twice')
  const held = await heldGrants(reader, device)
  const snapshots: { grant: string; rows: DeviceLeaseRow[] }[] = []
  for (const [i, entry] of upload.grants.entries()) {
    const row = await liveGrant(reader, held, entry.grant)
    const grant = { id: row.id, prefix: Prefix.of(row.family, row.first, row.length) }
    const rows = new Map<string, DeviceLeaseRow>()
    for (const [j, input] of entry.leases.entries()) {
      const path = `/grants/${i}/leases/${j}`
      const { key, lease, expiresAt } = checkLease(grant, input, path)
      if (rows.has(key)) throw invalid(`${path}/address`, `${key} is in the snapshot twice`, key)
      const { grant: _grant, ...payload } = lease
      rows.set(key, {
        tenantId: device.tenantId,
        deviceId: device.id,
        grantId: row.id,
        address: key,
        kind: lease.kind,
        lease: payload,
        expiresAt,
        storedAt: now,
      })
    }
    snapshots.push({ grant: row.id, rows: [...rows.values()] })
  }
  return { device, snapshots, stored }
}

/**
 * Stores a checked upload: each grant's snapshot replaces the leases stored for it. The grants
 * are checked again under the writer (one may have been released meanwhile).
 *
 * @throws CasmError `CASM_ERR_OUT_OF_ORDER` (a grant released since the check),
 *   `CASM_ERR_NOT_FOUND` (the device is gone).
 */
export function storeLeases(c: Caller, checked: CheckedUpload): WriteOp<LeaseUploadResult> {
  return async (ctx) => {
    const held = await heldGrants(ctx.tx, await callingDevice(ctx.tx, c))
    for (const s of checked.snapshots) await liveGrant(ctx.tx, held, s.grant)
    for (const s of checked.snapshots) await ctx.tx.replaceGrantLeases(s.grant, s.rows)
    return {
      grants: checked.snapshots.map((s) => ({ grant: s.grant, stored: s.rows.length })),
      stored: checked.stored,
    }
  }
}

/** The calling device's stored leases of its live grants. Needs a device token. */
export async function agentLeases(
  reader: StoreReader,
  c: Caller,
  q: LeaseQuery,
  now: number,
): Promise<LeasePage> {
  return readLeases(reader, await heldGrants(reader, await callingDevice(reader, c)), q, now)
}

/** A device's stored leases of its live grants, for operators and viewers of its tenant. */
export async function deviceLeases(
  reader: StoreReader,
  c: Caller,
  deviceKey: string,
  q: LeaseQuery,
  now: number,
): Promise<LeasePage> {
  requireRole(c, 'viewer')
  const device = await reader.getDevice(c.tenantId, deviceKey)
  if (device === undefined) throw notFound('device', deviceKey)
  return readLeases(reader, await heldGrants(reader, device), q, now)
}

const CURSOR = /^([a-z]{2,5}_[0-9a-z]{16,}),([0-9a-f:./]{2,64})$/

async function readLeases(
  reader: StoreReader,
  held: HeldGrants,
  q: LeaseQuery,
  now: number,
): Promise<LeasePage> {
  // A grant of another device (or none) is not found; one the device no longer holds has no
  // leases left to read.
  for (const id of q.grants ?? []) await ownGrant(reader, held, id)
  const cursor = q.after === undefined ? undefined : CURSOR.exec(q.after)
  if (cursor === null)
    throw invalid('querystring/after', 'is not a cursor this listing gave', q.after)
  const limit = q.limit ?? DEFAULT_LEASE_PAGE
  const rows = await reader.deviceLeases(held.device.id, {
    ...(q.grants === undefined ? {} : { grantIds: q.grants }),
    ...(q.includeExpired === true ? {} : { liveAt: now }),
    ...(cursor === undefined
      ? {}
      : { after: { grantId: cursor[1] ?? '', address: cursor[2] ?? '' } }),
    limit,
  })
  const last = rows.length === limit ? rows[rows.length - 1] : undefined
  return {
    items: rows.map((r) => ({
      lease: { grant: r.grantId, ...r.lease },
      expiresAt: r.expiresAt,
      storedAt: r.storedAt,
    })),
    next: last === undefined ? null : `${last.grantId},${last.address}`,
  }
}
