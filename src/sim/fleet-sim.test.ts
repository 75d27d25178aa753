/**
 * The fleet simulator against the real coordinator: the invariants hold (no overlap, nothing
 * released with users, nobody rejected while the pool had room), a run is deterministic for its
 * seed, and an exhausted pool rejects subscribers only when it really has no unit left.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { runSimulation, type SimResult } from './fleet-sim.js'
import { parseScenario } from './scenario.js'

const tiny = parseScenario(
  readFileSync(new URL('../../test/fixtures/sim/tiny.yaml', import.meta.url), 'utf8'),
)

/** What must not depend on the machine: everything but wall-clock figures. */
function outcome(r: SimResult): unknown {
  return {
    space: r.space,
    subscribers: r.subscribers,
    grants: r.grants,
    routes: r.routes,
    drain: [r.reaction.drainToReleaseP50Min, r.reaction.drainToReleaseP99Min],
    messages: r.coordinator.messages,
    events: r.coordinator.events,
    series: r.series,
  }
}

describe('fleet simulator', () => {
  it('serves every subscriber with the invariants held, and measures against both references', async () => {
    const r = await runSimulation(tiny)
    assert.deepEqual(r.violations, [])
    assert.equal(r.subscribers.rejected, 0)
    assert.equal(r.rejectedWhileFree, 0)
    assert.ok(r.subscribers.peak > 1000)
    // The references come from the same demand; casm holds at least what is in use.
    assert.ok(r.space.pooledBound <= r.space.staticPlan)
    assert.ok(r.space.casm >= r.space.pooledBound - r.unitSize)
    assert.ok(r.space.casm <= r.space.poolSize)
    assert.equal(r.space.vsPooled, r.space.casm / r.space.pooledBound)
    // The daily cycle grows and shrinks the devices; the failed device came back with hello.
    assert.ok(r.grants.granted > 4 && r.grants.drained > 0 && r.grants.released > 0)
    assert.ok(r.series.length >= 24)
    const last = r.series[r.series.length - 1]
    assert.ok(last?.deviceDemand?.length === 4 && last.deviceHeld?.length === 4)
    assert.ok(r.routes.maxPerDevice >= 1)
  })

  it('is deterministic for a seed, and another seed gives another run', async () => {
    const [a, b, c] = await Promise.all([
      runSimulation(tiny, { days: 0.2 }),
      runSimulation(tiny, { days: 0.2 }),
      runSimulation(tiny, { days: 0.2, seed: 8 }),
    ])
    assert.deepEqual(outcome(a), outcome(b))
    assert.notDeepEqual(outcome(a), outcome(c))
  })

  it('an exhausted pool rejects subscribers, but never while it still had a free unit', async () => {
    const r = await runSimulation({ ...tiny, space: ['10.40.0.0/24'] }, { days: 0.3 })
    assert.ok(r.subscribers.rejected > 0, 'a /24 cannot serve four devices of hundreds')
    assert.equal(r.rejectedWhileFree, 0)
    assert.deepEqual(r.violations, [])
    assert.ok(r.space.casm <= 256)
  })

  it('holds its invariants under random policies (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          high: fc.double({ min: 0.6, max: 1, noNaN: true }),
          gap: fc.double({ min: 0.05, max: 0.5, noNaN: true }),
          unit: fc.integer({ min: 25, max: 28 }),
          holdDown: fc.constantFrom(0, 300, 1800),
          drain: fc.constantFrom('natural' as const, 'fast' as const),
          quarantine: fc.constantFrom(0, 600),
          seed: fc.integer({ min: 0, max: 1000 }),
        }),
        async (p) => {
          const r = await runSimulation(tiny, {
            days: 0.15,
            seed: p.seed,
            series: false,
            policy: {
              highWatermark: p.high,
              lowWatermark: Math.max(0, p.high - p.gap),
              unitDefault: p.unit,
              holdDown: p.holdDown,
              drain: p.drain,
              quarantine: p.quarantine,
            },
          })
          assert.deepEqual(r.violations, [])
          assert.equal(r.rejectedWhileFree, 0)
        },
      ),
      { numRuns: 6 },
    )
  })
})
