/**
 * The console's client of the REST API: openapi-fetch typed by the generated OpenAPI types,
 * with the bearer token (kept in sessionStorage) and, for root tokens, the tenant to act in.
 *
 * @module
 */

import createClient, { type Middleware } from 'openapi-fetch'
import type { paths } from '../../../src/client/openapi'

const TOKEN_KEY = 'casm.token'
const TENANT_KEY = 'casm.tenant'

/** The bearer secret of this browser tab, if signed in. */
export function storedToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY)
}

/** The tenant a root token acts in (`X-Casm-Tenant`), if one was chosen. */
export function storedTenant(): string | null {
  return sessionStorage.getItem(TENANT_KEY)
}

/** Keeps (or, with null, forgets) the bearer secret of this tab. */
export function storeToken(token: string | null): void {
  if (token === null) sessionStorage.removeItem(TOKEN_KEY)
  else sessionStorage.setItem(TOKEN_KEY, token)
}

/** Keeps (or, with null, forgets) the tenant a root token acts in. */
export function storeTenant(tenant: string | null): void {
  if (tenant === null) sessionStorage.removeItem(TENANT_KEY)
  else sessionStorage.setItem(TENANT_KEY, tenant)
}

/** An error answer of the API, as it said it: the `CASM_ERR_*` code and the message. */
export class ApiError extends Error {
  /** The HTTP status. */
  readonly status: number
  /** The API's error code, `CASM_ERR_…`. */
  readonly code: string
  /** What to do next, when the API said so. */
  readonly hint: string | undefined
  /** The API's details (validation errors, …). */
  readonly details: unknown

  constructor(status: number, code: string, message: string, hint?: string, details?: unknown) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.code = code
    this.hint = hint
    this.details = details
  }
}

/** Builds an {@link ApiError} from an error answer (or anything thrown on the way). */
export function toApiError(status: number, body: unknown): ApiError {
  const e = (body as { error?: { code?: unknown; message?: unknown; hint?: unknown } } | null)
    ?.error
  if (e !== undefined && typeof e.code === 'string' && typeof e.message === 'string') {
    return new ApiError(
      status,
      e.code,
      e.message,
      typeof e.hint === 'string' ? e.hint : undefined,
      (body as { error: { details?: unknown } }).error.details,
    )
  }
  return new ApiError(status, 'CASM_ERR_INTERNAL', `the API answered HTTP ${status}`)
}

const auth: Middleware = {
  onRequest({ request }) {
    const token = storedToken()
    if (token !== null) request.headers.set('Authorization', `Bearer ${token}`)
    const tenant = storedTenant()
    if (tenant !== null) request.headers.set('X-Casm-Tenant', tenant)
    return request
  },
}

/** The typed client; every call goes through {@link call} to get data or an {@link ApiError}. */
export const api = createClient<paths>({ baseUrl: '' })
api.use(auth)

/** What openapi-fetch resolves to. */
interface Answer<T> {
  readonly data?: T
  readonly error?: unknown
  readonly response: Response
}

/**
 * Awaits an openapi-fetch call and gives its data, or throws the API's error as an
 * {@link ApiError}. A network failure becomes `CASM_ERR_UNAVAILABLE`.
 */
export async function call<T>(request: Promise<Answer<T>>): Promise<T> {
  let answer: Answer<T>
  try {
    answer = await request
  } catch (error) {
    throw new ApiError(
      0,
      'CASM_ERR_UNAVAILABLE',
      `the coordinator does not answer: ${error instanceof Error ? error.message : String(error)}`,
    )
  }
  if (!answer.response.ok) throw toApiError(answer.response.status, answer.error)
  return answer.data as T
}
