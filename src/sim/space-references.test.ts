/**
 * The references on demand curves small enough to check by hand.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { roundUpToUnits, spaceReferences } from './space-references.js'

describe('space references', () => {
  it('rounds up to whole units', () => {
    assert.equal(roundUpToUnits(0, 256), 0)
    assert.equal(roundUpToUnits(1, 256), 256)
    assert.equal(roundUpToUnits(256, 256), 256)
    assert.equal(roundUpToUnits(257, 256), 512)
    assert.throws(() => roundUpToUnits(1, 0), RangeError)
  })

  it('two devices peaking at different times: static sums the peaks, pooled takes the peak of the sum', () => {
    // t:        0    1    2    3
    // a:       10   90   40   10     peak 90  → 100 in units of 50
    // b:       80   20   60   10     peak 80  → 100
    // total:   90  110  100   20     peak 110 → 150
    const r = spaceReferences(
      [
        [10, 80],
        [90, 20],
        [40, 60],
        [10, 10],
      ],
      50,
    )
    assert.equal(r.staticPlan, 200)
    assert.equal(r.pooledBound, 150)
    assert.deepEqual(r.devicePeaks, [90, 80])
    assert.equal(r.totalPeak, 110)
    assert.equal(r.totalPeakAt, 1)
  })

  it('devices in step: pooling saves only the rounding', () => {
    const r = spaceReferences(
      [
        [30, 30, 30],
        [70, 70, 70],
      ],
      32,
    )
    assert.equal(r.staticPlan, 3 * 96)
    assert.equal(r.pooledBound, 224)
  })

  it('the pooled bound never exceeds the static plan, nor falls under the true peak', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.integer({ min: 0, max: 10_000 }), { minLength: 3, maxLength: 3 }), {
          minLength: 1,
          maxLength: 50,
        }),
        fc.constantFrom(1, 16, 256),
        (demand, unit) => {
          const r = spaceReferences(demand, unit)
          const truePeak = Math.max(...demand.map((row) => row.reduce((a, b) => a + b, 0)))
          assert.ok(r.pooledBound <= r.staticPlan)
          assert.ok(r.pooledBound >= truePeak && r.pooledBound < truePeak + unit)
          assert.equal(r.staticPlan % unit, 0)
        },
      ),
    )
  })
})
