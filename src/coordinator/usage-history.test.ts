/**
 * Usage sampling goes round the pools a bounded number at a time, so a large installation costs
 * a bounded transaction and every pool is sampled in turn.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { openStore } from '../store/open-store.js'
import { systemCaller } from './caller.js'
import { FakeClock } from './clock.js'
import { Coordinator } from './coordinator.js'
import { createBlock, createDomain, createPool } from './inventory.js'
import { sampleUsage } from './usage-history.js'

const dir = mkdtempSync(join(tmpdir(), 'casm-usage-'))
after(() => rmSync(dir, { recursive: true, force: true }))

describe('usage sampling', () => {
  it('samples at most the round size of pools, going round by id', async () => {
    const clock = new FakeClock(Date.parse('2026-11-26T00:00:00Z'))
    const { coordinator: co } = await Coordinator.open(openStore({ dataDir: dir }), {
      clock,
      sweepIntervalMs: 0,
      usageSampleIntervalMs: 0,
    })
    try {
      const t = await co.reader.getTenant('default')
      assert.ok(t)
      const admin = systemCaller(t.id)
      await co.run(createDomain(admin, { name: 'd' }))
      await co.run(createBlock(admin, { domain: 'd', space: '10.0.0.0/16' }))
      const ids: string[] = []
      for (const [i, name] of ['a', 'b', 'c'].entries()) {
        const p = await co.run(
          createPool(admin, { name, domain: 'd', kind: 'subscriber', space: [`10.0.${i}.0/24`] }),
        )
        ids.push(p.id)
      }
      ids.sort()
      const sampled = async (after: string): Promise<{ pools: string[]; next: string }> => {
        clock.advance(60_000)
        const r = await co.run(sampleUsage(undefined, after, 2))
        const pools: string[] = []
        for (const id of ids)
          if ((await co.reader.usageHistory(id, undefined, clock.now(), 10)).length > 0)
            pools.push(id)
        return { pools, next: r.next }
      }
      const first = await sampled('')
      assert.deepEqual(first.pools, ids.slice(0, 2))
      assert.equal(first.next, ids[1])
      const second = await sampled(first.next)
      assert.deepEqual(second.pools, [ids[2], ids[0]].sort(), 'the third, then round to the first')
      assert.equal(second.next, ids[0])
    } finally {
      await co.close()
    }
  })
})
