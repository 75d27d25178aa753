/**
 * Tenants, tokens and authentication (RF-4.1.1, RF-4.1.2).
 *
 * Tokens are random 256-bit secrets shown once; the store keeps their SHA-256 only. A root
 * token (no tenant) acts in the tenant a request names (default `default`) and may manage
 * tenants; any other token acts only in its own tenant, and naming another tenant answers as if
 * that tenant did not exist.
 *
 * @module
 */

import { createHash, randomBytes } from 'node:crypto'
import { CasmError } from '../errors/casm-error.js'
import { ROLES, type Role, type Tenant, type Token } from '../domain/model.js'
import { type Caller, actorOf, checkName, notFound, requireRole, requireRoot } from './caller.js'
import { newId } from './ids.js'
import type { StoreReader, TokenRow } from './store.js'
import type { WriteOp } from './writer.js'

/** The tenant every fresh installation starts with. */
export const DEFAULT_TENANT = 'default'

/** SHA-256 of a token secret, as stored. */
export function hashToken(secret: string): string {
  return createHash('sha256').update(secret).digest('hex')
}

/** A new token secret: `casm_` and 43 base64url characters (256 bits). */
export function newSecret(): string {
  return `casm_${randomBytes(32).toString('base64url')}`
}

/** A token as shown (never with its hash). */
export function tokenView(t: TokenRow | Token): Token {
  return {
    id: t.id,
    tenantId: t.tenantId,
    name: t.name,
    role: t.role,
    deviceId: t.deviceId,
    createdAt: t.createdAt,
    revokedAt: t.revokedAt,
  }
}

/**
 * Resolves a bearer secret and the tenant a request names into a {@link Caller}.
 *
 * @throws CasmError `CASM_ERR_UNAUTHENTICATED` for an unknown or revoked token,
 *   `CASM_ERR_NOT_FOUND` for a tenant the token may not see.
 */
export async function authenticate(
  reader: StoreReader,
  secret: string | undefined,
  tenantName: string | undefined,
  requestId: string | null,
): Promise<Caller> {
  if (secret === undefined || secret === '') {
    throw new CasmError('CASM_ERR_UNAUTHENTICATED', 'no bearer token was sent')
  }
  const token = await reader.getTokenByHash(hashToken(secret))
  if (token === undefined || token.revokedAt !== null) {
    throw new CasmError('CASM_ERR_UNAUTHENTICATED', 'the bearer token is unknown or revoked')
  }
  if (token.tenantId === null) {
    const tenant = await reader.getTenant(tenantName ?? DEFAULT_TENANT)
    if (tenant === undefined) throw notFound('tenant', tenantName ?? DEFAULT_TENANT)
    return {
      tokenId: token.id,
      role: token.role,
      tenantId: tenant.id,
      root: true,
      deviceId: token.deviceId,
      requestId,
    }
  }
  if (tenantName !== undefined) {
    const named = await reader.getTenant(tenantName)
    if (named?.id !== token.tenantId) throw notFound('tenant', tenantName)
  }
  return {
    tokenId: token.id,
    role: token.role,
    tenantId: token.tenantId,
    root: false,
    deviceId: token.deviceId,
    requestId,
  }
}

/** Creates the default tenant and a root admin token when the store has no token at all. */
export function bootstrap(): WriteOp<{ secret: string; token: Token } | undefined> {
  return async (ctx) => {
    if ((await ctx.tx.countTokens()) > 0) return undefined
    let tenant = await ctx.tx.getTenant(DEFAULT_TENANT)
    if (tenant === undefined) {
      tenant = { id: newId('tenant'), name: DEFAULT_TENANT, createdAt: ctx.now }
      await ctx.tx.insertTenant(tenant)
      ctx.emit({
        tenantId: tenant.id,
        actor: 'system',
        action: 'tenant.create',
        objectType: 'tenant',
        objectId: tenant.id,
        after: tenant,
        reason: 'first start',
      })
    }
    const secret = newSecret()
    const row: TokenRow = {
      id: newId('token'),
      tenantId: null,
      name: 'bootstrap-admin',
      role: 'admin',
      hash: hashToken(secret),
      deviceId: null,
      createdAt: ctx.now,
      revokedAt: null,
    }
    await ctx.tx.insertToken(row)
    ctx.emit({
      tenantId: null,
      actor: 'system',
      action: 'token.create',
      objectType: 'token',
      objectId: row.id,
      after: tokenView(row),
      reason: 'first start: root admin token',
    })
    return { secret, token: tokenView(row) }
  }
}

/** Lists tenants (root only). */
export async function listTenants(reader: StoreReader, c: Caller): Promise<Tenant[]> {
  requireRoot(c)
  return reader.listTenants()
}

/** Creates a tenant (root only). */
export function createTenant(c: Caller, input: { name: string }): WriteOp<Tenant> {
  return async (ctx) => {
    requireRoot(c)
    checkName(input.name)
    if ((await ctx.tx.getTenant(input.name)) !== undefined) {
      throw new CasmError('CASM_ERR_ALREADY_EXISTS', `tenant '${input.name}' already exists`, {
        name: input.name,
      })
    }
    const tenant: Tenant = { id: newId('tenant'), name: input.name, createdAt: ctx.now }
    await ctx.tx.insertTenant(tenant)
    ctx.emit({
      tenantId: tenant.id,
      actor: actorOf(c),
      action: 'tenant.create',
      objectType: 'tenant',
      objectId: tenant.id,
      after: tenant,
      requestId: c.requestId,
    })
    return tenant
  }
}

/** Deletes an empty tenant (root only); its tokens go with it. */
export function deleteTenant(c: Caller, key: string): WriteOp<void> {
  return async (ctx) => {
    requireRoot(c)
    const tenant = await ctx.tx.getTenant(key)
    if (tenant === undefined) throw notFound('tenant', key)
    const domains = await ctx.tx.listDomains(tenant.id)
    const devices = await ctx.tx.listDevices(tenant.id)
    if (domains.length > 0 || devices.length > 0) {
      throw new CasmError(
        'CASM_ERR_IN_USE',
        `tenant '${tenant.name}' still has ${domains.length} domain(s) and ${devices.length} device(s); delete them first`,
        { domains: domains.length, devices: devices.length },
      )
    }
    await ctx.tx.deleteTenant(tenant.id)
    ctx.emit({
      tenantId: tenant.id,
      actor: actorOf(c),
      action: 'tenant.delete',
      objectType: 'tenant',
      objectId: tenant.id,
      before: tenant,
      requestId: c.requestId,
    })
  }
}

/** Input of {@link createToken}. */
export interface TokenInput {
  readonly name: string
  readonly role: Role
  /** Root callers: the tenant of the new token (a name or id); omitted with `root: true`. */
  readonly tenant?: string
  /** Root callers: make a root token (acts across tenants). */
  readonly root?: boolean
  /** For `device` tokens: the device (name or id) they speak for. */
  readonly device?: string
}

/**
 * Creates a token; the secret is returned once and never stored. Admins create tokens in their
 * tenant; root admins in any tenant, or root tokens.
 */
export function createToken(
  c: Caller,
  input: TokenInput,
): WriteOp<{ secret: string; token: Token }> {
  return async (ctx) => {
    requireRole(c, 'admin')
    checkName(input.name)
    if (!ROLES.includes(input.role)) {
      throw new CasmError(
        'CASM_ERR_VALIDATION',
        `role '${input.role}' is not one of ${ROLES.join(', ')}`,
      )
    }
    let tenantId: string | null = c.tenantId
    if (input.root === true) {
      requireRoot(c)
      if (input.role !== 'admin' && input.role !== 'viewer') {
        throw new CasmError('CASM_ERR_VALIDATION', 'a root token must be admin or viewer')
      }
      tenantId = null
    } else if (input.tenant !== undefined) {
      const t = await ctx.tx.getTenant(input.tenant)
      if (t === undefined || (!c.root && t.id !== c.tenantId))
        throw notFound('tenant', input.tenant)
      tenantId = t.id
    }
    let deviceId: string | null = null
    if (input.role === 'device') {
      if (input.device === undefined || tenantId === null) {
        throw new CasmError(
          'CASM_ERR_VALIDATION',
          'a device token needs the device it speaks for',
          {
            errors: [{ path: '/device', message: 'required for role device' }],
          },
        )
      }
      const d = await ctx.tx.getDevice(tenantId, input.device)
      if (d === undefined) throw notFound('device', input.device)
      deviceId = d.id
    } else if (input.device !== undefined) {
      throw new CasmError('CASM_ERR_VALIDATION', 'only device tokens name a device')
    }
    const secret = newSecret()
    const row: TokenRow = {
      id: newId('token'),
      tenantId,
      name: input.name,
      role: input.role,
      hash: hashToken(secret),
      deviceId,
      createdAt: ctx.now,
      revokedAt: null,
    }
    await ctx.tx.insertToken(row)
    ctx.emit({
      tenantId,
      actor: actorOf(c),
      action: 'token.create',
      objectType: 'token',
      objectId: row.id,
      after: tokenView(row),
      requestId: c.requestId,
    })
    return { secret, token: tokenView(row) }
  }
}

/** Tokens the caller may see: a tenant admin its tenant's, a root admin all. */
export async function listTokens(reader: StoreReader, c: Caller): Promise<Token[]> {
  requireRole(c, 'admin')
  const rows = await reader.listTokens(c.root ? undefined : c.tenantId)
  return rows.map(tokenView)
}

/** Revokes a token at once. */
export function revokeToken(c: Caller, id: string): WriteOp<Token> {
  return async (ctx) => {
    requireRole(c, 'admin')
    const row = await ctx.tx.getToken(id)
    if (row === undefined || (!c.root && row.tenantId !== c.tenantId)) throw notFound('token', id)
    if (row.revokedAt !== null) return tokenView(row)
    await ctx.tx.revokeToken(id, ctx.now)
    const after = { ...tokenView(row), revokedAt: ctx.now }
    ctx.emit({
      tenantId: row.tenantId,
      actor: actorOf(c),
      action: 'token.revoke',
      objectType: 'token',
      objectId: id,
      before: tokenView(row),
      after,
      requestId: c.requestId,
    })
    return after
  }
}
