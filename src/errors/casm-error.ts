/**
 * The one error type of casm and its closed table of stable codes.
 *
 * Every failure a user can cause carries a `CASM_ERR_*` code from {@link CASM_ERRORS}. The code
 * is part of the public contract (API bodies, CLI exit codes, agent messages); the message is for
 * people and may improve over time. Each entry says which HTTP status the API answers with and
 * what the user can do next.
 *
 * @module
 */

/** One entry of the code table. */
export interface CasmErrorSpec {
  /** HTTP status the API answers with. */
  readonly status: number
  /** What a user should do about it; shown after the message. */
  readonly hint: string
}

/**
 * The closed table of error codes. Add a code here (and to `docs/errors.md`) before throwing it;
 * never rename or reuse one.
 */
export const CASM_ERRORS = {
  CASM_ERR_ADDRESS_SYNTAX: {
    status: 400,
    hint: 'write IPv4 as four decimal octets (192.0.2.1) and IPv6 in RFC 4291 text form (2001:db8::1)',
  },
  CASM_ERR_ADDRESS_ZONE: {
    status: 400,
    hint: 'remove the %zone suffix: zones are local to one host and never name pool space',
  },
  CASM_ERR_PREFIX_LENGTH: {
    status: 400,
    hint: 'use a prefix length between 0 and the address width (32 for IPv4, 128 for IPv6, 48 for MAC)',
  },
  CASM_ERR_HOST_BITS: {
    status: 400,
    hint: 'give the network address of the prefix (host bits zero), or parse in lenient mode to mask them',
  },
  CASM_ERR_FAMILY_MISMATCH: {
    status: 400,
    hint: 'use addresses of one family (IPv4, IPv6 or MAC) in one operation',
  },
  CASM_ERR_RANGE: {
    status: 400,
    hint: 'give a range as first-last with first <= last, both of the same family',
  },
  CASM_ERR_INVALID_ARGUMENT: {
    status: 400,
    hint: 'check the value against the documentation of the operation',
  },
  CASM_ERR_LIMIT: {
    status: 400,
    hint: 'split the request into smaller ones or narrow it',
  },
  CASM_ERR_OUT_OF_POOL: {
    status: 400,
    hint: 'choose a prefix inside the pool, or add the space to the pool first',
  },
  CASM_ERR_OVERLAP: {
    status: 409,
    hint: 'release or unreserve the overlapping space first, or choose another prefix',
  },
  CASM_ERR_POOL_EXHAUSTED: {
    status: 409,
    hint: 'ask for a longer prefix (a smaller block), release unused space, or add space to the pool',
  },
  CASM_ERR_NOT_ALLOCATED: {
    status: 409,
    hint: 'release exactly a prefix that was allocated (or reserved, or excluded) as one unit',
  },
  CASM_ERR_VALIDATION: {
    status: 400,
    hint: 'fix the fields named in details; GET /openapi.json describes every request',
  },
  CASM_ERR_MALFORMED_JSON: {
    status: 400,
    hint: 'send a valid JSON body with Content-Type: application/json',
  },
  CASM_ERR_UNAUTHENTICATED: {
    status: 401,
    hint: 'send Authorization: Bearer <token>; the first start printed an admin token and stored it in the data directory',
  },
  CASM_ERR_FORBIDDEN: {
    status: 403,
    hint: 'use a token whose role allows this (viewer < operator < admin)',
  },
  CASM_ERR_NOT_FOUND: {
    status: 404,
    hint: 'check the name or id; list the collection to see what exists',
  },
  CASM_ERR_ALREADY_EXISTS: {
    status: 409,
    hint: 'choose another name, or change the existing object instead',
  },
  CASM_ERR_IN_USE: {
    status: 409,
    hint: 'remove or move what depends on it first (the message names it)',
  },
  CASM_ERR_ILLEGAL_TRANSITION: {
    status: 409,
    hint: 'check the current state: a grant goes active -> draining -> released -> quarantined -> free',
  },
  CASM_ERR_OUT_OF_ORDER: {
    status: 409,
    hint: 'the message does not fit the current state (a grant already released, a confirm before its release); send hello to resynchronise',
  },
  CASM_ERR_IDEMPOTENCY_MISMATCH: {
    status: 422,
    hint: 'an Idempotency-Key may be reused only for the very same request; use a new key',
  },
  CASM_ERR_TOO_LARGE: {
    status: 413,
    hint: 'send a smaller request body, or split it',
  },
  CASM_ERR_UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    hint: 'send Content-Type: application/json',
  },
  CASM_ERR_SCHEMA_TOO_NEW: {
    status: 500,
    hint: 'the database was written by a newer casm; run that version or restore a backup',
  },
  CASM_ERR_UNAVAILABLE: {
    status: 503,
    hint: 'the store or the coordinator is unreachable or busy: retry shortly; check the database, or the coordinator URL (--url, CASM_URL) and that casm serve runs',
  },
  CASM_ERR_BACKEND: {
    status: 424,
    hint: "the agent's backend (its script or device) failed: fix it using the message, which carries its error output; the agent tries again",
  },
  CASM_ERR_INTERNAL: {
    status: 500,
    hint: 'this is a bug in casm; please report it with the request id',
  },
} as const satisfies Record<`CASM_ERR_${string}`, CasmErrorSpec>

/** A stable error code: one key of {@link CASM_ERRORS}. */
export type CasmErrorCode = keyof typeof CASM_ERRORS

/**
 * The error casm throws for every failure a caller can cause or handle.
 *
 * @example
 * ```ts
 * throw new CasmError('CASM_ERR_HOST_BITS', "'10.0.0.1/8' has host bits set", { input: '10.0.0.1/8' })
 * ```
 */
export class CasmError extends Error {
  /** The stable code, one of {@link CASM_ERRORS}. */
  readonly code: CasmErrorCode
  /** Structured facts about the failure (the offending input, what is left, ...). */
  readonly details: Readonly<Record<string, unknown>> | undefined

  constructor(
    code: CasmErrorCode,
    message: string,
    details?: Readonly<Record<string, unknown>>,
    options?: ErrorOptions,
  ) {
    super(message, options)
    this.name = 'CasmError'
    this.code = code
    this.details = details
  }

  /** HTTP status for this error's code. */
  get status(): number {
    return CASM_ERRORS[this.code].status
  }

  /**
   * What the user can do next: the code's hint, or a more precise one the thrower gave as
   * `details.hint`.
   */
  get hint(): string {
    const own = this.details?.['hint']
    return typeof own === 'string' && own !== '' ? own : CASM_ERRORS[this.code].hint
  }
}

/** True when `value` is a {@link CasmError}, optionally with the given code. */
export function isCasmError(value: unknown, code?: CasmErrorCode): value is CasmError {
  return value instanceof CasmError && (code === undefined || value.code === code)
}
