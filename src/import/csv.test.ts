import assert from 'node:assert/strict'
import { describe, it } from 'node:test'

import { CasmError } from '../errors/casm-error.js'
import { parseCsv, readCsvTable } from './csv.js'

describe('parseCsv', () => {
  it('reads plain records with LF and CRLF line ends', () => {
    assert.deepEqual(parseCsv('a,b,c\r\n1,2,3\n4,5,6'), [
      { line: 1, fields: ['a', 'b', 'c'] },
      { line: 2, fields: ['1', '2', '3'] },
      { line: 3, fields: ['4', '5', '6'] },
    ])
  })

  it('reads quoted fields with commas, doubled quotes and line breaks', () => {
    const text = 'p,d\r\n"10.0.0.0/8","core, east"\r\n"x","say ""hi""\r\nnext line"\r\ny,z\r\n'
    assert.deepEqual(parseCsv(text), [
      { line: 1, fields: ['p', 'd'] },
      { line: 2, fields: ['10.0.0.0/8', 'core, east'] },
      { line: 3, fields: ['x', 'say "hi"\nnext line'] },
      { line: 5, fields: ['y', 'z'] },
    ])
  })

  it('keeps empty fields, including a trailing one and an empty quoted one', () => {
    assert.deepEqual(parseCsv('a,,""\n,b,\n'), [
      { line: 1, fields: ['a', '', ''] },
      { line: 2, fields: ['', 'b', ''] },
    ])
  })

  it('skips blank lines but counts them, and strips a byte-order mark', () => {
    assert.deepEqual(parseCsv('\ufeffh\n\n\r\nv\n'), [
      { line: 1, fields: ['h'] },
      { line: 4, fields: ['v'] },
    ])
  })

  it('keeps a quote inside an unquoted field as text', () => {
    assert.deepEqual(parseCsv('a"b,c\n'), [{ line: 1, fields: ['a"b', 'c'] }])
  })

  it('refuses an unterminated quoted field, naming its line', () => {
    assert.throws(
      () => parseCsv('a,b\n1,"open\n2,3\n'),
      (e: unknown) =>
        e instanceof CasmError && e.code === 'CASM_ERR_VALIDATION' && e.message.includes('line 2'),
    )
  })

  it('takes another delimiter', () => {
    assert.deepEqual(parseCsv('a;"b;c"\n', ';'), [{ line: 1, fields: ['a', 'b;c'] }])
  })

  it('is linear on a large file', () => {
    const rows = Array.from({ length: 50_000 }, (_, i) => `10.${i >> 8}.${i & 255}.0/24,"d ${i}"`)
    const records = parseCsv(`prefix,description\n${rows.join('\n')}\n`)
    assert.equal(records.length, 50_001)
    assert.deepEqual(records[50_000], { line: 50_001, fields: ['10.195.79.0/24', 'd 49999'] })
  })
})

describe('readCsvTable', () => {
  it('maps fields by header, trims and pads short rows', () => {
    const t = readCsvTable(' prefix , vrf\n10.0.0.0/8 , red\n10.1.0.0/16\n1,2,3\n')
    assert.deepEqual(t.header, ['prefix', 'vrf'])
    assert.equal(t.headerLine, 1)
    assert.deepEqual(
      t.rows.map((r) => ({ line: r.line, values: { ...r.values }, extra: r.extra })),
      [
        { line: 2, values: { prefix: '10.0.0.0/8', vrf: 'red' }, extra: false },
        { line: 3, values: { prefix: '10.1.0.0/16', vrf: '' }, extra: false },
        { line: 4, values: { prefix: '1', vrf: '2' }, extra: true },
      ],
    )
  })

  it('reads an empty file as an empty table', () => {
    assert.deepEqual(readCsvTable(''), { header: [], headerLine: 1, rows: [] })
  })
})
