/**
 * Who is asking: the principal behind a request, the tenant it acts in, and the role checks.
 *
 * @module
 */

import { CasmError } from '../errors/casm-error.js'
import type { Role } from '../domain/model.js'
import { isId } from './ids.js'

/** The principal of a request, with the tenant it acts in. */
export interface Caller {
  /** The token used; null for casm itself (the sweeper, the first start). */
  readonly tokenId: string | null
  readonly role: Role
  /** The tenant the request acts in. */
  readonly tenantId: string
  /** A root token: may act in any tenant and manage tenants. */
  readonly root: boolean
  /** For device tokens: the device they speak for. */
  readonly deviceId: string | null
  /** The request id, recorded in events. */
  readonly requestId: string | null
}

/** casm's own actions (sweeps, bootstrap). */
export function systemCaller(tenantId: string, requestId: string | null = null): Caller {
  return { tokenId: null, role: 'admin', tenantId, root: true, deviceId: null, requestId }
}

/** The actor text of events. */
export function actorOf(c: Caller): string {
  if (c.tokenId === null) return 'system'
  return c.deviceId === null ? `token:${c.tokenId}` : `device:${c.deviceId}`
}

const RANK: Readonly<Record<Role, number>> = { device: 0, viewer: 1, operator: 2, admin: 3 }

/**
 * Refuses callers below `role` (viewer < operator < admin). Device tokens pass only checks for
 * `device`.
 *
 * @throws CasmError `CASM_ERR_FORBIDDEN`
 */
export function requireRole(c: Caller, role: Role): void {
  const ok = role === 'device' ? true : c.role !== 'device' && RANK[c.role] >= RANK[role]
  if (!ok) {
    throw new CasmError(
      'CASM_ERR_FORBIDDEN',
      `this needs the ${role} role; the token has ${c.role}`,
      { needed: role, have: c.role },
    )
  }
}

/** Refuses non-root callers. */
export function requireRoot(c: Caller): void {
  if (!c.root || c.role !== 'admin') {
    throw new CasmError(
      'CASM_ERR_FORBIDDEN',
      'only a root admin token can manage tenants and root tokens',
      {
        needed: 'root admin',
      },
    )
  }
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/

/**
 * Checks an object name: 1-63 characters of letters, digits, `.`, `_`, `-`, starting with a
 * letter or digit, and not shaped like an id.
 *
 * @throws CasmError `CASM_ERR_VALIDATION`
 */
export function checkName(name: string, field = 'name'): string {
  if (!NAME.test(name) || isId(name)) {
    throw new CasmError(
      'CASM_ERR_VALIDATION',
      `${field} '${name}' is not a valid name: use 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit`,
      { errors: [{ path: `/${field}`, message: 'invalid name', value: name }] },
    )
  }
  return name
}

/** A not-found error that says the same whether the object is absent or another tenant's. */
export function notFound(type: string, key: string): CasmError {
  return new CasmError('CASM_ERR_NOT_FOUND', `${type} '${key}' does not exist`, { type, key })
}
