/**
 * Entities as the API shows them: times as RFC 3339 text, foreign keys by id, no tenant ids
 * (the caller's tenant is implied).
 *
 * @module
 */

import type { BlockView } from '../coordinator/inventory.js'
import type { DeviceLoopStatus, GrantDetail } from '../coordinator/grant-operations.js'
import type { LeaseRecord } from '../coordinator/lease-archive.js'
import type { AlertRow } from '../coordinator/store.js'
import type {
  Assignment,
  CasmEvent,
  Device,
  Domain,
  Grant,
  Pool,
  Reservation,
  Tenant,
  Token,
} from '../domain/model.js'

/** Epoch milliseconds as RFC 3339 UTC text. */
export const iso = (ms: number): string => new Date(ms).toISOString()
/** Nullable epoch milliseconds as RFC 3339 UTC text. */
export const isoOrNull = (ms: number | null): string | null => (ms === null ? null : iso(ms))

export const tenantOut = (t: Tenant) => ({ id: t.id, name: t.name, createdAt: iso(t.createdAt) })

export const tokenOut = (t: Token) => ({
  id: t.id,
  name: t.name,
  role: t.role,
  tenant: t.tenantId,
  device: t.deviceId,
  createdAt: iso(t.createdAt),
  revokedAt: isoOrNull(t.revokedAt),
})

export const domainOut = (d: Domain) => ({
  id: d.id,
  name: d.name,
  description: d.description,
  createdAt: iso(d.createdAt),
  updatedAt: iso(d.updatedAt),
})

export const blockOut = (b: BlockView) => ({
  id: b.id,
  domain: b.domainId,
  family: b.family,
  space: b.space,
  reserved: b.reserved,
  source: b.source,
  description: b.description,
  tags: b.tags,
  specialPurpose: b.specialPurpose,
  createdAt: iso(b.createdAt),
  updatedAt: iso(b.updatedAt),
})

export const poolOut = (p: Pool) => ({
  id: p.id,
  name: p.name,
  domain: p.domainId,
  kind: p.kind,
  family: p.family,
  space: p.space,
  policy: p.policy,
  priority: p.priority,
  selectors: p.selectors,
  tags: p.tags,
  description: p.description,
  createdAt: iso(p.createdAt),
  updatedAt: iso(p.updatedAt),
})

export const deviceOut = (d: Device) => ({
  id: d.id,
  name: d.name,
  attributes: d.attributes,
  policy: d.policy,
  description: d.description,
  createdAt: iso(d.createdAt),
  updatedAt: iso(d.updatedAt),
})

export const grantOut = (g: Grant) => ({
  id: g.id,
  pool: g.poolId,
  device: g.deviceId,
  prefix: g.prefix,
  state: g.state,
  createdAt: iso(g.createdAt),
  updatedAt: iso(g.updatedAt),
  expiresAt: isoOrNull(g.expiresAt),
  releasedAt: isoOrNull(g.releasedAt),
  quarantineUntil: isoOrNull(g.quarantineUntil),
})

export const assignmentOut = (a: Assignment) => ({
  id: a.id,
  pool: a.poolId,
  prefix: a.prefix,
  state: a.state,
  requestor: a.requestor,
  hostname: a.hostname,
  description: a.description,
  createdAt: iso(a.createdAt),
  updatedAt: iso(a.updatedAt),
  releasedAt: isoOrNull(a.releasedAt),
  quarantineUntil: isoOrNull(a.quarantineUntil),
})

/** A reservation; only its first 1000 prefixes are listed (`count` has them all). */
export const reservationOut = (r: Reservation) => ({
  id: r.id,
  pool: r.poolId,
  kind: r.kind,
  target: r.target,
  prefixes: r.prefixes.slice(0, 1000),
  count: r.prefixes.length,
  description: r.description,
  createdAt: iso(r.createdAt),
})

export const eventOut = (e: CasmEvent) => ({
  seq: e.seq,
  id: e.id,
  tenant: e.tenantId,
  at: iso(e.at),
  actor: e.actor,
  action: e.action,
  objectType: e.objectType,
  objectId: e.objectId,
  before: e.before,
  after: e.after,
  reason: e.reason,
  requestId: e.requestId,
  prevHash: e.prevHash,
  hash: e.hash,
})

export const grantDetailOut = (g: GrantDetail) => ({
  ...grantOut(g),
  pinned: g.pinned,
  drainCause: g.drainCause,
  movingTo: g.movingTo,
  usage: g.usage === null ? null : { ...g.usage, reportedAt: iso(g.usage.reportedAt) },
  confirmedAt: isoOrNull(g.confirmedAt),
})

export const alertOut = (a: AlertRow) => ({
  id: a.id,
  kind: a.kind,
  objectType: a.objectType,
  objectId: a.objectId,
  message: a.message,
  raisedAt: iso(a.raisedAt),
  clearedAt: isoOrNull(a.clearedAt),
})

export const loopStatusOut = (s: DeviceLoopStatus) => ({
  device: deviceOut(s.device),
  agent: s.agent,
  connectedAt: isoOrNull(s.connectedAt),
  lastReportAt: isoOrNull(s.lastReportAt),
  silent: s.silent,
  streamEventId: s.streamEventId,
  ackedEventId: s.ackedEventId,
  routes: s.routes,
  grants: s.grants.map(grantDetailOut),
  utilisation: s.utilisation,
  lowSince: Object.fromEntries(
    Object.entries(s.lowSince).map(([k, v]) => [k, isoOrNull(v ?? null)]),
  ),
  policy: s.policy,
  plan: s.plan,
  alerts: s.alerts.map(alertOut),
})

export const leaseOut = (r: LeaseRecord) => ({
  ...r.lease,
  expiresAt: iso(r.expiresAt),
  storedAt: iso(r.storedAt),
})
