/**
 * Usage over time, sampled by the browser: the API tells usage now, not its history, so the
 * console records each value it reads (pool, block, domain, device utilisation) with the time,
 * keeps them for the browser tab (sessionStorage), and forecasts when a pool runs out from them.
 *
 * @module
 */

import { useEffect, useSyncExternalStore } from 'react'

/** One value read at one time. */
export interface Sample {
  /** Epoch milliseconds. */
  readonly t: number
  /** Utilisation, 0..1. */
  readonly v: number
}

const STORE_KEY = 'casm.samples'
/** At most this many samples per series (an hour at one every 5 s). */
export const MAX_SAMPLES = 720
/** Samples closer than this to the last one replace it (avoid bursts of refetches). */
const MIN_GAP_MS = 2000

const series = new Map<string, readonly Sample[]>()
const listeners = new Set<() => void>()
const EMPTY: readonly Sample[] = []

try {
  const saved = JSON.parse(sessionStorage.getItem(STORE_KEY) ?? '{}') as Record<string, Sample[]>
  for (const [k, v] of Object.entries(saved)) if (Array.isArray(v)) series.set(k, v)
} catch {
  // A broken or missing store starts empty.
}

let saveTimer: ReturnType<typeof setTimeout> | undefined
function save(): void {
  if (saveTimer !== undefined) return
  saveTimer = setTimeout(() => {
    saveTimer = undefined
    try {
      sessionStorage.setItem(STORE_KEY, JSON.stringify(Object.fromEntries(series)))
    } catch {
      // Out of space: keep the samples in memory only.
    }
  }, 1000)
}

/** Records `v` for `key` at time `t`. */
export function record(key: string, v: number, t = Date.now()): void {
  if (!Number.isFinite(v)) return
  const old = series.get(key) ?? EMPTY
  const last = old[old.length - 1]
  const base = last !== undefined && t - last.t < MIN_GAP_MS ? old.slice(0, -1) : old
  const next = [...base, { t, v }]
  series.set(key, next.length > MAX_SAMPLES ? next.slice(next.length - MAX_SAMPLES) : next)
  for (const l of listeners) l()
  save()
}

function subscribe(l: () => void): () => void {
  listeners.add(l)
  return () => listeners.delete(l)
}

/** The samples of `key`, oldest first. */
export function samplesOf(key: string): readonly Sample[] {
  return series.get(key) ?? EMPTY
}

/**
 * Records `value` under `key` whenever a new reading arrives (`at`: when it was read), and gives
 * the series; re-renders as samples are added.
 */
export function useSeries(key: string, value: number | undefined, at: number): readonly Sample[] {
  useEffect(() => {
    if (value !== undefined) record(key, value, at === 0 ? Date.now() : at)
  }, [key, value, at])
  return useSyncExternalStore(subscribe, () => samplesOf(key))
}

/** When a series will reach 100 %, from the trend of its recent samples. */
export interface Forecast {
  /** Change of utilisation per hour (least squares over the window). */
  readonly perHour: number
  /** When it reaches 1 at that rate; null when it does not grow. */
  readonly fullAt: number | null
}

/**
 * A linear forecast over the samples of the last `windowMs` (default 15 minutes); null with
 * fewer than 3 samples spanning at least 20 seconds.
 */
export function forecast(samples: readonly Sample[], windowMs = 15 * 60_000): Forecast | null {
  const last = samples[samples.length - 1]
  if (last === undefined) return null
  const recent = samples.filter((s) => s.t >= last.t - windowMs)
  const first = recent[0]
  if (first === undefined || recent.length < 3 || last.t - first.t < 20_000) return null
  const n = recent.length
  const mt = recent.reduce((a, s) => a + (s.t - first.t), 0) / n
  const mv = recent.reduce((a, s) => a + s.v, 0) / n
  let num = 0
  let den = 0
  for (const s of recent) {
    const dt = s.t - first.t - mt
    num += dt * (s.v - mv)
    den += dt * dt
  }
  if (den === 0) return null
  const perMs = num / den
  const perHour = perMs * 3_600_000
  if (perMs <= 1e-12) return { perHour, fullAt: null }
  const now = last.t - first.t
  const valueNow = mv + perMs * (now - mt)
  return { perHour, fullAt: last.t + Math.max(0, (1 - valueNow) / perMs) }
}

let version = 0
listeners.add(() => {
  version++
})

/** Re-renders the caller whenever any sample is added; gives a counter that changes with them. */
export function useSamplesVersion(): number {
  return useSyncExternalStore(subscribe, () => version)
}
