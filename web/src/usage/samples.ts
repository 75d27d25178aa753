/**
 * Usage over time, sampled live by the browser: the console records each value it reads (pool,
 * block, domain, device utilisation) with the time, keeps them for the browser tab
 * (sessionStorage), and forecasts when a pool runs out from them. The coordinator's own history
 * (one sample every 5 minutes, kept 7 days; `./history.ts`) comes first on the charts; these
 * live samples fill in after its last point.
 *
 * @module
 */

import { useEffect, useSyncExternalStore } from 'react'
import type { Sample } from './series'

export {
  type Forecast,
  type HistoryPoint,
  type Sample,
  forecast,
  fromHistory,
  mergeSamples,
} from './series'

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

let version = 0
listeners.add(() => {
  version++
})

/** Re-renders the caller whenever any sample is added; gives a counter that changes with them. */
export function useSamplesVersion(): number {
  return useSyncExternalStore(subscribe, () => version)
}
