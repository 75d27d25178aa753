/**
 * The answer of `GET /api/v1/blocks/{id}/map` and its decoding: three run-length columns (state,
 * fill, device) into one array per cell, and the address arithmetic the map needs to name a cell
 * and to zoom (cell ↔ prefix text), on bigint.
 *
 * @module
 */

import type { paths } from '../../../src/client/openapi.js'
import { formatAddressValue } from '../../../src/ip/address.js'
import { type Orientation, UPRIGHT, subSquareOrientation } from './hilbert.js'

/** The map endpoint's answer, as the server's OpenAPI document types it. */
export type MapAnswer =
  paths['/api/v1/blocks/{id}/map']['get']['responses'][200]['content']['application/json']

/** A decoded map: the answer with one value per cell, in curve order. */
export interface MapTile extends Omit<MapAnswer, 'state' | 'fill' | 'device' | 'first'> {
  readonly first: bigint
  readonly state: Uint8Array
  readonly fill: Uint8Array
  /** Index into `devices`; −1 none, −2 several. */
  readonly device: Int32Array
}

/** Device value of a cell no device holds. */
export const NO_DEVICE = -1
/** Device value of a cell several devices share. */
export const SEVERAL_DEVICES = -2

/** The bytes of a base64 text. */
export function fromBase64(text: string): Uint8Array {
  const bin = atob(text)
  const out = new Uint8Array(bin.length)
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i)
  return out
}

/**
 * Decodes pairs of unsigned LEB128 varints (run length, value + offset) into `target`, which has
 * one slot per cell.
 */
export function decodeRunsInto(
  bytes: Uint8Array,
  target: Uint8Array | Int32Array,
  offset = 0,
): void {
  let at = 0
  let i = 0
  const next = (): number => {
    let x = 0
    let scale = 1
    for (;;) {
      const b = bytes[at++]
      if (b === undefined) throw new RangeError('the map data is cut short')
      x += (b & 0x7f) * scale
      if (b < 0x80) return x
      scale *= 128
    }
  }
  while (at < bytes.length && i < target.length) {
    const run = next()
    const value = next() - offset
    target.fill(value, i, Math.min(target.length, i + run))
    i += run
  }
  if (i !== target.length)
    throw new RangeError(`the map data holds ${i} cells, not ${target.length}`)
}

/** Decodes a map answer. */
export function decodeTile(answer: MapAnswer): MapTile {
  const state = new Uint8Array(answer.cells)
  const fill = new Uint8Array(answer.cells)
  const device = new Int32Array(answer.cells)
  decodeRunsInto(fromBase64(answer.state), state)
  decodeRunsInto(fromBase64(answer.fill), fill)
  decodeRunsInto(fromBase64(answer.device), device, answer.deviceOffset)
  return { ...answer, first: BigInt(answer.first), state, fill, device }
}

// ---- addresses -------------------------------------------------------------------------------

/** The prefix of `length` holding `value`, as text. */
export function prefixText(
  family: MapAnswer['family'],
  width: number,
  value: bigint,
  length: number,
): string {
  const host = (1n << BigInt(width - length)) - 1n
  return `${formatAddressValue(family, value & ~host)}/${length}`
}

/** The first address of cell `d` of a tile. */
export function cellFirst(tile: MapTile, d: number): bigint {
  return tile.first + (BigInt(d) << BigInt(tile.cellBits))
}

/** The prefix a cell is, as text. */
export function cellPrefix(tile: MapTile, d: number): string {
  return prefixText(tile.family, tile.width, cellFirst(tile, d), tile.width - tile.cellBits)
}

/** The length of a prefix text (`10.0.0.0/8` → 8). */
export function lengthOf(prefix: string): number {
  return Number(prefix.slice(prefix.lastIndexOf('/') + 1))
}

/** Prefix length gained by one zoom step: a quarter of the side, 1/16 of the area. */
export const ZOOM_BITS = 4

/** True when the tile's cells are single addresses: there is nothing finer to zoom into. */
export function isFinest(tile: MapTile): boolean {
  return tile.cellBits === 0
}

/** The prefix one zoom step into cell `d`. */
export function zoomInto(tile: MapTile, d: number): string {
  const length = Math.min(tile.width, tile.length + ZOOM_BITS)
  return prefixText(tile.family, tile.width, cellFirst(tile, d), length)
}

/**
 * The zoom levels from the root to the tile's prefix: the root, then every {@link ZOOM_BITS}
 * bits, then the prefix itself.
 */
export function zoomPath(tile: MapTile): string[] {
  const rootLength = lengthOf(tile.root)
  const out: string[] = []
  for (let l = rootLength; l < tile.length; l += ZOOM_BITS)
    out.push(prefixText(tile.family, tile.width, tile.first, l))
  out.push(tile.prefix)
  return out
}

/** The prefix one zoom step out, or null at the root. */
export function zoomOut(tile: MapTile): string | null {
  const path = zoomPath(tile)
  return path.length < 2 ? null : (path[path.length - 2] ?? null)
}

/** Addresses of a cell, in words: "16 addresses", "1 address", "2^96 addresses". */
export function cellSizeText(tile: MapTile): string {
  if (tile.cellBits === 0) return '1 address'
  if (tile.cellBits <= 40) return `${(2 ** tile.cellBits).toLocaleString('en')} addresses`
  return `2^${tile.cellBits} addresses`
}

/**
 * How to turn the tile so that its prefix looks as it does inside the block's whole map: the
 * prefix is an aligned square of the root's curve, turned by the quadrants on the way down. Only
 * square tiles whose prefix lies an even number of bits below an even-sized root turn.
 */
export function tileOrientation(tile: MapTile): Orientation {
  const rootLength = lengthOf(tile.root)
  const diff = tile.length - rootLength
  if (tile.columns !== tile.rows || diff <= 0 || diff % 2 !== 0) return UPRIGHT
  if ((tile.width - rootLength) % 2 !== 0) return UPRIGHT
  const rootFirst = tile.first & ~((1n << BigInt(tile.width - rootLength)) - 1n)
  const index = (tile.first - rootFirst) >> BigInt(tile.width - tile.length)
  const depth = diff / 2
  const digits: number[] = []
  for (let i = depth - 1; i >= 0; i--) digits.push(Number((index >> BigInt(2 * i)) & 3n))
  return subSquareOrientation(digits)
}
