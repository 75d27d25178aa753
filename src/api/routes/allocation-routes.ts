/**
 * Routes of grants, assignments and reservations.
 *
 * @module
 */

import { Type } from 'typebox'
import * as allocations from '../../coordinator/allocations.js'
import type { GrantState } from '../../domain/grant-lifecycle.js'
import { callerOf, mutate } from '../http.js'
import * as S from '../schemas.js'
import { assignmentOut, grantOut, reservationOut } from '../views.js'
import type { Api } from '../server.js'

const errors = { '4xx': S.ErrorBody, '5xx': S.ErrorBody }

type PageQ = { limit?: number; after?: string }

/** The `next` cursor of a page: the last id when the page is full. */
function next(items: readonly { id: string }[], limit: number): string | null {
  return items.length === limit ? (items[items.length - 1]?.id ?? null) : null
}

/** Registers the allocation routes. */
export function allocationRoutes(app: Api): void {
  const co = app.coordinator

  // ---- grants
  app.post('/api/v1/pools/:pool/grants', {
    schema: {
      tags: ['grants'],
      summary: 'Grant a unit of a pool to a device',
      description:
        "The pool picks the block by its strategy; `length` (within the pool's unit bounds) or an exact `prefix` may be given. Send `Idempotency-Key` to make retries safe.",
      params: Type.Object({ pool: S.Key }),
      body: S.GrantInput,
      response: { 201: S.Grant, ...errors },
    },
    handler: async (req, reply) => {
      const c = callerOf(req)
      const body = req.body as allocations.GrantInput
      // The device is looked up here, in parallel with other requests, not inside the writer.
      const device = await allocations.resolveDevice(co.reader, c, body.device)
      return mutate(
        co,
        req,
        reply,
        allocations.createGrant(c, (req.params as { pool: string }).pool, body, device),
        grantOut,
        201,
      )
    },
  })
  app.get('/api/v1/grants', {
    schema: {
      tags: ['grants'],
      summary: 'List grants',
      querystring: Type.Object(
        {
          pool: Type.Optional(S.Key),
          device: Type.Optional(S.Key),
          state: Type.Optional(S.State),
          ...S.PageQuery.properties,
        },
        { additionalProperties: false },
      ),
      response: { 200: S.Page(S.Grant), ...errors },
    },
    handler: async (req) => {
      const q = req.query as { pool?: string; device?: string; state?: GrantState } & PageQ
      const limit = q.limit ?? 100
      const items = await allocations.listGrants(co.reader, callerOf(req), q, {
        limit,
        ...(q.after === undefined ? {} : { after: q.after }),
      })
      return { items: items.map(grantOut), next: next(items, limit) }
    },
  })
  app.get('/api/v1/grants/:id', {
    schema: {
      tags: ['grants'],
      summary: 'Read a grant',
      params: Type.Object({ id: S.Id }),
      response: { 200: S.Grant, ...errors },
    },
    handler: async (req) =>
      grantOut(
        await allocations.getGrant(co.reader, callerOf(req), (req.params as { id: string }).id),
      ),
  })
  app.post('/api/v1/grants/:id/release', {
    schema: {
      tags: ['grants'],
      summary: 'Release a grant',
      description:
        "The space goes into quarantine for the pool's quarantine time, or back to the pool at once when that is 0.",
      params: Type.Object({ id: S.Id }),
      response: { 200: S.Grant, ...errors },
    },
    handler: (req, reply) =>
      mutate(
        co,
        req,
        reply,
        allocations.releaseGrant(callerOf(req), (req.params as { id: string }).id),
        grantOut,
      ),
  })

  // ---- assignments
  app.post('/api/v1/assignments', {
    schema: {
      tags: ['assignments'],
      summary: 'Assign an address or block by metadata',
      description:
        'Describe the requestor (RF-4.2.2 attributes) and the size; casm picks the pool whose selectors match, by priority, and moves to the next pool when one is exhausted (RF-4.2.1). Or name a pool, or an exact prefix for a static host.',
      body: S.AssignmentInput,
      response: { 201: S.AssignmentCreated, ...errors },
    },
    handler: (req, reply) =>
      mutate(
        co,
        req,
        reply,
        allocations.createAssignment(callerOf(req), req.body as allocations.AssignmentInput),
        (r) => ({
          assignment: assignmentOut(r.assignment),
          pool: r.pool,
          matchedSelectors: r.matchedSelectors,
        }),
        201,
      ),
  })
  app.get('/api/v1/assignments', {
    schema: {
      tags: ['assignments'],
      summary: 'List assignments',
      querystring: Type.Object(
        { pool: Type.Optional(S.Key), state: Type.Optional(S.State), ...S.PageQuery.properties },
        { additionalProperties: false },
      ),
      response: { 200: S.Page(S.Assignment), ...errors },
    },
    handler: async (req) => {
      const q = req.query as { pool?: string; state?: GrantState } & PageQ
      const limit = q.limit ?? 100
      const items = await allocations.listAssignments(co.reader, callerOf(req), q, {
        limit,
        ...(q.after === undefined ? {} : { after: q.after }),
      })
      return { items: items.map(assignmentOut), next: next(items, limit) }
    },
  })
  app.get('/api/v1/assignments/:id', {
    schema: {
      tags: ['assignments'],
      summary: 'Read an assignment',
      params: Type.Object({ id: S.Id }),
      response: { 200: S.Assignment, ...errors },
    },
    handler: async (req) =>
      assignmentOut(
        await allocations.getAssignment(
          co.reader,
          callerOf(req),
          (req.params as { id: string }).id,
        ),
      ),
  })
  app.post('/api/v1/assignments/:id/release', {
    schema: {
      tags: ['assignments'],
      summary: 'Release an assignment',
      params: Type.Object({ id: S.Id }),
      response: { 200: S.Assignment, ...errors },
    },
    handler: (req, reply) =>
      mutate(
        co,
        req,
        reply,
        allocations.releaseAssignment(callerOf(req), (req.params as { id: string }).id),
        assignmentOut,
      ),
  })

  // ---- reservations
  app.post('/api/v1/pools/:pool/reservations', {
    schema: {
      tags: ['reservations'],
      summary: 'Reserve or exclude space of a pool',
      description:
        "`reserved` space stays in the pool but is never allocated; `excluded` space leaves the pool's total. Give a prefix, a range, or a pattern repeated in every block of a length (e.g. the first and last address of every /24).",
      params: Type.Object({ pool: S.Key }),
      body: S.ReservationInput,
      response: { 201: S.Reservation, ...errors },
    },
    handler: (req, reply) =>
      mutate(
        co,
        req,
        reply,
        allocations.createReservation(
          callerOf(req),
          (req.params as { pool: string }).pool,
          req.body as allocations.ReservationInput,
        ),
        reservationOut,
        201,
      ),
  })
  app.get('/api/v1/reservations', {
    schema: {
      tags: ['reservations'],
      summary: 'List reservations',
      querystring: Type.Object({ pool: Type.Optional(S.Key) }, { additionalProperties: false }),
      response: { 200: S.List(S.Reservation), ...errors },
    },
    handler: async (req) => ({
      items: (
        await allocations.listReservations(
          co.reader,
          callerOf(req),
          (req.query as { pool?: string }).pool,
        )
      ).map(reservationOut),
    }),
  })
  app.get('/api/v1/reservations/:id', {
    schema: {
      tags: ['reservations'],
      summary: 'Read a reservation',
      params: Type.Object({ id: S.Id }),
      response: { 200: S.Reservation, ...errors },
    },
    handler: async (req) =>
      reservationOut(
        await allocations.getReservation(
          co.reader,
          callerOf(req),
          (req.params as { id: string }).id,
        ),
      ),
  })
  app.delete('/api/v1/reservations/:id', {
    schema: {
      tags: ['reservations'],
      summary: 'End a reservation',
      params: Type.Object({ id: S.Id }),
      response: { 204: Type.Null(), ...errors },
    },
    handler: (req, reply) =>
      mutate(
        co,
        req,
        reply,
        allocations.deleteReservation(callerOf(req), (req.params as { id: string }).id),
        () => null,
        204,
      ),
  })
}
