/**
 * Scenario files: the shipped ones load, bad ones are refused with every problem and its path;
 * the demand model follows the scenario's curves and events.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { readFileSync } from 'node:fs'
import { CasmError } from '../errors/casm-error.js'
import { DemandModel } from './demand-model.js'
import {
  SHIPPED_SCENARIOS,
  atSeconds,
  deviceNames,
  loadScenario,
  parseScenario,
} from './scenario.js'

const TINY = readFileSync(new URL('../../test/fixtures/sim/tiny.yaml', import.meta.url), 'utf8')

function refused(text: string): { message: string; paths: string[] } {
  try {
    parseScenario(text, 'bad.yaml')
  } catch (e) {
    assert.ok(e instanceof CasmError)
    assert.equal(e.code, 'CASM_ERR_VALIDATION')
    const errors = (e.details?.['errors'] ?? []) as { path: string }[]
    return { message: e.message, paths: errors.map((x) => x.path) }
  }
  assert.fail('accepted')
}

describe('scenario files', () => {
  it('every shipped scenario loads', () => {
    for (const name of SHIPPED_SCENARIOS) {
      const s = loadScenario(name)
      assert.equal(s.name, name)
      assert.ok(deviceNames(s).length > 0)
    }
    const metro = loadScenario('metro-100')
    assert.equal(deviceNames(metro).length, 100)
    assert.ok(metro.space.length >= 100, 'many non-contiguous blocks')
  })

  it('JSON is YAML too', () => {
    const yaml = parseScenario(TINY)
    assert.deepEqual(parseScenario(JSON.stringify(yaml)), yaml)
  })

  it('refuses unknown fields, bad numbers, bad prefixes and unknown devices, with paths', () => {
    const r = refused(
      TINY.replace('days: 0.5', 'days: -1')
        .replace("'10.40.0.0/24'", "'10.40.0.1/24'")
        .replace('device: office-001', 'device: office-009')
        .replace('seed: 7', 'seed: 7\ncolour: blue'),
    )
    assert.ok(r.message.startsWith('bad.yaml: '), r.message)
    for (const p of ['/days', '']) assert.ok(r.paths.includes(p), `${p} in ${r.paths.join(' ')}`)
    assert.ok(r.message.includes('(and'), 'says there are more')
    const semantic = refused(
      TINY.replace("'10.40.0.0/24'", "'10.40.0.1/24'").replace(
        'device: office-001',
        'device: office-009',
      ),
    )
    assert.ok(semantic.paths.includes('/space/2'))
    assert.ok(semantic.paths.includes('/events/1/device'))
    assert.ok(
      refused(TINY.replace('lowWatermark: 0.6', 'lowWatermark: 0.95')).paths.includes('/policy'),
    )
    assert.ok(refused('name: [').message.includes('not YAML or JSON'))
    assert.ok(refused(TINY.replace('family: ipv4', 'family: ipv6')).paths.includes('/space/0'))
  })

  it('an unknown scenario name says which exist', () => {
    assert.throws(
      () => loadScenario('metro-1000'),
      (e: unknown) =>
        e instanceof CasmError &&
        e.code === 'CASM_ERR_NOT_FOUND' &&
        e.message.includes('metro-100'),
    )
  })

  it('times of events', () => {
    assert.equal(atSeconds('20:30'), 73_800)
    assert.equal(atSeconds('2d 20:00'), 2 * 86_400 + 72_000)
    assert.equal(atSeconds('1d'), 86_400)
  })
})

describe('demand model', () => {
  const s = parseScenario(TINY)

  it('peaks at the peak hour, bottoms out twelve hours later at the trough', () => {
    const m = new DemandModel({ ...s, events: [] }, 1)
    const office = 3
    const d = m.devices[office]
    assert.ok(d !== undefined)
    assert.equal(d.peak, 400)
    assert.ok(Math.abs(m.baseAt(office, 0) - 400) < 1e-9)
    assert.ok(Math.abs(m.baseAt(office, 12 * 3600) - 40) < 1e-9)
  })

  it('is the same for the same seed and differs for another', () => {
    const a = new DemandModel(s, 5)
    const b = new DemandModel(s, 5)
    const c = new DemandModel(s, 6)
    const at = (m: DemandModel): number[] => [0, 1, 2].map((i) => m.subscribersAt(i, 7777))
    assert.deepEqual(at(a), at(b))
    assert.notDeepEqual(at(a), at(c))
  })

  it('a failed device is down and its neighbours take its subscribers, then give them back', () => {
    const m = new DemandModel(s, 1)
    const [h1, h2, h3] = [0, 1, 2]
    const before = 2 * 3600 - 60
    const during = 2 * 3600 + 30 * 60
    const after = 3 * 3600 + 30 * 60
    assert.ok(!m.isDown(h2, before) && m.isDown(h2, during) && !m.isDown(h2, after))
    assert.equal(m.subscribersAt(h2, during), 0)
    const moved = m.baseAt(h2, during)
    const extra =
      m.subscribersAt(h1, during) +
      m.subscribersAt(h3, during) -
      m.baseAt(h1, during) -
      m.baseAt(h3, during)
    assert.ok(Math.abs(extra - moved) <= 2, `neighbours took ${extra} of ${moved}`)
    assert.equal(m.subscribersAt(h1, after), Math.round(m.baseAt(h1, after)), 'given back')
    assert.deepEqual(
      m.drops().map((d) => d.at),
      [7200, 28_800],
    )
  })
})
