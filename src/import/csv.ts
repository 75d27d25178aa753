/**
 * A small RFC 4180 CSV reader for the importers: quoted fields with embedded commas, quotes
 * (`""`) and line breaks, CRLF or LF line ends, a leading byte-order mark. Every record carries
 * the line of the file it starts on, so problems can name it.
 *
 * Lenient where exporters are sloppy: a quote inside an unquoted field is kept as text, blank
 * lines are skipped, a short record is padded by the table reader. Strict where data would be
 * lost: an unterminated quoted field is an error.
 *
 * @module
 */

import { CasmError } from '../errors/casm-error.js'

/** One CSV record: its fields and the (1-based) line of the file where it starts. */
export interface CsvRecord {
  readonly line: number
  readonly fields: string[]
}

/** A CSV file read as a table: the header (trimmed) and the records after it. */
export interface CsvTable {
  /** Column names as written in the header row, trimmed. */
  readonly header: readonly string[]
  /** Line of the header row. */
  readonly headerLine: number
  /** Data rows: `values[name]` is the field under the header column `name` (trimmed, '' if missing). */
  readonly rows: readonly CsvRow[]
}

/** One data row of a {@link CsvTable}. */
export interface CsvRow {
  readonly line: number
  readonly values: Readonly<Record<string, string>>
  /** More fields than header columns (the extras are dropped). */
  readonly extra: boolean
}

const QUOTE = 34 // "
const COMMA = 44 // ,
const CR = 13
const LF = 10

/**
 * Parses CSV text into records (RFC 4180). Blank lines are skipped.
 *
 * @example
 * ```ts
 * parseCsv('a,b\r\n"x, y","say ""hi"""\n')
 * // [{ line: 1, fields: ['a', 'b'] }, { line: 2, fields: ['x, y', 'say "hi"'] }]
 * ```
 * @throws CasmError `CASM_ERR_VALIDATION` for a quoted field that is never closed
 */
export function parseCsv(text: string, delimiter = ','): CsvRecord[] {
  const delim = delimiter.length === 1 ? delimiter.charCodeAt(0) : COMMA
  const out: CsvRecord[] = []
  const n = text.length
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0
  let line = 1
  while (i < n) {
    const recordLine = line
    const fields: string[] = []
    let endOfRecord = false
    while (!endOfRecord) {
      if (i < n && text.charCodeAt(i) === QUOTE) {
        // Quoted field: runs to the closing quote; "" is one quote; may span lines.
        const fieldLine = line
        let value = ''
        let start = i + 1
        for (;;) {
          const q = text.indexOf('"', start)
          if (q < 0) {
            throw new CasmError(
              'CASM_ERR_VALIDATION',
              `line ${fieldLine}: a quoted field is never closed; add the closing '"' (and write a quote inside a field as "")`,
              { line: fieldLine },
            )
          }
          const chunk = text.slice(start, q)
          line += countLineBreaks(chunk)
          value += chunk
          if (q + 1 < n && text.charCodeAt(q + 1) === QUOTE) {
            value += '"'
            start = q + 2
            continue
          }
          i = q + 1
          break
        }
        // Anything between the closing quote and the delimiter is kept (lenient).
        const tailEnd = scanUnquoted(text, i, delim)
        if (tailEnd > i) value += text.slice(i, tailEnd)
        i = tailEnd
        fields.push(value.replace(/\r\n/g, '\n'))
      } else {
        const end = scanUnquoted(text, i, delim)
        fields.push(text.slice(i, end))
        i = end
      }
      if (i >= n) {
        endOfRecord = true
      } else {
        const c = text.charCodeAt(i)
        if (c === delim) {
          i++
        } else {
          // CR, LF or CRLF ends the record.
          i += c === CR && i + 1 < n && text.charCodeAt(i + 1) === LF ? 2 : 1
          line++
          endOfRecord = true
        }
      }
    }
    const blank = fields.length === 1 && fields[0] === ''
    if (!blank) out.push({ line: recordLine, fields })
  }
  return out
}

/**
 * Reads CSV text with a header row into a {@link CsvTable}. Values are trimmed; a record with
 * fewer fields than the header gets '' for the missing ones.
 *
 * @throws CasmError `CASM_ERR_VALIDATION` for an unterminated quoted field
 */
export function readCsvTable(text: string, delimiter = ','): CsvTable {
  const records = parseCsv(text, delimiter)
  const first = records[0]
  if (first === undefined) return { header: [], headerLine: 1, rows: [] }
  const header = first.fields.map((h) => h.trim())
  const rows: CsvRow[] = []
  for (let r = 1; r < records.length; r++) {
    const rec = records[r] as CsvRecord
    const values = Object.create(null) as Record<string, string>
    for (let c = 0; c < header.length; c++) {
      values[header[c] as string] = (rec.fields[c] ?? '').trim()
    }
    rows.push({ line: rec.line, values, extra: rec.fields.length > header.length })
  }
  return { header, headerLine: first.line, rows }
}

/** Index of the first delimiter, CR or LF at or after `from` (or the end of text). */
function scanUnquoted(text: string, from: number, delim: number): number {
  const n = text.length
  let i = from
  while (i < n) {
    const c = text.charCodeAt(i)
    if (c === delim || c === LF || c === CR) return i
    i++
  }
  return n
}

function countLineBreaks(s: string): number {
  let count = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c === LF) count++
    else if (c === CR && s.charCodeAt(i + 1) !== LF) count++
  }
  return count
}
