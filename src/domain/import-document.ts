/**
 * The normalized import document: what every importer (casm's own JSON, NetBox, phpIPAM)
 * produces and what `POST /api/v1/import` takes. Plain JSON; addresses are canonical text as in
 * the model; times are RFC 3339 strings.
 *
 * Every item may carry a `ref` — a free string saying where it came from (`prefixes.csv:17`) —
 * so that every problem can be reported with its origin. {@link validateImportDocument} checks a
 * document without I/O and returns ALL problems, never only the first: shapes and syntax, names
 * unique, no overlap inside one domain (two domains may hold the same space), pools inside
 * non-reserved blocks, reservations, grants and assignments inside their pool. The coordinator
 * runs the same checks with the tenant's existing objects added (see {@link ExistingObjects}).
 *
 * @example
 * ```ts
 * const doc: ImportDocument = {
 *   version: 1,
 *   domains: [{ name: 'internet' }],
 *   blocks: [{ domain: 'internet', space: '100.64.0.0/10', ref: 'prefixes.csv:2' }],
 *   pools: [{ name: 'bng-east', domain: 'internet', kind: 'subscriber', space: ['100.64.0.0/16'] }],
 *   reservations: [{ pool: 'bng-east', prefix: '100.64.0.0/24', description: 'infra' }],
 * }
 * validateImportDocument(doc).problems // []
 * ```
 *
 * @module
 */

import { CasmError, type CasmErrorCode, isCasmError } from '../errors/casm-error.js'
import { AddressRange, type Family, isFamily, mergeRanges } from '../ip/index.js'
import type { BlockSource } from './model.js'
import { GRANT_STATES, type GrantState } from './grant-lifecycle.js'
import {
  POOL_KINDS,
  type DevicePolicyOverrides,
  type PoolKind,
  type PoolPolicyInput,
  checkDeviceOverrides,
  resolvePolicy,
} from './pool-policy.js'
import { type RequestorAttributes, type Selectors, checkSelectors } from './requestor.js'

/** The only version of the document format. */
export const IMPORT_DOCUMENT_VERSION = 1

/** A domain to create. */
export interface ImportDomain {
  readonly name: string
  readonly description?: string
  /** Where the item came from (`vrfs.csv:4`), reported with its problems. */
  readonly ref?: string
}

/** A block to create in a domain (by name). */
export interface ImportBlock {
  /** The domain's name. */
  readonly domain: string
  /** A prefix (`100.64.0.0/10`) or a range (`198.18.0.5-198.18.3.250`). */
  readonly space: string
  readonly source?: BlockSource
  /** A reserved block feeds no pool. */
  readonly reserved?: boolean
  readonly description?: string
  readonly tags?: readonly string[]
  readonly ref?: string
}

/** A pool to create, with its full or partial policy (missing fields take defaults). */
export interface ImportPool {
  readonly name: string
  readonly domain: string
  readonly kind: PoolKind
  /** When given, must match the family of the space. */
  readonly family?: Family
  readonly space: readonly string[]
  readonly policy?: PoolPolicyInput
  readonly priority?: number
  readonly selectors?: Selectors
  readonly tags?: readonly string[]
  readonly description?: string
  readonly ref?: string
}

/** A device to create. */
export interface ImportDevice {
  readonly name: string
  readonly attributes?: RequestorAttributes
  /** Overrides of its pools' device-loop policy. */
  readonly policy?: DevicePolicyOverrides
  readonly description?: string
  readonly ref?: string
}

/** A repeating reservation pattern (as in the reservations API). */
export interface ImportPattern {
  readonly every: number
  readonly offsets: readonly number[]
  readonly length?: number
  readonly within?: string
}

/**
 * Space kept back (`reserved`, the default) or taken out (`excluded`) of a pool. Name the pool,
 * or only the domain: then the pool of that domain holding the target is used. Give exactly one
 * of `prefix`, `range`, `address` or `pattern` (a pattern needs `pool`). `hostname` is kept in
 * the description (`hostname — description`); a reservation has no hostname of its own.
 */
export interface ImportReservation {
  readonly pool?: string
  readonly domain?: string
  readonly kind?: 'reserved' | 'excluded'
  readonly prefix?: string
  readonly range?: string
  readonly address?: string
  readonly pattern?: ImportPattern
  readonly hostname?: string
  readonly description?: string
  readonly ref?: string
}

/** Live states a grant or assignment can be imported in. */
export type ImportUnitState = Extract<GrantState, 'active' | 'draining' | 'quarantined'>

/** The states {@link ImportUnitState} allows. */
export const IMPORT_UNIT_STATES: readonly ImportUnitState[] = ['active', 'draining', 'quarantined']

/** A live grant of a pool to a device (by names). */
export interface ImportGrant {
  readonly pool: string
  readonly device: string
  readonly prefix: string
  /** Default `active`. */
  readonly state?: ImportUnitState
  /** RFC 3339; absent or null: never expires. */
  readonly expiresAt?: string | null
  /** RFC 3339; for `quarantined` only. */
  readonly quarantineUntil?: string | null
  readonly ref?: string
}

/** A live assignment of a pool (northbound, metadata-driven). */
export interface ImportAssignment {
  readonly pool: string
  readonly prefix: string
  /** Default `active`. */
  readonly state?: ImportUnitState
  readonly requestor?: RequestorAttributes
  readonly hostname?: string
  readonly description?: string
  readonly quarantineUntil?: string | null
  readonly ref?: string
}

/** The import document. Arrays other than `domains`, `blocks`, `pools` may be absent. */
export interface ImportDocument {
  readonly version: typeof IMPORT_DOCUMENT_VERSION
  readonly domains: readonly ImportDomain[]
  readonly blocks: readonly ImportBlock[]
  readonly pools: readonly ImportPool[]
  readonly devices?: readonly ImportDevice[]
  readonly reservations?: readonly ImportReservation[]
  readonly grants?: readonly ImportGrant[]
  readonly assignments?: readonly ImportAssignment[]
}

/** One problem of a document: where (its `ref` and JSON pointer), a stable code, and why. */
export interface ImportProblem {
  /** The item's `ref`, or its JSON pointer when it has none. */
  readonly ref: string
  /** JSON pointer into the document, e.g. `/blocks/17/space`. */
  readonly path: string
  readonly code: CasmErrorCode
  readonly message: string
}

/** A file given to an importer: its name (used in refs) and its text. */
export interface ImportFile {
  readonly name: string
  readonly text: string
}

/** What an importer returns: the document and the problems it met reading the files. */
export interface ImportParseResult {
  readonly document: ImportDocument
  readonly problems: readonly ImportProblem[]
}

/**
 * An importer of a foreign format (`src/import/netbox-import.ts` exports `importNetbox`,
 * `src/import/phpipam-import.ts` exports `importPhpipam`, both of this type). Pure: the CLI
 * reads the files.
 */
export type ImportParser = (
  files: readonly ImportFile[],
) => ImportParseResult | Promise<ImportParseResult>

/** Objects already in the tenant that the document's checks must take into account. */
export interface ExistingObjects {
  readonly domains: readonly string[]
  readonly blocks: readonly {
    readonly domain: string
    readonly space: string
    readonly reserved: boolean
  }[]
  readonly pools: readonly {
    readonly name: string
    readonly domain: string
    readonly space: readonly string[]
  }[]
  readonly devices: readonly string[]
}

/** Most items one document may hold, over all arrays. */
export const MAX_IMPORT_ITEMS = 1_000_000

/** The result of {@link validateImportDocument}. */
export interface ImportValidation {
  /** Every problem found; empty when the document can be applied. */
  readonly problems: ImportProblem[]
  /** The document, typed, when there is no problem. */
  readonly document?: ImportDocument
  /** Each pool-less reservation's pool, by index into `reservations`, once resolved. */
  readonly reservationPools: ReadonlyMap<number, string>
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/
const ID_SHAPE = /^[a-z]{2,5}_[0-9a-z]{16,}$/
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/

type Obj = Record<string, unknown>

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** Collects problems for one document. */
class Problems {
  readonly list: ImportProblem[] = []

  add(ref: string, path: string, code: CasmErrorCode, message: string): void {
    this.list.push({ ref, path, code, message })
  }

  /** Records a thrown CasmError (or rethrows anything else). */
  caught(ref: string, path: string, e: unknown): void {
    if (!isCasmError(e)) throw e
    this.add(ref, path, e.code, e.message)
  }
}

function refOf(item: unknown, path: string): string {
  return isObj(item) && typeof item.ref === 'string' && item.ref !== '' ? item.ref : path
}

/** A parsed range with where it came from, for the sweeps. */
interface Placed {
  readonly range: AddressRange
  readonly ref: string
  readonly path: string
  readonly label: string
  /** The pool a pool range belongs to. */
  readonly owner?: string
}

/** Canonical text of a range: the prefix when it is one, `first-last` otherwise. */
export function rangeLabel(r: AddressRange): string {
  return r.toPrefix()?.toString() ?? r.toString()
}

function compareRanges(a: Placed, b: Placed): number {
  return a.range.first < b.range.first ? -1 : a.range.first > b.range.first ? 1 : 0
}

/**
 * Reports every range that overlaps an earlier one (sort + sweep, O(n log n)).
 *
 * ```
 *   aaaaaaa          a: the range reaching furthest so far
 *       bbbb         b starts before a ends: overlap, reported on b
 * ```
 */
function sweepOverlaps(items: Placed[], p: Problems, what: string): void {
  items.sort(compareRanges)
  let reach: Placed | undefined
  for (const it of items) {
    if (reach !== undefined && it.range.first <= reach.range.last) {
      if (!it.ref.startsWith('existing ')) {
        p.add(
          it.ref,
          it.path,
          'CASM_ERR_OVERLAP',
          `${rangeLabel(it.range)} overlaps ${reach.label} (${reach.ref}) in the same ${what}`,
        )
      } else if (!reach.ref.startsWith('existing ')) {
        p.add(
          reach.ref,
          reach.path,
          'CASM_ERR_OVERLAP',
          `${reach.label} overlaps ${rangeLabel(it.range)} (${it.ref}) in the same ${what}`,
        )
      }
    }
    if (reach === undefined || it.range.last > reach.range.last) reach = it
  }
}

/** Sorted, merged ranges with a binary search for the one holding a range. */
class Cover {
  private readonly ranges: AddressRange[]

  constructor(ranges: readonly AddressRange[]) {
    this.ranges = mergeRanges(ranges)
  }

  /** True when one merged range holds `r`. */
  holds(r: AddressRange): boolean {
    let lo = 0
    let hi = this.ranges.length - 1
    let found: AddressRange | undefined
    while (lo <= hi) {
      const mid = (lo + hi) >> 1
      const m = this.ranges[mid] as AddressRange
      if (m.first <= r.first) {
        found = m
        lo = mid + 1
      } else hi = mid - 1
    }
    return found !== undefined && found.last >= r.last
  }
}

/** Pools' ranges of one domain and family, sorted, for finding the pool that holds a range. */
class PoolIndex {
  private readonly entries: { range: AddressRange; pool: string }[] = []
  private sorted = false

  add(range: AddressRange, pool: string): void {
    this.entries.push({ range, pool })
    this.sorted = false
  }

  /** The pool one of whose ranges holds `r` (ranges do not overlap once checked). */
  find(r: AddressRange): string | undefined {
    if (!this.sorted) {
      this.entries.sort((a, b) => (a.range.first < b.range.first ? -1 : 1))
      this.sorted = true
    }
    let lo = 0
    let hi = this.entries.length - 1
    let best: { range: AddressRange; pool: string } | undefined
    while (lo <= hi) {
      const mid = (lo + hi) >> 1
      const e = this.entries[mid] as { range: AddressRange; pool: string }
      if (e.range.first <= r.first) {
        best = e
        lo = mid + 1
      } else hi = mid - 1
    }
    // Adjacent ranges of one pool may together hold r: walk forward while contiguous.
    if (best === undefined) return undefined
    let last = best.range.last
    let i = this.entries.indexOf(best) + 1
    while (last < r.last) {
      const next = this.entries[i++]
      if (next === undefined || next.pool !== best.pool || next.range.first !== last + 1n) break
      last = next.range.last
    }
    return last >= r.last ? best.pool : undefined
  }
}

function key(domain: string, family: Family): string {
  return `${domain}\u0000${family}`
}

function groupPush<T>(m: Map<string, T[]>, k: string, v: T): void {
  const a = m.get(k)
  if (a === undefined) m.set(k, [v])
  else a.push(v)
}

function parseRange(
  p: Problems,
  ref: string,
  path: string,
  text: unknown,
  family?: Family,
): AddressRange | undefined {
  if (typeof text !== 'string' || text.trim() === '') {
    p.add(ref, path, 'CASM_ERR_VALIDATION', 'must be a prefix or range as text')
    return undefined
  }
  try {
    return AddressRange.parse(text.trim(), family)
  } catch (e) {
    p.caught(ref, path, e)
    return undefined
  }
}

function checkString(
  p: Problems,
  ref: string,
  path: string,
  v: unknown,
  opts: { required?: boolean; max?: number } = {},
): v is string {
  if (v === undefined && opts.required !== true) return false
  if (typeof v !== 'string') {
    p.add(
      ref,
      path,
      'CASM_ERR_VALIDATION',
      opts.required === true ? 'is required text' : 'must be text',
    )
    return false
  }
  if (v.length > (opts.max ?? 1024)) {
    p.add(ref, path, 'CASM_ERR_VALIDATION', `is longer than ${opts.max ?? 1024} characters`)
    return false
  }
  return true
}

function checkNameField(p: Problems, ref: string, path: string, v: unknown): v is string {
  if (typeof v !== 'string' || !NAME.test(v) || ID_SHAPE.test(v)) {
    p.add(
      ref,
      path,
      'CASM_ERR_VALIDATION',
      `'${String(v)}' is not a valid name: 1-63 letters, digits, '.', '_', '-', starting with a letter or digit`,
    )
    return false
  }
  return true
}

function checkTime(p: Problems, ref: string, path: string, v: unknown): void {
  if (v === undefined || v === null) return
  if (typeof v !== 'string' || !RFC3339.test(v) || Number.isNaN(Date.parse(v))) {
    p.add(ref, path, 'CASM_ERR_VALIDATION', 'must be an RFC 3339 time or null')
  }
}

function checkTags(p: Problems, ref: string, path: string, v: unknown): void {
  if (v === undefined) return
  if (
    !Array.isArray(v) ||
    v.length > 64 ||
    v.some((t) => typeof t !== 'string' || t.length === 0 || t.length > 64)
  ) {
    p.add(ref, path, 'CASM_ERR_VALIDATION', 'at most 64 tags of 1-64 characters each')
  }
}

function arrayOf(p: Problems, doc: Obj, field: string, required: boolean): unknown[] {
  const v = doc[field]
  if (v === undefined && !required) return []
  if (!Array.isArray(v)) {
    p.add(`/${field}`, `/${field}`, 'CASM_ERR_VALIDATION', `${field} must be an array`)
    return []
  }
  return v
}

/** Reports a name seen twice in the document or already in the tenant. */
function uniqueNames(
  p: Problems,
  what: string,
  items: readonly { name: string; ref: string; path: string }[],
  existing: ReadonlySet<string>,
): void {
  const seen = new Map<string, string>()
  for (const it of items) {
    const first = seen.get(it.name)
    if (first !== undefined) {
      p.add(
        it.ref,
        it.path,
        'CASM_ERR_ALREADY_EXISTS',
        `${what} '${it.name}' is also defined at ${first}`,
      )
    } else if (existing.has(it.name)) {
      p.add(it.ref, it.path, 'CASM_ERR_ALREADY_EXISTS', `${what} '${it.name}' already exists`)
    } else seen.set(it.name, it.ref)
  }
}

/** Wraps a domain-layer check that throws into a problem. */
function attempt(p: Problems, ref: string, path: string, fn: () => void): void {
  try {
    fn()
  } catch (e) {
    if (isCasmError(e)) {
      const errs = (e.details as { errors?: { path?: string }[] } | undefined)?.errors
      const sub = errs?.[0]?.path
      p.add(
        ref,
        sub === undefined ? path : `${path}${sub.startsWith('/') ? '' : '/'}${sub}`,
        e.code,
        e.message,
      )
    } else throw e
  }
}

/**
 * Checks a document: every problem, each with its `ref`. Pure; runs in O(n log n) over the
 * document's items (sort + sweep for overlaps, binary search for containment).
 *
 * `existing`: the tenant's objects; names already taken are problems, new space must not
 * overlap existing blocks or pools, and items may refer to existing domains, pools and devices.
 * Units placed in existing pools are checked against those pools' space only (the coordinator's
 * allocator checks them against the units already there).
 */
export function validateImportDocument(
  input: unknown,
  existing: ExistingObjects = { domains: [], blocks: [], pools: [], devices: [] },
): ImportValidation {
  const p = new Problems()
  const reservationPools = new Map<number, string>()
  if (!isObj(input)) {
    p.add('/', '', 'CASM_ERR_VALIDATION', 'the document must be a JSON object')
    return { problems: p.list, reservationPools }
  }
  if (input.version !== IMPORT_DOCUMENT_VERSION) {
    p.add(
      '/version',
      '/version',
      'CASM_ERR_VALIDATION',
      `version must be ${IMPORT_DOCUMENT_VERSION}`,
    )
  }
  for (const k of Object.keys(input)) {
    if (
      ![
        'version',
        'domains',
        'blocks',
        'pools',
        'devices',
        'reservations',
        'grants',
        'assignments',
        'tenant',
        'exportedAt',
      ].includes(k)
    ) {
      p.add(`/${k}`, `/${k}`, 'CASM_ERR_VALIDATION', `unknown field '${k}'`)
    }
  }
  const domains = arrayOf(p, input, 'domains', true)
  const blocks = arrayOf(p, input, 'blocks', true)
  const pools = arrayOf(p, input, 'pools', true)
  const devices = arrayOf(p, input, 'devices', false)
  const reservations = arrayOf(p, input, 'reservations', false)
  const grants = arrayOf(p, input, 'grants', false)
  const assignments = arrayOf(p, input, 'assignments', false)
  const total =
    domains.length +
    blocks.length +
    pools.length +
    devices.length +
    reservations.length +
    grants.length +
    assignments.length
  if (total > MAX_IMPORT_ITEMS) {
    p.add(
      '/',
      '',
      'CASM_ERR_LIMIT',
      `the document holds ${total} items; at most ${MAX_IMPORT_ITEMS}`,
    )
    return { problems: p.list, reservationPools }
  }

  // ---- domains
  const domainNames = new Set(existing.domains)
  const named: { name: string; ref: string; path: string }[] = []
  domains.forEach((d, i) => {
    const path = `/domains/${i}`
    const ref = refOf(d, path)
    if (!isObj(d)) {
      p.add(ref, path, 'CASM_ERR_VALIDATION', 'must be an object')
      return
    }
    if (checkNameField(p, ref, `${path}/name`, d.name))
      named.push({ name: d.name, ref, path: `${path}/name` })
    checkString(p, ref, `${path}/description`, d.description)
  })
  uniqueNames(p, 'domain', named, new Set(existing.domains))
  for (const n of named) domainNames.add(n.name)

  const knownDomain = (ref: string, path: string, v: unknown): v is string => {
    if (typeof v !== 'string') {
      p.add(ref, path, 'CASM_ERR_VALIDATION', 'is required: the name of a domain')
      return false
    }
    if (!domainNames.has(v)) {
      p.add(
        ref,
        path,
        'CASM_ERR_NOT_FOUND',
        `domain '${v}' is neither in the document nor in the tenant`,
      )
      return false
    }
    return true
  }

  // ---- blocks: no overlap inside a domain; usable (non-reserved) cover per domain+family
  const blockSets = new Map<string, Placed[]>()
  const usable = new Map<string, AddressRange[]>()
  const reservedBlocks = new Map<string, AddressRange[]>()
  for (const b of existing.blocks) {
    const r = AddressRange.parse(b.space)
    const k = key(b.domain, r.family)
    groupPush(blockSets, k, {
      range: r,
      ref: `existing block ${b.space}`,
      path: '',
      label: `block ${b.space}`,
    })
    groupPush(b.reserved ? reservedBlocks : usable, k, r)
  }
  blocks.forEach((b, i) => {
    const path = `/blocks/${i}`
    const ref = refOf(b, path)
    if (!isObj(b)) {
      p.add(ref, path, 'CASM_ERR_VALIDATION', 'must be an object')
      return
    }
    const domainOk = knownDomain(ref, `${path}/domain`, b.domain)
    const r = parseRange(p, ref, `${path}/space`, b.space)
    if (b.reserved !== undefined && typeof b.reserved !== 'boolean') {
      p.add(ref, `${path}/reserved`, 'CASM_ERR_VALIDATION', 'must be true or false')
    }
    if (b.source !== undefined) {
      const s = b.source
      if (!isObj(s)) p.add(ref, `${path}/source`, 'CASM_ERR_VALIDATION', 'must be an object')
      else {
        checkString(p, ref, `${path}/source/rir`, s.rir, { max: 64 })
        checkString(p, ref, `${path}/source/notes`, s.notes)
        if (
          s.originAs !== undefined &&
          (!Number.isInteger(s.originAs) ||
            (s.originAs as number) < 0 ||
            (s.originAs as number) > 4294967295)
        ) {
          p.add(
            ref,
            `${path}/source/originAs`,
            'CASM_ERR_VALIDATION',
            'must be an AS number 0-4294967295',
          )
        }
      }
    }
    checkString(p, ref, `${path}/description`, b.description)
    checkTags(p, ref, `${path}/tags`, b.tags)
    if (r === undefined || !domainOk) return
    const k = key(b.domain as string, r.family)
    groupPush(blockSets, k, {
      range: r,
      ref,
      path: `${path}/space`,
      label: `block ${rangeLabel(r)}`,
    })
    groupPush(b.reserved === true ? reservedBlocks : usable, k, r)
  })
  for (const items of blockSets.values()) sweepOverlaps(items, p, 'domain')
  const covers = new Map<string, Cover>()
  for (const [k, rs] of usable) covers.set(k, new Cover(rs))
  const reservedCovers = new Map<string, Cover>()
  for (const [k, rs] of reservedBlocks) reservedCovers.set(k, new Cover(rs))

  // ---- pools: inside usable blocks, no overlap inside a domain
  const poolSets = new Map<string, Placed[]>()
  const poolIndex = new Map<string, PoolIndex>()
  /** pool name → its domain, family, cover. */
  const poolInfo = new Map<string, { domain: string; family: Family; cover: Cover }>()
  for (const ep of existing.pools) {
    const rs = ep.space.map((s) => AddressRange.parse(s))
    const fam = (rs[0] as AddressRange).family
    const k = key(ep.domain, fam)
    for (const r of rs) {
      groupPush(poolSets, k, {
        range: r,
        ref: `existing pool ${ep.name}`,
        path: '',
        label: `${rangeLabel(r)} of pool '${ep.name}'`,
        owner: ep.name,
      })
    }
    poolInfo.set(ep.name, { domain: ep.domain, family: fam, cover: new Cover(rs) })
  }
  const poolNames: { name: string; ref: string; path: string }[] = []
  pools.forEach((pl, i) => {
    const path = `/pools/${i}`
    const ref = refOf(pl, path)
    if (!isObj(pl)) {
      p.add(ref, path, 'CASM_ERR_VALIDATION', 'must be an object')
      return
    }
    const nameOk = checkNameField(p, ref, `${path}/name`, pl.name)
    if (nameOk) poolNames.push({ name: pl.name as string, ref, path: `${path}/name` })
    const domainOk = knownDomain(ref, `${path}/domain`, pl.domain)
    if (typeof pl.kind !== 'string' || !(POOL_KINDS as readonly string[]).includes(pl.kind)) {
      p.add(
        ref,
        `${path}/kind`,
        'CASM_ERR_VALIDATION',
        `kind must be one of ${POOL_KINDS.join(', ')}`,
      )
    }
    if (pl.family !== undefined && !isFamily(pl.family)) {
      p.add(ref, `${path}/family`, 'CASM_ERR_VALIDATION', 'family must be ipv4, ipv6 or mac')
    }
    checkString(p, ref, `${path}/description`, pl.description)
    checkTags(p, ref, `${path}/tags`, pl.tags)
    if (
      pl.priority !== undefined &&
      (!Number.isInteger(pl.priority) || Math.abs(pl.priority as number) > 1_000_000)
    ) {
      p.add(
        ref,
        `${path}/priority`,
        'CASM_ERR_VALIDATION',
        'priority must be a whole number between -1000000 and 1000000',
      )
    }
    if (pl.selectors !== undefined) {
      if (
        !isObj(pl.selectors) ||
        Object.values(pl.selectors).some(
          (v) => !Array.isArray(v) || v.some((x) => typeof x !== 'string'),
        )
      ) {
        p.add(
          ref,
          `${path}/selectors`,
          'CASM_ERR_VALIDATION',
          'selectors map attribute names to lists of values',
        )
      } else
        attempt(p, ref, path, () => {
          checkSelectors(pl.selectors as Selectors)
        })
    }
    if (!Array.isArray(pl.space) || pl.space.length === 0) {
      p.add(
        ref,
        `${path}/space`,
        'CASM_ERR_VALIDATION',
        'a pool needs at least one prefix or range',
      )
      return
    }
    const rs: AddressRange[] = []
    pl.space.forEach((s: unknown, j: number) => {
      const r = parseRange(p, ref, `${path}/space/${j}`, s)
      if (r !== undefined) rs.push(r)
    })
    if (rs.length !== pl.space.length) return
    const family = (rs[0] as AddressRange).family
    const odd = rs.findIndex((r) => r.family !== family)
    if (odd >= 0) {
      p.add(
        ref,
        `${path}/space/${odd}`,
        'CASM_ERR_FAMILY_MISMATCH',
        `space/${odd} is ${rs[odd]?.family ?? ''} but space/0 is ${family}; a pool holds one family`,
      )
      return
    }
    if (isFamily(pl.family) && pl.family !== family) {
      p.add(
        ref,
        `${path}/family`,
        'CASM_ERR_FAMILY_MISMATCH',
        `family is ${pl.family} but the space is ${family}`,
      )
    }
    if (pl.policy !== undefined) {
      if (!isObj(pl.policy))
        p.add(ref, `${path}/policy`, 'CASM_ERR_VALIDATION', 'must be an object')
      else
        attempt(p, ref, `${path}/policy`, () => resolvePolicy(family, pl.policy as PoolPolicyInput))
    }
    if (!domainOk) return
    const k = key(pl.domain as string, family)
    const cover = covers.get(k)
    rs.forEach((r, j) => {
      if (cover === undefined || !cover.holds(r)) {
        const inReserved = reservedCovers.get(k)?.holds(r) === true
        p.add(
          ref,
          `${path}/space/${j}`,
          inReserved ? 'CASM_ERR_IN_USE' : 'CASM_ERR_OUT_OF_POOL',
          inReserved
            ? `${rangeLabel(r)} lies in a reserved block of domain '${String(pl.domain)}'`
            : `${rangeLabel(r)} is not inside the blocks of domain '${String(pl.domain)}'; add a block that holds it`,
        )
      }
      groupPush(poolSets, k, {
        range: r,
        ref,
        path: `${path}/space/${j}`,
        label: `${rangeLabel(r)} of pool '${String(pl.name)}'`,
        ...(nameOk ? { owner: pl.name as string } : {}),
      })
    })
    if (nameOk && !poolInfo.has(pl.name as string)) {
      poolInfo.set(pl.name as string, { domain: pl.domain as string, family, cover: new Cover(rs) })
    }
  })
  uniqueNames(p, 'pool', poolNames, new Set(existing.pools.map((x) => x.name)))
  for (const [k, items] of poolSets) {
    sweepOverlaps(items, p, 'domain')
    const idx = new PoolIndex()
    for (const it of items) if (it.owner !== undefined) idx.add(it.range, it.owner)
    poolIndex.set(k, idx)
  }

  // ---- devices
  const deviceNames = new Set(existing.devices)
  const devNamed: { name: string; ref: string; path: string }[] = []
  devices.forEach((d, i) => {
    const path = `/devices/${i}`
    const ref = refOf(d, path)
    if (!isObj(d)) {
      p.add(ref, path, 'CASM_ERR_VALIDATION', 'must be an object')
      return
    }
    if (checkNameField(p, ref, `${path}/name`, d.name))
      devNamed.push({ name: d.name, ref, path: `${path}/name` })
    checkString(p, ref, `${path}/description`, d.description)
    if (d.attributes !== undefined && !isObj(d.attributes)) {
      p.add(ref, `${path}/attributes`, 'CASM_ERR_VALIDATION', 'must be an object')
    }
    if (d.policy !== undefined) {
      if (!isObj(d.policy)) p.add(ref, `${path}/policy`, 'CASM_ERR_VALIDATION', 'must be an object')
      else attempt(p, ref, `${path}/policy`, () => checkDeviceOverrides(d.policy as Obj))
    }
  })
  uniqueNames(p, 'device', devNamed, new Set(existing.devices))
  for (const n of devNamed) deviceNames.add(n.name)

  // ---- units: reservations, grants, assignments — inside their pool, no overlap in a domain
  const unitSets = new Map<string, Placed[]>()
  const placeUnit = (
    ref: string,
    path: string,
    poolName: string,
    r: AddressRange,
    label: string,
  ): void => {
    const info = poolInfo.get(poolName)
    if (info === undefined) return
    if (r.family !== info.family || !info.cover.holds(r)) {
      p.add(ref, path, 'CASM_ERR_OUT_OF_POOL', `${rangeLabel(r)} is not inside pool '${poolName}'`)
      return
    }
    groupPush(unitSets, key(info.domain, r.family), { range: r, ref, path, label })
  }
  const knownPool = (ref: string, path: string, v: unknown): v is string => {
    if (typeof v !== 'string') {
      p.add(ref, path, 'CASM_ERR_VALIDATION', 'is required: the name of a pool')
      return false
    }
    if (!poolInfo.has(v)) {
      p.add(
        ref,
        path,
        'CASM_ERR_NOT_FOUND',
        `pool '${v}' is neither in the document nor in the tenant`,
      )
      return false
    }
    return true
  }

  reservations.forEach((rv, i) => {
    const path = `/reservations/${i}`
    const ref = refOf(rv, path)
    if (!isObj(rv)) {
      p.add(ref, path, 'CASM_ERR_VALIDATION', 'must be an object')
      return
    }
    if (rv.kind !== undefined && rv.kind !== 'reserved' && rv.kind !== 'excluded') {
      p.add(ref, `${path}/kind`, 'CASM_ERR_VALIDATION', 'kind must be reserved or excluded')
    }
    checkString(p, ref, `${path}/description`, rv.description)
    checkString(p, ref, `${path}/hostname`, rv.hostname, { max: 253 })
    const targets = (['prefix', 'range', 'address', 'pattern'] as const).filter(
      (t) => rv[t] !== undefined,
    )
    if (targets.length !== 1) {
      p.add(
        ref,
        path,
        'CASM_ERR_VALIDATION',
        'give exactly one of prefix, range, address or pattern',
      )
      return
    }
    const t = targets[0] as 'prefix' | 'range' | 'address' | 'pattern'
    if (t === 'pattern') {
      const pt = rv.pattern
      if (!isObj(pt) || !Number.isInteger(pt.every) || !Array.isArray(pt.offsets)) {
        p.add(ref, `${path}/pattern`, 'CASM_ERR_VALIDATION', 'a pattern needs every and offsets')
      }
      if (rv.pool === undefined)
        p.add(ref, `${path}/pool`, 'CASM_ERR_VALIDATION', 'a pattern needs the pool')
      else knownPool(ref, `${path}/pool`, rv.pool)
      return
    }
    const r = parseRange(p, ref, `${path}/${t}`, rv[t])
    if (r === undefined) return
    if (t === 'prefix' && r.toPrefix() === undefined) {
      p.add(
        ref,
        `${path}/prefix`,
        'CASM_ERR_VALIDATION',
        `${String(rv.prefix)} is not a prefix; use range`,
      )
    }
    if (t === 'address' && r.first !== r.last) {
      p.add(
        ref,
        `${path}/address`,
        'CASM_ERR_VALIDATION',
        `${String(rv.address)} is not one address`,
      )
    }
    let poolName: string | undefined
    if (rv.pool !== undefined) {
      if (knownPool(ref, `${path}/pool`, rv.pool)) poolName = rv.pool
      if (
        rv.domain !== undefined &&
        poolName !== undefined &&
        poolInfo.get(poolName)?.domain !== rv.domain
      ) {
        p.add(
          ref,
          `${path}/domain`,
          'CASM_ERR_VALIDATION',
          `pool '${poolName}' is not in domain ${JSON.stringify(rv.domain)}`,
        )
      }
    } else if (knownDomain(ref, `${path}/domain`, rv.domain)) {
      poolName = poolIndex.get(key(rv.domain, r.family))?.find(r)
      if (poolName === undefined) {
        p.add(
          ref,
          `${path}/${t}`,
          'CASM_ERR_OUT_OF_POOL',
          `${rangeLabel(r)} is not inside a pool of domain '${rv.domain}'`,
        )
        return
      }
      reservationPools.set(i, poolName)
    }
    if (poolName !== undefined)
      placeUnit(ref, `${path}/${t}`, poolName, r, `reservation ${rangeLabel(r)}`)
  })

  const checkUnit = (u: unknown, path: string, kind: 'grant' | 'assignment'): void => {
    const ref = refOf(u, path)
    if (!isObj(u)) {
      p.add(ref, path, 'CASM_ERR_VALIDATION', 'must be an object')
      return
    }
    if (u.state !== undefined && !(IMPORT_UNIT_STATES as readonly unknown[]).includes(u.state)) {
      p.add(
        ref,
        `${path}/state`,
        'CASM_ERR_VALIDATION',
        `state must be one of ${IMPORT_UNIT_STATES.join(', ')}`,
      )
    }
    if (u.state !== undefined && !(GRANT_STATES as readonly unknown[]).includes(u.state)) return
    checkTime(p, ref, `${path}/quarantineUntil`, u.quarantineUntil)
    if (u.state === 'quarantined' && typeof u.quarantineUntil !== 'string') {
      p.add(
        ref,
        `${path}/quarantineUntil`,
        'CASM_ERR_VALIDATION',
        'a quarantined unit needs quarantineUntil',
      )
    }
    if (kind === 'grant') {
      checkTime(p, ref, `${path}/expiresAt`, u.expiresAt)
      if (typeof u.device !== 'string')
        p.add(ref, `${path}/device`, 'CASM_ERR_VALIDATION', 'is required: the name of a device')
      else if (!deviceNames.has(u.device)) {
        p.add(
          ref,
          `${path}/device`,
          'CASM_ERR_NOT_FOUND',
          `device '${u.device}' is neither in the document nor in the tenant`,
        )
      }
    } else {
      checkString(p, ref, `${path}/hostname`, u.hostname, { max: 253 })
      checkString(p, ref, `${path}/description`, u.description)
      if (u.requestor !== undefined && !isObj(u.requestor)) {
        p.add(ref, `${path}/requestor`, 'CASM_ERR_VALIDATION', 'must be an object')
      }
    }
    const r = parseRange(p, ref, `${path}/prefix`, u.prefix)
    if (r !== undefined && r.toPrefix() === undefined) {
      p.add(ref, `${path}/prefix`, 'CASM_ERR_VALIDATION', `${String(u.prefix)} is not a prefix`)
      return
    }
    if (knownPool(ref, `${path}/pool`, u.pool) && r !== undefined) {
      placeUnit(ref, `${path}/prefix`, u.pool, r, `${kind} ${rangeLabel(r)}`)
    }
  }
  grants.forEach((g, i) => {
    checkUnit(g, `/grants/${i}`, 'grant')
  })
  assignments.forEach((a, i) => {
    checkUnit(a, `/assignments/${i}`, 'assignment')
  })
  for (const items of unitSets.values()) sweepOverlaps(items, p, 'domain')

  return p.list.length > 0
    ? { problems: p.list, reservationPools }
    : { problems: p.list, document: input as unknown as ImportDocument, reservationPools }
}

/**
 * Throws the problems as one `CASM_ERR_VALIDATION` error (the API answers 400 with
 * `details.problems`).
 */
export function problemsError(problems: readonly ImportProblem[]): CasmError {
  const first = problems[0]
  return new CasmError(
    'CASM_ERR_VALIDATION',
    `the import has ${problems.length} problem${problems.length === 1 ? '' : 's'}${first === undefined ? '' : `; first: ${first.ref} ${first.message}`}; nothing was stored`,
    { problems },
  )
}
