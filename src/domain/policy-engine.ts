/**
 * The policy engine: pure decisions about one device's grants, from its reports, its pool's
 * policy and the clock (casm-drafts.md §4.3–4.4, workflows W2, W4–W6; design.md "The policy
 * loop"). The coordinator runs it after every status report and on a timer, and applies what it
 * returns; nothing here does I/O, so every rule is tested with a fake clock.
 *
 * Per family, with `capacity` = addresses of the device's active grants and `used` = addresses in
 * use in all of its live grants:
 *
 * ```
 *   used / capacity ≥ high            → cancel a drain if one is running, else grant enough
 *                                       units to fall back under it
 *   forecast: time to exhaustion < lead time (history over half the lead time, usage at or
 *             over the low watermark)  → grant one more unit early
 *   used / capacity < low, held for holdDown, more than minUnits grants
 *                                     → drain the least-used unpinned grant (if what remains
 *                                       stays under the high watermark), and more of the least
 *                                       used while what remains stays under the middle of the
 *                                       band (low + high) / 2
 *   a draining grant reported empty, by a report made after the device applied the drain
 *                                     → release it (then quarantine, then free)
 *   lifetime over (not pinned)        → drain it; it expires once reported empty
 *   no report for staleAfter          → alert "device silent" (nothing is reclaimed)
 * ```
 *
 * Nothing is ever released while its device reports addresses in use in it.
 *
 * @module
 */

import { type Family, familyWidth } from '../ip/index.js'
import type { PoolPolicy } from './pool-policy.js'

/** What the engine knows about one live grant of the device. */
export interface GrantFacts {
  readonly id: string
  readonly poolId: string
  readonly family: Family
  readonly prefix: string
  /** Addresses in the grant. */
  readonly size: number
  readonly state: 'active' | 'draining'
  readonly pinned: boolean
  readonly expiresAt: number | null
  /** Why it drains, when it does: `policy`, `lifetime`, `operator`, `move`. */
  readonly drainCause: string | null
  /**
   * The device has shown that it applied the drain: its last report said it serves the grant as
   * draining (or, from a device that does not say, it acknowledged the drain event before that
   * report). Until then a report of 0 in use may predate the drain and prove nothing.
   */
  readonly drainApplied: boolean
  /** The last report for the grant, if any. */
  readonly usage: {
    readonly used: number
    readonly peak: number
    readonly average: number
    readonly at: number
  } | null
}

/** A point of the device's usage history (per family): what it used out of what it held. */
export interface UsageSample {
  readonly at: number
  readonly used: number
  readonly capacity: number
}

/** Everything the engine needs about one device at one moment. */
export interface DeviceFacts {
  readonly deviceId: string
  readonly now: number
  /** The policy in force for this device (the pool's, with the device's overrides). */
  readonly policy: EffectivePolicy
  readonly grants: readonly GrantFacts[]
  /** Since when the utilisation has been under the low watermark, per family (null: it is not). */
  readonly lowSince: Readonly<Partial<Record<Family, number | null>>>
  /** Usage history per family, oldest first, for the forecast. */
  readonly history: Readonly<Partial<Record<Family, readonly UsageSample[]>>>
  /** When the device last reported. */
  readonly lastReportAt: number | null
  /** Families the device uses (from its grants or its requests). */
  readonly families: readonly Family[]
}

/** The policy in force for a device: its pool's, with the device's overrides. */
export type EffectivePolicy = PoolPolicy

/** One decision, with the reason written into its event. */
export type Decision =
  | {
      readonly kind: 'grant'
      readonly family: Family
      /** Default-size units to grant at once: enough to bring usage back under the high watermark. */
      readonly units: number
      readonly reason: string
    }
  | { readonly kind: 'undrain'; readonly grant: string; readonly reason: string }
  | {
      readonly kind: 'drain'
      readonly grant: string
      readonly cause: 'policy' | 'lifetime'
      readonly reason: string
    }
  | {
      readonly kind: 'release'
      readonly grant: string
      readonly expire: boolean
      readonly reason: string
    }
  | { readonly kind: 'alert'; readonly alert: 'device-silent'; readonly reason: string }

/** The engine's answer: what to do, and the timers to keep. */
export interface Verdict {
  readonly decisions: readonly Decision[]
  readonly lowSince: Partial<Record<Family, number | null>>
  /** Utilisation per family (used / capacity), for status and metrics. */
  readonly utilisation: Partial<Record<Family, number>>
}

const pct = (x: number): string => `${Math.round(x * 1000) / 10}%`

/** Most units one growth decision grants (a burst larger than this takes several reports). */
export const MAX_UNITS_PER_DECISION = 64

/**
 * Addresses in a prefix of `length` as the loop counts them: IPv6 in /64s (a LAN or a
 * delegation's smallest part), capped to stay an exact number.
 */
export function addressesOf(family: Family, length: number): number {
  const bits = family === 'ipv6' ? Math.max(0, 64 - length) : familyWidth(family) - length
  return 2 ** Math.min(bits, 52)
}

/**
 * Units of `unit` addresses to add to `capacity` so that `used` falls under the `high`
 * watermark again: at least one, at most {@link MAX_UNITS_PER_DECISION}. Growth sized to the
 * need lets a device that takes a burst (a neighbour's subscribers after a failover) catch up in
 * one decision instead of one unit per report.
 */
export function unitsToGrow(used: number, capacity: number, high: number, unit: number): number {
  const missing = used / high - capacity
  const n = missing < 0 ? 1 : Math.floor(missing / unit) + 1
  return Math.min(MAX_UNITS_PER_DECISION, Math.max(1, n))
}

/**
 * Growth rate (addresses per second) of `used` by least squares over the samples of the last
 * `window` seconds; 0 when there are fewer than three samples or the time span is zero.
 */
export function growthRate(
  samples: readonly UsageSample[],
  now: number,
  windowSeconds: number,
): number {
  const recent = samples.filter((s) => s.at >= now - windowSeconds * 1000)
  if (recent.length < 3) return 0
  const n = recent.length
  const mx = recent.reduce((a, s) => a + s.at, 0) / n
  const my = recent.reduce((a, s) => a + s.used, 0) / n
  let num = 0
  let den = 0
  for (const s of recent) {
    num += (s.at - mx) * (s.used - my)
    den += (s.at - mx) ** 2
  }
  return den === 0 ? 0 : (num / den) * 1000
}

/**
 * Seconds until `used` reaches `capacity` at `rate` addresses per second (Infinity when not
 * growing).
 */
export function timeToExhaustion(used: number, capacity: number, rate: number): number {
  if (rate <= 0) return Number.POSITIVE_INFINITY
  return Math.max(0, (capacity - used) / rate)
}

/** Decides what to do about one device now. */
export function decide(d: DeviceFacts): Verdict {
  const p = d.policy
  const decisions: Decision[] = []
  const lowSince: Partial<Record<Family, number | null>> = {}
  const utilisation: Partial<Record<Family, number>> = {}

  if (
    d.lastReportAt !== null &&
    d.now - d.lastReportAt > p.staleAfter * 1000 &&
    d.grants.length > 0
  ) {
    decisions.push({
      kind: 'alert',
      alert: 'device-silent',
      reason: `no status report for ${Math.round((d.now - d.lastReportAt) / 1000)} s (expected every ${p.reportInterval} s); nothing of it is reclaimed while it is silent`,
    })
  }

  for (const g of d.grants) {
    // A draining grant its device reports empty goes back (after quarantine).
    if (
      g.state === 'draining' &&
      g.drainApplied &&
      g.usage !== null &&
      g.usage.used === 0 &&
      g.usage.at > 0
    ) {
      decisions.push({
        kind: 'release',
        grant: g.id,
        expire: g.drainCause === 'lifetime',
        reason: `drained (${g.drainCause ?? 'policy'}) and reported empty at ${new Date(g.usage.at).toISOString()}`,
      })
    }
    // Lifetime over: drain first, expire once empty.
    if (g.state === 'active' && !g.pinned && g.expiresAt !== null && g.expiresAt <= d.now) {
      decisions.push({
        kind: 'drain',
        grant: g.id,
        cause: 'lifetime',
        reason: `its lifetime ended at ${new Date(g.expiresAt).toISOString()} without renewal`,
      })
    }
  }
  const leaving = new Set(
    decisions.flatMap((x) => (x.kind === 'drain' || x.kind === 'release' ? [x.grant] : [])),
  )

  for (const family of d.families) {
    const mine = d.grants.filter((g) => g.family === family)
    const active = mine.filter((g) => g.state === 'active' && !leaving.has(g.id))
    const capacity = active.reduce((a, g) => a + g.size, 0)
    const used = mine.reduce((a, g) => a + (g.usage?.used ?? 0), 0)
    const u = capacity === 0 ? (used > 0 ? Number.POSITIVE_INFINITY : 0) : used / capacity
    utilisation[family] = capacity === 0 ? 0 : u

    if (u >= p.highWatermark) {
      lowSince[family] = null
      const draining = mine.find(
        (g) => g.state === 'draining' && g.drainCause === 'policy' && !leaving.has(g.id),
      )
      if (draining !== undefined && capacity > 0) {
        decisions.push({
          kind: 'undrain',
          grant: draining.id,
          reason: `usage ${pct(u)} reached the high watermark ${pct(p.highWatermark)} while ${draining.prefix} was draining: it serves again`,
        })
      } else {
        const units = unitsToGrow(
          used,
          capacity,
          p.highWatermark,
          addressesOf(family, p.unit.default),
        )
        decisions.push({
          kind: 'grant',
          family,
          units,
          reason:
            (capacity === 0
              ? `the device holds no active ${family} space`
              : `usage ${pct(u)} (${used} of ${capacity}) reached the high watermark ${pct(p.highWatermark)}`) +
            (units > 1 ? `; ${units} units bring it back under` : ''),
        })
      }
      continue
    }

    // The forecast needs history over half the lead time (a start-up ramp that levels off is
    // not a trend) and a device that is not mostly idle.
    const window = Math.max(p.leadTime, 6 * p.reportInterval)
    const samples = (d.history[family] ?? []).filter((s) => s.at >= d.now - window * 1000)
    const span = samples.length === 0 ? 0 : (d.now - (samples[0] as UsageSample).at) / 1000
    if (p.leadTime > 0 && span >= p.leadTime / 2 && u >= p.lowWatermark) {
      const rate = growthRate(samples, d.now, window)
      const tte = timeToExhaustion(used, capacity, rate)
      if (tte < p.leadTime) {
        lowSince[family] = null
        decisions.push({
          kind: 'grant',
          family,
          units: 1,
          reason: `forecast: growing ${rate.toFixed(2)} addresses/s, the ${capacity} held run out in ${Math.round(tte)} s, under the lead time ${p.leadTime} s`,
        })
        continue
      }
    }

    if (u < p.lowWatermark) {
      const since = d.lowSince[family] ?? d.now
      lowSince[family] = since
      const held = (d.now - since) / 1000
      const candidates = active
        .filter((g) => !g.pinned)
        .sort((a, b) => (a.usage?.average ?? 0) - (b.usage?.average ?? 0) || b.size - a.size)
      const victim = candidates[0]
      if (held >= p.holdDown && active.length > p.minUnits && victim !== undefined) {
        let after = capacity - victim.size
        if (after > 0 && used / after < p.highWatermark) {
          const drain = [victim]
          // Sized like growth: drain more of the least used while what stays keeps the device
          // under the middle of its band, so a device whose demand fell far gives back at once.
          const middle = (p.lowWatermark + p.highWatermark) / 2
          for (const next of candidates.slice(1)) {
            if (drain.length >= MAX_UNITS_PER_DECISION) break
            if (active.length - drain.length <= p.minUnits) break
            const rest = after - next.size
            if (rest <= 0 || used / rest >= middle) break
            drain.push(next)
            after = rest
          }
          for (const g of drain) {
            decisions.push({
              kind: 'drain',
              grant: g.id,
              cause: 'policy',
              reason: `usage ${pct(u)} stayed under the low watermark ${pct(p.lowWatermark)} for ${Math.round(held)} s (hold-down ${p.holdDown} s); ${g.prefix} is ${g === victim ? 'the least used' : 'among the least used'}${drain.length > 1 ? ` (${drain.length} grants drain together: what stays is ${pct(used / after)} used)` : ''}`,
            })
          }
          lowSince[family] = null
        }
      }
    } else {
      lowSince[family] = null
    }
  }
  return { decisions, lowSince, utilisation }
}
