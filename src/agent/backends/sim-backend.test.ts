import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import type { BackendGrant } from './backend.js'
import { backendConformance } from './backend.case.js'
import type { DemandCurve } from './demand-curve.js'
import { SimBackend, type SimBackendOptions } from './sim-backend.js'

backendConformance('sim', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'casm-sim-'))
  const options: SimBackendOptions = {
    seed: 3,
    curve: { kind: 'constant', level: 20 },
    snapshotFile: join(dir, 'sim.json'),
  }
  return {
    backend: new SimBackend(options),
    reopen: () => new SimBackend(options),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  }
})

const grant = (id: string, prefix: string, state: BackendGrant['state'] = 'active') => ({
  grant: id,
  prefix,
  state,
})

/** A simulation on a manual clock (milliseconds). */
function manual(options: SimBackendOptions = {}) {
  const clock = { now: 0 }
  const sim = new SimBackend({ ...options, clock: () => clock.now })
  return { sim, clock }
}

describe('sim backend', () => {
  it('fills a grant to its size and rejects the rest of the demand', async () => {
    const { sim, clock } = manual({
      seed: 1,
      curve: { kind: 'constant', level: 60 },
      sessionSeconds: 3600,
    })
    await sim.start()
    await sim.install(grant('gr_1', '100.64.8.0/27'))
    clock.now = 600_000
    const [u] = await sim.usage()
    assert.equal(u?.used, 32)
    assert.equal(u.peak, 32)
    const d = sim.describe()
    assert.ok((d['rejected'] as number) > 0, JSON.stringify(d))
    assert.equal(d['online'], 32)
  })

  it('follows a constant demand when space is plenty', async () => {
    const { sim, clock } = manual({
      seed: 9,
      curve: { kind: 'constant', level: 200 },
      sessionSeconds: 300,
    })
    await sim.start()
    await sim.install(grant('gr_1', '100.64.0.0/22'))
    let sum = 0
    for (let minute = 1; minute <= 60; minute++) {
      clock.now = minute * 60_000
      sum += (await sim.usage())[0]?.used ?? 0
    }
    const mean = sum / 60
    assert.ok(mean > 170 && mean < 230, `mean ${mean}`)
  })

  it('follows a ramp and a diurnal sine', async () => {
    const ramp = manual({
      seed: 2,
      curve: { kind: 'ramp', from: 0, to: 400, seconds: 3600 },
      sessionSeconds: 120,
    })
    await ramp.sim.start()
    await ramp.sim.install(grant('gr_1', '100.64.0.0/22'))
    ramp.clock.now = 900_000
    const quarter = (await ramp.sim.usage())[0]?.used ?? 0
    ramp.clock.now = 3_600_000
    const full = (await ramp.sim.usage())[0]?.used ?? 0
    assert.ok(quarter > 60 && quarter < 140, `at 15 min ${quarter}`)
    assert.ok(full > 340 && full < 460, `at 60 min ${full}`)

    const sine = manual({
      seed: 2,
      curve: { kind: 'sine', peak: 300, trough: 20, period: 86_400, phase: 43_200 },
      sessionSeconds: 300,
    })
    await sine.sim.start()
    await sine.sim.install(grant('gr_1', '100.64.0.0/22'))
    sine.clock.now = 3_600_000
    const night = (await sine.sim.usage())[0]?.used ?? 0
    sine.clock.now = 43_200_000
    const noon = (await sine.sim.usage())[0]?.used ?? 0
    assert.ok(night < 60, `night ${night}`)
    assert.ok(noon > 250, `noon ${noon}`)
  })

  it('takes no new subscriber in a draining grant; they leave as sessions end', async () => {
    const { sim, clock } = manual({
      seed: 4,
      curve: { kind: 'constant', level: 50 },
      sessionSeconds: 60,
    })
    await sim.start()
    await sim.install(grant('gr_1', '100.64.8.0/28'))
    await sim.install(grant('gr_2', '100.64.9.0/24'))
    clock.now = 300_000
    let last = sim.inspect()[0]?.used ?? 0
    assert.ok(last >= 12, `the oldest grant fills first: ${last}`)
    await sim.drain(grant('gr_1', '100.64.8.0/28'))
    for (let s = 310; s <= 1200; s += 10) {
      clock.now = s * 1000
      const used = sim.inspect()[0]?.used ?? -1
      assert.ok(used <= last, `draining grant grew from ${last} to ${used}`)
      last = used
    }
    assert.equal(last, 0)
    const other = sim.inspect()[1]?.used ?? 0
    assert.ok(other > 30, `the active grant took the demand: ${other}`)
  })

  it('moves subscribers out of a draining grant at once with fastDrain', async () => {
    const { sim, clock } = manual({
      seed: 4,
      curve: { kind: 'constant', level: 12 },
      sessionSeconds: 3600,
      fastDrain: true,
    })
    await sim.start()
    await sim.install(grant('gr_1', '100.64.8.0/28'))
    clock.now = 60_000
    const used = sim.inspect()[0]?.used ?? 0
    assert.ok(used > 5)
    await sim.install(grant('gr_2', '100.64.9.0/24'))
    await sim.drain(grant('gr_1', '100.64.8.0/28'))
    const [a, b] = sim.inspect()
    assert.equal(a?.used, 0)
    assert.equal(b?.used, used)
  })

  it('moves subscribers at once for a fast drain, even without fastDrain', async () => {
    const { sim, clock } = manual({ seed: 4, curve: { kind: 'constant', level: 12 } })
    await sim.start()
    await sim.install(grant('gr_1', '100.64.8.0/28'))
    clock.now = 60_000
    const used = sim.inspect()[0]?.used ?? 0
    await sim.install(grant('gr_2', '100.64.9.0/24'))
    await sim.drain({ ...grant('gr_1', '100.64.8.0/28'), drainMode: 'fast' })
    assert.deepEqual(
      sim.inspect().map((g) => g.used),
      [0, used],
    )
  })

  it('counts IPv6 grants in /64s, one per subscriber', async () => {
    const { sim, clock } = manual({ seed: 4, curve: { kind: 'constant', level: 40 } })
    await sim.start()
    await sim.install(grant('gr_6', '2001:db8:0:10::/60'))
    clock.now = 600_000
    const [g] = sim.inspect()
    assert.equal(g?.capacity, 16)
    assert.equal(g.used, 16)
  })

  it('cuts the subscribers of a removed grant, who come back in another', async () => {
    const { sim, clock } = manual({
      seed: 5,
      curve: { kind: 'constant', level: 10 },
      sessionSeconds: 36_000,
      retrySeconds: 10,
    })
    await sim.start()
    await sim.install(grant('gr_1', '100.64.8.0/28'))
    clock.now = 60_000
    const cut = sim.inspect()[0]?.used ?? 0
    assert.ok(cut >= 5)
    await sim.install(grant('gr_2', '100.64.9.0/28'))
    await sim.remove(grant('gr_1', '100.64.8.0/28'))
    assert.equal(sim.describe()['evicted'], cut)
    clock.now = 120_000
    assert.ok((sim.inspect()[0]?.used ?? 0) >= cut - 1)
  })

  it('reports the peak and the time-weighted average of each window', async () => {
    const { sim, clock } = manual({
      seed: 6,
      curve: {
        kind: 'steps',
        steps: [
          { at: 0, level: 0 },
          { at: 100, level: 30 },
        ],
      },
      sessionSeconds: 100_000,
    })
    await sim.start()
    await sim.install(grant('gr_1', '100.64.8.0/26'))
    clock.now = 200_000
    const [w1] = await sim.usage()
    assert.ok(w1 !== undefined && w1.peak !== undefined && w1.average !== undefined)
    assert.ok(w1.used >= 20 && w1.peak === w1.used)
    assert.ok(w1.average > w1.used * 0.4 && w1.average < w1.used * 0.6, JSON.stringify(w1))
    clock.now = 300_000
    const [w2] = await sim.usage()
    assert.ok(w2 !== undefined && w2.average !== undefined)
    assert.ok(Math.abs(w2.average - w2.used) <= 2, JSON.stringify(w2))
  })

  it('resumes its population from the snapshot after a restart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'casm-sim-'))
    try {
      const clock = { now: 0 }
      const options: SimBackendOptions = {
        seed: 8,
        curve: { kind: 'constant', level: 40 },
        sessionSeconds: 36_000,
        clock: () => clock.now,
        snapshotFile: join(dir, 'sim.json'),
      }
      const first = new SimBackend(options)
      await first.start()
      await first.install(grant('gr_1', '100.64.8.0/26'))
      clock.now = 120_000
      const before = first.describe()
      await first.stop()
      const second = new SimBackend(options)
      await second.start()
      const after = second.describe()
      assert.equal(after['online'], before['online'])
      assert.equal(after['simSeconds'], before['simSeconds'])
      assert.deepEqual(await second.holds(), [
        { grant: 'gr_1', prefix: '100.64.8.0/26', state: 'active' },
      ])
      await second.stop()
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('refuses a session, retry, step or speed of 0', () => {
    assert.throws(() => new SimBackend({ speed: 0 }), /above 0/)
  })
})

const PREFIXES = ['100.64.0.0/29', '100.64.0.8/30', '100.64.0.16/28', '100.64.0.32/31']

type Op =
  | { readonly op: 'advance'; readonly ms: number }
  | { readonly op: 'install' | 'drain' | 'undrain' | 'remove'; readonly i: number }

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 90_000 }) }),
  fc.record({
    op: fc.constantFrom(
      'install' as const,
      'drain' as const,
      'undrain' as const,
      'remove' as const,
    ),
    i: fc.integer({ min: 0, max: PREFIXES.length - 1 }),
  }),
)

const CURVE: DemandCurve = { kind: 'sine', peak: 40, trough: 5, period: 600, phase: 0 }

/** Runs `ops` on a fresh simulation; calls `check` after each; returns what it saw. */
async function run(
  ops: readonly Op[],
  seed: number,
  check: (sim: SimBackend, op: Op) => void = () => undefined,
): Promise<string> {
  const clock = { now: 0 }
  const sim = new SimBackend({
    seed,
    curve: CURVE,
    sessionSeconds: 60,
    retrySeconds: 5,
    clock: () => clock.now,
  })
  await sim.start()
  const seen: unknown[] = []
  for (const op of ops) {
    if (op.op === 'advance') clock.now += op.ms
    else {
      const prefix = PREFIXES[op.i] as string
      await sim[op.op](grant(`gr_${op.i}`, prefix))
    }
    check(sim, op)
    seen.push(sim.inspect())
  }
  seen.push(await sim.usage(), sim.describe())
  return JSON.stringify(seen)
}

describe('sim backend properties', () => {
  it('never puts more subscribers in a grant than its size, each on its own address', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { maxLength: 30 }), fc.nat(), async (ops, seed) => {
        await run(ops, seed, (sim) => {
          for (const g of sim.inspect()) {
            assert.ok(g.used <= g.capacity, `${g.prefix}: ${g.used} > ${g.capacity}`)
            assert.equal(g.offsets.length, g.used)
            assert.equal(new Set(g.offsets).size, g.used)
            for (const o of g.offsets) assert.ok(o >= 0 && o < g.capacity)
          }
        })
      }),
      { numRuns: 60 },
    )
  })

  it('never adds a subscriber to a draining grant', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { maxLength: 30 }), fc.nat(), async (ops, seed) => {
        let before = new Map<string, { state: string; used: number }>()
        await run(ops, seed, (sim) => {
          const now = new Map(sim.inspect().map((g) => [g.prefix, g]))
          for (const [prefix, g] of now) {
            const b = before.get(prefix)
            if (b?.state === 'draining' && g.state === 'draining')
              assert.ok(g.used <= b.used, `${prefix} grew while draining: ${b.used} -> ${g.used}`)
          }
          before = new Map([...now].map(([p, g]) => [p, { state: g.state, used: g.used }]))
        })
      }),
      { numRuns: 60 },
    )
  })

  it('is deterministic for a seed, however time is sliced', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(opArb, { maxLength: 20 }),
        fc.nat(),
        fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 20, maxLength: 20 }),
        async (ops, seed, cuts) => {
          const once = await run(ops, seed)
          assert.equal(await run(ops, seed), once)
          // The same calls, with each advance split into smaller ones (each observed).
          const sliced: Op[] = []
          const keep: boolean[] = []
          ops.forEach((op, k) => {
            if (op.op !== 'advance') {
              sliced.push(op)
              keep.push(true)
              return
            }
            const parts = cuts[k % cuts.length] as number
            let left = op.ms
            for (let p = parts; p > 1; p--) {
              const piece = Math.floor(left / p)
              sliced.push({ op: 'advance', ms: piece })
              keep.push(false)
              left -= piece
            }
            sliced.push({ op: 'advance', ms: left })
            keep.push(true)
          })
          const all = JSON.parse(await run(sliced, seed)) as unknown[]
          const tail = all.slice(-2)
          const kept = all.slice(0, -2).filter((_, i) => keep[i])
          assert.equal(JSON.stringify([...kept, ...tail]), once)
        },
      ),
      { numRuns: 40 },
    )
  })
})
