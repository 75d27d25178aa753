/**
 * Assertion helpers for CasmError, shared by the tests.
 *
 * @module
 */
import assert from 'node:assert/strict'
import { isCasmError } from '../../src/errors/casm-error.js'

/** Asserts that `fn` throws a CasmError with `code` (and a message matching `message`). */
export function throwsCode(fn: () => unknown, code: string, message?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isCasmError(e), `expected a CasmError, got ${String(e)}`)
    assert.equal(e.code, code, e.message)
    if (message !== undefined) assert.match(e.message, message)
    return true
  })
}

/** Asserts that `p` rejects with a CasmError with `code` (and a message matching `message`). */
export async function rejectsCode(
  p: Promise<unknown>,
  code: string,
  message?: RegExp,
): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isCasmError(e), `expected a CasmError, got ${String(e)}`)
    assert.equal(e.code, code, e.message)
    if (message !== undefined) assert.match(e.message, message)
    return true
  })
}
