/**
 * How the console writes numbers, times and sizes.
 *
 * @module
 */

/** `0.8123` → `81.2 %`. */
export function percent(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—'
  return `${(v * 100).toFixed(v >= 0.1 ? 1 : 2)} %`
}

/** Epoch ms or an RFC 3339 text → local time of day `14:03:07`. */
export function time(t: number | string): string {
  const d = new Date(t)
  return Number.isNaN(d.getTime()) ? '—' : d.toLocaleTimeString([], { hour12: false })
}

/** Epoch ms or an RFC 3339 text → `2026-11-25 14:03:07` (local); `—` for null. */
export function dateTime(t: number | string | null | undefined): string {
  if (t === null || t === undefined) return '—'
  const d = new Date(t)
  if (Number.isNaN(d.getTime())) return '—'
  const pad = (n: number) => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
}

/** A duration in ms → `3 h 20 min`, `45 s`. */
export function duration(ms: number): string {
  const s = Math.round(ms / 1000)
  if (s < 60) return `${s} s`
  const m = Math.round(s / 60)
  if (m < 60) return `${m} min`
  const h = Math.floor(m / 60)
  if (h < 48) return `${h} h ${m % 60} min`
  return `${Math.round(h / 24)} days`
}

/** A decimal count of addresses (may exceed 2^53) grouped by thousands. */
export function count(n: string | number): string {
  const s = String(n)
  return /^[0-9]+$/.test(s) ? s.replace(/\B(?=(\d{3})+(?!\d))/g, ',') : s
}
