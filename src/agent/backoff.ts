/**
 * Exponential backoff with jitter, for resending to a coordinator that does not answer and for
 * reconnecting the event stream.
 *
 * @module
 */

/** How a {@link Backoff} grows. */
export interface BackoffOptions {
  /** First delay, in milliseconds (default 200). */
  readonly initialMs?: number
  /** Longest delay, in milliseconds (default 10 000). */
  readonly maxMs?: number
  /** Growth per attempt (default 2). */
  readonly factor?: number
  /**
   * Share of each delay that is random, 0..1 (default 0.5): a delay `d` becomes a value in
   * `[d × (1 − jitter), d]`, so that many agents restarting together do not retry in step.
   */
  readonly jitter?: number
  /** Source of randomness in [0, 1) (default Math.random). */
  readonly random?: () => number
}

/**
 * Delays that double from `initialMs` up to `maxMs`, each shortened by a random part.
 *
 * @example
 * ```ts
 * const b = new Backoff({ initialMs: 200, maxMs: 10_000 })
 * b.next() // 100..200
 * b.next() // 200..400
 * b.reset() // after a success
 * ```
 */
export class Backoff {
  /** Failures since the last {@link Backoff.reset}. */
  attempts = 0
  private readonly initialMs: number
  private readonly maxMs: number
  private readonly factor: number
  private readonly jitter: number
  private readonly random: () => number

  constructor(options: BackoffOptions = {}) {
    this.initialMs = options.initialMs ?? 200
    this.maxMs = options.maxMs ?? 10_000
    this.factor = options.factor ?? 2
    this.jitter = Math.min(1, Math.max(0, options.jitter ?? 0.5))
    this.random = options.random ?? Math.random
  }

  /** The delay before the next attempt, in milliseconds; counts one more failure. */
  next(): number {
    const ceiling = Math.min(this.maxMs, this.initialMs * this.factor ** this.attempts)
    this.attempts++
    return Math.round(ceiling * (1 - this.jitter * this.random()))
  }

  /** Starts again from `initialMs` (after a success). */
  reset(): void {
    this.attempts = 0
  }
}

/**
 * Resolves after `ms` milliseconds, or at once when `signal` aborts (it never rejects).
 *
 * @example
 * ```ts
 * await sleep(backoff.next(), stopping.signal)
 * ```
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) {
      resolve()
      return
    }
    const done = (): void => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, Math.max(0, ms))
    signal?.addEventListener('abort', done, { once: true })
  })
}
