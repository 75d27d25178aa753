/**
 * The policy engine's rules, one by one with a fixed clock, and its safety properties over random
 * device states: never release a grant reported in use, never drain a pinned grant or go under
 * the minimum, grow whenever usage is at or over the high watermark.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import {
  MAX_UNITS_PER_DECISION,
  unitsToGrow,
  type DeviceFacts,
  type GrantFacts,
  decide,
  growthRate,
  timeToExhaustion,
} from './policy-engine.js'
import { defaultPolicy } from './pool-policy.js'

const NOW = Date.parse('2026-11-26T12:00:00Z')
const policy = { ...defaultPolicy('ipv4'), holdDown: 600, leadTime: 0 }

function grant(id: string, used: number | null, fields: Partial<GrantFacts> = {}): GrantFacts {
  return {
    id,
    poolId: 'pool',
    family: 'ipv4',
    prefix: `10.0.${id.length}.0/27`,
    size: 32,
    state: 'active',
    pinned: false,
    expiresAt: null,
    drainCause: null,
    drainApplied: true,
    usage: used === null ? null : { used, peak: used, average: used, at: NOW },
    ...fields,
  }
}

function facts(grants: GrantFacts[], fields: Partial<DeviceFacts> = {}): DeviceFacts {
  return {
    deviceId: 'dev',
    now: NOW,
    policy,
    grants,
    lowSince: {},
    history: {},
    lastReportAt: NOW,
    families: ['ipv4'],
    ...fields,
  }
}

const kinds = (d: DeviceFacts): string[] => decide(d).decisions.map((x) => x.kind)

describe('policy engine', () => {
  it('grants one more unit at the high watermark, not below it', () => {
    assert.deepEqual(kinds(facts([grant('a', 25)])), [])
    assert.deepEqual(kinds(facts([grant('a', 26)])), ['grant'])
    const d = decide(facts([grant('a', 26)])).decisions[0]
    assert.ok(d?.kind === 'grant')
    assert.match(d.reason, /26 of 32.*high watermark 80%/)
  })

  it('a draining grant’s users count as demand; active space is what serves them', () => {
    // 20 in use, 12 of them in a grant being drained: the one active /27 is at 62%.
    const g = [grant('a', 8), grant('b', 12, { state: 'draining', drainCause: 'policy' })]
    assert.deepEqual(kinds(facts(g)), [])
    g[0] = grant('a', 14)
    assert.deepEqual(kinds(facts(g)), ['undrain'], 'over the watermark: the drain is cancelled')
  })

  it('an operator drain or a move is not undone by the policy', () => {
    const g = [grant('a', 30), grant('b', 5, { state: 'draining', drainCause: 'operator' })]
    assert.deepEqual(kinds(facts(g)), ['grant'])
  })

  it('drains the least used after the hold-down, keeping minUnits, only if the rest stays under high', () => {
    const g = [grant('a', 3), grant('b', 1), grant('c', 2)]
    const first = decide(facts(g))
    assert.deepEqual(first.decisions, [], 'the hold-down starts')
    assert.equal(first.lowSince.ipv4, NOW)
    assert.deepEqual(kinds(facts(g, { lowSince: { ipv4: NOW - 599_000 } })), [])
    const after = decide(facts(g, { lowSince: { ipv4: NOW - 600_000 } }))
    assert.deepEqual(
      after.decisions.map((x) => (x.kind === 'drain' ? x.grant : x.kind)),
      ['b', 'c'],
      '6 of 96 in use: b, the least used, drains, and c too, since 6 of 32 stays under the middle of the band',
    )
    const busier = [grant('a', 16), grant('b', 1), grant('c', 1)]
    assert.deepEqual(
      decide(facts(busier, { lowSince: { ipv4: NOW - 600_000 } })).decisions.map((x) =>
        x.kind === 'drain' ? x.grant : x.kind,
      ),
      ['b'],
      '18 of 96 (19 %): after b 18 of 64 is 28 %; after c too 18 of 32 would be 56 %, over the middle (50 %): c stays',
    )
    assert.equal(after.lowSince.ipv4, null, 'the hold-down starts over after a drain')
    assert.deepEqual(
      kinds(facts([grant('a', 0)], { lowSince: { ipv4: NOW - 10_000_000 } })),
      [],
      'never under minUnits',
    )
    assert.deepEqual(
      kinds(
        facts([grant('a', 0), grant('b', 0)], {
          lowSince: { ipv4: NOW - 10_000_000 },
          policy: { ...policy, minUnits: 2 },
        }),
      ),
      [],
    )
  })

  it('utilisation back over the low watermark ends the hold-down', () => {
    const v = decide(facts([grant('a', 10), grant('b', 10)], { lowSince: { ipv4: NOW - 100 } }))
    assert.equal(v.lowSince.ipv4, null)
  })

  it('releases a draining grant only once it is reported empty', () => {
    const draining = (used: number | null) =>
      grant('b', used, { state: 'draining', drainCause: 'policy' })
    assert.deepEqual(kinds(facts([grant('a', 1), draining(1)])), [])
    assert.deepEqual(kinds(facts([grant('a', 1), draining(null)])), [], 'no report: kept')
    assert.deepEqual(
      kinds(facts([grant('a', 1), { ...draining(0), drainApplied: false }])),
      [],
      'a report of 0 made before the device applied the drain proves nothing',
    )
    const v = decide(facts([grant('a', 1), draining(0)]))
    assert.deepEqual(
      v.decisions.map((x) => x.kind),
      ['release'],
    )
    assert.ok(v.decisions[0]?.kind === 'release' && !v.decisions[0].expire)
  })

  it('lifetime: an unrenewed grant drains first and expires only when empty; pinned ones stay', () => {
    const due = grant('a', 3, { expiresAt: NOW - 1 })
    const v = decide(facts([due, grant('b', 1)]))
    assert.deepEqual(
      v.decisions.map((x) => (x.kind === 'drain' ? `${x.kind}:${x.cause}` : x.kind)),
      ['drain:lifetime'],
    )
    assert.deepEqual(kinds(facts([grant('a', 3, { expiresAt: NOW - 1, pinned: true })])), [])
    const empty = decide(
      facts([grant('a', 0, { state: 'draining', drainCause: 'lifetime' }), grant('b', 1)]),
    )
    assert.ok(empty.decisions[0]?.kind === 'release' && empty.decisions[0].expire)
  })

  it('forecast: growth that runs out within the lead time grants early', () => {
    // 0, 4, 8, 12, 16 in use over 16 minutes: +1 address a minute; 16 of 32 left: 16 minutes.
    const history = {
      ipv4: [0, 1, 2, 3, 4].map((i) => ({
        at: NOW - (4 - i) * 240_000,
        used: 4 * i,
        capacity: 32,
      })),
    }
    const p = { ...policy, leadTime: 1800 }
    const v = decide(facts([grant('a', 16)], { history, policy: p }))
    assert.deepEqual(
      v.decisions.map((x) => x.kind),
      ['grant'],
    )
    assert.match(
      v.decisions[0]?.reason ?? '',
      /forecast: growing 0\.02 addresses\/s.*run out in 960 s/,
    )
    assert.deepEqual(
      kinds(facts([grant('a', 16)], { history, policy: { ...p, leadTime: 900 } })),
      [],
      '16 minutes is over a 15-minute lead time',
    )
    assert.deepEqual(kinds(facts([grant('a', 16)], { history, policy: { ...p, leadTime: 0 } })), [])
    const recent = { ipv4: history.ipv4.slice(3) }
    assert.deepEqual(
      kinds(facts([grant('a', 16)], { history: recent, policy: p })),
      [],
      '4 minutes of history is under half the 30-minute lead time: no trend yet',
    )
    assert.deepEqual(
      kinds(facts([grant('a', 16)], { history, policy: { ...p, lowWatermark: 0.6 } })),
      [],
      'a device under the low watermark is not grown on a forecast',
    )
  })

  it('growthRate and timeToExhaustion', () => {
    const s = [0, 1, 2, 3].map((i) => ({ at: i * 10_000, used: 10 + 5 * i, capacity: 64 }))
    assert.equal(growthRate(s, 30_000, 60), 0.5)
    assert.equal(growthRate(s.slice(0, 2), 30_000, 60), 0, 'too few samples')
    assert.equal(timeToExhaustion(25, 64, 0.5), 78)
    assert.equal(timeToExhaustion(25, 64, 0), Number.POSITIVE_INFINITY)
  })

  it('a device silent past staleAfter is flagged, and nothing of it is reclaimed for it', () => {
    const v = decide(
      facts([grant('a', 0), grant('b', 0)], {
        lastReportAt: NOW - 61_000,
        lowSince: { ipv4: NOW - 10_000_000 },
      }),
    )
    assert.equal(v.decisions[0]?.kind, 'alert')
  })
})

describe('growth sized to the need', () => {
  it('grants enough units to get back under the high watermark, in one decision', () => {
    // 100 used of 32 at 0.8: 125 needed, 93 missing → 3 units of 32 (128: 78 %).
    assert.equal(unitsToGrow(100, 32, 0.8, 32), 3)
    assert.equal(unitsToGrow(26, 32, 0.8, 32), 1)
    assert.equal(unitsToGrow(0, 0, 0.8, 256), 1)
    assert.equal(unitsToGrow(1e9, 0, 0.8, 256), MAX_UNITS_PER_DECISION)
  })

  it('after the units, usage is under the high watermark (unless capped)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1e6 }),
        fc.integer({ min: 0, max: 1e6 }),
        fc.double({ min: 0.05, max: 1, noNaN: true }),
        fc.constantFrom(1, 16, 32, 256, 1024),
        (used, capacity, high, unit) => {
          const n = unitsToGrow(used, capacity, high, unit)
          assert.ok(n >= 1 && n <= MAX_UNITS_PER_DECISION)
          if (n < MAX_UNITS_PER_DECISION) assert.ok(used / (capacity + n * unit) < high)
          // and not more than one unit beyond what is needed
          if (n > 1) assert.ok(used / (capacity + (n - 1) * unit) >= high)
        },
      ),
    )
  })
})

describe('policy engine properties', () => {
  const arbGrant = fc.record({
    used: fc.option(fc.integer({ min: 0, max: 32 }), { nil: null }),
    state: fc.constantFrom<'active' | 'draining'>('active', 'draining'),
    pinned: fc.boolean(),
    cause: fc.constantFrom('policy', 'lifetime', 'operator', 'move'),
    expired: fc.boolean(),
    applied: fc.boolean(),
  })
  const arbFacts = fc
    .record({
      grants: fc.array(arbGrant, { minLength: 1, maxLength: 6 }),
      lowFor: fc.option(fc.integer({ min: 0, max: 5_000_000 }), { nil: null }),
      high: fc.double({ min: 0.3, max: 1, noNaN: true }),
      low: fc.double({ min: 0, max: 0.29, noNaN: true }),
      minUnits: fc.integer({ min: 0, max: 3 }),
    })
    .map((r) =>
      facts(
        r.grants.map((g, i) =>
          grant(`g${i}`, g.used, {
            state: g.state,
            pinned: g.pinned,
            drainCause: g.state === 'draining' ? g.cause : null,
            drainApplied: g.applied,
            expiresAt: g.expired ? NOW - 1 : null,
          }),
        ),
        {
          lowSince: { ipv4: r.lowFor === null ? null : NOW - r.lowFor },
          policy: { ...policy, highWatermark: r.high, lowWatermark: r.low, minUnits: r.minUnits },
        },
      ),
    )

  it('never releases a grant reported in use (or not reported at all)', () => {
    fc.assert(
      fc.property(arbFacts, (f) => {
        for (const d of decide(f).decisions) {
          if (d.kind !== 'release') continue
          const g = f.grants.find((x) => x.id === d.grant)
          assert.ok(g?.state === 'draining' && g.usage?.used === 0 && g.drainApplied)
        }
      }),
      { numRuns: 2000 },
    )
  })

  it('never drains a pinned grant, nor an active one by policy below minUnits', () => {
    fc.assert(
      fc.property(arbFacts, (f) => {
        const d = decide(f).decisions
        const drains = d.filter((x) => x.kind === 'drain')
        for (const x of drains) {
          const g = f.grants.find((y) => y.id === x.grant)
          assert.ok(g !== undefined && !g.pinned && g.state === 'active')
        }
        const policyDrains = drains.filter((x) => x.cause === 'policy').length
        const activeLeft = f.grants.filter(
          (g) => g.state === 'active' && !(g.expiresAt !== null && !g.pinned),
        ).length
        if (policyDrains > 0) assert.ok(activeLeft - policyDrains >= f.policy.minUnits)
        if (policyDrains > 0) {
          // What stays active serves every user under the high watermark.
          const drained = new Set(drains.map((x) => x.grant))
          const stays = f.grants
            .filter((g) => g.state === 'active' && !drained.has(g.id))
            .reduce((a, g) => a + g.size, 0)
          const used = f.grants.reduce((a, g) => a + (g.usage?.used ?? 0), 0)
          assert.ok(stays > 0 && used / stays < f.policy.highWatermark)
        }
      }),
      { numRuns: 2000 },
    )
  })

  it('at or over the high watermark it grows (or undrains), never drains by policy', () => {
    fc.assert(
      fc.property(arbFacts, (f) => {
        const v = decide(f)
        const u = v.utilisation.ipv4 ?? 0
        const kinds = v.decisions.map((x) => x.kind)
        if (u >= f.policy.highWatermark) {
          assert.ok(kinds.includes('grant') || kinds.includes('undrain'), JSON.stringify(v))
          assert.ok(!v.decisions.some((x) => x.kind === 'drain' && x.cause === 'policy'))
        }
      }),
      { numRuns: 2000 },
    )
  })
})
