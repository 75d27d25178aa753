/**
 * Usage series without the browser: samples, the coordinator's history as samples, merging the
 * two, and the forecast. `./samples.ts` re-exports them beside the browser's own sampling.
 *
 * @module
 */

/** One value read at one time. */
export interface Sample {
  /** Epoch milliseconds. */
  readonly t: number
  /** Utilisation, 0..1. */
  readonly v: number
}

/** A sample of the usage history, as the API gives it. */
export interface HistoryPoint {
  readonly at: string
  readonly family: string
  readonly utilisation: number
}

/** History points (of one family, or all when `family` is undefined) as chart samples. */
export function fromHistory(items: readonly HistoryPoint[], family?: string): Sample[] {
  return items
    .filter((p) => family === undefined || p.family === family)
    .map((p) => ({ t: Date.parse(p.at), v: p.utilisation }))
    .filter((s) => Number.isFinite(s.t))
}

/** The history first, then the live samples newer than its last point. */
export function mergeSamples(
  history: readonly Sample[],
  live: readonly Sample[],
): readonly Sample[] {
  const last = history[history.length - 1]
  if (last === undefined) return live
  return [...history, ...live.filter((s) => s.t > last.t)]
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
