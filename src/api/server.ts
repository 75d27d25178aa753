/**
 * The HTTP server: Fastify with JSON-Schema validation, bearer-token auth, one error shape,
 * OpenAPI 3.1 at `/openapi.json`, API docs at `/docs`, `/healthz` and Prometheus `/metrics`.
 *
 * @module
 */

import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import Fastify, { type FastifyInstance } from 'fastify'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import { Ajv } from 'ajv'
import { CasmError } from '../errors/casm-error.js'
import type { Coordinator } from '../coordinator/coordinator.js'
import { SCHEMA_VERSION } from '../store/migrations.js'
import { consolePlugin } from './console.js'
import { errorBody, toCasmError } from './http.js'
import { createMetrics } from './metrics.js'
import { allocationRoutes } from './routes/allocation-routes.js'
import { importRoutes } from './routes/import-routes.js'
import { inventoryRoutes } from './routes/inventory-routes.js'
import { leaseRoutes } from './routes/lease-routes.js'
import { loopRoutes } from './routes/loop-routes.js'
import { mapRoutes } from './routes/map-routes.js'
import { tenancyRoutes } from './routes/tenancy-routes.js'
import { ErrorBody } from './schemas.js'

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string
}

/** The Fastify instance of casm, with its coordinator. */
export type Api = FastifyInstance & { coordinator: Coordinator }

/** Options of {@link buildServer}. */
export interface ServerOptions {
  /** Log requests (pino) to stdout. */
  readonly logger?: boolean
  /** Largest request body in bytes (default 1 MiB). */
  readonly bodyLimit?: number
  /** The built web console served at `/` (default: `dist/web` of the package). */
  readonly consoleDir?: string
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/

/** True when a parsed JSON value holds a string with a NUL character. */
function hasNul(value: unknown, depth = 0): boolean {
  if (typeof value === 'string') return value.includes('\u0000')
  if (depth > 32 || typeof value !== 'object' || value === null) return false
  return Object.entries(value).some(([k, v]) => k.includes('\u0000') || hasNul(v, depth + 1))
}

/** Builds the server around a coordinator; call `listen` or `inject` on it. */
export async function buildServer(
  coordinator: Coordinator,
  options: ServerOptions = {},
): Promise<Api> {
  const bodyAjv = new Ajv({
    allErrors: true,
    removeAdditional: false,
    useDefaults: true,
    coerceTypes: false,
    strict: false,
    discriminator: true,
  })
  const queryAjv = new Ajv({
    allErrors: true,
    removeAdditional: false,
    useDefaults: true,
    coerceTypes: true,
    strict: false,
  })
  const app = Fastify({
    logger: options.logger === true ? { level: 'info' } : false,
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
    genReqId: (req) => {
      const given = req.headers['x-request-id']
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID()
    },
    requestIdHeader: false,
    ajv: { customOptions: { strict: false } },
  }) as unknown as Api
  // Bodies are JSON only: without this, Fastify's built-in text/plain parser lets a text body
  // through to schema validation (400) instead of answering 415.
  app.removeContentTypeParser('text/plain')
  app.decorate('coordinator', coordinator)
  app.decorateRequest('caller', undefined)
  app.setValidatorCompiler(({ schema, httpPart }) =>
    (httpPart === 'body' ? bodyAjv : queryAjv).compile(schema),
  )
  app.addSchema(ErrorBody)

  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-request-id', req.id)
    if (!req.url.startsWith('/api/v1/')) return
    const auth = req.headers.authorization
    const match = typeof auth === 'string' ? /^Bearer\s+(\S+)$/i.exec(auth) : null
    const tenantHeader = req.headers['x-casm-tenant']
    const tenant =
      typeof tenantHeader === 'string' && tenantHeader !== '' ? tenantHeader : undefined
    req.caller = await coordinator.authenticate(match?.[1], tenant, req.id)
  })

  // PostgreSQL text cannot hold NUL; refuse it everywhere, for both stores alike.
  app.addHook('preValidation', (req, _reply, done) => {
    if (req.body !== undefined && req.body !== null && hasNul(req.body)) {
      done(
        new CasmError(
          'CASM_ERR_VALIDATION',
          'strings may not contain the NUL character (\\u0000)',
          {
            errors: [{ path: 'body', message: 'contains \\u0000' }],
          },
        ),
      )
      return
    }
    done()
  })

  app.setErrorHandler((error, req, reply) => {
    const e = toCasmError(error)
    if (e.code === 'CASM_ERR_INTERNAL') req.log.error({ err: error }, 'internal error')
    return reply.code(e.status).type('application/json; charset=utf-8').send(errorBody(e, req.id))
  })
  app.setNotFoundHandler((req, reply) => {
    const e = new CasmError(
      'CASM_ERR_NOT_FOUND',
      `no route ${req.method} ${req.url.split('?')[0] ?? ''}; see /openapi.json`,
    )
    return reply.code(404).send(errorBody(e, req.id))
  })

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'casm',
        version: pkg.version,
        description:
          'Coordinated Address Space Management. Every error answers `{"error": {"code": "CASM_ERR_…", "message", "hint", "details"?}}`. Send `Authorization: Bearer <token>`; root tokens choose the tenant with `X-Casm-Tenant`. POSTs accept `Idempotency-Key`.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
      tags: [
        { name: 'domains', description: 'Routing and addressing scopes' },
        { name: 'blocks', description: 'Aggregates the operator owns' },
        { name: 'pools', description: 'Slices of blocks with a policy' },
        { name: 'devices', description: 'Address consumers' },
        { name: 'grants', description: 'Pool units held by devices' },
        { name: 'agent', description: 'The device protocol (docs/protocol.md), for device tokens' },
        { name: 'loop', description: 'The device loop: status, dry runs, alerts' },
        { name: 'assignments', description: 'Addresses for hosts and OSS requests' },
        { name: 'reservations', description: 'Space kept back or taken out' },
        { name: 'search', description: 'What holds an address' },
        { name: 'events', description: 'The audit log' },
        { name: 'tokens', description: 'Bearer tokens' },
        { name: 'tenants', description: 'Tenants' },
        { name: 'system', description: 'Health, metrics, the API description' },
      ],
    },
  })
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    uiConfig: { docExpansion: 'list', deepLinking: true },
  })

  const metrics = createMetrics(coordinator)
  app.addHook('onResponse', async (req, reply) => {
    metrics.observe(
      req.method,
      req.routeOptions.url ?? 'unknown',
      reply.statusCode,
      reply.elapsedTime / 1000,
    )
  })

  app.get('/openapi.json', { schema: { hide: true } }, () => app.swagger())
  app.get('/healthz', {
    schema: {
      tags: ['system'],
      summary: 'Health',
      security: [],
      response: { 200: { type: 'object', additionalProperties: true }, '5xx': ErrorBody },
    },
    handler: async () => {
      try {
        const head = await coordinator.reader.chainHead()
        return {
          status: 'ok',
          version: pkg.version,
          store: coordinator.store.kind,
          schemaVersion: SCHEMA_VERSION,
          events: head.seq,
          uptimeSeconds: Math.round((coordinator.clock.now() - coordinator.started) / 1000),
        }
      } catch (error) {
        throw new CasmError(
          'CASM_ERR_UNAVAILABLE',
          `the store does not answer: ${error instanceof Error ? error.message : String(error)}`,
        )
      }
    },
  })
  app.get(
    '/metrics',
    { schema: { tags: ['system'], summary: 'Prometheus metrics', security: [] } },
    async (_req, reply) => {
      reply.type(metrics.contentType)
      return metrics.render()
    },
  )

  inventoryRoutes(app)
  allocationRoutes(app)
  loopRoutes(app)
  leaseRoutes(app)
  tenancyRoutes(app)
  importRoutes(app)
  mapRoutes(app)
  await app.register(
    consolePlugin,
    options.consoleDir === undefined ? {} : { dir: options.consoleDir },
  )
  return app
}
