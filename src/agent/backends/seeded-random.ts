/**
 * A small seeded pseudo-random generator (sfc32, seeded through splitmix32) and the draws the
 * subscriber simulation needs. The same seed gives the same sequence on every platform.
 *
 * @module
 */

/** The four 32-bit words of a generator's state, to save and restore it. */
export type SeededRandomState = readonly [number, number, number, number]

/**
 * A deterministic random source.
 *
 * @example
 * ```ts
 * const r = new SeededRandom(42)
 * r.next() // the same number for seed 42, every run
 * r.exponential(3600) // a session length with mean 3600
 * ```
 */
export class SeededRandom {
  private a: number
  private b: number
  private c: number
  private d: number

  constructor(seed: number | SeededRandomState) {
    if (typeof seed !== 'number') {
      ;[this.a, this.b, this.c, this.d] = seed
      return
    }
    let s = seed >>> 0
    const split = (): number => {
      s = (s + 0x9e3779b9) >>> 0
      let z = s
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0
      return (z ^ (z >>> 16)) >>> 0
    }
    this.a = split()
    this.b = split()
    this.c = split()
    this.d = split()
    for (let i = 0; i < 12; i++) this.nextUint32()
  }

  /** The state, for {@link SeededRandom}'s constructor to resume from. */
  state(): SeededRandomState {
    return [this.a, this.b, this.c, this.d]
  }

  /** A uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0
    this.d = (this.d + 1) >>> 0
    this.a = this.b ^ (this.b >>> 9)
    this.b = (this.c + (this.c << 3)) >>> 0
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0
    this.c = (this.c + t) >>> 0
    return t
  }

  /** A uniform number in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296
  }

  /** An exponentially distributed number with mean `mean`. */
  exponential(mean: number): number {
    return -Math.log(1 - this.next()) * mean
  }

  /** A standard normal number (Box–Muller). */
  normal(): number {
    const u = 1 - this.next()
    const v = this.next()
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
  }

  /**
   * A Poisson-distributed count with mean `mean`: exact (Knuth) below 30, the rounded normal
   * approximation above.
   */
  poisson(mean: number): number {
    if (!(mean > 0)) return 0
    if (mean >= 30) return Math.max(0, Math.round(mean + Math.sqrt(mean) * this.normal()))
    const limit = Math.exp(-mean)
    let k = 0
    let p = this.next()
    while (p > limit) {
      k++
      p *= this.next()
    }
    return k
  }
}
