/**
 * The address map of a block: its space drawn along a Hilbert curve on a canvas, each cell an
 * aligned range coloured by state or by device. Click, Enter or the wheel zooms into a cell's
 * aligned sub-prefix; `Zoom out`, the breadcrumb, Escape or Backspace zoom out; at the finest
 * level (single addresses) a click shows what holds the address and selects its grant.
 *
 * The component fetches its own data from `GET /api/v1/blocks/{id}/map` and sets two performance
 * marks: `casm-map-request` when a fetch starts and `casm-map-drawn` once the canvas is painted.
 *
 * @module
 */

import { formatAddressValue } from '../../../src/ip/address.js'
import {
  type KeyboardEvent,
  type MouseEvent,
  type WheelEvent,
  useCallback,
  useEffect,
  useLayoutEffect,
  useMemo,
  useRef,
  useState,
} from 'react'
import { ApiError, storedTenant, storedToken, toApiError } from '../api/client'
import { ErrorAlert } from '../components/ErrorAlert'
import {
  type ColourMode,
  EMPTY_STATES,
  type LegendEntry,
  SEVERAL_CSS,
  STATE_STYLE,
  deviceCss,
} from './map-colours'
import { MapRenderer } from './map-renderer'
import {
  type MapAnswer,
  type MapTile,
  NO_DEVICE,
  SEVERAL_DEVICES,
  cellPrefix,
  cellSizeText,
  decodeTile,
  cellFirst,
  isFinest,
  tileOrientation,
  zoomInto,
  zoomOut,
  zoomPath,
} from './map-tile'
import './address-map.css'

/** Props of {@link AddressMap}. */
export interface AddressMapProps {
  /** The block to draw. */
  readonly blockId: string
  /** Called with the id of a grant chosen on the map (a click at the finest level). */
  readonly onSelectGrant?: (grantId: string) => void
  /** Fetches the map again whenever this changes (the console bumps it on new events). */
  readonly refreshKey?: number
  /** Grid order asked of the server (default 9: 512 × 512 cells). */
  readonly order?: number
}

/** What holds an address, from `/api/v1/search`. */
interface Holder {
  readonly address: string
  readonly unit: {
    readonly id: string
    readonly type: string
    readonly prefix: string
    readonly state: string
    readonly pool: string
    readonly device: { readonly id: string; readonly name: string } | null
  } | null
}

const LARGEST_CSS = 768

function authHeaders(): Record<string, string> {
  const h: Record<string, string> = {}
  const token = storedToken()
  if (token !== null) h['authorization'] = `Bearer ${token}`
  const tenant = storedTenant()
  if (tenant !== null) h['x-casm-tenant'] = tenant
  return h
}

async function getJson(url: string, signal?: AbortSignal): Promise<unknown> {
  let res: Response
  try {
    res = await fetch(url, { headers: authHeaders(), ...(signal === undefined ? {} : { signal }) })
  } catch (error) {
    if (signal?.aborted === true) throw error
    throw new ApiError(
      0,
      'CASM_ERR_UNAVAILABLE',
      `the coordinator does not answer: ${error instanceof Error ? error.message : String(error)}`,
    )
  }
  const body: unknown = await res.json().catch(() => null)
  if (!res.ok) throw toApiError(res.status, body)
  return body
}

function percent(x: number): string {
  return `${(x * 100).toLocaleString('en', { maximumFractionDigits: 1 })}%`
}

function deviceLabel(tile: MapTile, dev: number): string {
  if (dev === NO_DEVICE) return 'none'
  if (dev === SEVERAL_DEVICES) return 'several devices'
  return tile.devices[dev]?.name ?? `device ${dev}`
}

/** The address map of one block. */
export function AddressMap({ blockId, onSelectGrant, refreshKey = 0, order = 9 }: AddressMapProps) {
  const [prefix, setPrefix] = useState<string | null>(null)
  const [colour, setColour] = useState<ColourMode>('state')
  const [tile, setTile] = useState<MapTile | null>(null)
  const [error, setError] = useState<unknown>(null)
  const [loading, setLoading] = useState(true)
  const [drawn, setDrawn] = useState(false)
  const [hover, setHover] = useState<{ cell: number; x: number; y: number } | null>(null)
  const [focus, setFocus] = useState<number | null>(null)
  const [holder, setHolder] = useState<Holder | null>(null)
  const [size, setSize] = useState(512)
  const wrap = useRef<HTMLDivElement>(null)
  const canvas = useRef<HTMLCanvasElement>(null)
  const renderer = useRef<MapRenderer | null>(null)

  // A new block starts at its whole space.
  useEffect(() => {
    setPrefix(null)
    setHolder(null)
  }, [blockId])

  // Fetch the map of the current prefix (again when refreshKey moves).
  useEffect(() => {
    const abort = new AbortController()
    setLoading(true)
    setDrawn(false)
    performance.mark('casm-map-request')
    const query = new URLSearchParams({ order: String(order) })
    if (prefix !== null) query.set('prefix', prefix)
    getJson(`/api/v1/blocks/${encodeURIComponent(blockId)}/map?${query.toString()}`, abort.signal)
      .then((body) => {
        const next = decodeTile(body as MapAnswer)
        setTile(next)
        setError(null)
        setLoading(false)
        setFocus((f) => (f !== null && f < next.cells ? f : null))
      })
      .catch((e: unknown) => {
        if (abort.signal.aborted) return
        setError(e)
        setLoading(false)
      })
    return () => {
      abort.abort()
    }
  }, [blockId, prefix, refreshKey, order])

  // Follow the width of the space the map is given.
  useEffect(() => {
    const el = wrap.current
    if (el === null) return
    const measure = () => {
      setSize(Math.max(160, Math.min(LARGEST_CSS, Math.floor(el.clientWidth))))
    }
    measure()
    const observer = new ResizeObserver(measure)
    observer.observe(el)
    return () => {
      observer.disconnect()
    }
  }, [])

  const cssSize = useMemo(() => {
    if (tile === null) return { w: size, h: size }
    const cell = size / tile.rows
    return { w: cell * tile.columns, h: size }
  }, [tile, size])

  // Paint the cells when the tile or the colouring changes.
  useLayoutEffect(() => {
    const el = canvas.current
    if (el === null || tile === null) return
    renderer.current ??= new MapRenderer(el)
    renderer.current.setTile(tile, colour, tileOrientation(tile))
    renderer.current.paint(cssSize.w, cssSize.h, null, null)
    const frame = requestAnimationFrame(() => {
      performance.mark('casm-map-drawn')
      setDrawn(true)
    })
    return () => {
      cancelAnimationFrame(frame)
    }
  }, [tile, colour, cssSize])

  // Outlines: cheap, the cell image is kept.
  useLayoutEffect(() => {
    renderer.current?.paint(cssSize.w, cssSize.h, hover?.cell ?? null, focus)
  }, [hover, focus, cssSize, tile, colour])

  const cellAtEvent = useCallback(
    (e: MouseEvent<HTMLCanvasElement>): { cell: number; x: number; y: number } | null => {
      const r = e.currentTarget.getBoundingClientRect()
      const x = e.clientX - r.left
      const y = e.clientY - r.top
      const cell = renderer.current?.cellAt(x, y, r.width, r.height) ?? null
      return cell === null ? null : { cell, x, y }
    },
    [],
  )

  const showHolder = useCallback(
    async (t: MapTile, d: number) => {
      const address = formatAddressValue(t.family, cellFirst(t, d))
      try {
        const found = (await getJson(
          `/api/v1/search?q=${encodeURIComponent(address)}&domain=${encodeURIComponent(t.domain.id)}`,
        )) as { domains: { units: NonNullable<Holder['unit']>[] }[] }
        const unit = found.domains[0]?.units[0] ?? null
        setHolder({ address, unit })
        if (unit !== null && unit.type === 'grant') onSelectGrant?.(unit.id)
      } catch (e) {
        setError(e)
      }
    },
    [onSelectGrant],
  )

  const activate = useCallback(
    (d: number) => {
      if (tile === null) return
      if (isFinest(tile)) {
        void showHolder(tile, d)
        return
      }
      setHolder(null)
      setPrefix(zoomInto(tile, d))
    },
    [tile, showHolder],
  )

  const goOut = useCallback(() => {
    if (tile === null) return
    const out = zoomOut(tile)
    if (out !== null) {
      setHolder(null)
      setPrefix(out)
    }
  }, [tile])

  const onKeyDown = (e: KeyboardEvent<HTMLCanvasElement>) => {
    const r = renderer.current
    if (tile === null || r === null) return
    const c = (focus === null ? null : r.placeOf(focus)) ?? { x: 0, y: 0 }
    let { x, y } = c
    switch (e.key) {
      case 'ArrowLeft':
        x = Math.max(0, x - 1)
        break
      case 'ArrowRight':
        x = Math.min(tile.columns - 1, x + 1)
        break
      case 'ArrowUp':
        y = Math.max(0, y - 1)
        break
      case 'ArrowDown':
        y = Math.min(tile.rows - 1, y + 1)
        break
      case 'Enter':
      case ' ':
        e.preventDefault()
        if (focus !== null) activate(focus)
        else setFocus(r.cellAtPlace(0, 0))
        return
      case 'Escape':
      case 'Backspace':
        e.preventDefault()
        goOut()
        return
      default:
        return
    }
    e.preventDefault()
    setFocus(r.cellAtPlace(x, y) ?? focus)
  }

  const onWheel = (e: WheelEvent<HTMLCanvasElement>) => {
    if (tile === null || Math.abs(e.deltaY) < 1) return
    if (e.deltaY > 0) {
      goOut()
      return
    }
    const at = cellAtEvent(e)
    if (at !== null && !isFinest(tile)) activate(at.cell)
  }

  // The wheel zooms the map, not the page, while the pointer is on the canvas.
  useEffect(() => {
    const el = canvas.current
    if (el === null) return
    const stop = (e: Event) => {
      e.preventDefault()
    }
    el.addEventListener('wheel', stop, { passive: false })
    return () => {
      el.removeEventListener('wheel', stop)
    }
  }, [])

  const legend = useMemo((): LegendEntry[] => {
    if (tile === null) return []
    const present = new Set<number>()
    for (const s of tile.state) present.add(s)
    const states = tile.states
      .map((name, i) => ({ name, i }))
      .filter(({ name, i }) => present.has(i) && (colour === 'state' || EMPTY_STATES.has(name)))
      .map(({ name }) => ({
        label: STATE_STYLE[name]?.label ?? name,
        css: STATE_STYLE[name]?.css ?? '#ff00ff',
      }))
    if (colour === 'state') return states
    const cells = new Map<number, number>()
    for (const d of tile.device) if (d !== NO_DEVICE) cells.set(d, (cells.get(d) ?? 0) + 1)
    const top = [...cells.entries()].sort((a, b) => b[1] - a[1]).slice(0, 12)
    const devices = top.map(([d]) => ({
      label: d === SEVERAL_DEVICES ? 'several devices' : deviceLabel(tile, d),
      css: d === SEVERAL_DEVICES ? SEVERAL_CSS : deviceCss(d),
    }))
    const more = cells.size - top.length
    return [
      ...devices,
      ...(more > 0 ? [{ label: `${more} more devices`, css: 'transparent' }] : []),
      ...states,
    ]
  }, [tile, colour])

  const path = tile === null ? [] : zoomPath(tile)
  const summary =
    tile === null
      ? ''
      : `${tile.counts.grants.toLocaleString('en')} grants, ${tile.counts.assignments.toLocaleString('en')} assignments, ${tile.counts.reservations.toLocaleString('en')} reservations; utilisation ${percent(tile.counts.utilisation)} of ${BigInt(tile.counts.pooled).toLocaleString('en')} pooled addresses`
  const hovered = hover !== null && tile !== null && hover.cell < tile.cells ? hover : null

  return (
    <div
      className="address-map"
      data-state={error !== null ? 'error' : drawn && !loading ? 'ready' : 'loading'}
    >
      <div className="address-map-bar">
        <nav aria-label="Zoom levels" className="address-map-crumbs">
          {path.map((p, i) =>
            i === path.length - 1 ? (
              <span key={p} aria-current="location">
                {p}
              </span>
            ) : (
              <button
                key={p}
                type="button"
                className="linklike"
                onClick={() => {
                  setHolder(null)
                  setPrefix(i === 0 ? null : p)
                }}
              >
                {p}
              </button>
            ),
          )}
        </nav>
        <button type="button" onClick={goOut} disabled={tile === null || zoomOut(tile) === null}>
          Zoom out
        </button>
        <label className="address-map-colour">
          Colour by{' '}
          <select
            value={colour}
            onChange={(e) => {
              setColour(e.target.value === 'device' ? 'device' : 'state')
            }}
          >
            <option value="state">state</option>
            <option value="device">device</option>
          </select>
        </label>
      </div>
      <p aria-live="polite" className="address-map-where">
        {tile === null
          ? loading
            ? 'Loading the address map…'
            : ''
          : `${tile.prefix} of block ${tile.block.space}: ${tile.cells.toLocaleString('en')} cells of ${cellSizeText(tile)}${loading ? ' (updating…)' : ''}`}
      </p>
      <ErrorAlert error={error} />
      <div className="address-map-body">
        <div className="address-map-canvas" ref={wrap}>
          <canvas
            ref={canvas}
            data-testid="address-map"
            role="img"
            tabIndex={0}
            aria-label={
              tile === null
                ? 'Address map, loading'
                : `Address map of ${tile.prefix}: ${summary}. Arrow keys move, Enter zooms in or shows the address, Escape zooms out.`
            }
            style={{ width: `${cssSize.w}px`, height: `${cssSize.h}px` }}
            onMouseMove={(e) => {
              setHover(cellAtEvent(e))
            }}
            onMouseLeave={() => {
              setHover(null)
            }}
            onClick={(e) => {
              const at = cellAtEvent(e)
              if (at !== null) {
                setFocus(at.cell)
                activate(at.cell)
              }
            }}
            onWheel={onWheel}
            onKeyDown={onKeyDown}
          />
          {hovered !== null && tile !== null ? (
            <div
              className="address-map-tip"
              role="tooltip"
              style={{
                left: `${Math.min(hovered.x + 14, cssSize.w - 180)}px`,
                top: `${hovered.y + 14}px`,
              }}
            >
              <strong>{cellPrefix(tile, hovered.cell)}</strong>
              <br />
              {STATE_STYLE[tile.states[tile.state[hovered.cell] ?? 0] ?? '']?.label ?? '?'}
              {', '}
              {percent((tile.fill[hovered.cell] ?? 0) / 255)} held
              <br />
              device: {deviceLabel(tile, tile.device[hovered.cell] ?? NO_DEVICE)}
            </div>
          ) : null}
        </div>
        <div className="address-map-side">
          <p className="address-map-summary">{summary}</p>
          <ul className="address-map-legend" aria-label="Legend">
            {legend.map((l) => (
              <li key={l.label}>
                <span className="swatch" style={{ background: l.css }} aria-hidden="true" />
                {l.label}
              </li>
            ))}
          </ul>
          {focus !== null && tile !== null && focus < tile.cells ? (
            <p className="address-map-focus">
              Focus: {cellPrefix(tile, focus)} (
              {STATE_STYLE[tile.states[tile.state[focus] ?? 0] ?? '']?.label ?? '?'})
            </p>
          ) : null}
          {holder === null ? null : (
            <div className="address-map-detail" aria-live="polite">
              <h3>{holder.address}</h3>
              {holder.unit === null ? (
                <p>Nothing holds this address.</p>
              ) : (
                <dl>
                  <dt>Held by</dt>
                  <dd>
                    {holder.unit.type} <code>{holder.unit.id}</code>
                  </dd>
                  <dt>Prefix</dt>
                  <dd>{holder.unit.prefix}</dd>
                  <dt>State</dt>
                  <dd>{holder.unit.state}</dd>
                  <dt>Pool</dt>
                  <dd>{holder.unit.pool}</dd>
                  <dt>Device</dt>
                  <dd>{holder.unit.device?.name ?? 'none'}</dd>
                </dl>
              )}
            </div>
          )}
          {tile !== null && !isFinest(tile) ? (
            <p className="address-map-help">
              Click a cell (or Enter) to zoom into it; Escape zooms out.
            </p>
          ) : (
            <p className="address-map-help">Click an address to see what holds it.</p>
          )}
        </div>
      </div>
    </div>
  )
}
