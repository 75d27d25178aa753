/**
 * Time for the coordinator: the system clock in production, a clock the test moves by hand.
 *
 * @module
 */

/** A source of the current time in epoch milliseconds. */
export interface Clock {
  now(): number
}

/** The system clock. */
export const systemClock: Clock = { now: () => Date.now() }

/** A clock that stands still until told to move; for tests of timers (lifetime, quarantine). */
export class FakeClock implements Clock {
  #now: number

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.#now = start
  }

  now(): number {
    return this.#now
  }

  /** Moves the clock forward by `ms`. */
  advance(ms: number): void {
    this.#now += ms
  }

  /** Sets the clock. */
  set(ms: number): void {
    this.#now = ms
  }
}
