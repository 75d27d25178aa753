import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { Backoff, sleep } from './backoff.js'

describe('backoff', () => {
  it('doubles from the first delay up to the cap, and starts again after reset', () => {
    const b = new Backoff({ initialMs: 200, maxMs: 10_000, jitter: 0 })
    assert.deepEqual(
      Array.from({ length: 9 }, () => b.next()),
      [200, 400, 800, 1600, 3200, 6400, 10_000, 10_000, 10_000],
    )
    assert.equal(b.attempts, 9)
    b.reset()
    assert.equal(b.next(), 200)
  })

  it('keeps every delay within [ceiling × (1 − jitter), ceiling] (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5000 }),
        fc.integer({ min: 1, max: 100_000 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.array(fc.double({ min: 0, max: 0.999_999, noNaN: true }), {
          minLength: 1,
          maxLength: 40,
        }),
        (initialMs, maxMs, jitter, draws) => {
          let k = 0
          const b = new Backoff({ initialMs, maxMs, jitter, random: () => draws[k] as number })
          for (k = 0; k < draws.length; k++) {
            const ceiling = Math.min(maxMs, initialMs * 2 ** k)
            const d = b.next()
            assert.ok(
              d <= Math.round(ceiling) && d >= Math.floor(ceiling * (1 - jitter)),
              `${d} vs ${ceiling}`,
            )
          }
        },
      ),
    )
  })

  it('sleeps, and wakes at once when aborted', async () => {
    const ctrl = new AbortController()
    const started = Date.now()
    const slept = sleep(10_000, ctrl.signal)
    ctrl.abort()
    await slept
    assert.ok(Date.now() - started < 1000)
    await sleep(5)
  })
})
