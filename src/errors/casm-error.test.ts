import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { CASM_ERRORS, CasmError, isCasmError } from './casm-error.js'

describe('CasmError', () => {
  it('carries code, status, hint and details', () => {
    const e = new CasmError('CASM_ERR_POOL_EXHAUSTED', 'no /24 left', { length: 24 })
    assert.equal(e.code, 'CASM_ERR_POOL_EXHAUSTED')
    assert.equal(e.status, 409)
    assert.match(e.hint, /smaller block/)
    assert.deepEqual(e.details, { length: 24 })
    assert.equal(e.name, 'CasmError')
    assert.ok(e instanceof Error)
    assert.ok(isCasmError(e))
    assert.ok(isCasmError(e, 'CASM_ERR_POOL_EXHAUSTED'))
    assert.ok(!isCasmError(e, 'CASM_ERR_OVERLAP'))
    assert.ok(!isCasmError(new Error('x')))
  })

  it('keeps every code stable in form; only server faults answer 5xx', () => {
    const serverFaults = ['CASM_ERR_INTERNAL', 'CASM_ERR_UNAVAILABLE', 'CASM_ERR_SCHEMA_TOO_NEW']
    for (const [code, spec] of Object.entries(CASM_ERRORS)) {
      assert.match(code, /^CASM_ERR_[A-Z0-9_]+$/)
      const expected = serverFaults.includes(code) ? [500, 503] : [400, 499]
      assert.ok(
        serverFaults.includes(code)
          ? expected.includes(spec.status)
          : spec.status >= 400 && spec.status < 500,
        `${code} maps to ${spec.status}`,
      )
      assert.ok(spec.hint.length > 10, `${code} needs a hint`)
    }
  })

  it('is documented in docs/errors.md, code by code', () => {
    const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8')
    for (const [code, spec] of Object.entries(CASM_ERRORS)) {
      const cells = doc
        .split('\n')
        .map((line) => line.split('|').map((cell) => cell.trim()))
        .find((row) => row[1] === `\`${code}\``)
      assert.ok(cells, `docs/errors.md lacks ${code}`)
      assert.equal(
        cells[2],
        String(spec.status),
        `docs/errors.md gives the wrong status for ${code}`,
      )
    }
  })
})
