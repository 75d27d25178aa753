/**
 * The phpIPAM importer: phpIPAM's CSV exports of sections and subnets → casm's import document.
 * Pure: the caller reads the files.
 *
 * A file with a `subnet` column is a subnets export (`Section, Subnet, Mask, Description, VRF,
 * Master Subnet, VLAN, isFolder, isFull`; `Subnet` may also carry `/length`); a file with `name`
 * and no `subnet` is a sections export (names and descriptions of the sections). The mapping is
 * described in docs/import.md ("NetBox and phpIPAM").
 *
 * @example
 * ```ts
 * const { document } = parsePhpipam([
 *   { name: 'subnets.csv', text: 'Section,Subnet,Mask,Description\nLab,10.0.0.0,8,lab\nLab,10.0.1.0,24,lan\n' },
 * ])
 * // document.blocks: [{ domain: 'Lab', space: '10.0.0.0/8', … }]
 * // document.pools:  [{ name: 'Lab-10.0.1.0-24', domain: 'Lab', kind: 'static', … }]
 * ```
 *
 * @module
 */

import type { ImportFile, ImportParser, ImportProblem } from '../domain/import-document.js'
import type { Prefix } from '../ip/index.js'
import {
  type SourceRow,
  type SourceTable,
  addressField,
  flagField,
  prefixField,
  readCsvSource,
  rowProblem,
  tagsOf,
} from './source-row.js'
import {
  type ImportNote,
  type SourceAddress,
  type SourceDomain,
  type SourceImportResult,
  type SourcePrefix,
  type SourceStatus,
  mapSourceSpace,
} from './source-space.js'

const ALIASES: Readonly<Record<string, string>> = {
  is_folder: 'isfolder',
  folder: 'isfolder',
  is_full: 'isfull',
  master: 'master_subnet',
  mastersubnet: 'master_subnet',
  ip_addr: 'address',
  ip_address: 'address',
  ip: 'address',
  dns_name: 'hostname',
  tag: 'state',
  ip_state: 'state',
  status: 'state',
  section_name: 'section',
  netmask: 'mask',
  vlan_number: 'vlan',
  section_description: 'description',
}

const NO_VRF = new Set(['', 'none', '0', '-', '/'])
const DOTTED_MASK = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/

/** A mask cell as a prefix length: `24` or `255.255.255.0`; undefined when it is neither. */
function maskLength(mask: string): number | undefined {
  if (/^\/?\d{1,3}$/.test(mask)) return Number(mask.replace('/', ''))
  const m = DOTTED_MASK.exec(mask)
  if (m === null) return undefined
  const octets = m.slice(1).map(Number)
  if (octets.some((o) => o > 255)) return undefined
  const bits = octets.map((o) => o.toString(2).padStart(8, '0')).join('')
  if (!/^1*0*$/.test(bits)) return undefined
  const zero = bits.indexOf('0')
  return zero < 0 ? 32 : zero
}

function subnetOf(problems: ImportProblem[], row: SourceRow): Prefix | undefined {
  const subnet = row.get('subnet')
  if (subnet.includes('/') || subnet === '') return prefixField(problems, row, 'subnet', subnet)
  const mask = row.get('mask')
  if (mask === '') {
    rowProblem(
      problems,
      row,
      'mask',
      'CASM_ERR_PREFIX_LENGTH',
      `subnet ${subnet} has no mask; fill the Mask column (24 or 255.255.255.0) or write the subnet as address/length`,
    )
    return undefined
  }
  const length = maskLength(mask)
  if (length === undefined) {
    rowProblem(
      problems,
      row,
      'mask',
      'CASM_ERR_PREFIX_LENGTH',
      `mask '${mask}' is neither a prefix length nor a contiguous netmask; write it as 24 or 255.255.255.0`,
    )
    return undefined
  }
  return prefixField(problems, row, 'subnet', `${subnet}/${length}`)
}

/** phpIPAM address tags (states) → the importers' statuses. */
const ADDRESS_STATUS: Readonly<Record<string, SourceStatus>> = {
  used: 'active',
  active: 'active',
  reserved: 'reserved',
  offline: 'deprecated',
  dhcp: 'dynamic',
}

type PhpipamTable = 'addresses' | 'subnets' | 'sections'

function detect(columns: ReadonlySet<string>): PhpipamTable | undefined {
  if (columns.has('address')) return 'addresses'
  if (columns.has('subnet')) return 'subnets'
  if (columns.has('name')) return 'sections'
  return undefined
}

const ORDER: readonly PhpipamTable[] = ['sections', 'subnets', 'addresses']

/** The VRF when set, else the section ('' for neither: the global domain). */
function domainOf(row: SourceRow): string {
  const vrf = row.get('vrf')
  return NO_VRF.has(vrf.toLowerCase()) ? row.get('section') : vrf
}

/**
 * Reads phpIPAM CSV exports (sections, subnets and IP addresses, in any order) and maps them to
 * casm's import document. Returns the document, one problem per bad row (with its `file:LINE`
 * ref and a `CASM_ERR_*` code) and notes on what was skipped on purpose (folders).
 */
export function parsePhpipam(files: readonly ImportFile[]): SourceImportResult {
  const problems: ImportProblem[] = []
  const notes: ImportNote[] = []
  const domains: SourceDomain[] = []
  const prefixes: SourcePrefix[] = []
  const addresses: SourceAddress[] = []
  /** Subnet text → its domain, for address rows that name only their subnet. */
  const subnetDomain = new Map<string, string>()
  const read: { kind: PhpipamTable; table: SourceTable }[] = []
  for (const f of files) {
    const table = readCsvSource(f.name, f.text, ALIASES, problems)
    if (table === undefined) continue
    const kind = detect(table.columns)
    if (kind === undefined) {
      problems.push({
        ref: `${f.name}:1`,
        path: '',
        code: 'CASM_ERR_VALIDATION',
        message: `${f.name}: cannot tell which phpIPAM export this is; export subnets (with a Subnet column), IP addresses (with an IP address column) or sections (with a Name column)`,
      })
      continue
    }
    read.push({ kind, table })
  }
  read.sort((a, b) => ORDER.indexOf(a.kind) - ORDER.indexOf(b.kind))
  for (const { kind, table } of read) {
    for (const row of table.rows) {
      switch (kind) {
        case 'sections': {
          const name = row.get('name')
          if (name !== '') domains.push({ name, description: row.get('description'), ref: row.ref })
          break
        }
        case 'subnets': {
          const isFolder = table.columns.has('isfolder')
            ? flagField(problems, row, 'isfolder')
            : false
          if (isFolder === undefined) break
          if (isFolder) {
            const label = row.get('description') === '' ? row.get('subnet') : row.get('description')
            notes.push({
              ref: row.ref,
              message: `folder '${label}' skipped: phpIPAM folders only group subnets and hold no space of their own`,
            })
            break
          }
          const prefix = subnetOf(problems, row)
          const isFull = table.columns.has('isfull') ? flagField(problems, row, 'isfull') : false
          if (prefix === undefined || isFull === undefined) break
          const domain = domainOf(row)
          if (!subnetDomain.has(prefix.toString())) subnetDomain.set(prefix.toString(), domain)
          prefixes.push({
            ref: row.ref,
            domain,
            prefix,
            status: 'active',
            isPool: false,
            kind: 'static',
            description: row.get('description'),
            tags: [...tagsOf(row, ['vlan']), ...(isFull ? ['full'] : [])],
          })
          break
        }
        case 'addresses': {
          const address = addressField(problems, row, 'address')
          const raw = row.get('state')
          const status = ADDRESS_STATUS[raw === '' ? 'used' : raw.toLowerCase()]
          if (status === undefined) {
            rowProblem(
              problems,
              row,
              'state',
              'CASM_ERR_VALIDATION',
              `state '${raw}' is not a phpIPAM address tag; use one of ${Object.keys(ADDRESS_STATUS).join(', ')}`,
            )
          }
          if (address === undefined || status === undefined) break
          let domain = domainOf(row)
          const subnet = row.get('subnet')
          if (domain === '' && subnet !== '') domain = subnetDomain.get(subnet) ?? ''
          addresses.push({
            ref: row.ref,
            domain,
            address,
            status,
            hostname: row.get('hostname'),
            description: row.get('description'),
          })
          break
        }
      }
    }
  }
  const result = mapSourceSpace(
    { domains, aggregates: [], prefixes, ranges: [], addresses },
    problems,
  )
  return { ...result, notes: [...notes, ...result.notes] }
}

/** {@link parsePhpipam} as the {@link ImportParser} the `casm import` command takes. */
export const importPhpipam: ImportParser = parsePhpipam
