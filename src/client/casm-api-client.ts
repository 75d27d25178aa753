/**
 * A small typed client of casm's REST API, over openapi-fetch and the types generated from the
 * server's OpenAPI document (src/client/openapi.ts, `npm run gen:client`).
 *
 * @module
 */

import createClient, { type Client } from 'openapi-fetch'
import { CASM_ERRORS, CasmError, type CasmErrorCode } from '../errors/casm-error.js'
import type { paths } from './openapi.js'

/** An HTTP method the API uses. */
export type ApiMethod = 'get' | 'post' | 'put' | 'patch' | 'delete'

/** The API paths (templates, as in the OpenAPI document) that answer `M`. */
export type ApiPath<M extends ApiMethod> = {
  [P in keyof paths]: undefined extends paths[P][M] ? never : P
}[keyof paths]

/** Where and as whom the client talks. */
export interface CasmApiClientOptions {
  /** Base URL of the coordinator, e.g. `http://127.0.0.1:8470` (no `/api/v1`). */
  readonly url: string
  /** Bearer token. */
  readonly token?: string | undefined
  /** Tenant to act in (root tokens only): the `X-Casm-Tenant` header. */
  readonly tenant?: string | undefined
  /** Give up on a request after this many milliseconds (default 30 000). */
  readonly timeoutMs?: number | undefined
}

/** One request of {@link CasmApiClient.send}. */
export interface ApiRequest {
  /** Values of the `{name}` parts of the path. */
  readonly path?: Readonly<Record<string, string>>
  /** Query parameters; undefined ones are left out. */
  readonly query?: Readonly<Record<string, string | number | boolean | undefined>>
  /** The JSON body. */
  readonly body?: unknown
  /** Extra headers (e.g. `Idempotency-Key`). */
  readonly headers?: Readonly<Record<string, string>>
}

/** The shape of every error answer of the API (see src/api/http.ts `errorBody`). */
interface ApiErrorBody {
  readonly error?: {
    readonly code?: string
    readonly message?: string
    readonly details?: Record<string, unknown>
  }
}

const STATUS_CODES: Readonly<Record<number, CasmErrorCode>> = {
  400: 'CASM_ERR_INVALID_ARGUMENT',
  401: 'CASM_ERR_UNAUTHENTICATED',
  403: 'CASM_ERR_FORBIDDEN',
  404: 'CASM_ERR_NOT_FOUND',
  409: 'CASM_ERR_ALREADY_EXISTS',
  413: 'CASM_ERR_TOO_LARGE',
  415: 'CASM_ERR_UNSUPPORTED_MEDIA_TYPE',
  503: 'CASM_ERR_UNAVAILABLE',
}

/**
 * Turns an error answer of the API into a {@link CasmError} with the API's code, message and
 * details. A code this casm does not know (a newer server) falls back to one for the status.
 */
export function apiError(status: number, body: unknown): CasmError {
  const e = (body as ApiErrorBody | null)?.error
  const known = e?.code !== undefined && e.code in CASM_ERRORS
  const code: CasmErrorCode = known
    ? (e.code as CasmErrorCode)
    : (STATUS_CODES[status] ?? 'CASM_ERR_INTERNAL')
  const message =
    e?.message ??
    (typeof body === 'string' && body !== '' ? body : `the API answered HTTP ${status}`)
  return new CasmError(code, message, {
    ...(e?.details ?? {}),
    ...(known || e?.code === undefined ? {} : { apiCode: e.code }),
    status,
  })
}

/**
 * The client: `api` is the typed openapi-fetch client; {@link CasmApiClient.call} and
 * `get`/`post`/`patch`/`delete` unwrap its answers, throwing a {@link CasmError} for error answers
 * and `CASM_ERR_UNAVAILABLE` when the coordinator cannot be reached.
 *
 * @example
 * ```ts
 * const client = new CasmApiClient({ url: 'http://127.0.0.1:8470', token })
 * const domains = await client.call(client.api.GET('/api/v1/domains'))
 * const pool = await client.get('/api/v1/pools/{pool}', { path: { pool: 'bng-east' } })
 * ```
 */
export class CasmApiClient {
  /** The typed openapi-fetch client. */
  readonly api: Client<paths>
  /** Base URL without a trailing slash. */
  readonly url: string
  private readonly timeoutMs: number

  constructor(options: CasmApiClientOptions) {
    this.url = options.url.replace(/\/+$/, '')
    this.timeoutMs = options.timeoutMs ?? 30_000
    const timeoutMs = this.timeoutMs
    this.api = createClient<paths>({
      baseUrl: this.url,
      headers: {
        ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
        ...(options.tenant === undefined ? {} : { 'x-casm-tenant': options.tenant }),
      },
      fetch: (request: Request) =>
        globalThis.fetch(request, { signal: AbortSignal.timeout(timeoutMs) }),
    })
  }

  /** Awaits an openapi-fetch call: its data, or a {@link CasmError}. */
  async call<T>(pending: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
    let answer: { data?: T; error?: unknown; response: Response }
    try {
      answer = await pending
    } catch (e) {
      throw this.unreachable(e)
    }
    if (!answer.response.ok) throw apiError(answer.response.status, answer.error)
    return answer.data as T
  }

  /** `GET path`: the parsed answer. */
  get<T = unknown>(path: ApiPath<'get'>, request: ApiRequest = {}): Promise<T> {
    return this.send<T>('get', path, request)
  }

  /** `POST path`: the parsed answer. */
  post<T = unknown>(path: ApiPath<'post'>, request: ApiRequest = {}): Promise<T> {
    return this.send<T>('post', path, request)
  }

  /** `PATCH path`: the parsed answer. */
  patch<T = unknown>(path: ApiPath<'patch'>, request: ApiRequest = {}): Promise<T> {
    return this.send<T>('patch', path, request)
  }

  /** `DELETE path`: the parsed answer (undefined for 204). */
  delete<T = unknown>(path: ApiPath<'delete'>, request: ApiRequest = {}): Promise<T> {
    return this.send<T>('delete', path, request)
  }

  /**
   * Sends one request to a path of the API (a template such as `/api/v1/pools/{pool}`, checked
   * against the generated paths by the typed wrappers above) and returns the parsed answer.
   */
  private async send<T>(method: ApiMethod, path: string, request: ApiRequest): Promise<T> {
    const query = Object.fromEntries(
      Object.entries(request.query ?? {}).filter(([, v]) => v !== undefined),
    )
    const init = {
      params: { path: request.path ?? {}, query },
      ...(request.body === undefined ? {} : { body: request.body }),
      ...(request.headers === undefined ? {} : { headers: request.headers }),
    }
    // The init is built at run time, so the per-path request types cannot check it here.
    const untyped = this.api as unknown as Record<
      Uppercase<ApiMethod>,
      (p: string, i: unknown) => Promise<{ data?: T; error?: unknown; response: Response }>
    >
    return this.call<T>(untyped[method.toUpperCase() as Uppercase<ApiMethod>](path, init))
  }

  private unreachable(e: unknown): CasmError {
    const reason =
      e instanceof Error && e.name === 'TimeoutError'
        ? `no answer within ${this.timeoutMs / 1000} s`
        : e instanceof Error
          ? e.cause instanceof Error
            ? e.cause.message
            : e.message
          : String(e)
    return new CasmError(
      'CASM_ERR_UNAVAILABLE',
      `cannot reach the coordinator at ${this.url}: ${reason}`,
      { url: this.url },
      { cause: e },
    )
  }
}
