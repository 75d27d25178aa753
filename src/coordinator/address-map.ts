/**
 * The address map of a block: a prefix of the block cut into a grid of 2^k × 2^k cells laid along
 * a Hilbert curve, each cell an aligned range of 2^cellBits addresses, with the state of what
 * holds it, how much of it is held, and by which device. The web console draws it on a canvas.
 *
 * Cells are computed from the live units overlapping the prefix, walked in address order as
 * intervals (never address by address): a unit covers a run of consecutive cells, and consecutive
 * cells are consecutive points of the Hilbert curve, so the answer is a few runs per unit at most
 * and compresses well as run lengths.
 *
 * @module
 */

import { AddressRange, type Family, Prefix, bitLength, familyInfo } from '../ip/index.js'
import type { Block } from '../domain/model.js'
import { CasmError, isCasmError } from '../errors/casm-error.js'
import { type Caller, notFound, requireRole } from './caller.js'
import type { StoreReader, UnitSpan } from './store.js'

/**
 * What a cell shows, by code (the index in this list): outside the block, block space in no
 * pool, free pool space, an active grant, a draining grant, space in quarantine (grants and
 * assignments released or expired on their way back), reserved, excluded, an assignment, or
 * units of several of these kinds.
 */
export const MAP_STATES = [
  'outside',
  'unpooled',
  'free',
  'active',
  'draining',
  'quarantined',
  'reserved',
  'excluded',
  'assignment',
  'mixed',
] as const

/** The state of a cell of the address map. */
export type MapState = (typeof MAP_STATES)[number]

/** The largest order: a 1024 × 1024 grid, 1,048,576 cells. */
export const MAP_MAX_ORDER = 10

/** The order when the request names none: a 512 × 512 grid. */
export const MAP_DEFAULT_ORDER = 9

/** Device value of a cell that no device holds. */
export const MAP_NO_DEVICE = -1

/** Device value of a cell that units of several devices share. */
export const MAP_SEVERAL_DEVICES = -2

/** Units read from the store per query while walking the prefix. */
const SPAN_PAGE = 8192

const code = (s: MapState): number => MAP_STATES.indexOf(s)
const ACTIVE = code('active')
const DRAINING = code('draining')
const QUARANTINED = code('quarantined')
const MIXED = code('mixed')

/** Options of {@link getAddressMap}. */
export interface AddressMapOptions {
  /** The prefix to draw, inside the block's space (default: the smallest prefix holding it). */
  readonly prefix?: string
  /** Grid of 2^order × 2^order cells, 1..{@link MAP_MAX_ORDER} (default {@link MAP_DEFAULT_ORDER}). */
  readonly order?: number
}

/** Counts of what the drawn prefix holds (addresses as decimal strings). */
export interface AddressMapCounts {
  readonly grants: number
  readonly assignments: number
  readonly reservations: number
  readonly exclusions: number
  /** Addresses of the block inside the prefix. */
  readonly addresses: string
  /** Of those, addresses in pools. */
  readonly pooled: string
  /** Addresses held by grants, assignments and reservations. */
  readonly used: string
  readonly excluded: string
  /** `used / (pooled - excluded)`, 0..1. */
  readonly utilisation: number
}

/** The address map of a prefix of a block. */
export interface AddressMap {
  readonly block: { readonly id: string; readonly space: string }
  readonly domain: { readonly id: string; readonly name: string }
  readonly family: Family
  /** The smallest prefix holding the whole block: where zooming out stops. */
  readonly root: string
  /** The drawn prefix. */
  readonly prefix: string
  /** Its first address. */
  readonly first: bigint
  readonly length: number
  /** Address width of the family (32, 128, 48). */
  readonly width: number
  /** The grid's order k (after capping to the prefix's size). */
  readonly order: number
  /** Each cell holds 2^cellBits addresses (0: cells are single addresses). */
  readonly cellBits: number
  /** Cells along the curve: 4^order, or half of it when the prefix holds 2^(2·order − 1) addresses. */
  readonly cells: number
  /** Grid width in cells: 2^order, or half of it when only half the square is used. */
  readonly columns: number
  /** Grid height in cells: 2^order. */
  readonly rows: number
  /** Devices named by the device column, by index. */
  readonly devices: readonly { readonly id: string; readonly name: string }[]
  readonly counts: AddressMapCounts
  /** Per cell, in curve order: the index of its state in {@link MAP_STATES}. */
  readonly state: Uint8Array
  /** Per cell: how much of it is held, 0 (nothing) .. 255 (all). */
  readonly fill: Uint8Array
  /** Per cell: index into `devices`, {@link MAP_NO_DEVICE} or {@link MAP_SEVERAL_DEVICES}. */
  readonly device: Int32Array
}

/** The map state of a live unit. */
function stateOf(span: UnitSpan): number {
  switch (span.type) {
    case 'reservation':
      return code('reserved')
    case 'exclusion':
      return code('excluded')
    case 'assignment':
      return span.state === 'active' ? code('assignment') : QUARANTINED
    case 'grant':
      return span.state === 'active' ? ACTIVE : span.state === 'draining' ? DRAINING : QUARANTINED
  }
}

/** The smallest prefix holding `range`. */
export function enclosingPrefix(range: AddressRange): Prefix {
  const width = familyInfo(range.family).width
  return Prefix.of(range.family, range.first, width - bitLength(range.first ^ range.last), true)
}

/** The grid for a prefix of `bits` host bits at the asked order: order, cellBits, cells, columns. */
export function mapGrid(
  bits: number,
  order: number,
): { order: number; cellBits: number; cells: number; columns: number; rows: number } {
  const k = Math.max(0, Math.min(order, MAP_MAX_ORDER, Math.ceil(bits / 2)))
  const cellBits = Math.max(0, bits - 2 * k)
  const cells = 2 ** (bits - cellBits)
  const side = 2 ** k
  return { order: k, cellBits, cells, columns: cells === side * side ? side : side / 2, rows: side }
}

function validation(path: string, message: string, cause?: unknown): CasmError {
  return new CasmError(
    'CASM_ERR_VALIDATION',
    message,
    { errors: [{ path, message }] },
    cause === undefined ? undefined : { cause },
  )
}

/** The prefix to draw: `text` checked against the block, or the block's enclosing prefix. */
function viewPrefix(block: Block, root: Prefix, text: string | undefined): Prefix {
  if (text === undefined) return root
  let p: Prefix
  try {
    p = Prefix.parse(text.trim(), { family: block.family })
  } catch (e) {
    if (isCasmError(e)) throw validation('/prefix', `prefix: ${e.message}`, e)
    throw e
  }
  if (!root.contains(p))
    throw validation('/prefix', `prefix ${p.toString()} is not inside block ${block.space}`)
  return p
}

/**
 * The address map of `prefix` of block `blockId` (a viewer may ask).
 *
 * @throws CasmError `CASM_ERR_NOT_FOUND` for an unknown block, `CASM_ERR_VALIDATION` for a prefix
 *   that does not parse or lies outside the block.
 */
export async function getAddressMap(
  reader: StoreReader,
  c: Caller,
  blockId: string,
  options: AddressMapOptions = {},
): Promise<AddressMap> {
  requireRole(c, 'viewer')
  const block = await reader.getBlock(c.tenantId, blockId)
  if (block === undefined) throw notFound('block', blockId)
  const domain = await reader.getDomain(c.tenantId, block.domainId)
  const blockRange = AddressRange.parse(block.space, block.family)
  const root = enclosingPrefix(blockRange)
  const prefix = viewPrefix(block, root, options.prefix)
  const width = prefix.width
  const grid = mapGrid(width - prefix.length, options.order ?? MAP_DEFAULT_ORDER)
  const n = grid.cells
  const base = prefix.first
  const shift = BigInt(grid.cellBits)
  const cellSize = Number(1n << shift)
  const state = new Uint8Array(n)
  const cover = new Float64Array(n)
  const device = new Int32Array(n).fill(MAP_NO_DEVICE)

  // The block's part of the prefix; the rest stays `outside`.
  const lo = blockRange.first > base ? blockRange.first : base
  const hi = blockRange.last < prefix.last ? blockRange.last : prefix.last
  const cellOf = (a: bigint): number => Number((a - base) >> shift)
  const counts = {
    grants: 0,
    assignments: 0,
    reservations: 0,
    exclusions: 0,
    addresses: 0n,
    pooled: 0n,
    used: 0n,
    excluded: 0n,
  }
  const devices: { id: string; name: string }[] = []
  if (lo <= hi) {
    counts.addresses = hi - lo + 1n
    state.fill(code('unpooled'), cellOf(lo), cellOf(hi) + 1)
    for (const r of await reader.poolRangesOverlapping(block.domainId, block.family, lo, hi)) {
      const a = r.first > lo ? r.first : lo
      const b = r.last < hi ? r.last : hi
      counts.pooled += b - a + 1n
      state.fill(code('free'), cellOf(a), cellOf(b) + 1)
    }

    const deviceIndex = new Map<string, number>()
    /** Adds `part` (a fraction) of cell `i` held by a unit of state `kind` and device `dev`. */
    const add = (i: number, part: number, kind: number, dev: number): void => {
      if (cover[i] === 0) state[i] = kind
      else if (state[i] !== kind) state[i] = MIXED
      const had = device[i] as number
      if (had === MAP_NO_DEVICE) device[i] = dev
      else if (dev !== MAP_NO_DEVICE && dev !== had) device[i] = MAP_SEVERAL_DEVICES
      cover[i] = (cover[i] as number) + part
    }
    let cursor = lo
    for (;;) {
      const spans = await reader.liveSpansOverlapping(
        block.domainId,
        block.family,
        cursor,
        hi,
        SPAN_PAGE,
      )
      for (const s of spans) {
        const a = s.first > lo ? s.first : lo
        const b = s.last < hi ? s.last : hi
        const kind = stateOf(s)
        let dev = MAP_NO_DEVICE
        if (s.deviceId !== null) {
          dev = deviceIndex.get(s.deviceId) ?? -1
          if (dev < 0) {
            dev = devices.length
            deviceIndex.set(s.deviceId, dev)
            devices.push({ id: s.deviceId, name: s.deviceId })
          }
        }
        const size = b - a + 1n
        switch (s.type) {
          case 'grant':
            counts.grants++
            counts.used += size
            break
          case 'assignment':
            counts.assignments++
            counts.used += size
            break
          case 'reservation':
            counts.reservations++
            counts.used += size
            break
          case 'exclusion':
            counts.exclusions++
            counts.excluded += size
            break
        }
        const ca = cellOf(a)
        const cb = cellOf(b)
        if (ca === cb) {
          add(ca, Number(size) / cellSize, kind, dev)
          continue
        }
        const endOfFirst = base + (BigInt(ca + 1) << shift)
        add(ca, Number(endOfFirst - a) / cellSize, kind, dev)
        const startOfLast = base + (BigInt(cb) << shift)
        add(cb, Number(b - startOfLast + 1n) / cellSize, kind, dev)
        // Cells wholly inside one unit: no other unit reaches them (live units never overlap).
        if (cb > ca + 1) {
          state.fill(kind, ca + 1, cb)
          cover.fill(1, ca + 1, cb)
          device.fill(dev, ca + 1, cb)
        }
      }
      const tail = spans.at(-1)
      if (spans.length < SPAN_PAGE || tail === undefined || tail.last >= hi) break
      cursor = tail.last + 1n
    }
    await nameDevices(reader, c.tenantId, devices)
  }

  const fill = new Uint8Array(n)
  for (let i = 0; i < n; i++) {
    const f = cover[i] as number
    if (f > 0) fill[i] = f >= 1 ? 255 : Math.max(1, Math.round(f * 255))
  }
  const usable = counts.pooled - counts.excluded
  return {
    block: { id: block.id, space: block.space },
    domain: { id: block.domainId, name: domain?.name ?? block.domainId },
    family: block.family,
    root: root.toString(),
    prefix: prefix.toString(),
    first: base,
    length: prefix.length,
    width,
    ...grid,
    devices,
    counts: {
      grants: counts.grants,
      assignments: counts.assignments,
      reservations: counts.reservations,
      exclusions: counts.exclusions,
      addresses: counts.addresses.toString(),
      pooled: counts.pooled.toString(),
      used: counts.used.toString(),
      excluded: counts.excluded.toString(),
      utilisation: usable <= 0n ? 0 : Number((counts.used * 1_000_000n) / usable) / 1_000_000,
    },
    state,
    fill,
    device,
  }
}

/** Replaces device ids by names: one read per device when few, the tenant's list when many. */
async function nameDevices(
  reader: StoreReader,
  tenantId: string,
  devices: { id: string; name: string }[],
): Promise<void> {
  if (devices.length === 0) return
  const names = new Map<string, string>()
  if (devices.length <= 64) {
    for (const d of devices) {
      const found = await reader.getDevice(tenantId, d.id)
      if (found !== undefined) names.set(d.id, found.name)
    }
  } else {
    for (const d of await reader.listDevices(tenantId)) names.set(d.id, d.name)
  }
  for (const d of devices) d.name = names.get(d.id) ?? d.id
}

/**
 * Run-length encodes a column of cell values: pairs of unsigned LEB128 varints (run length,
 * value + `offset`), in curve order. `offset` makes negative values (devices) non-negative.
 */
export function encodeRuns(values: ArrayLike<number>, offset = 0): Uint8Array {
  let out = new Uint8Array(1024)
  let at = 0
  const put = (v: number): void => {
    if (at + 5 > out.length) {
      const grown = new Uint8Array(out.length * 2)
      grown.set(out)
      out = grown
    }
    let x = v
    while (x >= 0x80) {
      out[at++] = (x & 0x7f) | 0x80
      x >>>= 7
    }
    out[at++] = x
  }
  const n = values.length
  let i = 0
  while (i < n) {
    const v = values[i] as number
    let j = i + 1
    while (j < n && values[j] === v) j++
    put(j - i)
    put(v + offset)
    i = j
  }
  return out.subarray(0, at)
}

/** Decodes {@link encodeRuns} back into `cells` values. */
export function decodeRuns(bytes: Uint8Array, cells: number, offset = 0): Int32Array {
  const out = new Int32Array(cells)
  let at = 0
  let i = 0
  const get = (): number => {
    let x = 0
    let s = 0
    for (;;) {
      const b = bytes[at++]
      if (b === undefined) throw new RangeError('truncated run-length data')
      x += (b & 0x7f) * 2 ** s
      if (b < 0x80) return x
      s += 7
    }
  }
  while (i < cells && at < bytes.length) {
    const run = get()
    const v = get() - offset
    out.fill(v, i, i + run)
    i += run
  }
  return out
}
