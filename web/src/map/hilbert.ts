/**
 * The Hilbert curve of order n on a 2^n × 2^n grid: index d (0 .. 4^n − 1) to cell (x, y) and
 * back, and the split of an index range into the aligned squares it covers, so a run of cells is
 * painted as a few rectangles, never cell by cell.
 *
 * The curve starts at (0, 0) and ends at (2^n − 1, 0); its first half covers the left half of
 * the square (x < 2^(n−1)). Every aligned run of 4^j indices (starting at a multiple of 4^j)
 * fills an aligned 2^j × 2^j square: that is why a prefix is a square (or two) on the map.
 *
 * @module
 */

/** A cell of the grid: column x, row y (row 0 on top). */
export interface Cell {
  readonly x: number
  readonly y: number
}

function checkOrder(order: number): void {
  if (!Number.isInteger(order) || order < 0 || order > 15)
    throw new RangeError(`Hilbert order must be an integer 0..15, got ${order}`)
}

/** The cell at index `d` of the curve of order `order`. */
export function hilbertCell(order: number, d: number): Cell {
  checkOrder(order)
  const n = 2 ** order
  if (!Number.isInteger(d) || d < 0 || d >= n * n)
    throw new RangeError(`index ${d} is outside the curve of order ${order}`)
  let x = 0
  let y = 0
  let t = d
  for (let s = 1; s < n; s *= 2) {
    const rx = 1 & (t >> 1)
    const ry = 1 & (t ^ rx)
    if (ry === 0) {
      if (rx === 1) {
        x = s - 1 - x
        y = s - 1 - y
      }
      const swap = x
      x = y
      y = swap
    }
    x += s * rx
    y += s * ry
    t >>= 2
  }
  return { x, y }
}

/** The index of cell (x, y) on the curve of order `order`. */
export function hilbertIndex(order: number, x: number, y: number): number {
  checkOrder(order)
  const n = 2 ** order
  if (!Number.isInteger(x) || !Number.isInteger(y) || x < 0 || y < 0 || x >= n || y >= n)
    throw new RangeError(`cell (${x}, ${y}) is outside the grid of order ${order}`)
  let d = 0
  let px = x
  let py = y
  for (let s = n / 2; s >= 1; s /= 2) {
    const rx = (px & s) > 0 ? 1 : 0
    const ry = (py & s) > 0 ? 1 : 0
    d += s * s * ((3 * rx) ^ ry)
    // Rotate the quadrant back to the base orientation, within an n × n frame.
    if (ry === 0) {
      if (rx === 1) {
        px = n - 1 - px
        py = n - 1 - py
      }
      const swap = px
      px = py
      py = swap
    }
  }
  return d
}

/** An aligned square of the grid covered by consecutive indices. */
export interface Square {
  /** Left column. */
  readonly x: number
  /** Top row. */
  readonly y: number
  /** Side in cells (a power of two). */
  readonly side: number
}

/**
 * Calls `paint` for each aligned square that indices `start` .. `end` − 1 of the curve cover, in
 * curve order: at most 3 squares per size, so O(order) calls per run whatever its length.
 */
export function forEachSquare(
  order: number,
  start: number,
  end: number,
  paint: (square: Square) => void,
): void {
  let d = start
  while (d < end) {
    // The largest aligned block of 4^j indices starting at d that fits before end.
    let j = 0
    while (j < order && d % 4 ** (j + 1) === 0 && d + 4 ** (j + 1) <= end) j++
    const side = 2 ** j
    const c = hilbertCell(order, d)
    paint({ x: c.x - (c.x % side), y: c.y - (c.y % side), side })
    d += side * side
  }
}

/**
 * How a sub-square of the curve is turned relative to the curve of its own order: transposed
 * (`swap`) and/or turned half round (`negate`). These four symmetries are all the curve's
 * sub-squares take; each is its own inverse.
 */
export interface Orientation {
  readonly swap: boolean
  readonly negate: boolean
}

/** The curve as drawn on its own. */
export const UPRIGHT: Orientation = { swap: false, negate: false }

/**
 * The orientation of the sub-square reached by `digits` (base-4 digits of its index along the
 * curve, most significant first): drawing a zoomed prefix with it keeps the picture the way the
 * prefix looked inside its parent.
 */
export function subSquareOrientation(digits: readonly number[]): Orientation {
  let swap = false
  let negate = false
  for (const q of digits) {
    // Quadrant 0 is the curve transposed, quadrant 3 transposed and turned; 1 and 2 are upright.
    if (q === 0) swap = !swap
    else if (q === 3) {
      swap = !swap
      negate = !negate
    }
  }
  return { swap, negate }
}

/** Cell (x, y) of an upright n × n grid as seen in orientation `o` (and back: `o` is an involution). */
export function orientCell(o: Orientation, n: number, x: number, y: number): Cell {
  const a = o.swap ? y : x
  const b = o.swap ? x : y
  return o.negate ? { x: n - 1 - a, y: n - 1 - b } : { x: a, y: b }
}

/** An aligned square of an upright n × n grid as seen in orientation `o`. */
export function orientSquare(o: Orientation, n: number, s: Square): Square {
  const p = orientCell(o, n, s.x, s.y)
  const q = orientCell(o, n, s.x + s.side - 1, s.y + s.side - 1)
  return { x: Math.min(p.x, q.x), y: Math.min(p.y, q.y), side: s.side }
}
