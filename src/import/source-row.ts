/**
 * One row of a foreign export (a CSV record or a JSON object), seen the same way by the
 * importers: named fields as text, the row's `ref`, and helpers that turn a field into a prefix,
 * an address or a flag — or into a problem naming the row, the column and what to fix.
 *
 * @module
 */

import type { ImportProblem } from '../domain/import-document.js'
import { CasmError, type CasmErrorCode, isCasmError } from '../errors/casm-error.js'
import { Address, Prefix } from '../ip/index.js'
import { readCsvTable } from './csv.js'

/** A row: `get(column)` is the trimmed text of the field ('' when absent). */
export interface SourceRow {
  /** `file.csv:LINE`. */
  readonly ref: string
  get(column: string): string
}

/** A file read as rows with normalised column names. */
export interface SourceTable {
  readonly columns: ReadonlySet<string>
  readonly rows: readonly SourceRow[]
}

/** Lower case, spaces and dashes as `_`, aliases resolved (`is a pool` → `is_pool`). */
export function normaliseColumn(name: string, aliases: Readonly<Record<string, string>>): string {
  const n = name
    .trim()
    .toLowerCase()
    .replace(/[\s-]+/g, '_')
  return aliases[n] ?? n
}

/**
 * Reads a CSV file with a header row into a {@link SourceTable}; an unreadable file (an unclosed
 * quote) is one problem with the file's name.
 */
export function readCsvSource(
  name: string,
  text: string,
  aliases: Readonly<Record<string, string>>,
  problems: ImportProblem[],
): SourceTable | undefined {
  let table
  try {
    table = readCsvTable(text)
  } catch (e) {
    if (!isCasmError(e)) throw e
    const line = (e.details as { line?: number } | undefined)?.line
    problems.push({ ref: `${name}:${line ?? 1}`, path: '', code: e.code, message: e.message })
    return undefined
  }
  const names = table.header.map((h) => normaliseColumn(h, aliases))
  const original = new Map<string, string>()
  table.header.forEach((h, i) => {
    const n = names[i] as string
    if (!original.has(n)) original.set(n, h)
  })
  const rows: SourceRow[] = table.rows.map((r) => ({
    ref: `${name}:${r.line}`,
    get: (column: string) => {
      const h = original.get(column)
      return h === undefined ? '' : (r.values[h] ?? '')
    },
  }))
  return { columns: new Set(names), rows }
}

/** Records a problem of `row` at `column`. */
export function rowProblem(
  problems: ImportProblem[],
  row: SourceRow,
  column: string,
  code: CasmErrorCode,
  message: string,
): void {
  problems.push({ ref: row.ref, path: `/${column}`, code, message })
}

/** Runs `parse`; a CasmError becomes a problem of `row` at `column` and the result is undefined. */
export function tryField<T>(
  problems: ImportProblem[],
  row: SourceRow,
  column: string,
  parse: () => T,
): T | undefined {
  try {
    return parse()
  } catch (e) {
    if (!isCasmError(e)) throw e
    rowProblem(problems, row, column, e.code, `${column}: ${e.message}`)
    return undefined
  }
}

/** The field `column` as a canonical prefix (host bits refused), or a problem. */
export function prefixField(
  problems: ImportProblem[],
  row: SourceRow,
  column: string,
  text = row.get(column),
): Prefix | undefined {
  if (text === '') {
    rowProblem(
      problems,
      row,
      column,
      'CASM_ERR_VALIDATION',
      `${column} is empty; give the prefix as address/length (10.0.0.0/8, 2001:db8::/32)`,
    )
    return undefined
  }
  if (!text.includes('/')) {
    rowProblem(
      problems,
      row,
      column,
      'CASM_ERR_PREFIX_LENGTH',
      `${column} '${text}' has no prefix length; write it as address/length`,
    )
    return undefined
  }
  return tryField(problems, row, column, () => {
    const p = Prefix.parse(text)
    if (p.family === 'mac') throw notIp(text)
    return p
  })
}

/**
 * The field `column` as one address; a `/length` after it (NetBox writes `10.1.1.5/24`) is
 * checked and dropped.
 */
export function addressField(
  problems: ImportProblem[],
  row: SourceRow,
  column: string,
): Address | undefined {
  const text = row.get(column)
  if (text === '') {
    rowProblem(problems, row, column, 'CASM_ERR_VALIDATION', `${column} is empty; give an address`)
    return undefined
  }
  return tryField(problems, row, column, () => {
    const slash = text.indexOf('/')
    if (slash >= 0) Prefix.parse(text, { lenient: true })
    const a = Address.parse(slash >= 0 ? text.slice(0, slash) : text)
    if (a.family === 'mac') throw notIp(text)
    return a
  })
}

function notIp(text: string): CasmError {
  return new CasmError(
    'CASM_ERR_FAMILY_MISMATCH',
    `'${text}' is a MAC address; give an IPv4 or IPv6 address`,
    { input: text },
  )
}

const TRUE = new Set(['true', 'yes', 'y', '1', '✓', '✔', 'x'])
const FALSE = new Set(['false', 'no', 'n', '0', '✗', '✘', '—', '-', ''])

/** The field `column` as a flag (true/false, yes/no, 1/0, ✓), or a problem. */
export function flagField(
  problems: ImportProblem[],
  row: SourceRow,
  column: string,
): boolean | undefined {
  const v = row.get(column).toLowerCase()
  if (TRUE.has(v)) return true
  if (FALSE.has(v)) return false
  rowProblem(
    problems,
    row,
    column,
    'CASM_ERR_VALIDATION',
    `${column} '${row.get(column)}' is not a yes/no value; write true or false`,
  )
  return undefined
}

/** Tags `name:value` (at most 64 characters) for the non-empty fields among `columns`. */
export function tagsOf(
  row: SourceRow,
  columns: readonly string[],
  label = (c: string) => c,
): string[] {
  const tags: string[] = []
  for (const c of columns) {
    const v = row.get(c)
    if (v !== '') tags.push(`${label(c)}:${v}`.slice(0, 64))
  }
  return tags
}
