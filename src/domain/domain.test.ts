import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { throwsCode } from '../../test/support/throws-code.js'
import { GRANT_STATES, TRANSITIONS, afterRelease, isLive, transition } from './grant-lifecycle.js'
import { defaultPolicy, resolvePolicy, unitLength } from './pool-policy.js'
import { checkSelectors, matchSelectors, rankPools } from './requestor.js'

describe('grant lifecycle', () => {
  it('allows exactly the moves of the table', () => {
    assert.equal(transition('active', 'drain'), 'draining')
    assert.equal(transition('draining', 'undrain'), 'active')
    assert.equal(transition('active', 'release'), 'released')
    assert.equal(transition('draining', 'release'), 'released')
    assert.equal(transition('active', 'expire'), 'expired')
    assert.equal(transition('released', 'quarantine'), 'quarantined')
    assert.equal(transition('expired', 'free'), 'free')
    assert.equal(transition('quarantined', 'free'), 'free')
    const events = ['drain', 'undrain', 'release', 'expire', 'quarantine', 'free'] as const
    let illegal = 0
    for (const from of GRANT_STATES) {
      for (const ev of events) {
        if (TRANSITIONS[from][ev] === undefined) {
          throwsCode(() => transition(from, ev), 'CASM_ERR_ILLEGAL_TRANSITION')
          illegal++
        }
      }
    }
    assert.equal(illegal, 36 - 11, '11 legal moves of 6 states by 6 events')
  })

  it('never leaves free, and only free is not live', () => {
    for (const ev of ['drain', 'release', 'free'] as const)
      throwsCode(() => transition('free', ev), 'CASM_ERR_ILLEGAL_TRANSITION', /finished/)
    assert.deepEqual(
      GRANT_STATES.filter((s) => !isLive(s)),
      ['free'],
    )
  })

  it('quarantines only when the pool asks', () => {
    assert.deepEqual(afterRelease(0, 1000), { state: 'free', quarantineUntil: null })
    assert.deepEqual(afterRelease(300_000, 1000), {
      state: 'quarantined',
      quarantineUntil: 301_000,
    })
  })
})

describe('pool policy', () => {
  it('takes defaults by family and merges changes', () => {
    assert.equal(defaultPolicy('ipv4').strategy, 'dense')
    assert.equal(defaultPolicy('ipv6').strategy, 'sparse')
    const p = resolvePolicy('ipv4', { unit: { default: 28 }, quarantine: 0 })
    assert.deepEqual(p.unit, { min: 20, default: 28, max: 32 })
    assert.equal(p.quarantine, 0)
    const q = resolvePolicy('ipv4', { highWatermark: 0.9 }, p)
    assert.equal(q.unit.default, 28, 'changes keep what they do not name')
    assert.equal(q.highWatermark, 0.9)
  })

  it('refuses inconsistent policies with the field named', () => {
    throwsCode(
      () => resolvePolicy('ipv4', { unit: { default: 33 } }),
      'CASM_ERR_VALIDATION',
      /unit\.default/,
    )
    throwsCode(
      () => resolvePolicy('ipv4', { unit: { min: 28, default: 24 } }),
      'CASM_ERR_VALIDATION',
      /min <= default <= max/,
    )
    throwsCode(() => resolvePolicy('ipv6', { unit: { max: 129 } }), 'CASM_ERR_VALIDATION')
    throwsCode(
      () => resolvePolicy('ipv4', { highWatermark: 0 }),
      'CASM_ERR_VALIDATION',
      /highWatermark/,
    )
    throwsCode(
      () => resolvePolicy('ipv4', { lowWatermark: 0.9, highWatermark: 0.8 }),
      'CASM_ERR_VALIDATION',
      /lowWatermark/,
    )
    throwsCode(() => resolvePolicy('ipv4', { quarantine: -1 }), 'CASM_ERR_VALIDATION', /quarantine/)
    throwsCode(() => resolvePolicy('ipv4', { lifetime: 1.5 }), 'CASM_ERR_VALIDATION')
    throwsCode(
      () => resolvePolicy('ipv4', { strategy: 'random' as never }),
      'CASM_ERR_VALIDATION',
      /strategy/,
    )
  })

  it('bounds the unit a request may ask for', () => {
    const p = resolvePolicy('ipv4', { unit: { min: 24, default: 27, max: 29 } })
    assert.equal(unitLength(p, undefined), 27)
    assert.equal(unitLength(p, 24), 24)
    throwsCode(() => unitLength(p, 23), 'CASM_ERR_VALIDATION', /\/24 to \/29/)
    throwsCode(() => unitLength(p, 30), 'CASM_ERR_VALIDATION')
  })
})

describe('requestor selectors', () => {
  const pools = [
    { name: 'any', priority: 0, selectors: {} },
    { name: 'bng-public', priority: 10, selectors: { function: ['bng'], scope: ['public'] } },
    { name: 'bng', priority: 10, selectors: { function: ['bng'] } },
    { name: 'eu', priority: 5, selectors: { 'custom.region': ['eu-west', 'eu-central'] } },
  ]

  it('matches every named attribute, custom ones too', () => {
    assert.equal(matchSelectors({}, {}), 0)
    assert.equal(matchSelectors({ function: ['bng'] }, { function: 'bng' }), 1)
    assert.equal(matchSelectors({ function: ['bng'] }, { function: 'cgn' }), undefined)
    assert.equal(matchSelectors({ function: ['bng'] }, {}), undefined)
    assert.equal(
      matchSelectors({ 'custom.region': ['eu-west'] }, { custom: { region: 'eu-west' } }),
      1,
    )
  })

  it('ranks by priority, then specificity, then name', () => {
    const ranked = rankPools(pools, {
      function: 'bng',
      scope: 'public',
      custom: { region: 'eu-west' },
    }).map((r) => r.pool.name)
    assert.deepEqual(ranked, ['bng-public', 'bng', 'eu', 'any'])
    assert.deepEqual(
      rankPools(pools, { function: 'cgn' }).map((r) => r.pool.name),
      ['any'],
    )
  })

  it('refuses unknown attributes and empty value lists', () => {
    throwsCode(
      () => checkSelectors({ colour: ['red'] }),
      'CASM_ERR_VALIDATION',
      /not a requestor attribute/,
    )
    throwsCode(() => checkSelectors({ function: [] }), 'CASM_ERR_VALIDATION', /no values/)
    checkSelectors({ function: ['bng'], 'custom.site': ['x'] })
  })
})
