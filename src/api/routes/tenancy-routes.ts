/**
 * Routes of tenants, tokens, events and search.
 *
 * @module
 */

import { Type } from 'typebox'
import { CasmError } from '../../errors/casm-error.js'
import * as tenancy from '../../coordinator/tenancy.js'
import { checkQuery, search } from '../../coordinator/queries.js'
import { callerOf, mutate } from '../http.js'
import * as S from '../schemas.js'
import { eventOut, tenantOut, tokenOut } from '../views.js'
import type { Api } from '../server.js'

const errors = { '4xx': S.ErrorBody, '5xx': S.ErrorBody }

/** Parses an RFC 3339 time of a query string. */
function timeParam(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  const ms = Date.parse(value)
  if (Number.isNaN(ms)) {
    throw new CasmError(
      'CASM_ERR_VALIDATION',
      `${name} must be an RFC 3339 time like 2026-11-25T12:00:00Z`,
      {
        errors: [{ path: `querystring/${name}`, message: 'not a time', value }],
      },
    )
  }
  return ms
}

/** Registers tenancy, event and search routes. */
export function tenancyRoutes(app: Api): void {
  const co = app.coordinator

  app.get('/api/v1/whoami', {
    schema: {
      tags: ['tokens'],
      summary: 'Who the token is',
      description:
        'The token behind the request: its name and role, whether it is a root token, and the tenant it acts in (for root tokens, the one `X-Casm-Tenant` names).',
      response: { 200: S.Whoami, ...errors },
    },
    handler: async (req) => {
      const c = callerOf(req)
      const [token, tenant] = await Promise.all([
        c.tokenId === null ? undefined : co.reader.getToken(c.tokenId),
        co.reader.getTenant(c.tenantId),
      ])
      return {
        tokenId: c.tokenId,
        name: token?.name ?? 'system',
        role: c.role,
        root: c.root,
        tenant: tenant?.name ?? c.tenantId,
        tenantId: c.tenantId,
        device: c.deviceId,
      }
    },
  })

  app.get('/api/v1/tenants', {
    schema: {
      tags: ['tenants'],
      summary: 'List tenants (root admins)',
      response: { 200: S.List(S.Tenant), ...errors },
    },
    handler: async (req) => ({
      items: (await tenancy.listTenants(co.reader, callerOf(req))).map(tenantOut),
    }),
  })
  app.post('/api/v1/tenants', {
    schema: {
      tags: ['tenants'],
      summary: 'Create a tenant (root admins)',
      body: S.TenantInput,
      response: { 201: S.Tenant, ...errors },
    },
    handler: (req, reply) =>
      mutate(
        co,
        req,
        reply,
        tenancy.createTenant(callerOf(req), req.body as { name: string }),
        tenantOut,
        201,
      ),
  })
  app.delete('/api/v1/tenants/:tenant', {
    schema: {
      tags: ['tenants'],
      summary: 'Delete an empty tenant (root admins)',
      params: Type.Object({ tenant: S.Key }),
      response: { 204: Type.Null(), ...errors },
    },
    handler: (req, reply) =>
      mutate(
        co,
        req,
        reply,
        tenancy.deleteTenant(callerOf(req), (req.params as { tenant: string }).tenant),
        () => null,
        204,
      ),
  })

  app.get('/api/v1/tokens', {
    schema: {
      tags: ['tokens'],
      summary: 'List tokens (admins)',
      response: { 200: S.List(S.Token), ...errors },
    },
    handler: async (req) => ({
      items: (await tenancy.listTokens(co.reader, callerOf(req))).map(tokenOut),
    }),
  })
  app.post('/api/v1/tokens', {
    schema: {
      tags: ['tokens'],
      summary: 'Create a token (admins)',
      description: 'The secret is in the answer once; casm stores only its SHA-256.',
      body: S.TokenInput,
      response: { 201: S.TokenCreated, ...errors },
    },
    handler: (req, reply) =>
      mutate(
        co,
        req,
        reply,
        tenancy.createToken(callerOf(req), req.body as tenancy.TokenInput),
        (r) => ({ token: tokenOut(r.token), secret: r.secret }),
        201,
      ),
  })
  app.delete('/api/v1/tokens/:id', {
    schema: {
      tags: ['tokens'],
      summary: 'Revoke a token (admins)',
      params: Type.Object({ id: S.Id }),
      response: { 200: S.Token, ...errors },
    },
    handler: (req, reply) =>
      mutate(
        co,
        req,
        reply,
        tenancy.revokeToken(callerOf(req), (req.params as { id: string }).id),
        tokenOut,
      ),
  })

  app.get('/api/v1/events', {
    schema: {
      tags: ['events'],
      summary: 'Read the event log',
      description: 'Every change, oldest first, with a cursor. Filters combine.',
      querystring: Type.Object(
        {
          object: Type.Optional(Type.String({ maxLength: 64, description: 'Object id' })),
          type: Type.Optional(
            Type.String({ maxLength: 32, description: 'Object type: pool, grant, ...' }),
          ),
          action: Type.Optional(Type.String({ maxLength: 64, examples: ['grant.create'] })),
          actor: Type.Optional(Type.String({ maxLength: 80 })),
          since: Type.Optional(Type.String({ maxLength: 40, description: 'RFC 3339 time' })),
          until: Type.Optional(Type.String({ maxLength: 40, description: 'RFC 3339 time' })),
          all: Type.Optional(Type.Boolean({ description: "Root tokens: every tenant's events." })),
          ...S.PageQuery.properties,
        },
        { additionalProperties: false },
      ),
      response: { 200: S.Page(S.Event), ...errors },
    },
    handler: async (req) => {
      const q = req.query as {
        object?: string
        type?: string
        action?: string
        actor?: string
        since?: string
        until?: string
        all?: boolean
        limit?: number
        after?: string
      }
      if (q.after !== undefined && !/^[0-9]+$/.test(q.after)) {
        throw new CasmError(
          'CASM_ERR_VALIDATION',
          'after must be the `next` cursor of a previous page',
        )
      }
      const limit = q.limit ?? 100
      const since = timeParam('since', q.since)
      const until = timeParam('until', q.until)
      const events = await co.listEvents(
        callerOf(req),
        {
          ...(q.object === undefined ? {} : { objectId: q.object }),
          ...(q.type === undefined ? {} : { objectType: q.type }),
          ...(q.action === undefined ? {} : { action: q.action }),
          ...(q.actor === undefined ? {} : { actor: q.actor }),
          ...(since === undefined ? {} : { since }),
          ...(until === undefined ? {} : { until }),
          ...(q.all === undefined ? {} : { allTenants: q.all }),
        },
        { limit, ...(q.after === undefined ? {} : { after: q.after }) },
      )
      return {
        items: events.map(eventOut),
        next: events.length === limit ? String(events[events.length - 1]?.seq) : null,
      }
    },
  })
  app.get('/api/v1/events/verify', {
    schema: {
      tags: ['events'],
      summary: 'Verify the event hash chain (admins)',
      description:
        'Walks every event and checks sequence, links and hashes; reports where the chain first breaks.',
      response: {
        200: Type.Object({
          ok: Type.Boolean(),
          checked: Type.Integer(),
          head: Type.Object({ seq: Type.Integer(), hash: Type.String() }),
          broken: Type.Optional(Type.Object({ seq: Type.Integer(), reason: Type.String() })),
        }),
        ...errors,
      },
    },
    handler: (req) => co.verifyEvents(callerOf(req)),
  })

  app.get('/api/v1/search', {
    schema: {
      tags: ['search'],
      summary: 'Find what holds an address or prefix',
      description:
        'In every domain of the tenant: the blocks and pools that contain or overlap it, and the grants, assignments and reservations in it, with their devices.',
      querystring: Type.Object(
        {
          q: Type.String({ minLength: 1, maxLength: 64, examples: ['100.64.3.7'] }),
          domain: Type.Optional(S.Key),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
        },
        { additionalProperties: false },
      ),
      response: { 200: Type.Unknown(), ...errors },
    },
    handler: (req) => {
      const q = req.query as { q: string; domain?: string; limit?: number }
      checkQuery(q.q)
      return search(co.reader, callerOf(req), q.q, {
        ...(q.domain === undefined ? {} : { domain: q.domain }),
        ...(q.limit === undefined ? {} : { limit: q.limit }),
      })
    },
  })
}
