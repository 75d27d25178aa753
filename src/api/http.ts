/**
 * Request plumbing shared by the routes: the caller of a request, error bodies, and running a
 * write with `Idempotency-Key` support.
 *
 * @module
 */

import type { FastifyReply, FastifyRequest } from 'fastify'
import { CasmError, isCasmError } from '../errors/casm-error.js'
import type { Caller } from '../coordinator/caller.js'
import { type Coordinator, requestHash } from '../coordinator/coordinator.js'
import type { WriteOp } from '../coordinator/writer.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the auth hook on /api/v1 routes. */
    caller: Caller | undefined
  }
}

/** The caller of an authenticated request. */
export function callerOf(req: FastifyRequest): Caller {
  if (req.caller === undefined)
    throw new CasmError('CASM_ERR_UNAUTHENTICATED', 'no bearer token was sent')
  return req.caller
}

/** The JSON body of an error answer. */
export function errorBody(e: CasmError, requestId: string): { error: Record<string, unknown> } {
  return {
    error: {
      code: e.code,
      message: e.message,
      hint: e.hint,
      ...(e.details === undefined ? {} : { details: e.details }),
      requestId,
    },
  }
}

/**
 * Runs a write and answers with `render(result)` and `status`. With an `Idempotency-Key`
 * header, a retry of the same request gets the first answer again (with
 * `Idempotent-Replayed: true`) and changes nothing.
 */
export async function mutate<T>(
  coordinator: Coordinator,
  req: FastifyRequest,
  reply: FastifyReply,
  op: WriteOp<T>,
  render: (value: T) => unknown,
  status = 200,
): Promise<unknown> {
  const header = req.headers['idempotency-key']
  const key = Array.isArray(header) ? header[0] : header
  if (key === undefined) {
    const value = await coordinator.run(op)
    reply.code(status)
    return status === 204 ? undefined : render(value)
  }
  const c = callerOf(req)
  const answer = await coordinator.runIdempotent(
    c,
    key,
    requestHash(req.method, req.url, req.body),
    op,
    (value) => ({ status, body: status === 204 ? null : render(value) }),
    (e) => ({ status: e.status, body: errorBody(e, req.id) }),
  )
  reply.code(answer.status).header('idempotent-replayed', answer.replayed ? 'true' : 'false')
  if (answer.status === 204) return reply.send()
  return reply
    .type('application/json; charset=utf-8')
    .serializer((s: unknown) => s as string)
    .send(answer.body)
}

/** Turns whatever a handler threw into a CasmError (unknown ones are bugs: CASM_ERR_INTERNAL). */
export function toCasmError(error: unknown): CasmError {
  if (isCasmError(error)) return error
  const e = error as {
    code?: string
    statusCode?: number
    message?: string
    validation?: unknown[]
    validationContext?: string
  }
  if (Array.isArray(e.validation)) {
    const errors = (
      e.validation as { instancePath?: string; message?: string; params?: unknown }[]
    ).map((v) => ({
      path: `${e.validationContext ?? 'body'}${v.instancePath ?? ''}`,
      message: v.message ?? 'is invalid',
      ...(v.params === undefined ? {} : { params: v.params }),
    }))
    const first = errors[0]
    return new CasmError(
      'CASM_ERR_VALIDATION',
      first === undefined
        ? 'the request is invalid'
        : `${first.path} ${first.message}${errors.length > 1 ? ` (and ${errors.length - 1} more)` : ''}`,
      { errors },
    )
  }
  switch (e.code ?? '') {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new CasmError(
        'CASM_ERR_MALFORMED_JSON',
        `the body is not valid JSON: ${e.message ?? ''}`,
      )
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new CasmError('CASM_ERR_TOO_LARGE', 'the request body is over the size limit')
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new CasmError('CASM_ERR_UNSUPPORTED_MEDIA_TYPE', e.message ?? 'unsupported media type')
    default:
      break
  }
  if (
    error instanceof SyntaxError ||
    (e.statusCode === 400 && typeof e.message === 'string' && /JSON/i.test(e.message))
  ) {
    return new CasmError(
      'CASM_ERR_MALFORMED_JSON',
      `the body is not valid JSON: ${e.message ?? ''}`,
    )
  }
  if (typeof e.statusCode === 'number' && e.statusCode === 413)
    return new CasmError('CASM_ERR_TOO_LARGE', 'the request body is over the size limit')
  if (typeof e.statusCode === 'number' && e.statusCode === 415)
    return new CasmError('CASM_ERR_UNSUPPORTED_MEDIA_TYPE', e.message ?? 'unsupported media type')
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return new CasmError('CASM_ERR_VALIDATION', e.message ?? 'the request is invalid')
  }
  return new CasmError(
    'CASM_ERR_INTERNAL',
    `internal error: ${e.message ?? String(error)}`,
    undefined,
    { cause: error },
  )
}
