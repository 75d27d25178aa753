import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { throwsCode } from '../../../test/support/throws-code.js'
import { demandAt, parseDemandCurve } from './demand-curve.js'

describe('demand curves', () => {
  it('parses each kind with defaults from the subscriber count', () => {
    assert.deepEqual(parseDemandCurve('constant', 80), { kind: 'constant', level: 80 })
    assert.deepEqual(parseDemandCurve('constant,level=5', 80), { kind: 'constant', level: 5 })
    assert.deepEqual(parseDemandCurve('ramp,to=300,seconds=60', 80), {
      kind: 'ramp',
      from: 0,
      to: 300,
      seconds: 60,
    })
    assert.deepEqual(parseDemandCurve('sine,period=3600,phase=1800', 80), {
      kind: 'sine',
      peak: 80,
      trough: 0,
      period: 3600,
      phase: 1800,
    })
    assert.deepEqual(parseDemandCurve('steps,600=4,0=10', 80), {
      kind: 'steps',
      steps: [
        { at: 0, level: 10 },
        { at: 600, level: 4 },
      ],
    })
  })

  it('refuses unknown kinds, keys and bad numbers with CASM_ERR_VALIDATION', () => {
    throwsCode(() => parseDemandCurve('wave', 1), 'CASM_ERR_VALIDATION', /unknown curve 'wave'/)
    throwsCode(() => parseDemandCurve('ramp,top=3', 1), 'CASM_ERR_VALIDATION', /unknown key/)
    throwsCode(() => parseDemandCurve('sine,peak=-1', 1), 'CASM_ERR_VALIDATION', />= 0/)
    throwsCode(() => parseDemandCurve('sine,period=0', 1), 'CASM_ERR_VALIDATION', /period/)
    throwsCode(() => parseDemandCurve('steps', 1), 'CASM_ERR_VALIDATION', /at least one/)
    throwsCode(() => parseDemandCurve('steps,x=1', 1), 'CASM_ERR_VALIDATION', /not a time/)
    throwsCode(() => parseDemandCurve('constant,level', 1), 'CASM_ERR_VALIDATION', /key=value/)
  })

  it('gives the demand at a time', () => {
    assert.equal(demandAt({ kind: 'ramp', from: 10, to: 110, seconds: 100 }, 50), 60)
    assert.equal(demandAt({ kind: 'ramp', from: 10, to: 110, seconds: 100 }, 500), 110)
    const sine = { kind: 'sine', peak: 100, trough: 20, period: 1000, phase: 250 } as const
    assert.equal(demandAt(sine, 250), 100)
    assert.ok(Math.abs(demandAt(sine, 750) - 20) < 1e-9)
    const steps = {
      kind: 'steps',
      steps: [
        { at: 10, level: 5 },
        { at: 20, level: 7 },
      ],
    } as const
    assert.deepEqual(
      [0, 10, 15, 20, 99].map((t) => demandAt(steps, t)),
      [5, 5, 5, 7, 7],
    )
  })
})
