/**
 * The agent's side of the transport of docs/protocol.md: `POST /api/v1/agent/messages` for each
 * device message, `GET /api/v1/agent/stream` for the coordinator's server-sent events. Node's
 * own fetch; no other dependency.
 *
 * Failures are CasmErrors. {@link isRetryable} tells the two kinds apart: the coordinator could
 * not be reached or failed (network error, timeout, 5xx; resend the same message), or it refused
 * the message (4xx with a `CASM_ERR_*` code; resending changes nothing).
 *
 * @module
 */

import { CASM_ERRORS, CasmError, type CasmErrorCode } from '../errors/casm-error.js'
import type { CoordinatorMessage, DeviceMessage, StreamMessage } from '../domain/device-protocol.js'
import type { LeaseUpload, StoredLease } from '../domain/device-lease.js'
import { SseParser } from './sse-parser.js'

/** Path of the device → coordinator endpoint. */
export const MESSAGES_PATH = '/api/v1/agent/messages'
/** Path of the coordinator → device event stream. */
export const STREAM_PATH = '/api/v1/agent/stream'
/** Path of lease replay: `PUT` stores the leases of grants, `GET` reads them back. */
export const LEASES_PATH = '/api/v1/agent/leases'

const STREAM_TYPES: ReadonlySet<string> = new Set<StreamMessage['type']>([
  'pool-reply',
  'release-notification',
  'drain',
  'undrain',
  'status-query',
])

/** Where and how to reach the coordinator. */
export interface CoordinatorClientOptions {
  /** Base URL of the coordinator (`http://casm.example.net:8470`). */
  readonly url: string
  /** A device token. */
  readonly token: string
  /** Longest wait for the answer to one message, and for the stream to open (default 10 s). */
  readonly requestTimeoutMs?: number
  /** Longest silence on an open stream before it counts as dead (default 45 s: 3 keep-alives). */
  readonly idleTimeoutMs?: number
  /** Longest wait for a lease upload or one page of leases (default 60 s). */
  readonly leaseTimeoutMs?: number
  /** The fetch to use (default the global one). */
  readonly fetch?: typeof fetch
}

/** The answer to {@link CoordinatorClient.uploadLeases}: leases now stored, per grant. */
export interface LeaseUploadAnswer {
  readonly grants: readonly { readonly grant: string; readonly stored: number }[]
  readonly stored: number
}

/** What {@link CoordinatorClient.fetchLeases} reads. */
export interface LeaseFetchQuery {
  /** Only leases of this grant, or of these (default: of every live grant of the device). */
  readonly grant?: string | readonly string[]
  /** Ended leases too. */
  readonly includeExpired?: boolean
  /** Leases per request (default the coordinator's, 10,000). */
  readonly pageSize?: number
}

/** A stored lease as read back, with when it ends and when it was stored (RFC 3339). */
export interface FetchedLease extends StoredLease {
  readonly expiresAt: string
  readonly storedAt: string
}

/** What {@link CoordinatorClient.stream} yields. */
export type StreamItem =
  | { readonly kind: 'open' }
  | { readonly kind: 'comment'; readonly text: string }
  | {
      readonly kind: 'event'
      readonly id: number
      /** The `event:` name (the message type). */
      readonly event: string
      /** The message, or undefined when `data` was not one (see `problem`). */
      readonly message: StreamMessage | undefined
      readonly problem?: string
    }

/**
 * A client for one device's token.
 *
 * @example
 * ```ts
 * const client = new CoordinatorClient({ url: 'http://127.0.0.1:8470', token })
 * const sync = await client.send({ v: 1, type: 'hello', txn: 'a1-1', agent, holds: [] })
 * for await (const item of client.stream(41, stopping.signal)) { ... }
 * ```
 */
export class CoordinatorClient {
  private readonly base: string
  private readonly token: string
  private readonly requestTimeoutMs: number
  private readonly idleTimeoutMs: number
  private readonly leaseTimeoutMs: number
  private readonly fetch: typeof fetch

  constructor(options: CoordinatorClientOptions) {
    this.base = options.url.replace(/\/+$/, '')
    this.token = options.token
    this.requestTimeoutMs = options.requestTimeoutMs ?? 10_000
    this.idleTimeoutMs = options.idleTimeoutMs ?? 45_000
    this.leaseTimeoutMs = options.leaseTimeoutMs ?? 60_000
    this.fetch = options.fetch ?? globalThis.fetch
  }

  /** The coordinator's base URL. */
  get url(): string {
    return this.base
  }

  /**
   * Sends one message and returns the answer.
   *
   * @throws CasmError: the coordinator's code for a refusal (4xx); `CASM_ERR_UNAVAILABLE` when
   *   it cannot be reached, times out or answers something that is not a protocol message; the
   *   coordinator's code (or `CASM_ERR_UNAVAILABLE`) for a 5xx.
   */
  async send(message: DeviceMessage, signal?: AbortSignal): Promise<CoordinatorMessage> {
    const { status, text, value } = await this.request(
      'POST',
      MESSAGES_PATH,
      message,
      this.requestTimeoutMs,
      signal,
    )
    if (!isObject(value) || typeof value['type'] !== 'string')
      throw garbage(
        this.base,
        `${message.type} with something that is not a protocol message`,
        status,
        text,
      )
    return value as unknown as CoordinatorMessage
  }

  /**
   * Stores lease snapshots (lease replay, docs/protocol.md): each grant's leases replace the
   * ones the coordinator kept for it (an empty list leaves none). Nothing is stored when the
   * coordinator refuses any lease.
   *
   * @throws CasmError as {@link CoordinatorClient.send}.
   */
  async uploadLeases(body: LeaseUpload, signal?: AbortSignal): Promise<LeaseUploadAnswer> {
    const { status, text, value } = await this.request(
      'PUT',
      LEASES_PATH,
      body,
      this.leaseTimeoutMs,
      signal,
    )
    if (!isObject(value) || typeof value['stored'] !== 'number' || !Array.isArray(value['grants']))
      throw garbage(
        this.base,
        'the lease upload with something that is not its answer',
        status,
        text,
      )
    return value as unknown as LeaseUploadAnswer
  }

  /**
   * Reads back the stored leases of the device's live grants (to replay them into a replacement
   * DHCP server), every page of them, in (grant, address) order.
   *
   * @throws CasmError as {@link CoordinatorClient.send}; `CASM_ERR_NOT_FOUND` for a grant that
   *   is not the device's.
   */
  async fetchLeases(
    query: LeaseFetchQuery = {},
    signal?: AbortSignal,
  ): Promise<{ leases: FetchedLease[] }> {
    const grants = typeof query.grant === 'string' ? [query.grant] : query.grant
    const out: FetchedLease[] = []
    if (grants?.length === 0) return { leases: out }
    let after: string | null = null
    do {
      const params = new URLSearchParams()
      for (const g of grants ?? []) params.append('grant', g)
      if (query.includeExpired === true) params.set('includeExpired', 'true')
      if (query.pageSize !== undefined) params.set('limit', String(query.pageSize))
      if (after !== null) params.set('after', after)
      const qs = params.toString()
      const path = qs === '' ? LEASES_PATH : `${LEASES_PATH}?${qs}`
      const { status, text, value } = await this.request(
        'GET',
        path,
        undefined,
        this.leaseTimeoutMs,
        signal,
      )
      const next = isObject(value) ? value['next'] : undefined
      if (
        !isObject(value) ||
        !Array.isArray(value['items']) ||
        !(next === null || (typeof next === 'string' && next !== after))
      )
        throw garbage(
          this.base,
          `${path} with something that is not a page of leases`,
          status,
          text,
        )
      out.push(...(value['items'] as FetchedLease[]))
      after = next
    } while (after !== null)
    return { leases: out }
  }

  /** One JSON request with the token; a refusal (4xx, 5xx) is thrown as its CasmError. */
  private async request(
    method: 'GET' | 'POST' | 'PUT',
    path: string,
    body: unknown,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): Promise<{ status: number; text: string; value: unknown }> {
    const timeout = AbortSignal.timeout(timeoutMs)
    let res: Response
    let text: string
    try {
      res = await this.fetch(`${this.base}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.token}`,
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: signal === undefined ? timeout : AbortSignal.any([signal, timeout]),
      })
      text = await res.text()
    } catch (e) {
      throw unreachable(this.base, e, timeout.aborted ? timeoutMs : undefined)
    }
    if (!res.ok) throw refusal(res.status, text)
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch {
      value = undefined
    }
    return { status: res.status, text, value }
  }

  /**
   * Opens the event stream after `lastEventId` and yields what arrives until the stream ends or
   * `signal` aborts (then it returns quietly). Yields `open` first, once connected.
   *
   * @throws CasmError as {@link CoordinatorClient.send}; `CASM_ERR_UNAVAILABLE` also when the
   *   stream stays silent longer than the idle timeout.
   */
  async *stream(lastEventId: number, signal: AbortSignal): AsyncGenerator<StreamItem> {
    const ctrl = new AbortController()
    const onAbort = (): void => {
      ctrl.abort()
    }
    signal.addEventListener('abort', onAbort, { once: true })
    let why: 'connect' | 'idle' | undefined
    let timer = setTimeout(() => {
      why = 'connect'
      ctrl.abort()
    }, this.requestTimeoutMs)
    const arm = (): void => {
      clearTimeout(timer)
      timer = setTimeout(() => {
        why = 'idle'
        ctrl.abort()
      }, this.idleTimeoutMs)
    }
    try {
      let res: Response
      try {
        res = await this.fetch(`${this.base}${STREAM_PATH}`, {
          headers: {
            authorization: `Bearer ${this.token}`,
            accept: 'text/event-stream',
            'last-event-id': String(lastEventId),
          },
          signal: ctrl.signal,
        })
      } catch (e) {
        if (signal.aborted) return
        throw unreachable(this.base, e, why === 'connect' ? this.requestTimeoutMs : undefined)
      }
      if (!res.ok) throw refusal(res.status, await res.text().catch(() => ''))
      const type = res.headers.get('content-type') ?? ''
      if (!type.startsWith('text/event-stream') || res.body === null) {
        await res.body?.cancel()
        throw new CasmError(
          'CASM_ERR_UNAVAILABLE',
          `${this.base}${STREAM_PATH} answered ${type || 'no content type'}, not an event stream`,
        )
      }
      arm()
      yield { kind: 'open' }
      const parser = new SseParser()
      const reader = res.body.getReader()
      try {
        for (;;) {
          let chunk: Awaited<ReturnType<typeof reader.read>>
          try {
            chunk = await reader.read()
          } catch (e) {
            if (signal.aborted) return
            if (why === 'idle')
              throw new CasmError(
                'CASM_ERR_UNAVAILABLE',
                `the stream from ${this.base} was silent for ${this.idleTimeoutMs / 1000} s`,
              )
            throw unreachable(this.base, e, undefined)
          }
          if (chunk.done) return
          arm()
          for (const item of parser.feed(chunk.value as Uint8Array)) {
            if (item.kind === 'comment') yield { kind: 'comment', text: item.text }
            else yield toEvent(item.id, item.event, item.data)
          }
        }
      } finally {
        ctrl.abort()
        reader.releaseLock()
      }
    } finally {
      clearTimeout(timer)
      signal.removeEventListener('abort', onAbort)
    }
  }
}

/**
 * True when a failure is worth resending the same message for: the coordinator could not be
 * reached, timed out, failed (5xx) or asked to slow down (408, 429). A refusal (other 4xx) is
 * final for that message.
 */
export function isRetryable(error: unknown): boolean {
  if (!(error instanceof CasmError) || error.details?.['retry'] === true) return true
  const status =
    typeof error.details?.['status'] === 'number' ? error.details['status'] : error.status
  return status >= 500 || status === 408 || status === 429
}

/**
 * The code the coordinator answered with, even one this build does not know (it keeps it in
 * `details.remoteCode`); undefined for anything that is not a CasmError.
 */
export function remoteCode(error: unknown): string | undefined {
  if (!(error instanceof CasmError)) return undefined
  const remote = error.details?.['remoteCode']
  return typeof remote === 'string' ? remote : error.code
}

function toEvent(id: string | undefined, event: string, data: string): StreamItem {
  const n = Number(id)
  if (id === undefined || !Number.isSafeInteger(n) || n < 0)
    return {
      kind: 'event',
      id: -1,
      event,
      message: undefined,
      problem: `bad event id ${String(id)}`,
    }
  let message: unknown
  try {
    message = JSON.parse(data)
  } catch {
    return { kind: 'event', id: n, event, message: undefined, problem: 'data is not JSON' }
  }
  const type = (message as { type?: unknown } | null)?.type
  if (typeof type !== 'string' || !STREAM_TYPES.has(type))
    return {
      kind: 'event',
      id: n,
      event,
      message: undefined,
      problem: `unknown message type ${JSON.stringify(type)}`,
    }
  return { kind: 'event', id: n, event, message: message as StreamMessage }
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)

/** The coordinator answered something that is not the answer asked for: worth a retry. */
function garbage(base: string, what: string, status: number, text: string): CasmError {
  return new CasmError('CASM_ERR_UNAVAILABLE', `${base} answered ${what}: ${text.slice(0, 200)}`, {
    status,
    retry: true,
  })
}

function unreachable(base: string, e: unknown, timedOutAfterMs: number | undefined): CasmError {
  const why =
    timedOutAfterMs !== undefined
      ? `no answer within ${timedOutAfterMs / 1000} s`
      : e instanceof Error
        ? e.cause instanceof Error
          ? e.cause.message
          : e.message
        : String(e)
  return new CasmError('CASM_ERR_UNAVAILABLE', `cannot reach ${base}: ${why}`, { retry: true })
}

/** The CasmError for an error answer; an unknown code keeps its text in `details.remoteCode`. */
function refusal(status: number, text: string): CasmError {
  let body: { error?: { code?: unknown; message?: unknown; details?: unknown } } | undefined
  try {
    body = JSON.parse(text) as typeof body
  } catch {
    body = undefined
  }
  const code = typeof body?.error?.code === 'string' ? body.error.code : undefined
  const message =
    typeof body?.error?.message === 'string'
      ? body.error.message
      : `HTTP ${status}: ${text.slice(0, 200)}`
  const details = {
    ...(typeof body?.error?.details === 'object' && body.error.details !== null
      ? (body.error.details as Record<string, unknown>)
      : {}),
    status,
    ...(code === undefined ? {} : { remoteCode: code }),
  }
  const known = code !== undefined && code in CASM_ERRORS ? (code as CasmErrorCode) : undefined
  return new CasmError(known ?? fallbackCode(status), message, details)
}

function fallbackCode(status: number): CasmErrorCode {
  if (status >= 500) return 'CASM_ERR_UNAVAILABLE'
  const same = (Object.keys(CASM_ERRORS) as CasmErrorCode[]).find(
    (c) => CASM_ERRORS[c].status === status,
  )
  return same ?? 'CASM_ERR_VALIDATION'
}
