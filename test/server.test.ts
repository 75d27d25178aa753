/**
 * A real `casm serve` process on each store: 200 concurrent grant requests on one pool, and a
 * crash test — kill -9 during a stream of grants; after a restart every acknowledged grant is
 * there, nothing overlaps, and the event chain is intact.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { AddressRange, Prefix } from '../src/ip/index.js'
import { type CasmServer, api, startServer } from './support/casm-server.js'
import { createTestDatabase } from './support/postgres.js'

/** Creates a domain, block, pool and `devices` devices; returns the pool name. */
async function provision(
  s: CasmServer,
  pool: string,
  space: string,
  devices: number,
): Promise<void> {
  await api(s, 'POST', '/api/v1/domains', { name: 'net' })
  await api(s, 'POST', '/api/v1/blocks', { domain: 'net', space: '10.0.0.0/8' })
  const p = await api(s, 'POST', '/api/v1/pools', {
    name: pool,
    domain: 'net',
    kind: 'subscriber',
    space: [space],
    policy: { unit: { min: 24, default: 29, max: 32 } },
  })
  assert.equal(p.status, 201, JSON.stringify(p.body))
  for (let i = 0; i < devices; i++) {
    const d = await api(s, 'POST', '/api/v1/devices', { name: `bng-${i}` })
    assert.ok(d.status === 201 || d.status === 409, JSON.stringify(d.body))
  }
}

/** Every live grant of the pool, checked to lie inside `space` and to be disjoint. */
async function checkGrants(
  s: CasmServer,
  pool: string,
  space: string,
): Promise<Map<string, string>> {
  const byId = new Map<string, string>()
  let after: string | null = null
  do {
    const page = (await api(
      s,
      'GET',
      `/api/v1/grants?pool=${pool}&limit=1000${after === null ? '' : `&after=${after}`}`,
    )) as {
      status: number
      body: { items: { id: string; prefix: string; state: string }[]; next: string | null }
    }
    assert.equal(page.status, 200)
    for (const g of page.body.items) if (g.state !== 'free') byId.set(g.id, g.prefix)
    after = page.body.next
  } while (after !== null)
  const range = AddressRange.parse(space)
  const sorted = [...byId.values()].map((t) => Prefix.parse(t)).sort((a, b) => a.compare(b))
  for (let i = 0; i < sorted.length; i++) {
    const cur = sorted[i] as Prefix
    assert.ok(range.contains(cur), `${cur.toString()} is outside ${space}`)
    if (i > 0)
      assert.ok(
        (sorted[i - 1] as Prefix).last < cur.first,
        `${sorted[i - 1]?.toString() ?? ''} overlaps ${cur.toString()}`,
      )
  }
  return byId
}

function serverSuite(
  name: string,
  open: () => Promise<{ databaseUrl?: string; cleanup: () => Promise<void> } | string>,
): void {
  describe(`casm serve on ${name}`, () => {
    let dataDir = ''
    let databaseUrl: string | undefined
    let cleanup: () => Promise<void> = () => Promise.resolve()
    let skip: string | undefined
    before(async () => {
      const opened = await open()
      if (typeof opened === 'string') {
        skip = opened
        return
      }
      databaseUrl = opened.databaseUrl
      cleanup = opened.cleanup
      dataDir = mkdtempSync(join(tmpdir(), 'casm-server-'))
    })
    after(async () => {
      await cleanup()
      if (dataDir !== '') rmSync(dataDir, { recursive: true, force: true })
    })

    it('200 concurrent grant requests on one pool: all answered, none overlapping', async (t) => {
      if (skip !== undefined) return t.skip(skip)
      const s = await startServer({
        dataDir,
        ...(databaseUrl === undefined ? {} : { databaseUrl }),
      })
      try {
        await provision(s, 'hot', '10.9.0.0/20', 8)
        const answers = await Promise.all(
          Array.from({ length: 200 }, (_, i) =>
            api(s, 'POST', '/api/v1/pools/hot/grants', { device: `bng-${i % 8}` }),
          ),
        )
        for (const a of answers) assert.equal(a.status, 201, JSON.stringify(a.body))
        const granted = new Set(answers.map((a) => (a.body as { prefix: string }).prefix))
        assert.equal(granted.size, 200, 'two requests got the same prefix')
        const stored = await checkGrants(s, 'hot', '10.9.0.0/20')
        assert.equal(stored.size, 200)
        // The pool holds 512 /29; 312 more fit, then it is exhausted with a clear answer.
        const rest = await Promise.all(
          Array.from({ length: 320 }, () =>
            api(s, 'POST', '/api/v1/pools/hot/grants', { device: 'bng-0' }),
          ),
        )
        assert.equal(rest.filter((a) => a.status === 201).length, 312)
        const refused = rest.filter((a) => a.status !== 201)
        assert.ok(
          refused.every(
            (a) =>
              a.status === 409 &&
              (a.body as { error: { code: string } }).error.code === 'CASM_ERR_POOL_EXHAUSTED',
          ),
        )
        await checkGrants(s, 'hot', '10.9.0.0/20')
      } finally {
        await s.stop()
      }
    })

    it('kill -9 during a stream of grants loses no acknowledged grant', async (t) => {
      if (skip !== undefined) return t.skip(skip)
      let s = await startServer({ dataDir, ...(databaseUrl === undefined ? {} : { databaseUrl }) })
      const token = s.token
      const acked = new Map<string, string>()
      let killed = false
      try {
        await provision(s, 'crash', '10.10.0.0/16', 4)
        const worker = async (w: number): Promise<void> => {
          for (let i = 0; !killed; i++) {
            try {
              const r = await api(s, 'POST', '/api/v1/pools/crash/grants', {
                device: `bng-${w % 4}`,
              })
              if (r.status === 201)
                acked.set((r.body as { id: string }).id, (r.body as { prefix: string }).prefix)
            } catch {
              return // the connection died with the server
            }
          }
        }
        const workers = Array.from({ length: 16 }, (_, w) => worker(w))
        while (acked.size < 400) await new Promise((r) => setTimeout(r, 10))
        await s.kill9()
        killed = true
        await Promise.all(workers)
      } finally {
        if (!killed) await s.stop()
      }
      assert.ok(acked.size >= 400)
      s = await startServer({
        dataDir,
        token,
        ...(databaseUrl === undefined ? {} : { databaseUrl }),
      })
      try {
        const stored = await checkGrants(s, 'crash', '10.10.0.0/16')
        for (const [id, prefix] of acked)
          assert.equal(
            stored.get(id),
            prefix,
            `acknowledged grant ${id} (${prefix}) was lost or changed`,
          )
        const verify = await api(s, 'GET', '/api/v1/events/verify')
        assert.equal(verify.status, 200)
        assert.equal((verify.body as { ok: boolean }).ok, true, JSON.stringify(verify.body))
        // The restarted server goes on from where the store is.
        const more = await api(s, 'POST', '/api/v1/pools/crash/grants', { device: 'bng-0' })
        assert.equal(more.status, 201)
        assert.ok(!new Set(stored.values()).has((more.body as { prefix: string }).prefix))
      } finally {
        await s.stop()
      }
    })
  })
}

serverSuite('SQLite', () => Promise.resolve({ cleanup: () => Promise.resolve() }))

serverSuite('PostgreSQL', async () => {
  const db = await createTestDatabase()
  if (typeof db === 'string') return db
  return { databaseUrl: db.url, cleanup: () => db.drop() }
})
