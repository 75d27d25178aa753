/**
 * The coordinator below the API: the writer's batching and isolation, undo of allocator changes,
 * several coordinators sharing one store, and random interleavings checked against the store.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import fc from 'fast-check'
import { CasmError, isCasmError } from '../errors/casm-error.js'
import { AddressRange, Prefix } from '../ip/index.js'
import { openStore } from '../store/open-store.js'
import { createTestDatabase } from '../../test/support/postgres.js'
import { createGrant, releaseGrant, resolveDevice } from './allocations.js'
import { type Caller, systemCaller } from './caller.js'
import { FakeClock } from './clock.js'
import { Coordinator } from './coordinator.js'
import { createBlock, createDevice, createDomain, createPool, deleteDevice } from './inventory.js'
import type { Store } from './store.js'

async function tenantOf(co: Coordinator): Promise<Caller> {
  const t = await co.reader.getTenant('default')
  assert.ok(t)
  return systemCaller(t.id)
}

/** A pool `name` of `space` (quarantine 0) and devices d0..d(n-1). */
async function setUp(
  co: Coordinator,
  c: Caller,
  space: string,
  devices = 2,
  name = 'p',
): Promise<void> {
  if ((await co.reader.getDomain(c.tenantId, 'dom')) === undefined) {
    await co.run(createDomain(c, { name: 'dom' }))
    await co.run(createBlock(c, { domain: 'dom', space: '10.0.0.0/8' }))
  }
  await co.run(
    createPool(c, {
      name,
      domain: 'dom',
      kind: 'subscriber',
      space: [space],
      policy: { unit: { min: 24, default: 28, max: 32 }, quarantine: 0 },
    }),
  )
  for (let i = 0; i < devices; i++) {
    if ((await co.reader.getDevice(c.tenantId, `d${i}`)) === undefined)
      await co.run(createDevice(c, { name: `d${i}` }))
  }
}

/** Live grants of a pool, from the store, checked to be disjoint and inside the pool. */
async function liveGrants(store: Store, c: Caller, pool: string, space: string): Promise<Prefix[]> {
  const p = await store.reader.getPool(c.tenantId, pool)
  assert.ok(p)
  const rows = await store.reader.listAllocations(
    c.tenantId,
    { poolId: p.id, live: true },
    { limit: 100_000 },
  )
  const prefixes = rows
    .map((r) => Prefix.of(r.family, r.first, r.length))
    .sort((a, b) => a.compare(b))
  const range = AddressRange.parse(space)
  for (let i = 0; i < prefixes.length; i++) {
    const cur = prefixes[i] as Prefix
    assert.ok(range.contains(cur), `${cur.toString()} outside ${space}`)
    if (i > 0)
      assert.ok(
        (prefixes[i - 1] as Prefix).last < cur.first,
        `${prefixes[i - 1]?.toString() ?? ''} overlaps ${cur.toString()}`,
      )
  }
  return prefixes
}

describe('writer', () => {
  let dir: string
  let co: Coordinator
  let c: Caller
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'casm-writer-'))
    co = (
      await Coordinator.open(openStore({ dataDir: dir }), {
        sweepIntervalMs: 0,
        clock: new FakeClock(),
      })
    ).coordinator
    c = await tenantOf(co)
    await setUp(co, c, '10.1.0.0/22')
  })
  after(async () => {
    await co.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('batches concurrent operations and isolates a refusal', async () => {
    const batchesBefore = co.writerStats.batches
    const ops = Array.from({ length: 20 }, (_, i) =>
      i === 7
        ? co.run(createGrant(c, 'p', { device: 'd0', length: 16 }))
        : co.run(createGrant(c, 'p', { device: 'd0' })),
    )
    const results = await Promise.allSettled(ops)
    const refused = results.filter((r) => r.status === 'rejected')
    assert.equal(refused.length, 1)
    assert.ok(isCasmError((refused[0] as PromiseRejectedResult).reason, 'CASM_ERR_VALIDATION'))
    assert.ok(
      co.writerStats.batches - batchesBefore < 20,
      'operations submitted together share transactions',
    )
    assert.equal((await liveGrants(co.store, c, 'p', '10.1.0.0/22')).length, 19)
  })

  it('undoes allocator changes of an operation that fails after allocating', async () => {
    const probe = await co.run(createGrant(c, 'p', { device: 'd0' }))
    await co.run(releaseGrant(c, probe.id))
    // Allocate through the real use case, then refuse: the allocation must be undone.
    const failing = co.run(async (ctx) => {
      await createGrant(c, 'p', { device: 'd0' })(ctx)
      throw new CasmError('CASM_ERR_CONFLICT' as never, 'refused after allocating')
    })
    await assert.rejects(failing)
    const next = await co.run(createGrant(c, 'p', { device: 'd0' }))
    assert.equal(next.prefix, probe.prefix, 'the failed operation left its prefix taken')
  })

  it('a device deleted between its lookup and the write answers not found', async () => {
    await co.run(createDevice(c, { name: 'gone' }))
    const device = await resolveDevice(co.reader, c, 'gone')
    await co.run(deleteDevice(c, 'gone'))
    await assert.rejects(co.run(createGrant(c, 'p', { device: 'gone' }, device)), (e: unknown) =>
      isCasmError(e, 'CASM_ERR_NOT_FOUND'),
    )
    const verify = await co.verifyEvents(c)
    assert.ok(verify.ok)
  })

  it('a batch broken by a bug reruns its operations one by one', async () => {
    const ok1 = co.run(createGrant(c, 'p', { device: 'd1', length: 30 }))
    const bad = co.run(async (ctx) => {
      await ctx.tx.insertDomain({
        id: 'dom_x',
        tenantId: c.tenantId,
        name: 'dom',
        description: '',
        createdAt: 0,
        updatedAt: 0,
      })
      return 'unreachable'
    })
    const ok2 = co.run(createGrant(c, 'p', { device: 'd1', length: 30 }))
    const [a, b, d] = await Promise.allSettled([ok1, bad, ok2])
    assert.equal(a.status, 'fulfilled')
    assert.equal(d.status, 'fulfilled')
    assert.equal(b.status, 'rejected')
    assert.ok(isCasmError(b.reason, 'CASM_ERR_INTERNAL'))
    await liveGrants(co.store, c, 'p', '10.1.0.0/22')
    const verify = await co.verifyEvents(c)
    assert.ok(verify.ok, JSON.stringify(verify))
  })
})

/** Two coordinators on one store: grants from both never overlap and caches catch up. */
function sharedStoreSuite(
  name: string,
  openShared: () => Promise<{ a: Store; b: Store; cleanup: () => Promise<void> } | string>,
): void {
  describe(`two coordinators sharing one ${name} store`, () => {
    let a: Coordinator
    let b: Coordinator
    let c: Caller
    let cleanup: (() => Promise<void>) | undefined
    let skip: string | undefined
    before(async () => {
      const opened = await openShared()
      if (typeof opened === 'string') {
        skip = opened
        return
      }
      cleanup = opened.cleanup
      a = (await Coordinator.open(opened.a, { sweepIntervalMs: 0 })).coordinator
      b = (await Coordinator.open(opened.b, { sweepIntervalMs: 0 })).coordinator
      c = await tenantOf(a)
      await setUp(a, c, '10.2.0.0/22', 4, 'shared')
    })
    after(async () => {
      if (skip !== undefined) return
      await a.close()
      await b.close()
      await cleanup?.()
    })

    it('interleaved grants and releases from both stay disjoint and consistent', async (t) => {
      if (skip !== undefined) return t.skip(skip)
      await fc.assert(
        fc.asyncProperty(
          fc.array(
            fc.record({
              who: fc.boolean(),
              release: fc.boolean(),
              device: fc.integer({ min: 0, max: 3 }),
              pick: fc.nat(),
              length: fc.integer({ min: 26, max: 30 }),
            }),
            {
              minLength: 5,
              maxLength: 30,
            },
          ),
          async (steps) => {
            for (const s of steps) {
              const co = s.who ? a : b
              if (s.release) {
                const rows = await co.reader.listAllocations(
                  c.tenantId,
                  { type: 'grant', live: true },
                  { limit: 1000 },
                )
                const row = rows[s.pick % Math.max(1, rows.length)]
                if (row !== undefined) await co.run(releaseGrant(c, row.id))
              } else {
                try {
                  await co.run(
                    createGrant(c, 'shared', { device: `d${s.device}`, length: s.length }),
                  )
                } catch (e) {
                  if (!isCasmError(e, 'CASM_ERR_POOL_EXHAUSTED')) throw e
                }
              }
            }
            const grants = await liveGrants(a.store, c, 'shared', '10.2.0.0/22')
            const used = grants.reduce((n, p) => n + p.size, 0n)
            for (const co of [a, b]) {
              const usage = await co.run(async (ctx) => {
                const pool = await ctx.tx.getPool(c.tenantId, 'shared')
                assert.ok(pool)
                return (await ctx.allocator(pool)).statistics()
              })
              assert.equal(usage.allocated, used, 'a cached allocator disagrees with the store')
            }
          },
        ),
        { numRuns: 15 },
      )
      assert.ok(a.cache.refreshes + b.cache.refreshes > 0, 'caches caught up incrementally')
    })
  })
}

sharedStoreSuite('SQLite', () => {
  const dir = mkdtempSync(join(tmpdir(), 'casm-shared-'))
  return Promise.resolve({
    a: openStore({ dataDir: dir }),
    b: openStore({ dataDir: dir }),
    cleanup: () => {
      rmSync(dir, { recursive: true, force: true })
      return Promise.resolve()
    },
  })
})

sharedStoreSuite('PostgreSQL', async () => {
  const db = await createTestDatabase()
  if (typeof db === 'string') return db
  return {
    a: openStore({ dataDir: '.', databaseUrl: db.url }),
    b: openStore({ dataDir: '.', databaseUrl: db.url }),
    cleanup: () => db.drop(),
  }
})
