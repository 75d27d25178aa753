/**
 * Routes of lease replay (RF-4.3.3.4; docs/protocol.md, "Lease replay"): a device's agent stores
 * its DHCP server's leases per grant and fetches them back to replay them into a replacement
 * server; operators and viewers read a device's stored leases.
 *
 * @module
 */

import { Type } from 'typebox'
import type { FastifyRequest } from 'fastify'
import * as leases from '../../coordinator/lease-archive.js'
import type { LeaseUpload } from '../../domain/device-lease.js'
import { callerOf, mutate } from '../http.js'
import * as S from '../schemas.js'
import { leaseOut } from '../views.js'
import type { Api } from '../server.js'

const errors = { '4xx': S.ErrorBody, '5xx': S.ErrorBody }

/** Largest lease upload body: room for 100,000 leases of about 600 bytes of JSON each. */
export const LEASE_BODY_LIMIT = 64 * 1024 * 1024

/** The query of a lease read, as the coordinator takes it. */
function queryOf(req: FastifyRequest): leases.LeaseQuery {
  const q = req.query as {
    grant?: string | string[]
    includeExpired?: boolean
    after?: string
    limit?: number
  }
  return {
    ...(q.grant === undefined ? {} : { grants: typeof q.grant === 'string' ? [q.grant] : q.grant }),
    ...(q.includeExpired === undefined ? {} : { includeExpired: q.includeExpired }),
    ...(q.after === undefined ? {} : { after: q.after }),
    ...(q.limit === undefined ? {} : { limit: q.limit }),
  }
}

const page = (p: leases.LeasePage) => ({ items: p.items.map(leaseOut), next: p.next })

/** Registers the lease replay routes. */
export function leaseRoutes(app: Api): void {
  const co = app.coordinator

  app.put('/api/v1/agent/leases', {
    bodyLimit: LEASE_BODY_LIMIT,
    schema: {
      tags: ['agent'],
      summary: "Store the leases of the device's grants",
      description:
        "Snapshots: each listed grant's leases replace the ones stored for it (an empty list leaves none). Every grant must be a live grant of the calling device and every lease must lie inside its grant; one bad lease refuses the whole upload and nothing is stored. At most 100,000 leases and 64 MiB. No event is written; `/metrics` counts uploads. Needs a device token.",
      body: S.LeaseUpload,
      response: { 200: S.LeaseUploadResult, ...errors },
    },
    handler: async (req, reply) => {
      const c = callerOf(req)
      // Checked here, in parallel with other requests; the writer only stores the rows.
      const checked = await leases.checkUpload(
        co.reader,
        c,
        req.body as LeaseUpload,
        co.clock.now(),
      )
      return mutate(co, req, reply, leases.storeLeases(c, checked), (r) => {
        co.countLeaseUpload(r.stored)
        return r
      })
    },
  })

  app.get('/api/v1/agent/leases', {
    schema: {
      tags: ['agent'],
      summary: "The stored leases of the device's live grants",
      description:
        'What to replay into a replacement DHCP server, in (grant, address) order, a page at a time (follow `next`). Leases that have ended are left out unless `includeExpired=true`; leases of grants the device no longer holds are gone. Needs a device token.',
      querystring: S.LeaseQuery,
      response: { 200: S.Page(S.Lease), ...errors },
    },
    handler: async (req) =>
      page(await leases.agentLeases(co.reader, callerOf(req), queryOf(req), co.clock.now())),
  })

  app.get('/api/v1/devices/:device/leases', {
    schema: {
      tags: ['devices'],
      summary: "A device's stored leases",
      description:
        "The leases the device's agent stored for its live grants, as `GET /api/v1/agent/leases` gives them to the device.",
      params: Type.Object({ device: S.Key }),
      querystring: S.LeaseQuery,
      response: { 200: S.Page(S.Lease), ...errors },
    },
    handler: async (req) =>
      page(
        await leases.deviceLeases(
          co.reader,
          callerOf(req),
          (req.params as { device: string }).device,
          queryOf(req),
          co.clock.now(),
        ),
      ),
  })
}
