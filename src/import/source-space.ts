/**
 * The shared half of the foreign importers (NetBox, phpIPAM): their rows, once parsed, as a
 * neutral "source space" — aggregates, prefixes with a status, ranges, addresses, each tagged with
 * its VRF (or section) and its `ref` — and {@link mapSourceSpace}, which turns that into casm's
 * import document.
 *
 * The mapping is one sort and one stack pass per domain (O(n log n)); lookups of ranges and
 * addresses are binary searches over sorted, non-overlapping pools.
 *
 * ```
 *   aggregate 10.0.0.0/8 ──────────────────────────────── block (root of the domain's tree)
 *     container 10.1.0.0/16 ─────────────────────────── structure only (skipped)
 *       active 10.1.1.0/24 (no active child) ──────── pool
 *         reserved 10.1.1.0/28 ──────────────────── reservation of the pool
 *         range 10.1.1.100-10.1.1.199 ───────────── reservation (range) of the pool
 *         address 10.1.1.5 dns_name ─────────────── reservation (address, hostname) of the pool
 * ```
 *
 * @module
 */

import type {
  ImportBlock,
  ImportDocument,
  ImportDomain,
  ImportParseResult,
  ImportPool,
  ImportProblem,
  ImportReservation,
} from '../domain/import-document.js'
import type { BlockSource } from '../domain/model.js'
import type { PoolKind, UnitLengths } from '../domain/pool-policy.js'
import type { CasmErrorCode } from '../errors/casm-error.js'
import type { Address, AddressRange, Family, Prefix } from '../ip/index.js'

/** The status of a prefix, range or address, as the importers normalise it. */
export type SourceStatus = 'container' | 'active' | 'reserved' | 'deprecated' | 'dynamic'

/** An aggregate: space the operator holds, in no VRF (NetBox aggregates). */
export interface SourceAggregate {
  readonly ref: string
  readonly prefix: Prefix
  readonly rir?: string
  readonly description: string
  readonly tags: readonly string[]
}

/** A prefix (NetBox) or subnet (phpIPAM) of a VRF or section. */
export interface SourcePrefix {
  readonly ref: string
  /** The VRF or section as written in the source; '' for the global table. */
  readonly domain: string
  readonly prefix: Prefix
  readonly status: Exclude<SourceStatus, 'dynamic'>
  /** Marked as a pool in the source (NetBox `is_pool`): becomes a pool even when it has children. */
  readonly isPool: boolean
  /** The pool kind if this prefix becomes a pool. */
  readonly kind: PoolKind
  readonly description: string
  readonly tags: readonly string[]
}

/** An IP range (NetBox ip ranges). */
export interface SourceRange {
  readonly ref: string
  readonly domain: string
  readonly range: AddressRange
  readonly status: SourceStatus
  readonly description: string
}

/** One address (NetBox ip addresses). */
export interface SourceAddress {
  readonly ref: string
  readonly domain: string
  readonly address: Address
  readonly status: SourceStatus
  readonly hostname: string
  readonly description: string
}

/** A VRF or section with what the source says about it. */
export interface SourceDomain {
  /** As written in the source ('' for the global table). */
  readonly name: string
  readonly description: string
  readonly ref: string
}

/** Everything an importer read, before mapping. */
export interface SourceSpace {
  readonly domains: readonly SourceDomain[]
  readonly aggregates: readonly SourceAggregate[]
  readonly prefixes: readonly SourcePrefix[]
  readonly ranges: readonly SourceRange[]
  readonly addresses: readonly SourceAddress[]
}

/** Something an importer skipped or changed on purpose; not an error. */
export interface ImportNote {
  readonly ref: string
  readonly message: string
}

/** An importer's result: the document, the problems (bad rows), and notes on what was skipped. */
export interface SourceImportResult extends ImportParseResult {
  readonly problems: ImportProblem[]
  readonly notes: readonly ImportNote[]
}

/** The domain the global table (no VRF, no section) maps to. */
export const GLOBAL_DOMAIN = 'global'

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/
const ID_SHAPE = /^[a-z]{2,5}_[0-9a-z]{16,}$/

/** Unit lengths a pool of each kind starts from, clamped to the pool's own length. */
const UNIT_START: Readonly<Record<'ipv4' | 'ipv6', { min: number; default: number; max: number }>> =
  {
    ipv4: { min: 20, default: 27, max: 32 },
    ipv6: { min: 40, default: 56, max: 64 },
  }

/** A node of one domain's prefix tree. */
interface Node {
  readonly prefix: Prefix
  readonly first: bigint
  readonly last: bigint
  /** IPv4 only: first address × 64 + length, a number, for a fast sort; -1 otherwise. */
  readonly key: number
  readonly aggregate?: SourceAggregate
  readonly source?: SourcePrefix
  parent: number
  /** Has a child that is active, a container or a pool (so this one is not a leaf pool). */
  structuralChild: boolean
  block: number
  pool: string | undefined
  inPool: string | undefined
  reservation: string | undefined
  inReservation: string | undefined
}

/** A sorted list of non-overlapping intervals with a payload, found by binary search. */
class IntervalIndex<T> {
  private items: { first: bigint; last: bigint; value: T }[] = []
  private sorted = true

  add(first: bigint, last: bigint, value: T): void {
    const prev = this.items[this.items.length - 1]
    if (prev !== undefined && prev.first > first) this.sorted = false
    this.items.push({ first, last, value })
  }

  private ensureSorted(): void {
    if (this.sorted) return
    this.items.sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0))
    this.sorted = true
  }

  /** The item holding all of `first..last`, if one does. */
  holding(first: bigint, last: bigint): T | undefined {
    const i = this.predecessor(first)
    const it = i < 0 ? undefined : this.items[i]
    return it !== undefined && it.last >= last ? it.value : undefined
  }

  /** Some item sharing an address with `first..last`, if one does. */
  overlapping(first: bigint, last: bigint): T | undefined {
    const i = this.predecessor(first)
    const before = i < 0 ? undefined : this.items[i]
    if (before !== undefined && before.last >= first) return before.value
    const after = this.items[i + 1]
    return after !== undefined && after.first <= last ? after.value : undefined
  }

  /** Index of the last item starting at or before `first`, or -1. */
  private predecessor(first: bigint): number {
    this.ensureSorted()
    let lo = 0
    let hi = this.items.length - 1
    let found = -1
    while (lo <= hi) {
      const mid = (lo + hi) >> 1
      if ((this.items[mid] as { first: bigint }).first <= first) {
        found = mid
        lo = mid + 1
      } else hi = mid - 1
    }
    return found
  }
}

function slug(text: string): string {
  return text
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .replace(/-+$/, '')
}

/** A casm name (1-63 of [A-Za-z0-9._-], not id-shaped) for `raw`, unique among `taken`. */
function uniqueName(raw: string, taken: Set<string>, fallback: string): string {
  let base = slug(raw).slice(0, 63)
  if (base === '' || ID_SHAPE.test(base)) base = slug(`${fallback}-${raw}`).slice(0, 63)
  if (!NAME.test(base)) base = fallback
  let name = base
  for (let n = 2; taken.has(name); n++) {
    const suffix = `-${n}`
    name = `${base.slice(0, 63 - suffix.length)}${suffix}`
  }
  taken.add(name)
  return name
}

/** `red-10.1.1.0-24`, `global-2001_db8_100__-40`. */
function poolNameFor(domain: string, text: string, taken: Set<string>): string {
  const p = text.replace(/:/g, '_').replace('/', '-')
  const room = 63 - p.length - 1
  const d = room > 0 ? domain.slice(0, room) : ''
  // The domain is already a valid name and the prefix part is [0-9a-f._-]: no slug needed.
  const name = d === '' ? p : `${d}-${p}`
  if (!taken.has(name) && NAME.test(name)) {
    taken.add(name)
    return name
  }
  return uniqueName(name, taken, 'pool')
}

/** Unit lengths for a pool of `kind` on `prefix`, inside the family and not shorter than the pool. */
function unitFor(kind: PoolKind, prefix: Prefix): UnitLengths {
  if (prefix.family === 'mac') return { min: prefix.length, default: 48, max: 48 }
  const width = prefix.width
  if (kind === 'static') return { min: prefix.length, default: width, max: width }
  const start = UNIT_START[prefix.family]
  const min = Math.max(start.min, prefix.length)
  const def = Math.max(start.default, min)
  return { min, default: def, max: Math.max(start.max, def) }
}

function compareNodes(a: Node, b: Node): number {
  if (a.key >= 0 && b.key >= 0 && a.key !== b.key) return a.key - b.key
  if (a.prefix.family !== b.prefix.family) return a.prefix.family < b.prefix.family ? -1 : 1
  if (a.first !== b.first) return a.first < b.first ? -1 : 1
  if (a.prefix.length !== b.prefix.length) return a.prefix.length - b.prefix.length
  // The aggregate sorts before a prefix of the same space, so it becomes the block.
  return (a.aggregate === undefined ? 1 : 0) - (b.aggregate === undefined ? 1 : 0)
}

function isPoolCandidate(n: Node): boolean {
  const s = n.source
  if (s === undefined) return false
  return s.isPool || (s.status === 'active' && !n.structuralChild)
}

function joinText(...parts: (string | undefined)[]): string {
  return parts.filter((p) => p !== undefined && p !== '').join('; ')
}

/**
 * Maps a source space to casm's import document. `problems` (the rows the importer could not
 * read) is extended with the problems of the mapping itself: duplicates, overlapping aggregates,
 * ranges and addresses outside every block.
 *
 * Decisions (docs/import.md, "NetBox and phpIPAM"): the domain of a VRF or section is its name
 * made safe (`global` for none); the root of each domain's prefix tree is a block (aggregates
 * first); pools are the outermost `is_pool` prefixes and active prefixes without active or
 * container children; reserved or deprecated prefixes inside a pool, ranges and addresses are
 * reservations of their pool.
 */
export function mapSourceSpace(space: SourceSpace, problems: ImportProblem[]): SourceImportResult {
  const notes: ImportNote[] = []
  const problem = (ref: string, path: string, code: CasmErrorCode, message: string): void => {
    problems.push({ ref, path, code, message })
  }

  // ---- domains: one per VRF/section name met, in order of first appearance
  const domainNames = new Set<string>()
  const domainOf = new Map<string, string>()
  const domains: ImportDomain[] = []
  const domainDescriptions = new Map<string, SourceDomain>()
  for (const d of space.domains)
    if (!domainDescriptions.has(d.name)) domainDescriptions.set(d.name, d)
  const useDomain = (raw: string, ref: string): string => {
    const known = domainOf.get(raw)
    if (known !== undefined) return known
    const name =
      raw === ''
        ? uniqueName(GLOBAL_DOMAIN, domainNames, 'vrf')
        : uniqueName(raw, domainNames, 'vrf')
    domainOf.set(raw, name)
    const info = domainDescriptions.get(raw)
    const description =
      info?.description !== undefined && info.description !== ''
        ? info.description
        : raw === ''
          ? 'global routing table'
          : name === raw
            ? ''
            : `imported as '${raw}'`
    domains.push({
      name,
      ...(description === '' ? {} : { description }),
      ref: info?.ref ?? ref,
    })
    return name
  }
  for (const d of space.domains) useDomain(d.name, d.ref)

  // ---- aggregates: sorted per family, must not overlap; which domains use each
  const aggs = [...space.aggregates].sort((a, b) => a.prefix.compare(b.prefix))
  const aggIndex = new Map<Family, IntervalIndex<number>>()
  const aggOk: SourceAggregate[] = []
  {
    let prev: SourceAggregate | undefined
    for (const a of aggs) {
      if (prev?.prefix.overlaps(a.prefix) === true) {
        problem(
          a.ref,
          '/prefix',
          'CASM_ERR_OVERLAP',
          `aggregate ${a.prefix.toString()} overlaps aggregate ${prev.prefix.toString()} (${prev.ref}); remove or merge one`,
        )
        continue
      }
      let idx = aggIndex.get(a.prefix.family)
      if (idx === undefined) aggIndex.set(a.prefix.family, (idx = new IntervalIndex()))
      idx.add(a.prefix.first, a.prefix.last, aggOk.length)
      aggOk.push(a)
      prev = a
    }
  }
  const aggDomains: Set<string>[] = aggOk.map(() => new Set())

  // ---- prefixes per domain
  const byDomain = new Map<string, Node[]>()
  const nodeOf = (prefix: Prefix): Node => ({
    prefix,
    first: prefix.first,
    last: prefix.last,
    key: prefix.family === 'ipv4' ? Number(prefix.first) * 64 + prefix.length : -1,
    parent: -1,
    structuralChild: false,
    block: -1,
    pool: undefined,
    inPool: undefined,
    reservation: undefined,
    inReservation: undefined,
  })
  for (const s of space.prefixes) {
    const domain = useDomain(s.domain, s.ref)
    let list = byDomain.get(domain)
    if (list === undefined) byDomain.set(domain, (list = []))
    list.push({ ...nodeOf(s.prefix), source: s })
    const idx = aggIndex.get(s.prefix.family)
    const a = idx?.overlapping(s.prefix.first, s.prefix.last)
    if (a !== undefined) {
      aggDomains[a]?.add(domain)
      // A prefix larger than an aggregate may cover several: mark them all.
      if (!(aggOk[a] as SourceAggregate).prefix.contains(s.prefix)) {
        for (let j = a + 1; j < aggOk.length; j++) {
          const next = aggOk[j] as SourceAggregate
          if (next.prefix.family !== s.prefix.family || !s.prefix.contains(next.prefix)) break
          aggDomains[j]?.add(domain)
        }
      }
    }
  }
  aggOk.forEach((a, i) => {
    const ds = aggDomains[i] as Set<string>
    if (ds.size === 0) ds.add(useDomain('', a.ref))
    for (const d of ds) {
      let list = byDomain.get(d)
      if (list === undefined) byDomain.set(d, (list = []))
      list.push({ ...nodeOf(a.prefix), aggregate: a })
    }
  })

  const blocks: ImportBlock[] = []
  const pools: ImportPool[] = []
  const reservations: ImportReservation[] = []
  const poolNames = new Set<string>()
  const blockHasPool: boolean[] = []
  const blockWantsReserved: (string | undefined)[] = []
  const poolIndex = new Map<string, IntervalIndex<string>>()
  const blockIndex = new Map<string, IntervalIndex<number>>()
  const reservedIndex = new Map<string, IntervalIndex<string>>()
  const indexOf = <T>(m: Map<string, IntervalIndex<T>>, k: string): IntervalIndex<T> => {
    let idx = m.get(k)
    if (idx === undefined) m.set(k, (idx = new IntervalIndex<T>()))
    return idx
  }

  for (const domain of domains.map((d) => d.name)) {
    const nodes = byDomain.get(domain)
    if (nodes === undefined) continue
    nodes.sort(compareNodes)

    // One stack pass: the parent of each node is the nearest earlier node that contains it.
    const kept: Node[] = []
    const stack: number[] = []
    for (const n of nodes) {
      let top = stack[stack.length - 1]
      // Sorted by first address (then shorter first), so the top contains n when it reaches n's end.
      while (
        top !== undefined &&
        ((kept[top] as Node).last < n.last || (kept[top] as Node).prefix.family !== n.prefix.family)
      ) {
        stack.pop()
        top = stack[stack.length - 1]
      }
      const parent = top === undefined ? undefined : (kept[top] as Node)
      if (
        parent !== undefined &&
        parent.source !== undefined &&
        n.source !== undefined &&
        parent.prefix.equals(n.prefix)
      ) {
        problem(
          n.source.ref,
          '/prefix',
          'CASM_ERR_ALREADY_EXISTS',
          `${n.prefix.toString()} appears twice in ${domain} (also ${parent.source.ref}); remove one of them`,
        )
        continue
      }
      n.parent = top ?? -1
      if (parent !== undefined && n.source !== undefined) {
        const s = n.source
        if (s.isPool || s.status === 'active' || s.status === 'container')
          parent.structuralChild = true
      }
      stack.push(kept.length)
      kept.push(n)
    }

    // In sorted order every parent comes before its children.
    for (const n of kept) {
      const key = `${domain}\u0000${n.prefix.family}`
      const text = n.prefix.toString()
      const s = n.source
      const ref = s?.ref ?? n.aggregate?.ref ?? ''
      if (n.parent < 0) {
        n.block = blocks.length
        blockHasPool.push(false)
        blockWantsReserved.push(undefined)
        indexOf(blockIndex, key).add(n.first, n.last, n.block)
        if (n.aggregate !== undefined) {
          const a = n.aggregate
          const source: BlockSource = {
            ...(a.rir === undefined || a.rir === '' ? {} : { rir: a.rir }),
            ...(a.description === '' ? {} : { notes: a.description }),
          }
          blocks.push({
            domain,
            space: text,
            ...(Object.keys(source).length === 0 ? {} : { source }),
            ...(a.description === '' ? {} : { description: a.description }),
            ...(a.tags.length === 0 ? {} : { tags: a.tags }),
            ref,
          })
        } else if (s !== undefined) {
          blocks.push({
            domain,
            space: text,
            ...(s.description === '' ? {} : { description: s.description }),
            ...(s.tags.length === 0 ? {} : { tags: s.tags }),
            ref,
          })
          if (s.status === 'reserved' || s.status === 'deprecated')
            blockWantsReserved[n.block] = ref
        }
      } else {
        const parent = kept[n.parent] as Node
        n.block = parent.block
        n.inPool = parent.pool ?? parent.inPool
        n.inReservation = parent.reservation ?? parent.inReservation
        if (n.aggregate !== undefined) {
          notes.push({
            ref,
            message: `aggregate ${text} lies inside prefix ${kept[n.parent]?.prefix.toString() ?? ''} of ${domain}, which became the block; the aggregate's RIR and notes are not kept there`,
          })
          continue
        }
      }
      if (s === undefined) continue
      const reservedLike = s.status === 'reserved' || s.status === 'deprecated'
      if (n.inPool !== undefined) {
        if (n.inReservation !== undefined) {
          notes.push({
            ref,
            message: `${text} lies inside reserved ${n.inReservation}; already kept back`,
          })
        } else if (reservedLike) {
          n.reservation = text
          reservations.push({
            pool: n.inPool,
            prefix: text,
            description: joinText(s.status === 'deprecated' ? 'deprecated' : '', s.description),
            ref,
          })
          indexOf(reservedIndex, key).add(n.first, n.last, `reserved ${text} (${ref})`)
        } else {
          notes.push({
            ref,
            message: `${text} lies inside pool '${n.inPool}'; casm pools do not nest, so its space stays in that pool`,
          })
        }
        continue
      }
      if (isPoolCandidate(n)) {
        const name = poolNameFor(domain, text, poolNames)
        n.pool = name
        blockHasPool[n.block] = true
        indexOf(poolIndex, key).add(n.first, n.last, name)
        pools.push({
          name,
          domain,
          kind: s.kind,
          family: n.prefix.family,
          space: [text],
          policy: { unit: unitFor(s.kind, n.prefix) },
          ...(s.description === '' ? {} : { description: s.description }),
          ...(s.tags.length === 0 ? {} : { tags: s.tags }),
          ref,
        })
      } else if (reservedLike && n.parent >= 0) {
        notes.push({
          ref,
          message: `${s.status} ${text} is outside every pool: it stays unpooled space of block ${blocks[n.block]?.space ?? ''}, which casm never hands out`,
        })
      }
    }
  }

  // Reserved roots become reserved blocks unless pools were made inside them.
  blocks.forEach((b, i) => {
    const wanted = blockWantsReserved[i]
    if (wanted === undefined) return
    if (blockHasPool[i] === true) {
      notes.push({
        ref: wanted,
        message: `${b.space} is marked reserved but holds pools; imported as a usable block`,
      })
    } else blocks[i] = { ...b, reserved: true }
  })

  // ---- ranges: reservations of the pool holding them
  const where = (domain: string, family: Family, first: bigint, last: bigint) => {
    const key = `${domain}\u0000${family}`
    return {
      key,
      pool: poolIndex.get(key)?.holding(first, last),
      block: blockIndex.get(key)?.holding(first, last),
    }
  }
  const rangeItems = [...space.ranges].sort((a, b) =>
    a.range.first < b.range.first ? -1 : a.range.first > b.range.first ? 1 : 0,
  )
  const newRanges: { key: string; first: bigint; last: bigint; label: string }[] = []
  for (const r of rangeItems) {
    const domain = useDomain(r.domain, r.ref)
    const text = r.range.toString()
    const w = where(domain, r.range.family, r.range.first, r.range.last)
    if (w.pool === undefined) {
      outside(r.ref, '/start_address', domain, `range ${text}`, w.block, blocks, problem, notes)
      continue
    }
    const clash = reservedIndex.get(w.key)?.overlapping(r.range.first, r.range.last)
    if (clash !== undefined) {
      problem(
        r.ref,
        '/start_address',
        'CASM_ERR_OVERLAP',
        `range ${text} overlaps ${clash}; shorten the range or drop one`,
      )
      continue
    }
    const prev = newRanges[newRanges.length - 1]
    if (prev !== undefined && prev.key === w.key && prev.last >= r.range.first) {
      problem(
        r.ref,
        '/start_address',
        'CASM_ERR_OVERLAP',
        `range ${text} overlaps ${prev.label}; shorten one of them`,
      )
      continue
    }
    newRanges.push({
      key: w.key,
      first: r.range.first,
      last: r.range.last,
      label: `range ${text} (${r.ref})`,
    })
    reservations.push({
      pool: w.pool,
      range: text,
      description: joinText(r.status === 'active' ? '' : r.status, r.description),
      ref: r.ref,
    })
  }
  for (const nr of newRanges) indexOf(reservedIndex, nr.key).add(nr.first, nr.last, nr.label)

  // ---- addresses: reservations of one address, with the hostname
  const seen = new Map<string, string>()
  for (const a of space.addresses) {
    const domain = useDomain(a.domain, a.ref)
    const text = a.address.toString()
    if (a.status === 'dynamic') {
      notes.push({ ref: a.ref, message: `${text} is a dynamic (DHCP/SLAAC) address; skipped` })
      continue
    }
    const dupKey = `${domain}\u0000${a.address.family}\u0000${text}`
    const first = seen.get(dupKey)
    if (first !== undefined) {
      problem(
        a.ref,
        '/address',
        'CASM_ERR_ALREADY_EXISTS',
        `${text} appears twice in ${domain} (also ${first}); remove one of them`,
      )
      continue
    }
    seen.set(dupKey, a.ref)
    const w = where(domain, a.address.family, a.address.value, a.address.value)
    if (w.pool === undefined) {
      outside(a.ref, '/address', domain, `address ${text}`, w.block, blocks, problem, notes)
      continue
    }
    const covered = reservedIndex.get(w.key)?.holding(a.address.value, a.address.value)
    if (covered !== undefined) {
      notes.push({
        ref: a.ref,
        message: `${text}${a.hostname === '' ? '' : ` (${a.hostname})`} lies inside ${covered}; already kept back, so not reserved again`,
      })
      continue
    }
    reservations.push({
      pool: w.pool,
      address: text,
      ...(a.hostname === '' ? {} : { hostname: a.hostname }),
      description: joinText(a.status === 'active' ? '' : a.status, a.description),
      ref: a.ref,
    })
  }

  const document: ImportDocument = {
    version: 1,
    domains,
    blocks,
    pools,
    ...(reservations.length === 0 ? {} : { reservations: reservations.map(dropEmptyDescription) }),
  }
  return { document, problems, notes }
}

function dropEmptyDescription(r: ImportReservation): ImportReservation {
  if (r.description !== '') return r
  const { description: _omit, ...rest } = r
  return rest
}

function outside(
  ref: string,
  path: string,
  domain: string,
  what: string,
  block: number | undefined,
  blocks: readonly ImportBlock[],
  problem: (ref: string, path: string, code: CasmErrorCode, message: string) => void,
  notes: ImportNote[],
): void {
  if (block !== undefined) {
    notes.push({
      ref,
      message: `${what} lies in block ${blocks[block]?.space ?? ''} of ${domain} but in no pool; casm reserves only inside pools, so it is skipped`,
    })
  } else {
    problem(
      ref,
      path,
      'CASM_ERR_OUT_OF_POOL',
      `${what} is outside every prefix of ${domain}; add the prefix (or subnet) that holds it, or fix its VRF or section`,
    )
  }
}
