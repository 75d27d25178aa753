/**
 * The console's usage series: the coordinator's history as chart samples, merged with the
 * samples the page takes live (history first, then live points after its last one).
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { forecast, fromHistory, mergeSamples } from '../web/src/usage/series.js'

const T0 = Date.UTC(2026, 10, 25, 12)
const at = (ms: number): string => new Date(ms).toISOString()

describe('console usage history', () => {
  it('fromHistory keeps one family (or all) as time and utilisation, skipping bad times', () => {
    const items = [
      { at: at(T0), family: 'ipv4', utilisation: 0.25 },
      { at: at(T0), family: 'ipv6', utilisation: 0.5 },
      { at: 'not a time', family: 'ipv4', utilisation: 0.3 },
      { at: at(T0 + 300_000), family: 'ipv4', utilisation: 0.3 },
    ]
    assert.deepEqual(fromHistory(items, 'ipv4'), [
      { t: T0, v: 0.25 },
      { t: T0 + 300_000, v: 0.3 },
    ])
    assert.equal(fromHistory(items).length, 3)
    assert.deepEqual(fromHistory([]), [])
  })

  it('mergeSamples puts the history first, then only live samples newer than its last point', () => {
    const history = [
      { t: T0, v: 0.1 },
      { t: T0 + 300_000, v: 0.2 },
    ]
    const live = [
      { t: T0 + 100_000, v: 0.15 },
      { t: T0 + 300_000, v: 0.2 },
      { t: T0 + 305_000, v: 0.21 },
    ]
    assert.deepEqual(mergeSamples(history, live), [...history, { t: T0 + 305_000, v: 0.21 }])
    assert.equal(mergeSamples([], live), live, 'no history: the live samples as they are')
    assert.deepEqual(mergeSamples(history, []), history)
  })

  it('a fresh tab forecasts from the history alone', () => {
    const history = fromHistory(
      [0, 1, 2, 3].map((i) => ({
        at: at(T0 + i * 300_000),
        family: 'ipv4',
        utilisation: 0.5 + i * 0.01,
      })),
    )
    const f = forecast(mergeSamples(history, []), 6 * 3_600_000)
    assert.ok(f !== null && f.fullAt !== null)
    assert.ok(Math.abs(f.perHour - 0.12) < 1e-9)
  })
})
