/**
 * The two references a simulation run is judged against, from the demand alone:
 *
 * - the **static plan**: each device sized for its own peak, rounded up to whole units — what
 *   operators do today with fixed pools per BNG;
 * - the **pooled lower bound**: the peak of the fleet's total demand, rounded up to whole units —
 *   what a perfect coordinator with no headroom and no delay would need.
 *
 * Pure; demand is given in the loop's counting units (addresses; /64s for IPv6).
 *
 * @module
 */

/** Rounds `n` up to a whole number of `unit`s. */
export function roundUpToUnits(n: number, unit: number): number {
  if (unit <= 0) throw new RangeError('unit must be positive')
  return Math.max(0, Math.ceil(n / unit - 1e-9)) * unit
}

/** The static plan and the pooled bound of a demand series. */
export interface SpaceReferences {
  /** Σ over devices of (the device's own peak, rounded up to units). */
  readonly staticPlan: number
  /** The peak of the total demand, rounded up to units. */
  readonly pooledBound: number
  /** Each device's peak (not rounded). */
  readonly devicePeaks: readonly number[]
  /** The total demand's peak (not rounded) and when it was (index of the sample). */
  readonly totalPeak: number
  readonly totalPeakAt: number
}

/**
 * Computes the references from per-device demand sampled at the same instants:
 * `demand[t][i]` is device `i`'s demand at sample `t`.
 */
export function spaceReferences(
  demand: readonly (readonly number[])[],
  unit: number,
): SpaceReferences {
  const devices = demand[0]?.length ?? 0
  const peaks = new Array<number>(devices).fill(0)
  let totalPeak = 0
  let totalPeakAt = 0
  demand.forEach((row, t) => {
    let total = 0
    for (let i = 0; i < devices; i++) {
      const v = row[i] ?? 0
      total += v
      if (v > (peaks[i] ?? 0)) peaks[i] = v
    }
    if (total > totalPeak) {
      totalPeak = total
      totalPeakAt = t
    }
  })
  return {
    staticPlan: peaks.reduce((a, p) => a + roundUpToUnits(p, unit), 0),
    pooledBound: roundUpToUnits(totalPeak, unit),
    devicePeaks: peaks,
    totalPeak,
    totalPeakAt,
  }
}
