/**
 * Routes of the device loop: the device protocol (`/api/v1/agent/...`, device tokens), what
 * operators do to grants (drain, undrain, pin, move), a device's loop status with the engine's
 * dry run, and alerts.
 *
 * @module
 */

import { Type } from 'typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { CasmError } from '../../errors/casm-error.js'
import { requestHash } from '../../coordinator/coordinator.js'
import { handleMessage } from '../../coordinator/device-loop.js'
import * as ops from '../../coordinator/grant-operations.js'
import type { CoordinatorMessage, DeviceMessage } from '../../domain/device-protocol.js'
import { callerOf, errorBody, mutate } from '../http.js'
import * as S from '../schemas.js'
import { alertOut, grantDetailOut, loopStatusOut } from '../views.js'
import type { Api } from '../server.js'

const errors = { '4xx': S.ErrorBody, '5xx': S.ErrorBody }

/** A keep-alive comment on idle streams this often. */
export const KEEP_ALIVE_MS = 15_000

/** Streams look for messages on their own this often (messages from another coordinator). */
export const STREAM_POLL_MS = 2_000

/** Registers the device-loop routes. */
export function loopRoutes(app: Api): void {
  const co = app.coordinator

  // ---- the device protocol
  app.post('/api/v1/agent/messages', {
    schema: {
      tags: ['agent'],
      summary: 'Send a device message',
      description:
        'One message of the device protocol (docs/protocol.md); the answer is the reply message. A message resent with the same `txn` gets the first answer and changes nothing. Needs a device token.',
      body: S.DeviceMessage,
      response: { 200: S.CoordinatorMessage, ...errors },
    },
    handler: async (req, reply) => {
      const c = callerOf(req)
      if (c.deviceId === null) {
        throw new CasmError(
          'CASM_ERR_FORBIDDEN',
          'agent messages need a device token (POST /api/v1/tokens with role device and a device)',
        )
      }
      const m = req.body as DeviceMessage
      const answer = await co.runIdempotent(
        c,
        `agent:${c.deviceId}:${m.txn}`,
        requestHash('POST', '/api/v1/agent/messages', m),
        handleMessage(c, m),
        (value: CoordinatorMessage) => {
          co.countLoop(m.type, value.type === 'report-confirm' ? value.decisions : [])
          return { status: 200, body: value }
        },
        (e) => ({ status: e.status, body: errorBody(e, req.id) }),
      )
      reply.code(answer.status).header('idempotent-replayed', answer.replayed ? 'true' : 'false')
      return reply
        .type('application/json; charset=utf-8')
        .serializer((s: unknown) => s as string)
        .send(answer.body)
    },
  })

  app.get('/api/v1/agent/stream', {
    schema: {
      tags: ['agent'],
      summary: 'The stream of coordinator → device messages',
      description:
        'Server-sent events (`text/event-stream`): `id` is the event id, `event` the message type, `data` the message. Send `Last-Event-ID` (or `?after=`) to resume after the last event processed: nothing is lost across reconnects. `: keep-alive` comments every 15 s. Needs a device token.',
      querystring: Type.Object(
        { after: Type.Optional(Type.Integer({ minimum: 0 })) },
        { additionalProperties: false },
      ),
      produces: ['text/event-stream'],
      response: {
        200: Type.String({
          description:
            'Server-sent events: `id: 7`, `event: pool-reply`, `data: {"v":1,"txn":"s-7","type":"pool-reply",...}`.',
        }),
        ...errors,
      },
    },
    handler: (req, reply) => stream(app, req, reply),
  })

  // ---- operations on grants
  const grantOp = (
    path: string,
    summary: string,
    description: string,
    body: typeof S.DrainInput | typeof S.PinInput | typeof S.MoveInput | undefined,
    op: (req: FastifyRequest) => ReturnType<typeof ops.forceDrain>,
  ): void => {
    app.post(`/api/v1/grants/:id/${path}`, {
      schema: {
        tags: ['grants'],
        summary,
        description,
        params: Type.Object({ id: S.Id }),
        ...(body === undefined ? {} : { body }),
        response: { 200: S.GrantDetail, ...errors },
      },
      handler: (req, reply) => mutate(co, req, reply, op(req), grantDetailOut),
    })
  }
  const idOf = (req: FastifyRequest): string => (req.params as { id: string }).id
  grantOp(
    'drain',
    'Drain a grant',
    'Its device hands out no new address from it; once the device reports it empty it is released. Pinned grants too.',
    S.DrainInput,
    (req) =>
      ops.forceDrain(
        callerOf(req),
        idOf(req),
        (req.body as { reason?: string } | undefined)?.reason,
      ),
  )
  grantOp('undrain', 'End a drain', 'The grant serves again.', undefined, (req) =>
    ops.undrain(callerOf(req), idOf(req)),
  )
  grantOp(
    'pin',
    'Pin or unpin a grant',
    'A pinned grant is never reclaimed by the policy, nor withdrawn when its lifetime ends.',
    S.PinInput,
    (req) => ops.pin(callerOf(req), idOf(req), (req.body as { pinned: boolean }).pinned),
  )
  grantOp(
    'move',
    'Move a grant to another device',
    'UC-2: the grant drains on its device; once reported empty it is released and the same prefix is granted to the target device.',
    S.MoveInput,
    (req) => ops.moveGrant(callerOf(req), idOf(req), (req.body as { device: string }).device),
  )
  app.get('/api/v1/grants/:id/detail', {
    schema: {
      tags: ['grants'],
      summary: 'Read a grant with its loop facts',
      description: 'Pin, why it drains, where it moves, and its last usage report.',
      params: Type.Object({ id: S.Id }),
      response: { 200: S.GrantDetail, ...errors },
    },
    handler: async (req) =>
      grantDetailOut(await ops.getGrantDetail(co.reader, callerOf(req), idOf(req))),
  })

  // ---- devices and alerts
  app.get('/api/v1/devices/:device/loop', {
    schema: {
      tags: ['loop'],
      summary: "A device's loop status and the engine's dry run",
      description:
        'Agent, last report, utilisation per family, route count, grants with usage, alerts, and `plan`: what the policy engine would do now and why (nothing is applied).',
      params: Type.Object({ device: S.Key }),
      response: { 200: S.DeviceLoopStatus, ...errors },
    },
    handler: async (req) =>
      loopStatusOut(
        await ops.deviceLoopStatus(
          co.reader,
          callerOf(req),
          (req.params as { device: string }).device,
          co.clock.now(),
        ),
      ),
  })
  app.post('/api/v1/devices/:device/status-query', {
    schema: {
      tags: ['loop'],
      summary: 'Ask a device to report now',
      params: Type.Object({ device: S.Key }),
      response: { 200: Type.Object({ eventId: Type.Integer() }), ...errors },
    },
    handler: (req, reply) =>
      mutate(
        co,
        req,
        reply,
        ops.queryDevice(callerOf(req), (req.params as { device: string }).device),
        (x) => x,
      ),
  })
  app.get('/api/v1/alerts', {
    schema: {
      tags: ['loop'],
      summary: 'Alerts',
      description:
        'Pools exhausted, devices that stopped reporting, growth that failed again and again, moves that could not complete. Newest first.',
      querystring: Type.Object(
        {
          open: Type.Optional(Type.Boolean({ description: 'Only alerts not cleared (default).' })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
        },
        { additionalProperties: false },
      ),
      response: { 200: Type.Object({ items: Type.Array(S.Alert) }), ...errors },
    },
    handler: async (req) => {
      const q = req.query as { open?: boolean; limit?: number }
      const items = await ops.listAlerts(co.reader, callerOf(req), q.open ?? true, q.limit ?? 100)
      return { items: items.map(alertOut) }
    },
  })
}

/** Serves a device's stream: replays what it missed, then sends messages as they commit. */
async function stream(app: Api, req: FastifyRequest, reply: FastifyReply): Promise<void> {
  const co = app.coordinator
  const c = callerOf(req)
  if (c.deviceId === null) {
    throw new CasmError(
      'CASM_ERR_FORBIDDEN',
      'the stream needs a device token (POST /api/v1/tokens with role device and a device)',
    )
  }
  const deviceId = c.deviceId
  const header = req.headers['last-event-id']
  const fromHeader =
    typeof header === 'string' && /^[0-9]{1,15}$/.test(header) ? Number(header) : undefined
  if (typeof header === 'string' && fromHeader === undefined) {
    throw new CasmError('CASM_ERR_VALIDATION', 'Last-Event-ID must be a whole number', {
      errors: [{ path: 'header/last-event-id', message: 'a whole number', value: header }],
    })
  }
  let after = fromHeader ?? (req.query as { after?: number }).after ?? 0
  const loop = await co.reader.getDeviceLoop(deviceId)
  const last = loop?.streamSeq ?? 0
  if (after > last) {
    throw new CasmError(
      'CASM_ERR_OUT_OF_ORDER',
      `the stream has reached event ${last}; event ${after} was never sent to this device`,
      { after, last },
    )
  }
  reply.hijack()
  const res = reply.raw
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
    'x-request-id': req.id,
  })
  res.write(`retry: 2000\n: casm stream for ${deviceId} after ${after}\n\n`)
  let closed = false
  let busy = false
  const wanted = { again: false }
  /** Another wake-up came while the stream was sending. */
  const more = (): boolean => wanted.again && !closed
  const pump = async (): Promise<void> => {
    if (busy) {
      wanted.again = true
      return
    }
    busy = true
    try {
      do {
        wanted.again = false
        for (;;) {
          const rows = await co.reader.deviceMessages(deviceId, after, 200)
          if (closed) return
          for (const r of rows) {
            const ok = res.write(`id: ${r.seq}\nevent: ${r.type}\ndata: ${r.body}\n\n`)
            after = r.seq
            if (!ok) await new Promise((resolve) => res.once('drain', resolve))
          }
          if (rows.length < 200) break
        }
      } while (more())
    } catch {
      res.destroy()
    } finally {
      busy = false
    }
  }
  const unsubscribe = co.streams.subscribe(deviceId, () => void pump())
  const poll = setInterval(() => void pump(), STREAM_POLL_MS)
  const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), KEEP_ALIVE_MS)
  const close = (): void => {
    if (closed) return
    closed = true
    unsubscribe()
    clearInterval(poll)
    clearInterval(keepAlive)
  }
  req.raw.on('close', close)
  res.on('close', close)
  res.on('error', close)
  await pump()
}
