/**
 * Exit codes of the `casm` command, so scripts can tell failures apart.
 *
 * @module
 */

import { type CasmError } from '../errors/casm-error.js'

/** The closed table of exit codes. */
export const EXIT = {
  /** Success. */
  OK: 0,
  /** A failure that fits no other code. */
  FAILURE: 1,
  /** Bad input: a malformed argument, option or value (HTTP 400). */
  BAD_INPUT: 2,
  /** Something named does not exist (HTTP 404). */
  NOT_FOUND: 3,
  /** The request conflicts with the current state: overlap, exhausted pool (HTTP 409). */
  CONFLICT: 4,
  /** The coordinator could not be reached. */
  UNREACHABLE: 5,
  /** A bug in casm. */
  INTERNAL: 70,
} as const

/** The exit code for a {@link CasmError}, from its HTTP status. */
export function exitCodeFor(error: CasmError): number {
  if (error.code === 'CASM_ERR_UNAVAILABLE') return EXIT.UNREACHABLE
  if (error.status === 404) return EXIT.NOT_FOUND
  if (error.status === 409) return EXIT.CONFLICT
  if (error.status >= 400 && error.status < 500) return EXIT.BAD_INPUT
  return EXIT.FAILURE
}
