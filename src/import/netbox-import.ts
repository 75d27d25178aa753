/**
 * The NetBox importer: NetBox's CSV bulk exports and REST API lists of aggregates, prefixes, IP
 * ranges, IP addresses (and VRFs) → casm's import document. Pure: the caller reads the files.
 *
 * Which table a file holds is told from its columns (CSV header, or the first object's fields):
 * `start_address` + `end_address` → IP ranges, `address` → IP addresses, `prefix` + `rir` →
 * aggregates, `prefix` → prefixes, `name` + `rd` → VRFs. The mapping is described in
 * docs/import.md ("NetBox and phpIPAM").
 *
 * @example
 * ```ts
 * const { document, problems } = parseNetbox([
 *   { name: 'aggregates.csv', text: 'prefix,rir,description\n10.0.0.0/8,RFC 1918,private\n' },
 *   { name: 'prefixes.csv', text: 'prefix,vrf,status\n10.1.0.0/24,red,active\n' },
 * ])
 * // document.blocks: [{ domain: 'red', space: '10.0.0.0/8', source: { rir: 'RFC 1918', … }, … }]
 * // document.pools:  [{ name: 'red-10.1.0.0-24', domain: 'red', kind: 'static', … }]
 * ```
 *
 * @module
 */

import type { ImportFile, ImportParser, ImportProblem } from '../domain/import-document.js'
import type { PoolKind } from '../domain/pool-policy.js'
import { AddressRange } from '../ip/index.js'
import {
  type SourceRow,
  type SourceTable,
  addressField,
  flagField,
  prefixField,
  readCsvSource,
  rowProblem,
  tagsOf,
  tryField,
} from './source-row.js'
import {
  type SourceAddress,
  type SourceAggregate,
  type SourceDomain,
  type SourceImportResult,
  type SourcePrefix,
  type SourceRange,
  type SourceStatus,
  mapSourceSpace,
} from './source-space.js'

/** The NetBox tables the importer reads. */
export type NetboxTable = 'aggregates' | 'prefixes' | 'ip-ranges' | 'ip-addresses' | 'vrfs'

const TABLE_ORDER: readonly NetboxTable[] = [
  'vrfs',
  'aggregates',
  'prefixes',
  'ip-ranges',
  'ip-addresses',
]

/** Column names as NetBox's table export writes them (verbose) → the API/import field names. */
const ALIASES: Readonly<Record<string, string>> = {
  is_a_pool: 'is_pool',
  pool: 'is_pool',
  ip_address: 'address',
  dns: 'dns_name',
  start: 'start_address',
  end: 'end_address',
  added: 'date_added',
  route_distinguisher: 'rd',
}

const PREFIX_STATUS: Readonly<Record<string, SourcePrefix['status']>> = {
  container: 'container',
  active: 'active',
  reserved: 'reserved',
  deprecated: 'deprecated',
}
const RANGE_STATUS: Readonly<Record<string, SourceStatus>> = {
  active: 'active',
  reserved: 'reserved',
  deprecated: 'deprecated',
}
const ADDRESS_STATUS: Readonly<Record<string, SourceStatus>> = {
  active: 'active',
  reserved: 'reserved',
  deprecated: 'deprecated',
  dhcp: 'dynamic',
  slaac: 'dynamic',
}

/** Pool kinds by keywords of the NetBox role (first match wins). */
const ROLE_KINDS: readonly (readonly [RegExp, PoolKind])[] = [
  [/ds-?lite|aftr/, 'ds-lite'],
  [/cgn|nat/, 'cgn'],
  [/\bpd\b|delegat/, 'pd'],
  [/dhcp/, 'dhcp'],
  [/subscriber|bng|broadband|residential|access|cpe/, 'subscriber'],
  [/multicast/, 'multicast'],
  [/static|server|infra|loopback|p2p|point-to-point|transfer|link|management|mgmt/, 'static'],
]

/** The pool kind of a prefix: from its role's keywords, else `subscriber` for `is_pool`, else `static`. */
export function netboxPoolKind(role: string, isPool: boolean): PoolKind {
  const r = role.toLowerCase()
  if (r !== '') for (const [re, kind] of ROLE_KINDS) if (re.test(r)) return kind
  return isPool ? 'subscriber' : 'static'
}

/** Which table a file holds, from its columns. */
export function detectNetboxTable(columns: ReadonlySet<string>): NetboxTable | undefined {
  if (columns.has('start_address') && columns.has('end_address')) return 'ip-ranges'
  if (columns.has('address')) return 'ip-addresses'
  if (columns.has('prefix') && (columns.has('rir') || columns.has('date_added')))
    return 'aggregates'
  if (columns.has('prefix')) return 'prefixes'
  if (columns.has('name') && columns.has('rd')) return 'vrfs'
  return undefined
}

/** A VRF cell: '' for none or `Global`; a trailing route distinguisher `(65000:1)` is split off. */
function vrfOf(text: string): { name: string; rd: string } {
  const t = text.trim()
  if (t === '' || t.toLowerCase() === 'global' || t === '—') return { name: '', rd: '' }
  const m = /^(.*\S)\s+\(([0-9.]+:[0-9]+)\)$/.exec(t)
  return m === null ? { name: t, rd: '' } : { name: m[1] as string, rd: m[2] as string }
}

/** What the rows of all files add up to, before mapping. */
class Collected {
  readonly domains: SourceDomain[] = []
  readonly aggregates: SourceAggregate[] = []
  readonly prefixes: SourcePrefix[] = []
  readonly ranges: SourceRange[] = []
  readonly addresses: SourceAddress[] = []
  private readonly rds = new Set<string>()

  constructor(readonly problems: ImportProblem[]) {}

  vrf(row: SourceRow): string {
    const { name, rd } = vrfOf(row.get('vrf'))
    if (name !== '' && rd !== '' && !this.rds.has(name)) {
      this.rds.add(name)
      this.domains.push({ name, description: `NetBox VRF ${name} (rd ${rd})`, ref: row.ref })
    }
    return name
  }

  status<T extends SourceStatus>(
    row: SourceRow,
    table: Readonly<Record<string, T>>,
    what: string,
  ): T | undefined {
    const raw = row.get('status')
    const v = raw === '' ? 'active' : raw.toLowerCase()
    const s = table[v]
    if (s === undefined) {
      rowProblem(
        this.problems,
        row,
        'status',
        'CASM_ERR_VALIDATION',
        `status '${raw}' is not a NetBox ${what} status; use one of ${Object.keys(table).join(', ')}`,
      )
    }
    return s
  }

  add(table: NetboxTable, row: SourceRow): void {
    const p = this.problems
    switch (table) {
      case 'vrfs': {
        const name = row.get('name')
        if (name === '') return
        const rd = row.get('rd')
        const description = [row.get('description'), rd === '' ? '' : `rd ${rd}`]
          .filter((x) => x !== '')
          .join('; ')
        this.rds.add(name)
        this.domains.push({ name, description, ref: row.ref })
        return
      }
      case 'aggregates': {
        const prefix = prefixField(p, row, 'prefix')
        if (prefix === undefined) return
        const tags = tagsOf(row, ['tenant', 'date_added'], (c) =>
          c === 'date_added' ? 'added' : c,
        )
        this.aggregates.push({
          ref: row.ref,
          prefix,
          rir: row.get('rir'),
          description: row.get('description'),
          tags,
        })
        return
      }
      case 'prefixes': {
        const domain = this.vrf(row)
        const prefix = prefixField(p, row, 'prefix')
        const status = this.status(row, PREFIX_STATUS, 'prefix')
        const isPool = flagField(p, row, 'is_pool')
        if (prefix === undefined || status === undefined || isPool === undefined) return
        const site = row.get('site') === '' ? 'scope' : 'site'
        this.prefixes.push({
          ref: row.ref,
          domain,
          prefix,
          status,
          isPool,
          kind: netboxPoolKind(row.get('role'), isPool),
          description: row.get('description'),
          tags: tagsOf(row, ['tenant', site, 'vlan', 'role']),
        })
        return
      }
      case 'ip-ranges': {
        const domain = this.vrf(row)
        const first = addressField(p, row, 'start_address')
        const last = addressField(p, row, 'end_address')
        const status = this.status(row, RANGE_STATUS, 'IP range')
        if (first === undefined || last === undefined || status === undefined) return
        if (first.family !== last.family) {
          rowProblem(
            p,
            row,
            'end_address',
            'CASM_ERR_FAMILY_MISMATCH',
            `start_address ${first.toString()} and end_address ${last.toString()} are of different families; give both as IPv4 or both as IPv6`,
          )
          return
        }
        const range = tryField(p, row, 'end_address', () =>
          AddressRange.of(first.family, first.value, last.value),
        )
        if (range === undefined) return
        this.ranges.push({
          ref: row.ref,
          domain,
          range,
          status,
          description: row.get('description'),
        })
        return
      }
      case 'ip-addresses': {
        const domain = this.vrf(row)
        const address = addressField(p, row, 'address')
        const status = this.status(row, ADDRESS_STATUS, 'IP address')
        if (address === undefined || status === undefined) return
        const role = row.get('role')
        this.addresses.push({
          ref: row.ref,
          domain,
          address,
          status,
          hostname: row.get('dns_name'),
          description: [role === '' ? '' : `role ${role.toLowerCase()}`, row.get('description')]
            .filter((x) => x !== '')
            .join('; '),
        })
        return
      }
    }
  }
}

/** A JSON value of a NetBox object's field as text: nested objects by name/value/vid. */
function jsonText(v: unknown): string {
  if (v === null || v === undefined) return ''
  if (typeof v === 'string') return v.trim()
  if (typeof v === 'number' || typeof v === 'boolean') return String(v)
  if (typeof v === 'object' && !Array.isArray(v)) {
    const o = v as Record<string, unknown>
    for (const k of ['value', 'name', 'display', 'vid', 'label', 'slug']) {
      if (o[k] !== undefined && o[k] !== null && typeof o[k] !== 'object') return jsonText(o[k])
    }
  }
  return ''
}

/**
 * The line each element of the list starts on (the top-level array, or the one array inside the
 * top-level object — NetBox's `results`), by one scan that skips strings.
 */
function elementLines(text: string): number[] {
  const lines: number[] = []
  const stack: number[] = []
  let target = -1
  let line = 1
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 10) line++
    else if (c === 34) {
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i)
        if (d === 92) i++
        else if (d === 34) break
        else if (d === 10) line++
      }
    } else if (c === 91 || c === 123) {
      if (c === 91 && target < 0 && stack.length <= 1) target = stack.length
      else if (target >= 0 && stack.length === target + 1 && stack[target] === 91) lines.push(line)
      stack.push(c)
    } else if (c === 93 || c === 125) {
      stack.pop()
      if (target >= 0 && stack.length === target) break
    }
  }
  return lines
}

function readJsonSource(
  name: string,
  text: string,
  problems: ImportProblem[],
): SourceTable | undefined {
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch (e) {
    problems.push({
      ref: `${name}:1`,
      path: '',
      code: 'CASM_ERR_MALFORMED_JSON',
      message: `${name} is not valid JSON (${(e as Error).message}); export it again from the NetBox API`,
    })
    return undefined
  }
  const list = Array.isArray(data)
    ? data
    : typeof data === 'object' &&
        data !== null &&
        Array.isArray((data as { results?: unknown }).results)
      ? (data as { results: unknown[] }).results
      : undefined
  if (list === undefined) {
    problems.push({
      ref: `${name}:1`,
      path: '',
      code: 'CASM_ERR_VALIDATION',
      message: `${name} is neither a list nor an API answer with results; export the list endpoint (…/api/ipam/prefixes/?limit=0)`,
    })
    return undefined
  }
  const lines = elementLines(text)
  const useLines = lines.length === list.length
  const columns = new Set<string>()
  const rows: SourceRow[] = list.map((item, i) => {
    const o = (typeof item === 'object' && item !== null ? item : {}) as Record<string, unknown>
    for (const k of Object.keys(o)) columns.add(k)
    return {
      ref: useLines ? `${name}:${lines[i] ?? 1}` : `${name}#${i}`,
      get: (column: string) => {
        if (column === 'is_pool' && typeof o.is_pool === 'boolean')
          return o.is_pool ? 'true' : 'false'
        if (column === 'vrf' && typeof o.vrf === 'object' && o.vrf !== null) {
          const v = o.vrf as { name?: unknown; rd?: unknown }
          const rd = typeof v.rd === 'string' && v.rd !== '' ? ` (${v.rd})` : ''
          return `${jsonText(v.name)}${rd}`
        }
        if (column === 'site' && o.site === undefined) return jsonText(o.scope)
        return jsonText(o[column])
      },
    }
  })
  return { columns, rows }
}

/**
 * Reads NetBox exports (CSV or JSON, any mix, in any order) and maps them to casm's import
 * document. Returns the document, one problem per bad row (with its `file:LINE` ref and a
 * `CASM_ERR_*` code) and notes on what was skipped on purpose.
 */
export function parseNetbox(files: readonly ImportFile[]): SourceImportResult {
  const problems: ImportProblem[] = []
  const c = new Collected(problems)
  const read: { kind: NetboxTable; table: SourceTable }[] = []
  for (const f of files) {
    const json = /\.json$/i.test(f.name) || /^\s*[[{]/.test(f.text)
    const table = json
      ? readJsonSource(f.name, f.text, problems)
      : readCsvSource(f.name, f.text, ALIASES, problems)
    if (table === undefined) continue
    const columns = new Set([...table.columns].map((k) => ALIASES[k] ?? k))
    const kind = detectNetboxTable(columns)
    if (kind === undefined) {
      problems.push({
        ref: `${f.name}:1`,
        path: '',
        code: 'CASM_ERR_VALIDATION',
        message: `${f.name}: cannot tell which NetBox table this is; export aggregates, prefixes, IP ranges or IP addresses with their prefix/address columns`,
      })
      continue
    }
    read.push({ kind, table })
  }
  // Tables in dependency order (VRFs, then the space, then what lies in it), whatever the file order.
  read.sort((a, b) => TABLE_ORDER.indexOf(a.kind) - TABLE_ORDER.indexOf(b.kind))
  for (const { kind, table } of read) for (const row of table.rows) c.add(kind, row)
  return mapSourceSpace(c, problems)
}

/** {@link parseNetbox} as the {@link ImportParser} the `casm import` command takes. */
export const importNetbox: ImportParser = parseNetbox
