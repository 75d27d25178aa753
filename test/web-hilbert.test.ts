/**
 * The Hilbert math of the console's address map (web/src/map/hilbert.ts), which the web build
 * cannot test itself: cells and indices are inverse, neighbours along the curve touch, and runs
 * split into aligned squares that cover exactly their cells.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  UPRIGHT,
  forEachSquare,
  hilbertCell,
  hilbertIndex,
  orientCell,
  orientSquare,
  subSquareOrientation,
} from '../web/src/map/hilbert.js'
import { type MapTile, tileOrientation, zoomInto } from '../web/src/map/map-tile.js'

describe('web map: Hilbert curve', () => {
  it('index and cell are inverse, and consecutive cells are neighbours', () => {
    for (const order of [0, 1, 2, 3, 5, 7]) {
      const n = 2 ** order
      const seen = new Set<number>()
      let prev = hilbertCell(order, 0)
      assert.deepEqual(prev, { x: 0, y: 0 }, 'starts in the corner')
      for (let d = 0; d < n * n; d++) {
        const c = hilbertCell(order, d)
        assert.equal(hilbertIndex(order, c.x, c.y), d)
        seen.add(c.y * n + c.x)
        if (d > 0) assert.equal(Math.abs(c.x - prev.x) + Math.abs(c.y - prev.y), 1, `step ${d}`)
        prev = c
      }
      assert.equal(seen.size, n * n, 'every cell once')
      if (order > 0) assert.deepEqual(prev, { x: n - 1, y: 0 }, 'ends in the other corner')
    }
  })

  it('the first half of the curve is the left half of the square', () => {
    const order = 4
    const n = 2 ** order
    for (let d = 0; d < (n * n) / 2; d++) assert.ok(hilbertCell(order, d).x < n / 2)
  })

  it('aligned runs of 4^j indices are aligned squares', () => {
    const order = 5
    for (const j of [1, 2, 3]) {
      const size = 4 ** j
      for (let start = 0; start < 4 ** order; start += size) {
        const cells = Array.from({ length: size }, (_, i) => hilbertCell(order, start + i))
        const xs = cells.map((c) => c.x)
        const ys = cells.map((c) => c.y)
        const side = 2 ** j
        assert.equal(Math.max(...xs) - Math.min(...xs), side - 1)
        assert.equal(Math.max(...ys) - Math.min(...ys), side - 1)
        assert.equal(Math.min(...xs) % side, 0)
        assert.equal(Math.min(...ys) % side, 0)
      }
    }
  })

  it('forEachSquare covers exactly the cells of a run, with few squares', () => {
    const order = 6
    const n = 2 ** order
    let seed = 7
    const random = (max: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648
      return seed % max
    }
    for (let t = 0; t < 200; t++) {
      const a = random(n * n)
      const b = a + 1 + random(n * n - a)
      const painted = new Set<number>()
      let squares = 0
      forEachSquare(order, a, b, (s) => {
        squares++
        for (let y = s.y; y < s.y + s.side; y++)
          for (let x = s.x; x < s.x + s.side; x++) {
            const key = y * n + x
            assert.ok(!painted.has(key), 'no cell twice')
            painted.add(key)
          }
      })
      assert.equal(painted.size, b - a)
      for (let d = a; d < b; d++) {
        const c = hilbertCell(order, d)
        assert.ok(painted.has(c.y * n + c.x), `cell ${d} painted`)
      }
      assert.ok(squares <= 6 * order + 2, `${squares} squares for a run`)
    }
    forEachSquare(order, 5, 5, () => assert.fail('an empty run paints nothing'))
  })

  it('refuses indices and cells outside the grid', () => {
    assert.throws(() => hilbertCell(2, 16), RangeError)
    assert.throws(() => hilbertCell(2, -1), RangeError)
    assert.throws(() => hilbertIndex(2, 4, 0), RangeError)
    assert.throws(() => hilbertCell(16, 0), RangeError)
  })
})

describe('web map: orientation of sub-squares', () => {
  it('a sub-square drawn in its orientation looks as it does inside the whole curve', () => {
    const order = 5
    for (const depth of [1, 2, 3]) {
      const j = order - depth
      const side = 2 ** j
      for (let m = 0; m < 4 ** depth; m++) {
        const digits = Array.from({ length: depth }, (_, i) => (m >> (2 * (depth - 1 - i))) & 3)
        const o = subSquareOrientation(digits)
        const start = m * 4 ** j
        const corner = hilbertCell(order, start)
        const cx = corner.x - (corner.x % side)
        const cy = corner.y - (corner.y % side)
        for (let d = 0; d < 4 ** j; d++) {
          const inWhole = hilbertCell(order, start + d)
          const local = hilbertCell(j, d)
          assert.deepEqual(
            orientCell(o, side, local.x, local.y),
            { x: inWhole.x - cx, y: inWhole.y - cy },
            `digits ${digits.join('')} cell ${d}`,
          )
        }
        const sq = orientSquare(o, side, { x: 0, y: 0, side: side / 2 })
        const first = orientCell(o, side, 0, 0)
        assert.ok(first.x >= sq.x && first.x < sq.x + sq.side && first.y >= sq.y)
      }
    }
  })

  it('every orientation is its own inverse', () => {
    for (const swap of [false, true])
      for (const negate of [false, true]) {
        const o = { swap, negate }
        for (let x = 0; x < 8; x++)
          for (let y = 0; y < 8; y++) {
            const c = orientCell(o, 8, x, y)
            assert.deepEqual(orientCell(o, 8, c.x, c.y), { x, y })
          }
      }
    assert.deepEqual(subSquareOrientation([]), UPRIGHT)
  })
})

describe('web map: zooming keeps the picture', () => {
  /** A tile of `prefix` (IPv4) at order 9 below root 10.0.0.0/8, without cell data. */
  const tileOf = (prefix: string, first: bigint): MapTile => {
    const length = Number(prefix.split('/')[1])
    const bits = 32 - length
    const order = Math.min(9, Math.ceil(bits / 2))
    const cellBits = Math.max(0, bits - 2 * order)
    return {
      block: { id: 'blk', space: '10.0.0.0/8' },
      domain: { id: 'dom', name: 'd' },
      family: 'ipv4',
      root: '10.0.0.0/8',
      prefix,
      first,
      length,
      width: 32,
      order,
      cellBits,
      cells: 4 ** order,
      columns: 2 ** order,
      rows: 2 ** order,
      states: [],
      devices: [],
      counts: {
        grants: 0,
        assignments: 0,
        reservations: 0,
        exclusions: 0,
        addresses: '0',
        pooled: '0',
        used: '0',
        excluded: '0',
        utilisation: 0,
      },
      encoding: 'rle-leb128-base64',
      deviceOffset: 2,
      state: new Uint8Array(0),
      fill: new Uint8Array(0),
      device: new Int32Array(0),
    }
  }
  const firstOf = (prefix: string): bigint =>
    (prefix.split('/')[0] ?? '').split('.').reduce((a, o) => a * 256n + BigInt(o), 0n)
  const place = (tile: MapTile, address: bigint) => {
    const d = Number((address - tile.first) >> BigInt(tile.cellBits))
    const c = hilbertCell(tile.order, d)
    return orientCell(tileOrientation(tile), tile.rows, c.x, c.y)
  }

  it('an address sits at the same place of the zoomed square as in its parent', () => {
    const root = tileOf('10.0.0.0/8', 10n << 24n)
    for (const cell of [0, 1, 7, 1000, 65_535, 100_000, 200_001, 262_143]) {
      const zoomed = zoomInto(root, cell)
      const child = tileOf(zoomed, firstOf(zoomed))
      const deeper = zoomInto(child, 4321)
      const g = tileOf(deeper, firstOf(deeper))
      for (const offset of [0n, 5n, 4096n, 77_777n, 300_000n, 1_048_575n]) {
        const a = child.first + offset
        const inRoot = place(root, a)
        const inChild = place(child, a)
        // The child is a quarter of the root's side: 128 of its cells, drawn on 512.
        const corner = place(root, child.first)
        const cx = corner.x - (corner.x % 128)
        const cy = corner.y - (corner.y % 128)
        assert.deepEqual(
          { x: cx + Math.floor(inChild.x / 4), y: cy + Math.floor(inChild.y / 4) },
          inRoot,
          `${zoomed} ${offset}`,
        )
        if (offset < 65_536n) {
          const b = g.first + offset
          const inG = place(g, b)
          const inC = place(child, b)
          const gc = place(child, g.first)
          assert.deepEqual(
            {
              // The /16 is drawn 256 cells high (single addresses) on 128 of the child's.
              x: gc.x - (gc.x % 128) + Math.floor(inG.x / 2),
              y: gc.y - (gc.y % 128) + Math.floor(inG.y / 2),
            },
            inC,
          )
        }
      }
    }
  })
})
