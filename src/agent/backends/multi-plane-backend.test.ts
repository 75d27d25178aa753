import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { throwsCode } from '../../../test/support/throws-code.js'
import { backendConformance } from './backend.case.js'
import { MultiPlaneBackend } from './multi-plane-backend.js'
import { SimBackend, type SimBackendOptions } from './sim-backend.js'

function planes(dir: string | undefined, clock?: () => number) {
  return ['up1', 'up2', 'up3'].map((name, i) => {
    const options: SimBackendOptions = {
      seed: i + 1,
      curve: { kind: 'constant', level: 40 },
      sessionSeconds: 36_000,
      ...(clock === undefined ? {} : { clock }),
      ...(dir === undefined ? {} : { snapshotFile: join(dir, `sim-${name}.json`) }),
    }
    return { name, backend: new SimBackend(options) }
  })
}

backendConformance('multi-plane (3 × sim)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'casm-planes-'))
  return {
    backend: new MultiPlaneBackend(planes(dir)),
    reopen: () => new MultiPlaneBackend(planes(dir)),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  }
})

describe('multi-plane backend', () => {
  it('gives every plane space first, then the least loaded; usage carries the plane', async () => {
    const clock = { now: 0 }
    const b = new MultiPlaneBackend(planes(undefined, () => clock.now))
    assert.deepEqual(b.planes, ['up1', 'up2', 'up3'])
    await b.start()
    await b.install({ grant: 'gr_1', prefix: '100.64.8.0/26', state: 'active' })
    await b.install({ grant: 'gr_2', prefix: '100.64.8.64/26', state: 'active' })
    await b.install({ grant: 'gr_3', prefix: '100.64.9.0/24', state: 'active' })
    const placed: Record<string, string | undefined> = Object.fromEntries(
      (await b.holds()).map((h) => [h.grant ?? '', h.plane]),
    )
    assert.deepEqual(placed, { gr_1: 'up1', gr_2: 'up2', gr_3: 'up3' })
    clock.now = 600_000
    const usage = await b.usage()
    assert.deepEqual(
      usage.map((u) => [u.grant, u.plane]),
      [
        ['gr_1', 'up1'],
        ['gr_2', 'up2'],
        ['gr_3', 'up3'],
      ],
    )
    // up3 has a /24 for its 40 subscribers: the least loaded takes the next grant.
    assert.equal(await b.leastLoaded(), 'up3')
    await b.install({ grant: 'gr_4', prefix: '100.64.10.0/26', state: 'active' })
    assert.equal((await b.holds()).find((h) => h.grant === 'gr_4')?.plane, 'up3')
    assert.deepEqual(Object.keys(b.describe()), ['up1', 'up2', 'up3'])
  })

  it('refuses duplicate or missing plane names', () => {
    throwsCode(() => new MultiPlaneBackend([]), 'CASM_ERR_VALIDATION')
    const s = new SimBackend()
    throwsCode(
      () =>
        new MultiPlaneBackend([
          { name: 'a', backend: s },
          { name: 'a', backend: s },
        ]),
      'CASM_ERR_VALIDATION',
      /distinct/,
    )
  })
})
