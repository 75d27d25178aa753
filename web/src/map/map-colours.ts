/**
 * Colours of the address map: one per cell state, a palette for devices, and how the fill of a
 * cell shades its colour. Colours are packed as 0xAABBGGRR, the byte order of ImageData on
 * little-endian machines (every browser platform in use).
 *
 * @module
 */

/** How cells are coloured. */
export type ColourMode = 'state' | 'device'

/** A legend entry. */
export interface LegendEntry {
  readonly label: string
  /** CSS colour. */
  readonly css: string
}

/** Colour and label of each state, by the state names the endpoint sends. */
export const STATE_STYLE: Readonly<
  Record<string, { readonly css: string; readonly label: string }>
> = {
  outside: { css: '#f1f3f5', label: 'outside the block' },
  unpooled: { css: '#c9d1db', label: 'in no pool' },
  free: { css: '#dcefe2', label: 'free' },
  active: { css: '#1f6fb5', label: 'active grant' },
  draining: { css: '#dd8a1c', label: 'draining' },
  quarantined: { css: '#8a55b3', label: 'quarantined' },
  reserved: { css: '#56606e', label: 'reserved' },
  excluded: { css: '#23272e', label: 'excluded' },
  assignment: { css: '#178f80', label: 'assignment' },
  mixed: { css: '#c23b75', label: 'mixed' },
}

/** States that are space nobody holds: their cells keep the state colour in device mode. */
export const EMPTY_STATES: ReadonlySet<string> = new Set(['outside', 'unpooled', 'free'])

/** Colour of cells that units of several devices share. */
export const SEVERAL_CSS = '#3a3f47'

function rgbOf(css: string): [number, number, number] {
  const n = Number.parseInt(css.slice(1), 16)
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255]
}

function pack(r: number, g: number, b: number): number {
  return ((255 << 24) | (b << 16) | (g << 8) | r) >>> 0
}

function hex(r: number, g: number, b: number): string {
  return `#${[r, g, b].map((x) => x.toString(16).padStart(2, '0')).join('')}`
}

/** The CSS colour of device `i`: hues spread by the golden angle, so neighbours differ. */
export function deviceCss(i: number): string {
  const h = (i * 137.508) % 360
  const s = 0.62
  const l = i % 2 === 0 ? 0.42 : 0.55
  const k = (n: number) => (n + h / 30) % 12
  const a = s * Math.min(l, 1 - l)
  const f = (n: number) =>
    Math.round(255 * (l - a * Math.max(-1, Math.min(k(n) - 3, Math.min(9 - k(n), 1)))))
  return hex(f(0), f(8), f(4))
}

/**
 * Packed colour of `css` shaded by `fill` (0..255): an empty cell is pale, a full one has the
 * whole colour, so partly held space shows as lighter squares.
 */
export function shade(css: string, fill: number): number {
  const [r, g, b] = rgbOf(css)
  const t = 0.35 + (0.65 * fill) / 255
  const mix = (c: number) => Math.round(255 + (c - 255) * t)
  return pack(mix(r), mix(g), mix(b))
}

/** Packed colour of `css`, unshaded. */
export function solid(css: string): number {
  const [r, g, b] = rgbOf(css)
  return pack(r, g, b)
}
