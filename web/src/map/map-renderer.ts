/**
 * Draws a decoded address map on a canvas, without a framework: the cells are painted once into
 * an image of one pixel per cell (runs of equal cells as aligned squares of the Hilbert curve),
 * and that image is scaled onto the visible canvas at the device's pixel ratio, with the hovered
 * and the focused cell outlined on top.
 *
 * @module
 */

import {
  type Orientation,
  UPRIGHT,
  forEachSquare,
  hilbertCell,
  hilbertIndex,
  orientCell,
  orientSquare,
} from './hilbert'
import {
  type ColourMode,
  EMPTY_STATES,
  SEVERAL_CSS,
  STATE_STYLE,
  deviceCss,
  shade,
  solid,
} from './map-colours'
import { type MapTile, NO_DEVICE, SEVERAL_DEVICES } from './map-tile'

/** Paints address map tiles on one canvas. */
export class MapRenderer {
  readonly #canvas: HTMLCanvasElement
  readonly #image: HTMLCanvasElement
  #tile: MapTile | null = null
  #orientation: Orientation = UPRIGHT

  constructor(canvas: HTMLCanvasElement) {
    this.#canvas = canvas
    this.#image = document.createElement('canvas')
  }

  /** The tile drawn, if any. */
  get tile(): MapTile | null {
    return this.#tile
  }

  /**
   * Paints the cells of `tile`, coloured by `mode`, into the cell image, turned by `orientation`
   * (square tiles only).
   */
  setTile(tile: MapTile, mode: ColourMode, orientation: Orientation = UPRIGHT): void {
    this.#tile = tile
    this.#orientation = tile.columns === tile.rows ? orientation : UPRIGHT
    const o = this.#orientation
    const { columns, rows, order, cells, state, fill, device } = tile
    const pixels = new Uint32Array(columns * rows)
    const stateCss = tile.states.map((s) => STATE_STYLE[s]?.css ?? '#ff00ff')
    const empty = tile.states.map((s) => EMPTY_STATES.has(s))
    const deviceColours = new Map<number, string>()
    const colourOf = (i: number): number => {
      const s = state[i] as number
      const f = fill[i] as number
      const css = stateCss[s] ?? '#ff00ff'
      if (empty[s] === true) return solid(css)
      if (mode === 'state') return shade(css, f)
      const dev = device[i] as number
      if (dev === NO_DEVICE) return shade(css, f)
      if (dev === SEVERAL_DEVICES) return shade(SEVERAL_CSS, f)
      let c = deviceColours.get(dev)
      if (c === undefined) {
        c = deviceCss(dev)
        deviceColours.set(dev, c)
      }
      return shade(c, f)
    }
    const same =
      mode === 'state'
        ? (a: number, b: number) => state[a] === state[b] && fill[a] === fill[b]
        : (a: number, b: number) =>
            state[a] === state[b] && fill[a] === fill[b] && device[a] === device[b]
    let i = 0
    while (i < cells) {
      let j = i + 1
      while (j < cells && same(i, j)) j++
      const colour = colourOf(i)
      forEachSquare(order, i, j, (upright) => {
        const sq = orientSquare(o, rows, upright)
        for (let y = sq.y; y < sq.y + sq.side; y++) {
          const at = y * columns + sq.x
          pixels.fill(colour, at, at + sq.side)
        }
      })
      i = j
    }
    this.#image.width = columns
    this.#image.height = rows
    const ctx = this.#image.getContext('2d')
    if (ctx === null) throw new Error('this browser cannot draw on a canvas')
    ctx.putImageData(new ImageData(new Uint8ClampedArray(pixels.buffer), columns, rows), 0, 0)
  }

  /**
   * Draws the cell image at `cssWidth` × `cssHeight` CSS pixels (sharp at the device's pixel
   * ratio), outlining `hover` and `focus` cells.
   */
  paint(cssWidth: number, cssHeight: number, hover: number | null, focus: number | null): void {
    const tile = this.#tile
    const canvas = this.#canvas
    const ratio = window.devicePixelRatio || 1
    const w = Math.max(1, Math.round(cssWidth * ratio))
    const h = Math.max(1, Math.round(cssHeight * ratio))
    if (canvas.width !== w) canvas.width = w
    if (canvas.height !== h) canvas.height = h
    canvas.style.width = `${cssWidth}px`
    canvas.style.height = `${cssHeight}px`
    const ctx = canvas.getContext('2d')
    if (ctx === null) throw new Error('this browser cannot draw on a canvas')
    ctx.setTransform(1, 0, 0, 1, 0, 0)
    ctx.clearRect(0, 0, w, h)
    if (tile === null) return
    ctx.imageSmoothingEnabled = false
    ctx.drawImage(this.#image, 0, 0, w, h)
    const cw = w / tile.columns
    const ch = h / tile.rows
    const outline = (d: number | null, colour: string, lineWidth: number): void => {
      const c = d === null ? null : this.placeOf(d)
      if (c === null) return
      const lw = lineWidth * ratio
      // Cells smaller than a few pixels get a marker larger than themselves, centred on them.
      const bw = Math.max(cw, 7 * ratio)
      const bh = Math.max(ch, 7 * ratio)
      ctx.strokeStyle = colour
      ctx.lineWidth = lw
      ctx.strokeRect(c.x * cw + (cw - bw) / 2, c.y * ch + (ch - bh) / 2, bw, bh)
    }
    outline(hover, '#111827', 1.5)
    outline(focus, '#f59e0b', 2.5)
  }

  /** Where cell `d` is drawn: column and row on the canvas. */
  placeOf(d: number): { x: number; y: number } | null {
    const tile = this.#tile
    if (tile === null || d < 0 || d >= tile.cells) return null
    const c = hilbertCell(tile.order, d)
    return orientCell(this.#orientation, tile.rows, c.x, c.y)
  }

  /** The cell drawn at column `x`, row `y`, or null. */
  cellAtPlace(x: number, y: number): number | null {
    const tile = this.#tile
    if (tile === null || x < 0 || y < 0 || x >= tile.columns || y >= tile.rows) return null
    const c = orientCell(this.#orientation, tile.rows, x, y)
    const d = hilbertIndex(tile.order, c.x, c.y)
    return d < tile.cells ? d : null
  }

  /** The cell at (`x`, `y`) CSS pixels from the canvas's top left corner, or null. */
  cellAt(x: number, y: number, cssWidth: number, cssHeight: number): number | null {
    const tile = this.#tile
    if (tile === null || x < 0 || y < 0 || x >= cssWidth || y >= cssHeight) return null
    return this.cellAtPlace(
      Math.floor((x / cssWidth) * tile.columns),
      Math.floor((y / cssHeight) * tile.rows),
    )
  }
}
