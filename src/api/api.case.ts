/**
 * The northbound REST API, end to end through HTTP (Fastify `inject`) on a real store. The same
 * suite runs on SQLite (`api-sqlite.test.ts`) and PostgreSQL (`api-postgres.test.ts`).
 *
 * Every answer is checked to be below 500, and every refused request is checked to have changed
 * nothing: the event count of `/healthz` and the listings that matter are the same after it.
 *
 * @module
 */

import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import SwaggerParser from '@apidevtools/swagger-parser'
import { Ajv } from 'ajv'
import Database from 'better-sqlite3'
import pg from 'pg'
import type { InjectOptions } from 'fastify'
import { FakeClock } from '../coordinator/clock.js'
import { decodeRuns } from '../coordinator/address-map.js'
import { Coordinator } from '../coordinator/coordinator.js'
import type { Store } from '../coordinator/store.js'
import { type Api, buildServer } from './server.js'

/** What `open` gives: a fresh, empty store, and how to throw it away after it was closed. */
export interface OpenedStore {
  readonly store: Store
  readonly cleanup: () => Promise<void>
  /** PostgreSQL: the URL with its password, for raw SQL (default: `store.location`). */
  readonly databaseUrl?: string
}

// ---- answers as the API shows them -----------------------------------------------------------

interface ErrorOut {
  readonly error: {
    readonly code: string
    readonly message: string
    readonly hint: string
    readonly details?: {
      readonly errors?: readonly { path: string; message: string; params?: unknown }[]
    } & Record<string, unknown>
    readonly requestId: string
  }
}
interface DomainOut {
  readonly id: string
  readonly name: string
  readonly description: string
  readonly createdAt: string
  readonly updatedAt: string
}
interface BlockOut {
  readonly id: string
  readonly domain: string
  readonly family: string
  readonly space: string
  readonly reserved: boolean
  readonly source: Record<string, unknown>
  readonly description: string
  readonly tags: readonly string[]
  readonly specialPurpose: readonly { prefix: string; name: string; rfc: string }[]
}
interface PoolOut {
  readonly id: string
  readonly name: string
  readonly domain: string
  readonly kind: string
  readonly family: string
  readonly space: readonly string[]
  readonly policy: {
    readonly unit: { readonly min: number; readonly default: number; readonly max: number }
    readonly strategy: string
    readonly lifetime: number
    readonly quarantine: number
  }
  readonly priority: number
  readonly selectors: Record<string, readonly string[]>
  readonly description: string
  readonly updatedAt: string
}
interface DeviceOut {
  readonly id: string
  readonly name: string
  readonly attributes: Record<string, unknown>
  readonly description: string
}
interface GrantOut {
  readonly id: string
  readonly pool: string
  readonly device: string
  readonly prefix: string
  readonly state: string
  readonly createdAt: string
  readonly updatedAt: string
  readonly expiresAt: string | null
  readonly releasedAt: string | null
  readonly quarantineUntil: string | null
}
interface AssignmentOut {
  readonly id: string
  readonly pool: string
  readonly prefix: string
  readonly state: string
  readonly hostname: string
  readonly requestor: Record<string, unknown>
}
interface AssignmentCreated {
  readonly assignment: AssignmentOut
  readonly pool: string
  readonly matchedSelectors: number
}
interface ReservationOut {
  readonly id: string
  readonly pool: string
  readonly kind: string
  readonly target: unknown
  readonly prefixes: readonly string[]
  readonly count: number
}
interface PoolUsageOut {
  readonly pool: string
  readonly total: string
  readonly allocated: string
  readonly reserved: string
  readonly used: string
  readonly free: string
  readonly excluded: string
  readonly utilisation: number
  readonly largestFree: string | null
}
interface SpaceUsageOut {
  readonly family: string
  readonly total: string
  readonly pooled: string
  readonly unpooled: string
  readonly allocated: string
  readonly reserved: string
  readonly excluded: string
  readonly free: string
}
interface EventOut {
  readonly seq: number
  readonly tenant: string | null
  readonly at: string
  readonly actor: string
  readonly action: string
  readonly objectType: string
  readonly objectId: string | null
  readonly before: Record<string, unknown> | null
  readonly after: Record<string, unknown> | null
  readonly reason: string | null
  readonly requestId: string | null
  readonly prevHash: string
  readonly hash: string
}
interface TenantOut {
  readonly id: string
  readonly name: string
}
interface TokenOut {
  readonly id: string
  readonly name: string
  readonly role: string
  readonly tenant: string | null
  readonly revokedAt: string | null
}
interface TokenCreated {
  readonly token: TokenOut
  readonly secret: string
}
interface SearchOut {
  readonly query: string
  readonly domains: readonly {
    readonly domain: { readonly id: string; readonly name: string }
    readonly blocks: readonly { id: string; space: string; relation: string }[]
    readonly pools: readonly { id: string; name: string; range: string; relation: string }[]
    readonly units: readonly {
      id: string
      type: string
      prefix: string
      relation: string
      pool: string
      device: { id: string; name: string } | null
      hostname: string
    }[]
  }[]
}
interface VerifyOut {
  readonly ok: boolean
  readonly checked: number
  readonly head: { readonly seq: number; readonly hash: string }
  readonly broken?: { readonly seq: number; readonly reason: string }
}
interface Health {
  readonly status: string
  readonly store: string
  readonly schemaVersion: number
  readonly events: number
  readonly uptimeSeconds: number
}
interface LeaseOut {
  readonly grant: string
  readonly kind: string
  readonly address: string
  readonly prefixLength?: number
  readonly hwAddress?: string
  readonly validLifetime: number
  readonly cltt: number
  readonly hostname?: string
  readonly userContext?: unknown
  readonly expiresAt: string
  readonly storedAt: string
}
interface LeaseUploadOut {
  readonly grants: readonly { readonly grant: string; readonly stored: number }[]
  readonly stored: number
}
interface Items<T> {
  readonly items: readonly T[]
}
interface Page<T> extends Items<T> {
  readonly next: string | null
}

// ---- the HTTP client ---------------------------------------------------------------------------

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE' | 'PUT'

interface Res {
  readonly status: number
  readonly text: string
  readonly headers: Record<string, unknown>
  readonly body: unknown
}

interface ReqOptions {
  /** A JSON body. */
  readonly body?: unknown
  /** A raw body (with its own content-type header). */
  readonly payload?: string
  readonly headers?: Readonly<Record<string, string>>
}

/** Talks to the server as one token (or none), optionally naming a tenant. */
class Client {
  readonly #app: Api
  readonly #secret: string | null
  readonly #tenant: string | undefined

  constructor(app: Api, secret: string | null, tenant?: string) {
    this.#app = app
    this.#secret = secret
    this.#tenant = tenant
  }

  async req(method: Method, url: string, o: ReqOptions = {}): Promise<Res> {
    const headers: Record<string, string> = {}
    if (this.#secret !== null) headers['authorization'] = `Bearer ${this.#secret}`
    if (this.#tenant !== undefined) headers['x-casm-tenant'] = this.#tenant
    Object.assign(headers, o.headers ?? {})
    const options: InjectOptions = { method, url, headers }
    if (o.body !== undefined) options.payload = o.body as NonNullable<InjectOptions['payload']>
    else if (o.payload !== undefined) options.payload = o.payload
    const res = await this.#app.inject(options)
    assert.ok(res.statusCode < 500, `${method} ${url} answered ${res.statusCode}: ${res.body}`)
    const type = String(res.headers['content-type'] ?? '')
    const json = type.startsWith('application/json') && res.body !== ''
    if (res.statusCode >= 400) assert.ok(json, `${method} ${url}: an error must be JSON (${type})`)
    return {
      status: res.statusCode,
      text: res.body,
      headers: res.headers,
      body: json ? (JSON.parse(res.body) as unknown) : undefined,
    }
  }

  get(url: string, o?: ReqOptions): Promise<Res> {
    return this.req('GET', url, o)
  }

  post(url: string, body?: unknown, o: ReqOptions = {}): Promise<Res> {
    return this.req('POST', url, body === undefined ? o : { ...o, body })
  }

  patch(url: string, body: unknown, o: ReqOptions = {}): Promise<Res> {
    return this.req('PATCH', url, { ...o, body })
  }

  del(url: string, o?: ReqOptions): Promise<Res> {
    return this.req('DELETE', url, o)
  }

  put(url: string, body: unknown, o: ReqOptions = {}): Promise<Res> {
    return this.req('PUT', url, { ...o, body })
  }
}

/** Asserts the status and returns the body, as the shape the caller names. */
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the caller names the JSON shape
function ok<T>(res: Res, status = 200): T {
  assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${res.text}`)
  return res.body as T
}

/** Asserts an error answer: status, code, and the fields every error carries. */
function fails(res: Res, status: number, code: string): ErrorOut['error'] {
  assert.equal(res.status, status, `expected ${status} ${code}, got ${res.status}: ${res.text}`)
  const e = (res.body as ErrorOut).error
  assert.equal(e.code, code, e.message)
  assert.ok(e.message.length > 0, 'an error has a message')
  assert.equal(typeof e.hint, 'string')
  assert.equal(e.requestId, res.headers['x-request-id'], 'the error names the request id')
  return e
}

const ids = (items: readonly { readonly id: string }[]): string[] => items.map((x) => x.id)
const iso = (ms: number): string => new Date(ms).toISOString()

// ---- one coordinator and its server ------------------------------------------------------------

/** A coordinator on a store with a fake clock, its server, and the root client. */
class Harness {
  readonly store: Store
  readonly clock: FakeClock
  readonly coordinator: Coordinator
  readonly app: Api
  readonly rootSecret: string
  readonly rootTokenId: string
  readonly root: Client

  private constructor(
    store: Store,
    clock: FakeClock,
    coordinator: Coordinator,
    app: Api,
    root: { secret: string; tokenId: string },
  ) {
    this.store = store
    this.clock = clock
    this.coordinator = coordinator
    this.app = app
    this.rootSecret = root.secret
    this.rootTokenId = root.tokenId
    this.root = new Client(app, root.secret)
  }

  static async start(store: Store): Promise<Harness> {
    const clock = new FakeClock(Date.UTC(2026, 0, 1))
    const { coordinator, bootstrapToken } = await Coordinator.open(store, {
      sweepIntervalMs: 0,
      clock,
    })
    assert.ok(bootstrapToken !== undefined, 'a fresh store gives the bootstrap token')
    const app = await buildServer(coordinator)
    return new Harness(store, clock, coordinator, app, {
      secret: bootstrapToken.secret,
      tokenId: bootstrapToken.token.id,
    })
  }

  async stop(): Promise<void> {
    await this.app.close()
    await this.coordinator.close()
  }

  /** A client with `secret` (null: none), optionally naming a tenant. */
  as(secret: string | null, tenant?: string): Client {
    return new Client(this.app, secret, tenant)
  }

  /** Events in the chain (all tenants), from /healthz. */
  async eventCount(): Promise<number> {
    return ok<Health>(await this.as(null).get('/healthz')).events
  }

  async snapshot(watch: readonly string[], by: Client): Promise<string[]> {
    const out = [`events ${await this.eventCount()}`]
    for (const url of watch) {
      const r = await by.get(url)
      out.push(`${url} ${r.status} ${r.text}`)
    }
    return out
  }

  /**
   * Sends a request that must be refused with `status` and `code`, and checks that it changed
   * nothing: the event count and every listing in `watch` (read by `by`) are the same after.
   */
  async refuse(
    send: () => Promise<Res>,
    status: number,
    code: string,
    watch: readonly string[] = [],
    by: Client = this.root,
  ): Promise<ErrorOut['error']> {
    const before = await this.snapshot(watch, by)
    const e = fails(await send(), status, code)
    assert.deepEqual(
      await this.snapshot(watch, by),
      before,
      `the refused request (${code}) changed something`,
    )
    return e
  }

  // ---- builders (root, default tenant unless a client is given)

  async domain(name: string, by: Client = this.root): Promise<DomainOut> {
    return ok<DomainOut>(await by.post('/api/v1/domains', { name }), 201)
  }

  async block(domain: string, space: string, by: Client = this.root): Promise<BlockOut> {
    return ok<BlockOut>(await by.post('/api/v1/blocks', { domain, space }), 201)
  }

  async pool(input: Record<string, unknown>, by: Client = this.root): Promise<PoolOut> {
    return ok<PoolOut>(await by.post('/api/v1/pools', { kind: 'subscriber', ...input }), 201)
  }

  async device(name: string, attributes: Record<string, unknown> = {}, by = this.root) {
    return ok<DeviceOut>(await by.post('/api/v1/devices', { name, attributes }), 201)
  }

  async grant(pool: string, body: Record<string, unknown>, by = this.root): Promise<GrantOut> {
    return ok<GrantOut>(await by.post(`/api/v1/pools/${pool}/grants`, body), 201)
  }

  async poolUsage(pool: string, by = this.root): Promise<PoolUsageOut> {
    return ok<PoolUsageOut>(await by.get(`/api/v1/pools/${pool}/usage`))
  }

  /** Events after `seq`, of the caller's tenant. */
  async eventsAfter(seq: number, by = this.root): Promise<EventOut[]> {
    return [...ok<Page<EventOut>>(await by.get(`/api/v1/events?after=${seq}&limit=1000`)).items]
  }
}

/** Asserts used + free = total and allocated + reserved = used. */
function addsUp(u: PoolUsageOut): void {
  assert.equal(BigInt(u.used) + BigInt(u.free), BigInt(u.total), `${u.pool}: used + free = total`)
  assert.equal(BigInt(u.allocated) + BigInt(u.reserved), BigInt(u.used), 'allocated + reserved')
}

/** Asserts pooled + unpooled = total and the pooled space is accounted for. */
function spaceAddsUp(u: SpaceUsageOut): void {
  assert.equal(BigInt(u.pooled) + BigInt(u.unpooled), BigInt(u.total), 'pooled + unpooled')
  assert.equal(
    BigInt(u.allocated) + BigInt(u.reserved) + BigInt(u.excluded) + BigInt(u.free),
    BigInt(u.pooled),
    'allocated + reserved + excluded + free = pooled',
  )
}

/** Every page of a cursor listing, following `next`. */
async function allPages<T>(c: Client, url: string, limit: number): Promise<T[][]> {
  const pages: T[][] = []
  let after: string | null = null
  for (let i = 0; i < 100; i++) {
    const sep = url.includes('?') ? '&' : '?'
    const page: Page<T> = ok<Page<T>>(
      await c.get(`${url}${sep}limit=${limit}${after === null ? '' : `&after=${after}`}`),
    )
    assert.ok(page.items.length <= limit)
    pages.push([...page.items])
    if (page.next === null) return pages
    assert.equal(page.items.length, limit, 'a page with a next cursor is full')
    after = page.next
  }
  assert.fail(`${url}: the cursor never ends`)
}

// ---- raw SQL on the store's database, for the tamper test --------------------------------------

interface RawSql {
  run(sql: string, params: readonly unknown[]): Promise<number>
  close(): Promise<void>
}

async function rawSql(opened: OpenedStore): Promise<RawSql> {
  const { store } = opened
  if (store.kind === 'sqlite') {
    const db = new Database(store.location)
    return {
      run: (sql, params) => Promise.resolve(db.prepare(sql).run(...params).changes),
      close: () => {
        db.close()
        return Promise.resolve()
      },
    }
  }
  const client = new pg.Client({ connectionString: opened.databaseUrl ?? store.location })
  await client.connect()
  return {
    run: async (sql, params) => {
      let n = 0
      return (
        (
          await client.query(
            sql.replace(/\?/g, () => `$${++n}`),
            [...params],
          )
        ).rowCount ?? 0
      )
    },
    close: () => client.end(),
  }
}

// ---- the suite -------------------------------------------------------------------------------

/**
 * Registers the API suite. `open` gives a fresh, empty store each call (or a reason to skip);
 * it is called once for the shared server and once more for the tamper test.
 */
export function runApiSuite(name: string, open: () => Promise<OpenedStore | string>): void {
  describe(`northbound API on ${name}`, async () => {
    const opened = await open()
    if (typeof opened === 'string') {
      it('runs', { skip: opened }, () => undefined)
      return
    }
    const h = await Harness.start(opened.store)
    after(async () => {
      await h.stop()
      await opened.cleanup()
    })
    const root = h.root

    // ---- inventory ---------------------------------------------------------------------------

    it('domains: create, read by id and name, list, patch, delete; names are unique', async () => {
      const d = ok<DomainOut>(
        await root.post('/api/v1/domains', { name: 'crud-a', description: 'first' }),
        201,
      )
      assert.match(d.id, /^dom_/)
      assert.equal(d.name, 'crud-a')
      assert.equal(d.description, 'first')
      assert.equal(d.createdAt, iso(h.clock.now()))
      assert.deepEqual(ok(await root.get(`/api/v1/domains/${d.id}`)), d)
      assert.deepEqual(ok(await root.get('/api/v1/domains/crud-a')), d)
      assert.ok(ids(ok<Items<DomainOut>>(await root.get('/api/v1/domains')).items).includes(d.id))

      await h.refuse(
        () => root.post('/api/v1/domains', { name: 'crud-a' }),
        409,
        'CASM_ERR_ALREADY_EXISTS',
        ['/api/v1/domains'],
      )

      h.clock.advance(1000)
      const p = ok<DomainOut>(await root.patch('/api/v1/domains/crud-a', { description: 'second' }))
      assert.equal(p.id, d.id)
      assert.equal(p.description, 'second')
      assert.equal(p.name, 'crud-a')
      assert.equal(p.updatedAt, iso(h.clock.now()))
      assert.equal(p.createdAt, d.createdAt)

      const renamed = ok<DomainOut>(
        await root.patch(`/api/v1/domains/${d.id}`, { name: 'crud-a2' }),
      )
      assert.equal(renamed.name, 'crud-a2')
      assert.equal(renamed.description, 'second')
      fails(await root.get('/api/v1/domains/crud-a'), 404, 'CASM_ERR_NOT_FOUND')
      assert.equal(ok<DomainOut>(await root.get('/api/v1/domains/crud-a2')).id, d.id)

      const b = await h.domain('crud-b')
      await h.refuse(
        () => root.patch('/api/v1/domains/crud-a2', { name: 'crud-b' }),
        409,
        'CASM_ERR_ALREADY_EXISTS',
        ['/api/v1/domains'],
      )

      const del = await root.del(`/api/v1/domains/${b.id}`)
      assert.equal(del.status, 204)
      assert.equal(del.text, '')
      fails(await root.get(`/api/v1/domains/${b.id}`), 404, 'CASM_ERR_NOT_FOUND')
      assert.ok(!ids(ok<Items<DomainOut>>(await root.get('/api/v1/domains')).items).includes(b.id))
      await h.refuse(() => root.del(`/api/v1/domains/${b.id}`), 404, 'CASM_ERR_NOT_FOUND', [
        '/api/v1/domains',
      ])
      await h.refuse(
        () => root.patch('/api/v1/domains/crud-nope', { description: 'x' }),
        404,
        'CASM_ERR_NOT_FOUND',
        ['/api/v1/domains'],
      )
    })

    it('blocks: create, read, list, patch, delete; no overlap inside a domain', async () => {
      const a = await h.domain('blk-a')
      const other = await h.domain('blk-b')
      const b = ok<BlockOut>(
        await root.post('/api/v1/blocks', {
          domain: 'blk-a',
          space: '10.20.0.0/16',
          description: 'core',
          tags: ['core'],
          source: { rir: 'private', notes: 'RFC 1918' },
        }),
        201,
      )
      assert.match(b.id, /^blk_/)
      assert.equal(b.domain, a.id)
      assert.equal(b.family, 'ipv4')
      assert.equal(b.space, '10.20.0.0/16')
      assert.equal(b.reserved, false)
      assert.deepEqual(b.tags, ['core'])
      assert.deepEqual(b.source, { rir: 'private', notes: 'RFC 1918' })
      assert.ok(b.specialPurpose.some((s) => s.rfc === 'RFC 1918'))
      assert.deepEqual(ok(await root.get(`/api/v1/blocks/${b.id}`)), b)

      const watch = ['/api/v1/blocks?domain=blk-a']
      for (const space of ['10.20.128.0/17', '10.0.0.0/8', '10.20.255.255/32']) {
        await h.refuse(
          () => root.post('/api/v1/blocks', { domain: 'blk-a', space }),
          409,
          'CASM_ERR_OVERLAP',
          watch,
        )
      }
      // The same private space in another domain is fine.
      const twin = await h.block('blk-b', '10.20.0.0/16')
      assert.equal(twin.domain, other.id)

      const range = await h.block('blk-a', '198.18.0.5-198.18.3.250')
      assert.equal(range.space, '198.18.0.5-198.18.3.250')
      const v6 = await h.block('blk-a', '2001:db8::/32')
      assert.equal(v6.family, 'ipv6')
      const listed = ok<Items<BlockOut>>(await root.get('/api/v1/blocks?domain=blk-a')).items
      assert.deepEqual(new Set(ids(listed)), new Set([b.id, range.id, v6.id]))
      assert.ok(!ids(listed).includes(twin.id))
      const everything = ids(ok<Items<BlockOut>>(await root.get('/api/v1/blocks')).items)
      for (const id of [b.id, twin.id, range.id, v6.id]) assert.ok(everything.includes(id))

      const patched = ok<BlockOut>(
        await root.patch(`/api/v1/blocks/${b.id}`, { description: 'core v2', tags: ['a', 'b'] }),
      )
      assert.equal(patched.description, 'core v2')
      assert.deepEqual(patched.tags, ['a', 'b'])
      assert.equal(patched.space, '10.20.0.0/16')
      const grown = ok<BlockOut>(
        await root.patch(`/api/v1/blocks/${range.id}`, { space: '198.18.0.0-198.18.3.255' }),
      )
      assert.equal(grown.space, '198.18.0.0/22')
      await h.refuse(
        () => root.patch(`/api/v1/blocks/${range.id}`, { space: '10.0.0.0/8' }),
        409,
        'CASM_ERR_OVERLAP',
        watch,
      )

      assert.equal((await root.del(`/api/v1/blocks/${v6.id}`)).status, 204)
      fails(await root.get(`/api/v1/blocks/${v6.id}`), 404, 'CASM_ERR_NOT_FOUND')
      fails(await root.get('/api/v1/blocks?domain=blk-nope'), 404, 'CASM_ERR_NOT_FOUND')
    })

    it('pools: create, read by id and name, list, patch, delete; space checks', async () => {
      const a = await h.domain('pool-a')
      await h.domain('pool-b')
      await h.block('pool-a', '10.30.0.0/16')
      await h.block('pool-b', '10.30.0.0/16')
      const p = ok<PoolOut>(
        await root.post('/api/v1/pools', {
          name: 'pa-1',
          domain: 'pool-a',
          kind: 'subscriber',
          space: ['10.30.0.0/24'],
          policy: { unit: { default: 28 } },
          priority: 5,
          selectors: { function: ['bng'] },
          description: 'east',
        }),
        201,
      )
      assert.match(p.id, /^pool_/)
      assert.equal(p.domain, a.id)
      assert.equal(p.family, 'ipv4')
      assert.deepEqual(p.space, ['10.30.0.0/24'])
      assert.deepEqual(p.policy.unit, { min: 20, default: 28, max: 32 })
      assert.equal(p.policy.quarantine, 300)
      assert.equal(p.priority, 5)
      assert.deepEqual(p.selectors, { function: ['bng'] })
      assert.deepEqual(ok(await root.get(`/api/v1/pools/${p.id}`)), p)
      assert.deepEqual(ok(await root.get('/api/v1/pools/pa-1')), p)

      const watch = ['/api/v1/pools?domain=pool-a', '/api/v1/pools?domain=pool-b']
      const mk =
        (name: string, space: string[], domain = 'pool-a') =>
        () =>
          root.post('/api/v1/pools', { name, domain, kind: 'cgn', space })
      await h.refuse(mk('pa-2', ['10.31.0.0/24']), 400, 'CASM_ERR_OUT_OF_POOL', watch)
      await h.refuse(
        mk('pa-2', ['10.30.255.0/24', '10.31.0.0/24']),
        400,
        'CASM_ERR_OUT_OF_POOL',
        watch,
      )
      await h.refuse(mk('pa-2', ['10.30.0.128/25']), 409, 'CASM_ERR_OVERLAP', watch)
      await h.refuse(mk('pa-2', ['10.30.0.0/23']), 409, 'CASM_ERR_OVERLAP', watch)
      await h.refuse(mk('pa-1', ['10.30.5.0/24']), 409, 'CASM_ERR_ALREADY_EXISTS', watch)
      await h.refuse(
        mk('pa-2', ['10.30.6.0/24', '2001:db8::/48']),
        400,
        'CASM_ERR_FAMILY_MISMATCH',
        watch,
      )
      await h.refuse(mk('pa-2', ['10.30.7.0/24'], 'pool-nope'), 404, 'CASM_ERR_NOT_FOUND', watch)

      // Another domain may pool the same space; adjacent ranges merge.
      const twin = await h.pool({ name: 'pb-1', domain: 'pool-b', space: ['10.30.0.0/24'] })
      assert.deepEqual(twin.space, ['10.30.0.0/24'])
      const merged = await h.pool({
        name: 'pa-merged',
        domain: 'pool-a',
        space: ['10.30.1.128/25', '10.30.1.0/25'],
      })
      assert.deepEqual(merged.space, ['10.30.1.0/24'])
      const listed = ok<Items<PoolOut>>(await root.get('/api/v1/pools?domain=pool-a')).items
      assert.deepEqual(new Set(ids(listed)), new Set([p.id, merged.id]))

      h.clock.advance(1000)
      const q = ok<PoolOut>(
        await root.patch('/api/v1/pools/pa-1', {
          description: 'east v2',
          priority: 7,
          selectors: { function: ['bng', 'cgn'] },
          policy: { quarantine: 0 },
        }),
      )
      assert.equal(q.description, 'east v2')
      assert.equal(q.priority, 7)
      assert.deepEqual(q.selectors, { function: ['bng', 'cgn'] })
      assert.equal(q.policy.quarantine, 0)
      assert.deepEqual(q.policy.unit, p.policy.unit, 'an unnamed policy field stays')
      assert.equal(q.updatedAt, iso(h.clock.now()))
      await h.refuse(
        () => root.patch('/api/v1/pools/pa-1', { name: 'pa-merged' }),
        409,
        'CASM_ERR_ALREADY_EXISTS',
        watch,
      )
      await h.refuse(
        () => root.patch('/api/v1/pools/pa-1', { space: ['10.30.1.0/24'] }),
        409,
        'CASM_ERR_OVERLAP',
        watch,
      )
      await h.refuse(
        () => root.patch('/api/v1/pools/pa-1', { policy: { unit: { min: 30, default: 29 } } }),
        400,
        'CASM_ERR_VALIDATION',
        watch,
      )

      assert.equal((await root.del('/api/v1/pools/pb-1')).status, 204)
      fails(await root.get(`/api/v1/pools/${twin.id}`), 404, 'CASM_ERR_NOT_FOUND')
      assert.deepEqual(ok<Items<PoolOut>>(await root.get('/api/v1/pools?domain=pool-b')).items, [])
    })

    it('devices: create, read by id and name, list, patch, delete', async () => {
      const d = ok<DeviceOut>(
        await root.post('/api/v1/devices', {
          name: 'dev-crud',
          attributes: { function: 'bng', formFactor: 'physical', custom: { region: 'eu' } },
          description: 'rack 4',
        }),
        201,
      )
      assert.match(d.id, /^dev_/)
      assert.deepEqual(d.attributes, {
        function: 'bng',
        formFactor: 'physical',
        custom: { region: 'eu' },
      })
      assert.deepEqual(ok(await root.get(`/api/v1/devices/${d.id}`)), d)
      assert.deepEqual(ok(await root.get('/api/v1/devices/dev-crud')), d)
      assert.ok(ids(ok<Items<DeviceOut>>(await root.get('/api/v1/devices')).items).includes(d.id))
      await h.refuse(
        () => root.post('/api/v1/devices', { name: 'dev-crud' }),
        409,
        'CASM_ERR_ALREADY_EXISTS',
        ['/api/v1/devices'],
      )
      await h.refuse(
        () => root.post('/api/v1/devices', { name: 'dev-x', attributes: { scope: 'galactic' } }),
        400,
        'CASM_ERR_VALIDATION',
        ['/api/v1/devices'],
      )
      const p = ok<DeviceOut>(
        await root.patch('/api/v1/devices/dev-crud', {
          name: 'dev-crud2',
          attributes: { function: 'cgn' },
        }),
      )
      assert.equal(p.id, d.id)
      assert.equal(p.name, 'dev-crud2')
      assert.deepEqual(p.attributes, { function: 'cgn' })
      assert.equal(p.description, 'rack 4')
      assert.equal((await root.del('/api/v1/devices/dev-crud2')).status, 204)
      fails(await root.get(`/api/v1/devices/${d.id}`), 404, 'CASM_ERR_NOT_FOUND')
      assert.ok(!ids(ok<Items<DeviceOut>>(await root.get('/api/v1/devices')).items).includes(d.id))
    })

    it('refuses deletes and resizes that would orphan something (IN_USE)', async () => {
      await h.domain('use-a')
      const blk = await h.block('use-a', '10.40.0.0/16')
      const pool = await h.pool({
        name: 'use-p',
        domain: 'use-a',
        space: ['10.40.0.0/24'],
        policy: { unit: { default: 28 }, quarantine: 0 },
      })
      await h.device('use-dev')
      const g = await h.grant('use-p', { device: 'use-dev', prefix: '10.40.0.128/28' })
      const watch = [
        '/api/v1/domains',
        '/api/v1/blocks?domain=use-a',
        '/api/v1/pools?domain=use-a',
        '/api/v1/devices',
        '/api/v1/grants?pool=use-p',
        '/api/v1/pools/use-p/usage',
      ]
      const inUse = (send: () => Promise<Res>) => h.refuse(send, 409, 'CASM_ERR_IN_USE', watch)
      const e = await inUse(() => root.del(`/api/v1/blocks/${blk.id}`))
      assert.match(e.message, /use-p/)
      await inUse(() => root.del('/api/v1/domains/use-a'))
      await inUse(() => root.del('/api/v1/pools/use-p'))
      await inUse(() => root.del('/api/v1/devices/use-dev'))
      const shrink = await inUse(() =>
        root.patch('/api/v1/pools/use-p', { space: ['10.40.0.0/25'] }),
      )
      assert.match(shrink.message, /10\.40\.0\.128\/28/)
      // Growing works, and the grant stays.
      const grown = ok<PoolOut>(
        await root.patch('/api/v1/pools/use-p', { space: ['10.40.0.0/23'] }),
      )
      assert.deepEqual(grown.space, ['10.40.0.0/23'])
      assert.equal((await h.poolUsage('use-p')).total, '512')
      assert.equal(ok<GrantOut>(await root.get(`/api/v1/grants/${g.id}`)).state, 'active')
      // The block cannot shrink under the pool, but can grow.
      await inUse(() => root.patch(`/api/v1/blocks/${blk.id}`, { space: '10.40.0.0/24' }))
      await inUse(() => root.patch(`/api/v1/blocks/${blk.id}`, { reserved: true }))
      const bigger = ok<BlockOut>(
        await root.patch(`/api/v1/blocks/${blk.id}`, { space: '10.40.0.0/15' }),
      )
      assert.equal(bigger.space, '10.40.0.0/15')

      // Once the dependants are gone, every delete goes through.
      assert.equal(ok<GrantOut>(await root.post(`/api/v1/grants/${g.id}/release`)).state, 'free')
      assert.equal((await root.del('/api/v1/devices/use-dev')).status, 204)
      assert.equal((await root.del(`/api/v1/pools/${pool.id}`)).status, 204)
      assert.equal((await root.del(`/api/v1/blocks/${blk.id}`)).status, 204)
      assert.equal((await root.del('/api/v1/domains/use-a')).status, 204)
      fails(await root.get('/api/v1/domains/use-a'), 404, 'CASM_ERR_NOT_FOUND')
    })

    // ---- grants --------------------------------------------------------------------------------

    it('grants: default unit, length hint, exact prefix, and every refusal', async () => {
      await h.domain('gr-dom')
      await h.block('gr-dom', '10.50.0.0/16')
      const pool = await h.pool({
        name: 'gr-pool',
        domain: 'gr-dom',
        space: ['10.50.0.0/24'],
        policy: { unit: { min: 24, default: 27, max: 30 }, quarantine: 60 },
      })
      const dev = await h.device('gr-dev')
      const g1 = await h.grant('gr-pool', { device: 'gr-dev' })
      assert.match(g1.id, /^gr_/)
      assert.match(g1.prefix, /^10\.50\.0\.\d+\/27$/)
      assert.equal(g1.pool, pool.id)
      assert.equal(g1.device, dev.id)
      assert.equal(g1.state, 'active')
      assert.equal(g1.expiresAt, null)
      assert.equal(g1.releasedAt, null)
      assert.equal(g1.createdAt, iso(h.clock.now()))
      assert.deepEqual(ok(await root.get(`/api/v1/grants/${g1.id}`)), g1)
      const g2 = await h.grant('gr-pool', { device: 'gr-dev', length: 26 })
      assert.match(g2.prefix, /^10\.50\.0\.\d+\/26$/)
      const g3 = await h.grant(pool.id, { device: dev.id, prefix: '10.50.0.224/27' })
      assert.equal(g3.prefix, '10.50.0.224/27')
      const usage = await h.poolUsage('gr-pool')
      assert.equal(usage.allocated, String(32 + 64 + 32))
      addsUp(usage)

      const watch = ['/api/v1/grants?pool=gr-pool', '/api/v1/pools/gr-pool/usage']
      const refuse = (
        body: Record<string, unknown>,
        status: number,
        code: string,
        pool = 'gr-pool',
      ) => h.refuse(() => root.post(`/api/v1/pools/${pool}/grants`, body), status, code, watch)
      const long = await refuse({ device: 'gr-dev', length: 31 }, 400, 'CASM_ERR_VALIDATION')
      assert.equal(long.details?.errors?.[0]?.path, '/length')
      await refuse({ device: 'gr-dev', length: 23 }, 400, 'CASM_ERR_VALIDATION')
      await refuse({ device: 'gr-dev', prefix: '10.50.0.192/31' }, 400, 'CASM_ERR_VALIDATION')
      const hb = await refuse(
        { device: 'gr-dev', prefix: '10.50.0.225/27' },
        400,
        'CASM_ERR_HOST_BITS',
      )
      assert.match(hb.message, /10\.50\.0\.224\/27/)
      await refuse({ device: 'gr-dev', prefix: '10.51.0.0/27' }, 400, 'CASM_ERR_OUT_OF_POOL')
      await refuse({ device: 'gr-dev', prefix: '10.50.0.224/27' }, 409, 'CASM_ERR_OVERLAP')
      await refuse({ device: 'gr-dev', prefix: '10.50.0.240/28' }, 409, 'CASM_ERR_OVERLAP')
      await refuse({ device: 'gr-dev', prefix: '10.50.0.0/24' }, 409, 'CASM_ERR_OVERLAP')
      await refuse({ device: 'gr-dev', prefix: 'nonsense' }, 400, 'CASM_ERR_ADDRESS_SYNTAX')
      await refuse({ device: 'gr-dev' }, 404, 'CASM_ERR_NOT_FOUND', 'gr-nope')
      const nodev = await refuse({ device: 'gr-ghost' }, 404, 'CASM_ERR_NOT_FOUND')
      assert.match(nodev.message, /gr-ghost/)
      fails(await root.get('/api/v1/grants/gr_0000000000000000000000'), 404, 'CASM_ERR_NOT_FOUND')
      fails(await root.get(`/api/v1/grants/${pool.id}`), 404, 'CASM_ERR_NOT_FOUND')
    })

    it('grants: exhausting a pool says what is left; release frees at once with no quarantine', async () => {
      await h.pool({
        name: 'gr-small',
        domain: 'gr-dom',
        space: ['10.50.1.0/28'],
        policy: { unit: { min: 28, default: 30, max: 30 }, quarantine: 0 },
      })
      const got: GrantOut[] = []
      for (let i = 0; i < 4; i++) got.push(await h.grant('gr-small', { device: 'gr-dev' }))
      assert.deepEqual(got.map((g) => g.prefix).sort(), [
        '10.50.1.0/30',
        '10.50.1.12/30',
        '10.50.1.4/30',
        '10.50.1.8/30',
      ])
      const watch = ['/api/v1/grants?pool=gr-small', '/api/v1/pools/gr-small/usage']
      const full = await h.refuse(
        () => root.post('/api/v1/pools/gr-small/grants', { device: 'gr-dev' }),
        409,
        'CASM_ERR_POOL_EXHAUSTED',
        watch,
      )
      assert.match(full.message, /no free \/30/)
      assert.match(full.message, /nothing is free/)
      assert.equal(full.details?.['free'], '0')

      const victim = got[1] as GrantOut
      const rel = ok<GrantOut>(await root.post(`/api/v1/grants/${victim.id}/release`))
      assert.equal(rel.state, 'free')
      assert.equal(rel.releasedAt, iso(h.clock.now()))
      assert.equal(rel.quarantineUntil, null)
      const partial = await h.refuse(
        () => root.post('/api/v1/pools/gr-small/grants', { device: 'gr-dev', length: 28 }),
        409,
        'CASM_ERR_POOL_EXHAUSTED',
        watch,
      )
      assert.match(partial.message, /no free \/28/)
      assert.ok(partial.message.includes(victim.prefix), partial.message)
      assert.match(partial.message, /\b4 address/)
      assert.equal(partial.details?.['largestFree'], victim.prefix)
      const again = await h.grant('gr-small', { device: 'gr-dev' })
      assert.equal(again.prefix, victim.prefix)
      const u = await h.poolUsage('gr-small')
      assert.equal(u.free, '0')
      addsUp(u)
    })

    it('grants: release quarantines, twice is illegal, the sweep frees after the quarantine', async () => {
      const [g3] = ok<Page<GrantOut>>(
        await root.get('/api/v1/grants?pool=gr-pool&state=active'),
      ).items.filter((g) => g.prefix === '10.50.0.224/27')
      assert.ok(g3 !== undefined)
      h.clock.advance(1000)
      const released = ok<GrantOut>(await root.post(`/api/v1/grants/${g3.id}/release`))
      assert.equal(released.state, 'quarantined')
      assert.equal(released.releasedAt, iso(h.clock.now()))
      assert.equal(released.quarantineUntil, iso(h.clock.now() + 60_000))
      const watch = ['/api/v1/grants?pool=gr-pool', '/api/v1/pools/gr-pool/usage']
      const twice = await h.refuse(
        () => root.post(`/api/v1/grants/${g3.id}/release`),
        409,
        'CASM_ERR_ILLEGAL_TRANSITION',
        watch,
      )
      assert.match(twice.message, /quarantined/)
      await h.refuse(
        () => root.post('/api/v1/grants/gr_00000000000000000000/release'),
        404,
        'CASM_ERR_NOT_FOUND',
        watch,
      )
      // Quarantined space stays held.
      await h.refuse(
        () => root.post('/api/v1/pools/gr-pool/grants', { device: 'gr-dev', prefix: g3.prefix }),
        409,
        'CASM_ERR_OVERLAP',
        watch,
      )
      h.clock.advance(59_000)
      await h.coordinator.sweepNow()
      assert.equal(ok<GrantOut>(await root.get(`/api/v1/grants/${g3.id}`)).state, 'quarantined')
      h.clock.advance(1_000)
      const swept = await h.coordinator.sweepNow()
      assert.ok(swept.freed >= 1)
      const free = ok<GrantOut>(await root.get(`/api/v1/grants/${g3.id}`))
      assert.equal(free.state, 'free')
      assert.equal(free.quarantineUntil, null)
      await h.refuse(
        () => root.post(`/api/v1/grants/${g3.id}/release`),
        409,
        'CASM_ERR_ILLEGAL_TRANSITION',
        watch,
      )
      const back = await h.grant('gr-pool', { device: 'gr-dev', prefix: g3.prefix })
      assert.equal(back.state, 'active')
    })

    it('grants: a lifetime ends in expired → quarantined → free, and the space comes back', async () => {
      await h.pool({
        name: 'gr-life',
        domain: 'gr-dom',
        space: ['10.50.2.0/27'],
        policy: { unit: { min: 27, default: 27, max: 27 }, lifetime: 3600, quarantine: 600 },
      })
      const g = await h.grant('gr-life', { device: 'gr-dev' })
      assert.equal(g.prefix, '10.50.2.0/27')
      assert.equal(g.expiresAt, iso(h.clock.now() + 3_600_000))
      const watch = ['/api/v1/grants?pool=gr-life']
      const full = () => root.post('/api/v1/pools/gr-life/grants', { device: 'gr-dev' })
      await h.refuse(full, 409, 'CASM_ERR_POOL_EXHAUSTED', watch)

      h.clock.advance(3_599_000)
      await h.coordinator.sweepNow()
      assert.equal(ok<GrantOut>(await root.get(`/api/v1/grants/${g.id}`)).state, 'active')
      h.clock.advance(1_000)
      const r = await h.coordinator.sweepNow()
      assert.ok(r.expired >= 1)
      // A device's grant is withdrawn only after drain: it drains, and expires once its device
      // reports it empty.
      const draining = ok<GrantOut>(await root.get(`/api/v1/grants/${g.id}`))
      assert.equal(draining.state, 'draining')
      assert.equal(draining.expiresAt, null)
      const devToken = ok<{ secret: string }>(
        await root.post('/api/v1/tokens', {
          name: 'gr-dev-agent',
          role: 'device',
          device: 'gr-dev',
        }),
        201,
      )
      const dev = h.as(devToken.secret)
      const report = (used: number) =>
        dev.post('/api/v1/agent/messages', {
          v: 1,
          txn: `life-${used}`,
          type: 'status-report',
          window: 10,
          grants: [{ grant: g.id, used, state: 'draining' }],
        })
      ok(await report(3))
      assert.equal(ok<GrantOut>(await root.get(`/api/v1/grants/${g.id}`)).state, 'draining')
      ok(await report(0))
      const expired = ok<GrantOut>(await root.get(`/api/v1/grants/${g.id}`))
      assert.equal(expired.state, 'quarantined')
      assert.equal(expired.releasedAt, iso(h.clock.now()))
      assert.equal(expired.quarantineUntil, iso(h.clock.now() + 600_000))
      let events = ok<Page<EventOut>>(await root.get(`/api/v1/events?object=${g.id}`)).items
      assert.deepEqual(
        events.map((e) => e.action),
        ['grant.create', 'grant.drain', 'grant.expire'],
      )
      const drain = events[1] as EventOut
      assert.equal(drain.actor, 'system:policy')
      assert.match(drain.reason ?? '', /lifetime/)
      const exp = events[2] as EventOut
      assert.equal(exp.actor, 'system:policy')
      assert.equal(exp.before?.['state'], 'draining')
      assert.equal(exp.after?.['state'], 'quarantined')
      assert.match(exp.reason ?? '', /lifetime/)
      await h.refuse(full, 409, 'CASM_ERR_POOL_EXHAUSTED', watch)
      // A quarantined grant still holds its pool.
      await h.refuse(() => root.del('/api/v1/pools/gr-life'), 409, 'CASM_ERR_IN_USE', watch)

      h.clock.advance(600_000)
      assert.ok((await h.coordinator.sweepNow()).freed >= 1)
      assert.equal(ok<GrantOut>(await root.get(`/api/v1/grants/${g.id}`)).state, 'free')
      events = ok<Page<EventOut>>(await root.get(`/api/v1/events?object=${g.id}`)).items
      assert.deepEqual(
        events.map((e) => e.action),
        ['grant.create', 'grant.drain', 'grant.expire', 'grant.free'],
      )
      const again = await h.grant('gr-life', { device: 'gr-dev' })
      assert.equal(again.prefix, g.prefix)
      assert.equal(again.expiresAt, iso(h.clock.now() + 3_600_000))
    })

    it('grants: listing filters by pool, device and state, and pages with the next cursor', async () => {
      const all = ok<Page<GrantOut>>(await root.get('/api/v1/grants?pool=gr-pool')).items
      assert.equal(all.length, 4, 'g1, g2, g3 (free) and its successor')
      assert.ok(all.every((g) => g.pool === all[0]?.pool))
      const dev = await h.device('gr-dev2')
      const other = await h.grant('gr-pool', { device: 'gr-dev2' })
      const byDev = ok<Page<GrantOut>>(await root.get('/api/v1/grants?device=gr-dev2')).items
      assert.deepEqual(ids(byDev), [other.id])
      assert.equal(byDev[0]?.device, dev.id)
      const free = ok<Page<GrantOut>>(await root.get('/api/v1/grants?pool=gr-pool&state=free'))
      assert.equal(free.items.length, 1)
      assert.equal(free.items[0]?.prefix, '10.50.0.224/27')
      const active = ok<Page<GrantOut>>(
        await root.get('/api/v1/grants?pool=gr-pool&device=gr-dev&state=active'),
      ).items
      assert.equal(active.length, 3)
      assert.ok(active.every((g) => g.state === 'active' && g.device !== dev.id))

      const full = ok<Page<GrantOut>>(await root.get('/api/v1/grants?pool=gr-pool')).items
      assert.equal(full.length, 5)
      const pages = await allPages<GrantOut>(root, '/api/v1/grants?pool=gr-pool', 2)
      assert.deepEqual(
        pages.map((p) => p.length),
        [2, 2, 1],
      )
      assert.deepEqual(ids(pages.flat()), ids(full))
      const exact = await allPages<GrantOut>(root, '/api/v1/grants?pool=gr-pool', 5)
      assert.deepEqual(ids(exact.flat()), ids(full), 'a full last page is followed by an empty one')

      fails(await root.get('/api/v1/grants?pool=gr-nope'), 404, 'CASM_ERR_NOT_FOUND')
      fails(await root.get('/api/v1/grants?state=gone'), 400, 'CASM_ERR_VALIDATION')
      fails(await root.get('/api/v1/grants?limit=0'), 400, 'CASM_ERR_VALIDATION')
    })

    // ---- assignments -----------------------------------------------------------------------------

    it('assignments: chosen by selectors and priority, falling through when exhausted', async () => {
      await h.domain('asg-dom')
      await h.block('asg-dom', '192.0.2.0/24')
      await h.block('asg-dom', '203.0.113.0/24')
      const unit = (min: number) => ({ unit: { min, default: 32, max: 32 }, quarantine: 0 })
      await h.pool({
        name: 'srv-gold',
        domain: 'asg-dom',
        kind: 'static',
        space: ['192.0.2.0/30'],
        policy: unit(30),
        priority: 10,
        selectors: { function: ['server'], scope: ['public'] },
      })
      await h.pool({
        name: 'srv-silver',
        domain: 'asg-dom',
        kind: 'static',
        space: ['192.0.2.8/29'],
        policy: unit(29),
        priority: 5,
        selectors: { function: ['server'] },
      })
      await h.pool({
        name: 'srv-any',
        domain: 'asg-dom',
        kind: 'static',
        space: ['192.0.2.64/29'],
        policy: unit(29),
        priority: 1,
        selectors: { function: ['server', 'router'], scope: ['public'] },
      })
      const assign = async (body: Record<string, unknown>) =>
        ok<AssignmentCreated>(
          await root.post('/api/v1/assignments', { domain: 'asg-dom', ...body }),
          201,
        )
      const pub = { function: 'server', scope: 'public' }
      const first = await assign({ requestor: pub, hostname: 'web-1' })
      assert.equal(first.pool, 'srv-gold', 'the highest priority wins')
      assert.equal(first.matchedSelectors, 2)
      assert.match(first.assignment.prefix, /^192\.0\.2\.[0-3]\/32$/)
      assert.equal(first.assignment.state, 'active')
      assert.equal(first.assignment.hostname, 'web-1')
      assert.deepEqual(first.assignment.requestor, pub)
      assert.deepEqual(
        ok(await root.get(`/api/v1/assignments/${first.assignment.id}`)),
        first.assignment,
      )
      const priv = await assign({ requestor: { function: 'server', scope: 'private' } })
      assert.equal(priv.pool, 'srv-silver', 'srv-gold does not serve private scope')
      assert.equal(priv.matchedSelectors, 1)
      const router = await assign({ requestor: { function: 'router', scope: 'public' } })
      assert.equal(router.pool, 'srv-any')

      const gold = [first]
      for (let i = 0; i < 3; i++) gold.push(await assign({ requestor: pub }))
      assert.ok(gold.every((a) => a.pool === 'srv-gold'))
      assert.equal(new Set(gold.map((a) => a.assignment.prefix)).size, 4)
      const spill = await assign({ requestor: pub })
      assert.equal(spill.pool, 'srv-silver', 'an exhausted pool hands over to the next')
      assert.match(spill.assignment.prefix, /^192\.0\.2\.(8|9|1[0-5])\/32$/)
      const events = ok<Page<EventOut>>(
        await root.get(`/api/v1/events?object=${spill.assignment.id}`),
      ).items
      assert.match(events[0]?.reason ?? '', /srv-silver/)

      const watch = ['/api/v1/assignments?limit=1000', '/api/v1/pools/srv-silver/usage']
      const none = await h.refuse(
        () =>
          root.post('/api/v1/assignments', {
            domain: 'asg-dom',
            requestor: { function: 'firewall' },
          }),
        404,
        'CASM_ERR_NOT_FOUND',
        watch,
      )
      assert.match(none.message, /selectors/)
      await h.refuse(
        () => root.post('/api/v1/assignments', { domain: 'asg-nope', requestor: pub }),
        404,
        'CASM_ERR_NOT_FOUND',
        watch,
      )
      // Fill srv-silver and srv-any: then nothing is left for a public server.
      const left =
        BigInt((await h.poolUsage('srv-silver')).free) + BigInt((await h.poolUsage('srv-any')).free)
      for (let i = 0n; i < left; i++) await assign({ requestor: pub })
      const exhausted = await h.refuse(
        () => root.post('/api/v1/assignments', { domain: 'asg-dom', requestor: pub }),
        409,
        'CASM_ERR_POOL_EXHAUSTED',
        watch,
      )
      assert.match(exhausted.message, /srv-gold/)
      assert.match(exhausted.message, /srv-silver/)
    })

    it('assignments: size rounds up to a prefix, exact prefix for a static host, release', async () => {
      await h.pool({
        name: 'mgmt',
        domain: 'asg-dom',
        kind: 'static',
        space: ['203.0.113.0/28'],
        policy: { unit: { min: 28, default: 32, max: 32 }, quarantine: 0 },
        selectors: { plane: ['management'] },
      })
      const mg = { plane: 'management' }
      const post = (body: Record<string, unknown>) =>
        root.post('/api/v1/assignments', { domain: 'asg-dom', ...body })
      const five = ok<AssignmentCreated>(await post({ requestor: mg, size: 5 }), 201)
      assert.equal(five.pool, 'mgmt')
      assert.match(five.assignment.prefix, /\/29$/)
      const three = ok<AssignmentCreated>(await post({ requestor: mg, size: 3 }), 201)
      assert.match(three.assignment.prefix, /\/30$/)
      const one = ok<AssignmentCreated>(await post({ requestor: mg, size: 1 }), 201)
      assert.match(one.assignment.prefix, /\/32$/)
      const byPool = ok<AssignmentCreated>(await post({ pool: 'mgmt', length: 32 }), 201)
      assert.equal(byPool.pool, 'mgmt')
      const used = await h.poolUsage('mgmt')
      assert.equal(used.allocated, String(8 + 4 + 1 + 1))
      addsUp(used)

      // A static host names its address; the pool holding it is found.
      const taken = new Set([five, three, one, byPool].map((a) => a.assignment.prefix))
      const free = ['203.0.113.14/32', '203.0.113.15/32'].find((p) => !taken.has(p)) as string
      const st = ok<AssignmentCreated>(await post({ prefix: free, hostname: 'ns1' }), 201)
      assert.equal(st.pool, 'mgmt')
      assert.equal(st.assignment.prefix, free)
      assert.equal(st.assignment.hostname, 'ns1')
      const watch = ['/api/v1/assignments?pool=mgmt', '/api/v1/pools/mgmt/usage']
      await h.refuse(() => post({ prefix: free }), 409, 'CASM_ERR_OVERLAP', watch)
      await h.refuse(() => post({ prefix: '198.51.100.7/32' }), 400, 'CASM_ERR_OUT_OF_POOL', watch)
      await h.refuse(() => post({ requestor: mg, size: 9 }), 409, 'CASM_ERR_POOL_EXHAUSTED', watch)

      const listed = ok<Page<AssignmentOut>>(await root.get('/api/v1/assignments?pool=mgmt')).items
      assert.equal(listed.length, 5)
      const rel = ok<AssignmentOut>(
        await root.post(`/api/v1/assignments/${st.assignment.id}/release`),
      )
      assert.equal(rel.state, 'free')
      await h.refuse(
        () => root.post(`/api/v1/assignments/${st.assignment.id}/release`),
        409,
        'CASM_ERR_ILLEGAL_TRANSITION',
        watch,
      )
      // A grant id is not an assignment.
      const someGrant = ok<Page<GrantOut>>(await root.get('/api/v1/grants?limit=1')).items[0]
      assert.ok(someGrant !== undefined)
      await h.refuse(
        () => root.post(`/api/v1/assignments/${someGrant.id}/release`),
        404,
        'CASM_ERR_NOT_FOUND',
        watch,
      )
      const again = ok<AssignmentCreated>(await post({ prefix: free }), 201)
      assert.equal(again.assignment.prefix, free)
      assert.equal(
        ok<Page<AssignmentOut>>(await root.get('/api/v1/assignments?pool=mgmt&state=free')).items
          .length,
        1,
      )
    })

    // ---- reservations --------------------------------------------------------------------------

    it('reservations: prefix, range, pattern, excluded; overlap refused; delete frees', async () => {
      await h.domain('rsv-dom')
      await h.block('rsv-dom', '172.16.0.0/16')
      const pool = await h.pool({
        name: 'rsv-pool',
        domain: 'rsv-dom',
        space: ['172.16.0.0/22'],
        policy: { unit: { min: 24, default: 28, max: 32 }, quarantine: 0 },
      })
      await h.device('rsv-dev')
      const watch = ['/api/v1/reservations?pool=rsv-pool', '/api/v1/pools/rsv-pool/usage']
      const reserve = async (body: Record<string, unknown>, pool = 'rsv-pool') =>
        ok<ReservationOut>(await root.post(`/api/v1/pools/${pool}/reservations`, body), 201)

      const p = await reserve({ prefix: '172.16.0.0/28', description: 'gateways' })
      assert.match(p.id, /^rsv_/)
      assert.equal(p.pool, pool.id)
      assert.equal(p.kind, 'reserved')
      assert.deepEqual(p.prefixes, ['172.16.0.0/28'])
      assert.equal(p.count, 1)
      assert.deepEqual(ok(await root.get(`/api/v1/reservations/${p.id}`)), p)
      let u = await h.poolUsage('rsv-pool')
      assert.equal(u.total, '1024')
      assert.equal(u.reserved, '16')
      addsUp(u)

      const r = await reserve({ range: '172.16.1.10-172.16.1.20' })
      assert.equal(r.count, r.prefixes.length)
      assert.deepEqual(r.prefixes, [
        '172.16.1.10/31',
        '172.16.1.12/30',
        '172.16.1.16/30',
        '172.16.1.20/32',
      ])
      u = await h.poolUsage('rsv-pool')
      assert.equal(u.reserved, String(16 + 11))

      // A grant, then reservations over it are refused.
      const g = await h.grant('rsv-pool', { device: 'rsv-dev', prefix: '172.16.2.0/28' })
      for (const body of [
        { prefix: '172.16.2.0/27' },
        { prefix: '172.16.2.8/32' },
        { range: '172.16.1.250-172.16.2.3' },
        { kind: 'excluded', prefix: '172.16.2.0/24' },
        { pattern: { every: 24, offsets: [0] } },
      ]) {
        await h.refuse(
          () => root.post('/api/v1/pools/rsv-pool/reservations', body),
          409,
          'CASM_ERR_OVERLAP',
          watch,
        )
      }
      await h.refuse(
        () => root.post('/api/v1/pools/rsv-pool/reservations', { prefix: '172.16.0.0/28' }),
        409,
        'CASM_ERR_OVERLAP',
        watch,
      )
      await h.refuse(
        () =>
          root.post('/api/v1/pools/rsv-pool/reservations', {
            prefix: '172.16.0.0/28',
            range: '172.16.3.0-172.16.3.9',
          }),
        400,
        'CASM_ERR_VALIDATION',
        watch,
      )
      await h.refuse(
        () => root.post('/api/v1/pools/rsv-pool/reservations', { prefix: '172.17.0.0/24' }),
        400,
        'CASM_ERR_OUT_OF_POOL',
        watch,
      )
      // Reserved space is never granted.
      await h.refuse(
        () =>
          root.post('/api/v1/pools/rsv-pool/grants', {
            device: 'rsv-dev',
            prefix: '172.16.0.0/28',
          }),
        409,
        'CASM_ERR_OVERLAP',
        ['/api/v1/grants?pool=rsv-pool'],
      )

      // Excluded space leaves the pool's total.
      const x = await reserve({ kind: 'excluded', prefix: '172.16.3.0/24' })
      assert.equal(x.kind, 'excluded')
      u = await h.poolUsage('rsv-pool')
      assert.equal(u.total, String(1024 - 256))
      assert.equal(u.excluded, '256')
      assert.equal(u.reserved, String(16 + 11))
      assert.equal(u.allocated, '16')
      addsUp(u)

      // A pattern: the first and last address of every /24.
      await h.pool({ name: 'rsv-pat', domain: 'rsv-dom', space: ['172.16.8.0/22'] })
      const pat = await reserve({ pattern: { every: 24, offsets: [0, -1] } }, 'rsv-pat')
      assert.equal(pat.count, 8)
      assert.deepEqual([...pat.prefixes].sort(), [
        '172.16.10.0/32',
        '172.16.10.255/32',
        '172.16.11.0/32',
        '172.16.11.255/32',
        '172.16.8.0/32',
        '172.16.8.255/32',
        '172.16.9.0/32',
        '172.16.9.255/32',
      ])
      const pu = await h.poolUsage('rsv-pat')
      assert.equal(pu.reserved, '8')
      addsUp(pu)
      // A resize may not leave a reservation outside the pool.
      const shrink = await h.refuse(
        () => root.patch('/api/v1/pools/rsv-pat', { space: ['172.16.8.0/23'] }),
        409,
        'CASM_ERR_IN_USE',
        [
          '/api/v1/reservations?pool=rsv-pat',
          '/api/v1/pools/rsv-pat/usage',
          '/api/v1/pools/rsv-pat',
        ],
      )
      assert.match(shrink.message, /172\.16\.1[01]\./)
      const listed = ok<Items<ReservationOut>>(await root.get('/api/v1/reservations?pool=rsv-pool'))
      assert.deepEqual(new Set(ids(listed.items)), new Set([p.id, r.id, x.id]))

      // Deleting a reservation frees its space.
      assert.equal((await root.del(`/api/v1/reservations/${p.id}`)).status, 204)
      fails(await root.get(`/api/v1/reservations/${p.id}`), 404, 'CASM_ERR_NOT_FOUND')
      assert.equal((await h.poolUsage('rsv-pool')).reserved, '11')
      const onIt = await h.grant('rsv-pool', { device: 'rsv-dev', prefix: '172.16.0.0/28' })
      assert.equal(onIt.prefix, '172.16.0.0/28')
      assert.equal((await root.del(`/api/v1/reservations/${x.id}`)).status, 204)
      u = await h.poolUsage('rsv-pool')
      assert.equal(u.total, '1024')
      assert.equal(u.excluded, '0')
      addsUp(u)
      await h.refuse(
        () => root.del(`/api/v1/reservations/${x.id}`),
        404,
        'CASM_ERR_NOT_FOUND',
        watch,
      )
      assert.equal(ok<GrantOut>(await root.get(`/api/v1/grants/${g.id}`)).state, 'active')
    })

    // ---- search and usage --------------------------------------------------------------------

    it('search by address and by prefix names block, pool, grant and device', async () => {
      const dom = await h.domain('srch')
      const blk = await h.block('srch', '10.60.0.0/16')
      const pool = await h.pool({ name: 'srch-pool', domain: 'srch', space: ['10.60.0.0/24'] })
      const dev = await h.device('srch-dev')
      const g = await h.grant('srch-pool', { device: 'srch-dev', prefix: '10.60.0.32/27' })
      await root.post('/api/v1/pools/srch-pool/reservations', { prefix: '10.60.0.0/30' })

      const byAddr = ok<SearchOut>(await root.get('/api/v1/search?q=10.60.0.40'))
      assert.equal(byAddr.query, '10.60.0.40/32')
      assert.equal(byAddr.domains.length, 1)
      const hit = byAddr.domains[0]
      assert.ok(hit !== undefined)
      assert.deepEqual(hit.domain, { id: dom.id, name: 'srch' })
      assert.deepEqual(
        hit.blocks.map((b) => [b.id, b.space, b.relation]),
        [[blk.id, '10.60.0.0/16', 'contains']],
      )
      assert.deepEqual(
        hit.pools.map((p) => [p.id, p.name, p.relation]),
        [[pool.id, 'srch-pool', 'contains']],
      )
      assert.equal(hit.units.length, 1)
      const unit = hit.units[0]
      assert.ok(unit !== undefined)
      assert.equal(unit.id, g.id)
      assert.equal(unit.type, 'grant')
      assert.equal(unit.prefix, '10.60.0.32/27')
      assert.equal(unit.relation, 'contains')
      assert.equal(unit.pool, 'srch-pool')
      assert.deepEqual(unit.device, { id: dev.id, name: 'srch-dev' })

      const byPrefix = ok<SearchOut>(await root.get('/api/v1/search?q=10.60.0.0/24&domain=srch'))
      const ph = byPrefix.domains[0]
      assert.ok(ph !== undefined)
      assert.equal(ph.pools[0]?.relation, 'equal')
      assert.equal(ph.blocks[0]?.relation, 'contains')
      assert.deepEqual(ph.units.map((x) => [x.type, x.prefix, x.relation]).sort(), [
        ['grant', '10.60.0.32/27', 'inside'],
        ['reservation', '10.60.0.0/30', 'inside'],
      ])
      const wide = ok<SearchOut>(await root.get('/api/v1/search?q=10.60.0.0/15'))
      assert.equal(wide.domains.find((d) => d.domain.id === dom.id)?.blocks[0]?.relation, 'inside')
      assert.deepEqual(ok<SearchOut>(await root.get('/api/v1/search?q=10.99.0.1')).domains, [])
      fails(await root.get('/api/v1/search?q=10.999.0.1'), 400, 'CASM_ERR_ADDRESS_SYNTAX')
      fails(await root.get('/api/v1/search'), 400, 'CASM_ERR_VALIDATION')
      fails(await root.get('/api/v1/search?q=10.60.0.1&domain=nope'), 404, 'CASM_ERR_NOT_FOUND')
    })

    it('usage of pool, block and domain adds up', async () => {
      const pu = await h.poolUsage('srch-pool')
      assert.equal(pu.total, '256')
      assert.equal(pu.allocated, '32')
      assert.equal(pu.reserved, '4')
      assert.equal(pu.used, '36')
      assert.equal(pu.free, '220')
      assert.equal(pu.utilisation, 36 / 256)
      addsUp(pu)
      const blocks = ok<Items<BlockOut>>(await root.get('/api/v1/blocks?domain=srch')).items
      const blk = blocks[0]
      assert.ok(blk !== undefined)
      const bu = ok<SpaceUsageOut & { block: string }>(
        await root.get(`/api/v1/blocks/${blk.id}/usage`),
      )
      assert.equal(bu.block, '10.60.0.0/16')
      assert.equal(bu.total, '65536')
      assert.equal(bu.pooled, '256')
      assert.equal(bu.unpooled, String(65536 - 256))
      assert.equal(bu.allocated, '32')
      assert.equal(bu.reserved, '4')
      assert.equal(bu.free, '220')
      spaceAddsUp(bu)
      const du = ok<{ domain: string; families: SpaceUsageOut[]; pools: PoolUsageOut[] }>(
        await root.get('/api/v1/domains/srch/usage'),
      )
      assert.equal(du.domain, 'srch')
      assert.equal(du.families.length, 1)
      assert.deepEqual({ block: bu.block, ...du.families[0] }, bu)
      assert.deepEqual(du.pools, [pu])

      // Across several pools and blocks, with exclusions.
      const rsv = ok<{ families: SpaceUsageOut[]; pools: PoolUsageOut[] }>(
        await root.get('/api/v1/domains/rsv-dom/usage'),
      )
      const fam = rsv.families[0]
      assert.ok(fam !== undefined)
      spaceAddsUp(fam)
      assert.equal(fam.pooled, String(1024 + 1024))
      for (const p of rsv.pools) addsUp(p)
      const sum = (k: 'allocated' | 'reserved' | 'free') =>
        rsv.pools.reduce((s, p) => s + BigInt(p[k]), 0n)
      assert.equal(BigInt(fam.allocated), sum('allocated'))
      assert.equal(BigInt(fam.reserved), sum('reserved'))
      assert.equal(BigInt(fam.free), sum('free'))
      fails(await root.get('/api/v1/pools/nope/usage'), 404, 'CASM_ERR_NOT_FOUND')
      fails(
        await root.get('/api/v1/blocks/blk_00000000000000000000/usage'),
        404,
        'CASM_ERR_NOT_FOUND',
      )
      fails(await root.get('/api/v1/domains/nope/usage'), 404, 'CASM_ERR_NOT_FOUND')
    })

    it('usage history: the housekeeping samples pools and devices; viewers read it per tenant', async () => {
      await h.domain('hist')
      await h.block('hist', '10.61.0.0/16')
      const pool = await h.pool({ name: 'hist-pool', domain: 'hist', space: ['10.61.0.0/24'] })
      const dev = await h.device('hist-dev')
      await h.grant('hist-pool', { device: 'hist-dev', prefix: '10.61.0.0/26' })
      const viewer = ok<{ secret: string }>(
        await root.post('/api/v1/tokens', { name: 'hist-viewer', role: 'viewer' }),
        201,
      )
      const V = h.as(viewer.secret)
      // Nothing sampled yet: the history is empty, not an error.
      assert.deepEqual(ok<Items<unknown>>(await V.get('/api/v1/pools/hist-pool/usage/history')), {
        items: [],
      })
      await h.coordinator.housekeeping()
      type Sample = { at: string; family: string; used: string; total: string; utilisation: number }
      const history = ok<Items<Sample>>(await V.get(`/api/v1/pools/${pool.id}/usage/history`))
      assert.ok(history.items.length >= 1)
      const last = history.items[history.items.length - 1]
      assert.deepEqual(last, {
        at: iso(h.clock.now()),
        family: 'ipv4',
        used: '64',
        total: '256',
        utilisation: 0.25,
      })
      const usage = await h.poolUsage('hist-pool')
      assert.equal(last.used, usage.used)
      assert.equal(last.total, usage.total)
      // Within the interval a second round takes no new sample.
      await h.coordinator.housekeeping()
      assert.equal(
        ok<Items<Sample>>(await V.get('/api/v1/pools/hist-pool/usage/history')).items.length,
        history.items.length,
      )
      // `since` as epoch ms or RFC 3339; after the last sample there is nothing; limit caps.
      const after = h.clock.now() + 1
      assert.deepEqual(
        ok<Items<Sample>>(await V.get(`/api/v1/pools/hist-pool/usage/history?since=${after}`)),
        { items: [] },
      )
      assert.equal(
        ok<Items<Sample>>(
          await V.get(
            `/api/v1/pools/hist-pool/usage/history?since=${encodeURIComponent(iso(h.clock.now()))}&limit=1`,
          ),
        ).items.length,
        1,
      )
      // A device that never reported has no samples.
      assert.deepEqual(ok<Items<Sample>>(await V.get(`/api/v1/devices/${dev.id}/usage/history`)), {
        items: [],
      })
      ok(await V.get('/api/v1/devices/hist-dev/usage/history?family=ipv6&since=0'))
      // Refusals: unknown objects, a bad time, family or limit.
      fails(await V.get('/api/v1/pools/nope/usage/history'), 404, 'CASM_ERR_NOT_FOUND')
      fails(await V.get('/api/v1/devices/nope/usage/history'), 404, 'CASM_ERR_NOT_FOUND')
      // (Another tenant's pool or device is 404 too: the tenancy test reads these URLs across.)
      fails(
        await V.get('/api/v1/pools/hist-pool/usage/history?since=yesterday'),
        400,
        'CASM_ERR_VALIDATION',
      )
      fails(
        await V.get('/api/v1/devices/hist-dev/usage/history?family=ipx'),
        400,
        'CASM_ERR_VALIDATION',
      )
      fails(
        await V.get('/api/v1/pools/hist-pool/usage/history?limit=10001'),
        400,
        'CASM_ERR_VALIDATION',
      )
    })

    // ---- address map -------------------------------------------------------------------------

    it('address map: cells along the Hilbert curve with state, fill and device', async () => {
      interface MapOut {
        readonly root: string
        readonly prefix: string
        readonly first: string
        readonly order: number
        readonly cellBits: number
        readonly cells: number
        readonly columns: number
        readonly rows: number
        readonly states: readonly string[]
        readonly devices: readonly { id: string; name: string }[]
        readonly counts: Record<string, number | string>
        readonly deviceOffset: number
        readonly state: string
        readonly fill: string
        readonly device: string
      }
      const column = (m: MapOut, c: 'state' | 'fill' | 'device'): number[] => [
        ...decodeRuns(Buffer.from(m[c], 'base64'), m.cells, c === 'device' ? m.deviceOffset : 0),
      ]
      const states = (m: MapOut): string[] => column(m, 'state').map((i) => m.states[i] ?? '?')
      const runs = <T>(xs: readonly T[]): [T, number][] => {
        const out: [T, number][] = []
        for (const x of xs) {
          const last = out.at(-1)
          if (last !== undefined && last[0] === x) last[1]++
          else out.push([x, 1])
        }
        return out
      }
      await h.domain('amap')
      const blk = await h.block('amap', '10.93.0.0/16')
      await h.pool({ name: 'amap-pool', domain: 'amap', space: ['10.93.0.0/24'] })
      const a = await h.device('amap-a')
      const b = await h.device('amap-b')
      await h.grant('amap-pool', { device: 'amap-a', prefix: '10.93.0.0/26' })
      const gb = await h.grant('amap-pool', { device: 'amap-b', prefix: '10.93.0.64/28' })
      ok(await root.post(`/api/v1/grants/${gb.id}/drain`, {}))
      ok(await root.post('/api/v1/pools/amap-pool/reservations', { prefix: '10.93.0.128/30' }), 201)

      // The pool as single addresses: a 16 × 16 grid.
      const fine = ok<MapOut>(
        await root.get(`/api/v1/blocks/${blk.id}/map?prefix=10.93.0.0/24&order=4`),
      )
      assert.equal(fine.root, '10.93.0.0/16')
      assert.equal(fine.prefix, '10.93.0.0/24')
      assert.equal(BigInt(fine.first), (10n << 24n) | (93n << 16n))
      assert.deepEqual(
        [fine.order, fine.cellBits, fine.cells, fine.columns, fine.rows],
        [4, 0, 256, 16, 16],
      )
      assert.deepEqual(runs(states(fine)), [
        ['active', 64],
        ['draining', 16],
        ['free', 48],
        ['reserved', 4],
        ['free', 124],
      ])
      assert.deepEqual(runs(column(fine, 'fill')), [
        [255, 80],
        [0, 48],
        [255, 4],
        [0, 124],
      ])
      assert.deepEqual(fine.devices, [
        { id: a.id, name: 'amap-a' },
        { id: b.id, name: 'amap-b' },
      ])
      assert.deepEqual(runs(column(fine, 'device')), [
        [0, 64],
        [1, 16],
        [-1, 176],
      ])
      assert.deepEqual(fine.counts, {
        grants: 2,
        assignments: 0,
        reservations: 1,
        exclusions: 0,
        addresses: '256',
        pooled: '256',
        used: '84',
        excluded: '0',
        utilisation: 84 / 256,
      })

      // The whole block (the default prefix) in 4 × 4 cells of 4096 addresses.
      const coarse = ok<MapOut>(await root.get(`/api/v1/blocks/${blk.id}/map?order=2`))
      assert.equal(coarse.prefix, '10.93.0.0/16')
      assert.deepEqual([coarse.order, coarse.cellBits, coarse.cells], [2, 12, 16])
      assert.deepEqual(runs(states(coarse)), [
        ['mixed', 1],
        ['unpooled', 15],
      ])
      assert.deepEqual(column(coarse, 'fill').slice(0, 2), [Math.round((84 / 4096) * 255), 0])
      assert.deepEqual(column(coarse, 'device').slice(0, 2), [-2, -1], 'several devices, none')
      assert.equal(coarse.counts['addresses'], '65536')
      assert.equal(coarse.counts['utilisation'], 84 / 256)

      // The default order is capped by the prefix: 2^16 addresses are a 256 × 256 grid.
      const capped = ok<MapOut>(await root.get(`/api/v1/blocks/${blk.id}/map`))
      assert.deepEqual([capped.order, capped.cellBits, capped.cells], [8, 0, 65536])
      // An odd number of bits uses the left half of the square.
      const half = ok<MapOut>(
        await root.get(`/api/v1/blocks/${blk.id}/map?prefix=10.93.0.0/25&order=10`),
      )
      assert.deepEqual(
        [half.order, half.cellBits, half.cells, half.columns, half.rows],
        [4, 0, 128, 8, 16],
      )

      // A block that is a range: cells outside it are `outside`.
      const rb = await h.block('amap', '10.94.0.5-10.94.0.20')
      const ranged = ok<MapOut>(await root.get(`/api/v1/blocks/${rb.id}/map`))
      assert.equal(ranged.root, '10.94.0.0/27')
      assert.deepEqual(runs(states(ranged)), [
        ['outside', 5],
        ['unpooled', 16],
        ['outside', 11],
      ])

      fails(
        await root.get(`/api/v1/blocks/${blk.id}/map?prefix=10.94.0.0/24`),
        400,
        'CASM_ERR_VALIDATION',
      )
      fails(
        await root.get(`/api/v1/blocks/${blk.id}/map?prefix=10.93.0.1/24`),
        400,
        'CASM_ERR_VALIDATION',
      )
      fails(await root.get(`/api/v1/blocks/${blk.id}/map?order=11`), 400, 'CASM_ERR_VALIDATION')
      fails(
        await root.get('/api/v1/blocks/blk_00000000000000000000/map'),
        404,
        'CASM_ERR_NOT_FOUND',
      )
    })

    // ---- events ------------------------------------------------------------------------------

    it('events: every mutation writes one event with actor, action, before/after and request id', async () => {
      const tenant = ok<Items<TenantOut>>(await root.get('/api/v1/tenants')).items.find(
        (t) => t.name === 'default',
      )
      assert.ok(tenant !== undefined)
      let n = 0
      /** Sends a mutation with a fresh request id; returns its answer and its one event. */
      const step = async (
        action: string,
        method: Method,
        url: string,
        status: number,
        body?: unknown,
      ): Promise<{ body: unknown; event: EventOut }> => {
        const rid = `ev-${++n}-${action}`
        const before = await h.eventCount()
        const res = await root.req(method, url, {
          headers: { 'x-request-id': rid },
          ...(body === undefined ? {} : { body }),
        })
        assert.equal(res.status, status, `${action}: ${res.text}`)
        assert.equal(res.headers['x-request-id'], rid)
        assert.equal(await h.eventCount(), before + 1, `${action} writes exactly one event`)
        const events = await h.eventsAfter(before)
        assert.equal(events.length, 1)
        const e = events[0] as EventOut
        assert.equal(e.seq, before + 1)
        assert.equal(e.action, action)
        assert.equal(e.objectType, action.split('.')[0])
        assert.equal(e.requestId, rid)
        assert.equal(e.actor, `token:${h.rootTokenId}`)
        assert.equal(e.tenant, tenant.id)
        assert.equal(e.at, iso(h.clock.now()))
        assert.match(e.hash, /^[0-9a-f]{64}$/)
        return { body: res.body, event: e }
      }
      const field = (o: Record<string, unknown> | null, k: string): unknown => o?.[k]

      const d = await step('domain.create', 'POST', '/api/v1/domains', 201, { name: 'ev-dom' })
      const dom = d.body as DomainOut
      assert.equal(d.event.objectId, dom.id)
      assert.equal(d.event.before, null)
      assert.equal(field(d.event.after, 'name'), 'ev-dom')
      const du = await step('domain.update', 'PATCH', '/api/v1/domains/ev-dom', 200, {
        description: 'new',
      })
      assert.equal(field(du.event.before, 'description'), '')
      assert.equal(field(du.event.after, 'description'), 'new')
      const b = await step('block.create', 'POST', '/api/v1/blocks', 201, {
        domain: 'ev-dom',
        space: '10.80.0.0/16',
      })
      const blk = b.body as BlockOut
      assert.equal(b.event.objectId, blk.id)
      assert.equal(field(b.event.after, 'space'), '10.80.0.0/16')
      const bu = await step('block.update', 'PATCH', `/api/v1/blocks/${blk.id}`, 200, {
        tags: ['x'],
      })
      assert.deepEqual(field(bu.event.before, 'tags'), [])
      assert.deepEqual(field(bu.event.after, 'tags'), ['x'])
      const p = await step('pool.create', 'POST', '/api/v1/pools', 201, {
        name: 'ev-pool',
        domain: 'ev-dom',
        kind: 'pd',
        space: ['10.80.0.0/24'],
        policy: { quarantine: 0 },
      })
      assert.equal(p.event.objectId, (p.body as PoolOut).id)
      const pu = await step('pool.update', 'PATCH', '/api/v1/pools/ev-pool', 200, { priority: 3 })
      assert.equal(field(pu.event.before, 'priority'), 0)
      assert.equal(field(pu.event.after, 'priority'), 3)
      const dv = await step('device.create', 'POST', '/api/v1/devices', 201, { name: 'ev-dev' })
      const dev = dv.body as DeviceOut
      await step('device.update', 'PATCH', '/api/v1/devices/ev-dev', 200, { description: 'x' })
      const g = await step('grant.create', 'POST', '/api/v1/pools/ev-pool/grants', 201, {
        device: 'ev-dev',
      })
      const grant = g.body as GrantOut
      assert.equal(g.event.objectId, grant.id)
      assert.equal(g.event.before, null)
      assert.equal(field(g.event.after, 'prefix'), grant.prefix)
      assert.equal(field(g.event.after, 'deviceId'), dev.id)
      const gr = await step('grant.release', 'POST', `/api/v1/grants/${grant.id}/release`, 200)
      assert.equal(field(gr.event.before, 'state'), 'active')
      assert.equal(field(gr.event.after, 'state'), 'free')
      const r = await step(
        'reservation.create',
        'POST',
        '/api/v1/pools/ev-pool/reservations',
        201,
        {
          prefix: '10.80.0.0/30',
        },
      )
      const rsv = r.body as ReservationOut
      assert.deepEqual(field(r.event.after, 'prefixes'), ['10.80.0.0/30'])
      const rd = await step('reservation.delete', 'DELETE', `/api/v1/reservations/${rsv.id}`, 204)
      assert.equal(field(rd.event.before, 'id'), rsv.id)
      assert.equal(rd.event.after, null)
      const a = await step('assignment.create', 'POST', '/api/v1/assignments', 201, {
        pool: 'ev-pool',
      })
      const asg = (a.body as AssignmentCreated).assignment
      assert.equal(field(a.event.after, 'prefix'), asg.prefix)
      await step('assignment.release', 'POST', `/api/v1/assignments/${asg.id}/release`, 200)
      const t = await step('token.create', 'POST', '/api/v1/tokens', 201, {
        name: 'ev-token',
        role: 'viewer',
      })
      const created = t.body as TokenCreated
      assert.ok(!JSON.stringify(t.event).includes(created.secret), 'no secret in events')
      const tr = await step('token.revoke', 'DELETE', `/api/v1/tokens/${created.token.id}`, 200)
      assert.equal(field(tr.event.before, 'revokedAt'), null)
      assert.equal(field(tr.event.after, 'revokedAt'), h.clock.now())
      await step('device.delete', 'DELETE', '/api/v1/devices/ev-dev', 204)
      await step('pool.delete', 'DELETE', '/api/v1/pools/ev-pool', 204)
      await step('block.delete', 'DELETE', `/api/v1/blocks/${blk.id}`, 204)
      const dd = await step('domain.delete', 'DELETE', `/api/v1/domains/${dom.id}`, 204)
      assert.equal(field(dd.event.before, 'name'), 'ev-dom')
      assert.equal(dd.event.after, null)

      // Reads and refusals write no event.
      const before = await h.eventCount()
      ok(await root.get('/api/v1/domains'))
      fails(await root.post('/api/v1/domains', { name: 'srch' }), 409, 'CASM_ERR_ALREADY_EXISTS')
      assert.equal(await h.eventCount(), before)
    })

    it('events: filters combine and the cursor pages through', async () => {
      const pool = ok<PoolOut>(await root.get('/api/v1/pools/gr-pool'))
      const byObject = ok<Page<EventOut>>(await root.get(`/api/v1/events?object=${pool.id}`)).items
      assert.deepEqual(
        byObject.map((e) => e.action),
        ['pool.create'],
      )
      const creates = ok<Page<EventOut>>(
        await root.get('/api/v1/events?action=grant.create&limit=1000'),
      ).items
      assert.ok(creates.length >= 10)
      assert.ok(creates.every((e) => e.action === 'grant.create' && e.objectType === 'grant'))
      const pools = ok<Page<EventOut>>(await root.get('/api/v1/events?type=pool&limit=1000')).items
      assert.ok(pools.length > 0 && pools.every((e) => e.objectType === 'pool'))
      const sys = ok<Page<EventOut>>(await root.get('/api/v1/events?actor=system&limit=1000')).items
      assert.ok(sys.length > 0 && sys.every((e) => e.actor === 'system'))
      const both = ok<Page<EventOut>>(
        await root.get('/api/v1/events?actor=system&action=grant.free&limit=1000'),
      ).items
      assert.ok(
        both.length > 0 && both.every((e) => e.actor === 'system' && e.action === 'grant.free'),
      )

      // Time window: events at or after `since` and before `until`.
      h.clock.advance(86_400_000)
      const since = h.clock.now()
      await h.domain('ev-late-1')
      h.clock.advance(1_000)
      const until = h.clock.now()
      await h.domain('ev-late-2')
      const late = ok<Page<EventOut>>(await root.get(`/api/v1/events?since=${iso(since)}`)).items
      assert.deepEqual(
        late.map((e) => e.after?.['name']),
        ['ev-late-1', 'ev-late-2'],
      )
      const window = ok<Page<EventOut>>(
        await root.get(`/api/v1/events?since=${iso(since)}&until=${iso(until)}`),
      ).items
      assert.deepEqual(
        window.map((e) => e.after?.['name']),
        ['ev-late-1'],
      )

      const all = ok<Page<EventOut>>(await root.get('/api/v1/events?limit=1000')).items
      assert.ok(all.length > 20)
      for (let i = 1; i < all.length; i++) {
        assert.ok((all[i] as EventOut).seq > (all[i - 1] as EventOut).seq, 'oldest first')
      }
      const pages = await allPages<EventOut>(root, '/api/v1/events', 7)
      assert.ok(pages.length >= 3)
      assert.deepEqual(
        pages.flat().map((e) => e.seq),
        all.map((e) => e.seq),
      )

      fails(await root.get('/api/v1/events?since=yesterday'), 400, 'CASM_ERR_VALIDATION')
      fails(await root.get('/api/v1/events?after=abc'), 400, 'CASM_ERR_VALIDATION')
      fails(await root.get('/api/v1/events?limit=1001'), 400, 'CASM_ERR_VALIDATION')

      const v = ok<VerifyOut>(await root.get('/api/v1/events/verify'))
      assert.equal(v.ok, true)
      assert.equal(v.broken, undefined)
      assert.equal(v.checked, await h.eventCount())
      assert.equal(v.head.seq, v.checked)
      const last = ok<Page<EventOut>>(
        await root.get(`/api/v1/events?all=true&after=${v.checked - 1}`),
      ).items
      assert.equal(last[0]?.hash, v.head.hash)
    })

    it('events: verify finds an edited, a removed and a cut-off event (raw SQL)', async (t) => {
      const other = await open()
      if (typeof other === 'string') {
        t.skip(other)
        return
      }
      const x = await Harness.start(other.store)
      try {
        const r = x.root
        await x.domain('tamper')
        await x.block('tamper', '10.90.0.0/16')
        await x.pool({ name: 'tamper-pool', domain: 'tamper', space: ['10.90.0.0/24'] })
        await x.device('tamper-dev')
        for (let i = 0; i < 3; i++) await x.grant('tamper-pool', { device: 'tamper-dev' })
        const total = await x.eventCount()
        assert.ok(total >= 9)
        const good = ok<VerifyOut>(await r.get('/api/v1/events/verify'))
        assert.deepEqual({ ok: good.ok, checked: good.checked }, { ok: true, checked: total })

        const sql = await rawSql(other)
        try {
          /** The break verify reports (it must report one). */
          const broken = async (): Promise<{ seq: number; reason: string; checked: number }> => {
            const v = ok<VerifyOut>(await r.get('/api/v1/events/verify'))
            assert.equal(v.ok, false)
            assert.ok(v.broken !== undefined, 'a broken chain names where')
            return { ...v.broken, checked: v.checked }
          }
          // Cut the last event off: the head points past the end.
          assert.equal(await sql.run('DELETE FROM event WHERE seq = ?', [total]), 1)
          let b = await broken()
          assert.equal(b.seq, total)
          assert.equal(b.checked, total - 1)
          assert.match(b.reason, /cut off/)
          // Remove one from the middle: it is missing.
          const middle = Math.floor(total / 2) + 1
          assert.equal(await sql.run('DELETE FROM event WHERE seq = ?', [middle]), 1)
          b = await broken()
          assert.equal(b.seq, middle)
          assert.equal(b.checked, middle - 1)
          assert.match(b.reason, /missing/)
          // Edit an action before that: its hash no longer matches.
          const edit = "UPDATE event SET action = 'domain.delete' WHERE seq = ?"
          assert.equal(await sql.run(edit, [3]), 1)
          b = await broken()
          assert.equal(b.seq, 3)
          assert.equal(b.checked, 2)
          assert.match(b.reason, /edited/)
        } finally {
          await sql.close()
        }
      } finally {
        await x.stop()
        await other.cleanup()
      }
    })

    // ---- tenancy -------------------------------------------------------------------------------

    it('tenancy: tenants are isolated, roles are enforced, bad tokens are refused', async () => {
      const t2 = ok<TenantOut>(await root.post('/api/v1/tenants', { name: 't2' }), 201)
      await h.refuse(
        () => root.post('/api/v1/tenants', { name: 't2' }),
        409,
        'CASM_ERR_ALREADY_EXISTS',
        ['/api/v1/tenants'],
      )
      const tenants = ok<Items<TenantOut>>(await root.get('/api/v1/tenants')).items
      assert.deepEqual(tenants.map((t) => t.name).sort(), ['default', 't2'])
      const dflt = tenants.find((t) => t.name === 'default') as TenantOut

      const token = async (body: Record<string, unknown>, by = root) => {
        const created = ok<TokenCreated>(await by.post('/api/v1/tokens', body), 201)
        assert.match(created.secret, /^casm_/)
        assert.equal(created.token.role, body['role'])
        return created
      }
      const t2Admin = await token({ name: 't2-admin', role: 'admin', tenant: 't2' })
      const t2Op = await token({ name: 't2-operator', role: 'operator', tenant: 't2' })
      const t2View = await token({ name: 't2-viewer', role: 'viewer', tenant: t2.id })
      assert.equal(t2Admin.token.tenant, t2.id)
      assert.equal(t2View.token.tenant, t2.id)
      const dAdmin = await token({ name: 'd-admin', role: 'admin' })
      assert.equal(dAdmin.token.tenant, dflt.id)

      const A = h.as(t2Admin.secret)
      const O = h.as(t2Op.secret)
      const V = h.as(t2View.secret)
      const D = h.as(dAdmin.secret)
      const rootT2 = h.as(h.rootSecret, 't2')

      // whoami names the token, its role and the tenant it acts in.
      type WhoamiOut = {
        tokenId: string | null
        name: string
        role: string
        root: boolean
        tenant: string
        tenantId: string
        device: string | null
      }
      assert.deepEqual(ok<WhoamiOut>(await V.get('/api/v1/whoami')), {
        tokenId: t2View.token.id,
        name: 't2-viewer',
        role: 'viewer',
        root: false,
        tenant: 't2',
        tenantId: t2.id,
        device: null,
      })
      const rootMe = ok<WhoamiOut>(await rootT2.get('/api/v1/whoami'))
      assert.equal(rootMe.role, 'admin')
      assert.equal(rootMe.root, true)
      assert.equal(rootMe.tenant, 't2')
      assert.equal(ok<WhoamiOut>(await root.get('/api/v1/whoami')).tenant, 'default')
      await h.refuse(() => h.as(null).get('/api/v1/whoami'), 401, 'CASM_ERR_UNAUTHENTICATED', [])

      // The default tenant's objects.
      const dDom = await h.domain('ten-dom')
      const dOnly = await h.domain('only-default')
      const dBlk = await h.block('ten-dom', '10.70.0.0/16')
      const dPool = await h.pool({ name: 'ten-pool', domain: 'ten-dom', space: ['10.70.0.0/24'] })
      const dDev = await h.device('ten-dev')
      const dGrant = await h.grant('ten-pool', { device: 'ten-dev' })
      const dRsv = ok<ReservationOut>(
        await root.post('/api/v1/pools/ten-pool/reservations', { prefix: '10.70.0.255/32' }),
        201,
      )
      // t2's, with the same names and space.
      const tDom = await h.domain('ten-dom', A)
      assert.notEqual(tDom.id, dDom.id)
      const tOnly = await h.domain('only-t2', O)
      const tBlk = await h.block('ten-dom', '10.70.0.0/16', A)
      const tPool = await h.pool(
        { name: 'ten-pool', domain: 'ten-dom', space: ['10.70.0.0/24'] },
        A,
      )
      const tDev = await h.device('ten-dev', {}, A)
      const tGrant = await h.grant('ten-pool', { device: 'ten-dev' }, O)
      assert.equal(tGrant.pool, tPool.id)
      assert.equal(tGrant.device, tDev.id)
      const rootSeesT2 = ok<Items<DomainOut>>(await rootT2.get('/api/v1/domains')).items
      assert.deepEqual(new Set(ids(rootSeesT2)), new Set([tDom.id, tOnly.id]))

      const mine = [dDom.id, dOnly.id, dBlk.id, dPool.id, dDev.id, dGrant.id, dRsv.id]
      const theirs = [tDom.id, tOnly.id, tBlk.id, tPool.id, tDev.id, tGrant.id]
      const objectUrls = (o: {
        dom: string
        name: string
        blk: string
        pool: string
        dev: string
        grant: string
      }) => [
        `/api/v1/domains/${o.dom}`,
        `/api/v1/domains/${o.name}`,
        `/api/v1/domains/${o.dom}/usage`,
        `/api/v1/blocks/${o.blk}`,
        `/api/v1/blocks/${o.blk}/usage`,
        `/api/v1/pools/${o.pool}`,
        `/api/v1/pools/${o.pool}/usage`,
        `/api/v1/pools/${o.pool}/usage/history`,
        `/api/v1/devices/${o.dev}`,
        `/api/v1/devices/${o.dev}/usage/history`,
        `/api/v1/grants/${o.grant}`,
        `/api/v1/grants?pool=${o.pool}`,
        `/api/v1/blocks?domain=${o.dom}`,
      ]
      const dUrls = objectUrls({
        dom: dDom.id,
        name: 'only-default',
        blk: dBlk.id,
        pool: dPool.id,
        dev: dDev.id,
        grant: dGrant.id,
      })
      for (const c of [A, O, V]) {
        for (const url of [...dUrls, `/api/v1/reservations/${dRsv.id}`]) {
          fails(await c.get(url), 404, 'CASM_ERR_NOT_FOUND')
        }
      }
      const tUrls = objectUrls({
        dom: tDom.id,
        name: 'only-t2',
        blk: tBlk.id,
        pool: tPool.id,
        dev: tDev.id,
        grant: tGrant.id,
      })
      for (const c of [root, D]) {
        for (const url of tUrls) fails(await c.get(url), 404, 'CASM_ERR_NOT_FOUND')
      }
      // ...while each side reads its own.
      for (const url of tUrls) ok(await V.get(url))
      for (const url of dUrls) ok(await D.get(url))

      // Lists show only the caller's tenant.
      for (const path of [
        'domains',
        'blocks',
        'pools',
        'devices',
        'grants?limit=1000',
        'reservations',
      ]) {
        const t2Items = ids(ok<Items<{ id: string }>>(await V.get(`/api/v1/${path}`)).items)
        for (const id of mine) assert.ok(!t2Items.includes(id), `${path}: t2 sees ${id}`)
        const dItems = ids(ok<Items<{ id: string }>>(await D.get(`/api/v1/${path}`)).items)
        for (const id of theirs) assert.ok(!dItems.includes(id), `${path}: default sees ${id}`)
      }
      // Events and search too.
      const t2Events = ok<Page<EventOut>>(await A.get('/api/v1/events?limit=1000')).items
      assert.ok(t2Events.length >= 6)
      assert.ok(t2Events.every((e) => e.tenant === t2.id))
      for (const id of mine) assert.ok(!t2Events.some((e) => e.objectId === id))
      assert.deepEqual(
        ok<Page<EventOut>>(await A.get(`/api/v1/events?object=${dDom.id}`)).items,
        [],
      )
      const dEvents = ok<Page<EventOut>>(await D.get('/api/v1/events?limit=1000')).items
      assert.ok(dEvents.every((e) => e.tenant === dflt.id))
      for (const id of theirs) assert.ok(!dEvents.some((e) => e.objectId === id))
      fails(await A.get('/api/v1/events?all=true'), 403, 'CASM_ERR_FORBIDDEN')
      const everyone = ok<Page<EventOut>>(
        await root.get(`/api/v1/events?all=true&object=${tDom.id}`),
      )
      assert.deepEqual(
        everyone.items.map((e) => e.action),
        ['domain.create'],
      )
      const t2Search = ok<SearchOut>(await V.get('/api/v1/search?q=10.70.0.5'))
      assert.deepEqual(
        t2Search.domains.map((d) => d.domain.id),
        [tDom.id],
      )
      assert.deepEqual(
        t2Search.domains[0]?.units.map((u) => u.id),
        [tGrant.id],
      )
      const dSearch = ok<SearchOut>(await D.get('/api/v1/search?q=10.70.0.5'))
      assert.deepEqual(
        dSearch.domains.map((d) => d.domain.id),
        [dDom.id],
      )
      const t2Tokens = ok<Items<TokenOut>>(await A.get('/api/v1/tokens')).items
      assert.ok(t2Tokens.length >= 3 && t2Tokens.every((t) => t.tenant === t2.id))

      // Changes across tenants are refused as not found, and change nothing.
      const dWatch = [
        '/api/v1/domains',
        `/api/v1/grants?pool=${dPool.id}`,
        `/api/v1/pools/${dPool.id}/usage`,
        '/api/v1/devices',
      ]
      const nf = (send: () => Promise<Res>) => h.refuse(send, 404, 'CASM_ERR_NOT_FOUND', dWatch)
      await nf(() => A.patch(`/api/v1/domains/${dDom.id}`, { description: 'mine now' }))
      await nf(() => A.patch('/api/v1/domains/only-default', { description: 'mine now' }))
      await nf(() => A.del(`/api/v1/domains/${dOnly.id}`))
      await nf(() => A.del(`/api/v1/blocks/${dBlk.id}`))
      await nf(() => A.patch(`/api/v1/pools/${dPool.id}`, { priority: 9 }))
      await nf(() => O.post(`/api/v1/pools/${dPool.id}/grants`, { device: 'ten-dev' }))
      await nf(() => O.post('/api/v1/pools/ten-pool/grants', { device: dDev.id }))
      await nf(() => O.post(`/api/v1/grants/${dGrant.id}/release`))
      await nf(() => A.del(`/api/v1/reservations/${dRsv.id}`))
      await nf(() => A.del(`/api/v1/devices/${dDev.id}`))
      await nf(() => A.del(`/api/v1/tokens/${dAdmin.token.id}`))
      await nf(() => A.post('/api/v1/tokens', { name: 'sneaky', role: 'admin', tenant: 'default' }))
      await nf(() => D.del(`/api/v1/domains/${tOnly.id}`))

      // A tenant token naming another tenant finds nothing; naming its own is fine.
      for (const secret of [t2Admin.secret, t2View.secret]) {
        const other = h.as(secret, 'default')
        fails(await other.get('/api/v1/domains'), 404, 'CASM_ERR_NOT_FOUND')
        await h.refuse(
          () => other.post('/api/v1/domains', { name: 'x-tenant' }),
          404,
          'CASM_ERR_NOT_FOUND',
          ['/api/v1/domains'],
        )
      }
      fails(await h.as(t2Admin.secret, 'nope').get('/api/v1/domains'), 404, 'CASM_ERR_NOT_FOUND')
      ok(await h.as(t2Admin.secret, 't2').get('/api/v1/domains'))
      fails(await h.as(h.rootSecret, 'nope').get('/api/v1/domains'), 404, 'CASM_ERR_NOT_FOUND')

      // Roles: a viewer reads but changes nothing.
      const tWatch = [
        '/api/v1/domains',
        '/api/v1/devices',
        `/api/v1/grants?pool=${tPool.id}`,
        '/api/v1/tokens',
      ]
      const forbidden = (send: () => Promise<Res>) =>
        h.refuse(send, 403, 'CASM_ERR_FORBIDDEN', tWatch, rootT2)
      ok(await V.get('/api/v1/domains'))
      ok(await V.get(`/api/v1/pools/${tPool.id}/usage`))
      ok(await V.get('/api/v1/events'))
      await forbidden(() => V.post('/api/v1/domains', { name: 'v-dom' }))
      await forbidden(() => V.patch(`/api/v1/domains/${tDom.id}`, { description: 'v' }))
      await forbidden(() => V.del(`/api/v1/domains/${tOnly.id}`))
      await forbidden(() => V.post('/api/v1/pools/ten-pool/grants', { device: 'ten-dev' }))
      await forbidden(() => V.post(`/api/v1/grants/${tGrant.id}/release`))
      await forbidden(() => V.post('/api/v1/devices', { name: 'v-dev' }))
      await forbidden(() => V.patch('/api/v1/devices/ten-dev', { description: 'v' }))
      await forbidden(() => V.del('/api/v1/devices/ten-dev'))
      await forbidden(() => V.get('/api/v1/tokens'))
      await forbidden(() => V.get('/api/v1/events/verify'))
      // An operator changes inventory but not tokens or tenants.
      await forbidden(() => O.post('/api/v1/tokens', { name: 'op-token', role: 'viewer' }))
      await forbidden(() => O.get('/api/v1/tokens'))
      // A tenant admin manages its tokens, not tenants nor root tokens.
      await forbidden(() => A.get('/api/v1/tenants'))
      await forbidden(() => A.post('/api/v1/tenants', { name: 't3' }))
      await forbidden(() => A.del('/api/v1/tenants/t2'))
      await forbidden(() => A.post('/api/v1/tokens', { name: 'root2', role: 'admin', root: true }))
      await forbidden(() => D.get('/api/v1/tenants'))
      // A device token speaks the southbound protocol only.
      const devTok = await token({ name: 't2-device', role: 'device', device: 'ten-dev' }, A)
      const Dev = h.as(devTok.secret)
      await forbidden(() => Dev.get('/api/v1/domains'))
      await forbidden(() => Dev.get(`/api/v1/grants/${tGrant.id}`))
      await forbidden(() => Dev.post('/api/v1/pools/ten-pool/grants', { device: 'ten-dev' }))
      await forbidden(() => Dev.get('/api/v1/events'))

      // No token, a wrong one, a revoked one: 401.
      const unauth = (c: Client) =>
        h.refuse(
          () => c.post('/api/v1/domains', { name: 'anon' }),
          401,
          'CASM_ERR_UNAUTHENTICATED',
          tWatch,
          rootT2,
        )
      await unauth(h.as(null))
      await unauth(h.as('casm_not-a-real-token'))
      fails(
        await h
          .as(null)
          .get('/api/v1/domains', { headers: { authorization: `Basic ${h.rootSecret}` } }),
        401,
        'CASM_ERR_UNAUTHENTICATED',
      )
      fails(await h.as(null).get('/api/v1/pools'), 401, 'CASM_ERR_UNAUTHENTICATED')
      const revoked = ok<TokenOut>(await A.del(`/api/v1/tokens/${t2Op.token.id}`))
      assert.equal(revoked.revokedAt, iso(h.clock.now()))
      await unauth(O)
      fails(await O.get('/api/v1/domains'), 401, 'CASM_ERR_UNAUTHENTICATED')

      // A tenant with objects cannot be deleted; an empty one can.
      await h.refuse(() => root.del('/api/v1/tenants/t2'), 409, 'CASM_ERR_IN_USE', [
        '/api/v1/tenants',
      ])
      ok(await root.post('/api/v1/tenants', { name: 't-empty' }), 201)
      assert.equal((await root.del('/api/v1/tenants/t-empty')).status, 204)
      assert.ok(
        !ok<Items<TenantOut>>(await root.get('/api/v1/tenants')).items.some(
          (t) => t.name === 't-empty',
        ),
      )
    })

    // ---- refused requests ----------------------------------------------------------------------

    it('malformed, mistyped, oversized and unrouted requests are refused and change nothing', async () => {
      const watch = ['/api/v1/domains', '/api/v1/pools', '/api/v1/grants?limit=1000']
      const json = { 'content-type': 'application/json' }
      const bad = await h.refuse(
        () => root.req('POST', '/api/v1/domains', { payload: '{"name": "x",', headers: json }),
        400,
        'CASM_ERR_MALFORMED_JSON',
        watch,
      )
      assert.match(bad.message, /JSON/)
      await h.refuse(
        () => root.req('POST', '/api/v1/domains', { payload: '', headers: json }),
        400,
        'CASM_ERR_MALFORMED_JSON',
        watch,
      )
      await h.refuse(
        () =>
          root.req('POST', '/api/v1/pools/gr-pool/grants', {
            payload: "{'device': 'gr-dev'}",
            headers: json,
          }),
        400,
        'CASM_ERR_MALFORMED_JSON',
        watch,
      )

      // NUL cannot be stored by PostgreSQL: refused the same way on every store.
      await h.refuse(
        () => root.post('/api/v1/domains', { name: 'nul', description: 'a\u0000b' }),
        400,
        'CASM_ERR_VALIDATION',
        watch,
      )

      const paths = (e: ErrorOut['error']) => (e.details?.errors ?? []).map((x) => x.path)
      const typed = await h.refuse(
        () => root.post('/api/v1/domains', { name: 42, description: ['x'] }),
        400,
        'CASM_ERR_VALIDATION',
        watch,
      )
      assert.deepEqual(paths(typed).sort(), ['body/description', 'body/name'])
      const unknown = await h.refuse(
        () => root.post('/api/v1/domains', { name: 'fine-name', colour: 'red' }),
        400,
        'CASM_ERR_VALIDATION',
        watch,
      )
      assert.deepEqual(paths(unknown), ['body'])
      assert.deepEqual(unknown.details?.errors?.[0]?.params, { additionalProperty: 'colour' })
      const missing = await h.refuse(
        () => root.post('/api/v1/domains', {}),
        400,
        'CASM_ERR_VALIDATION',
        watch,
      )
      assert.match(missing.message, /name/)
      const nested = await h.refuse(
        () =>
          root.post('/api/v1/pools', {
            name: 'bad-pool',
            domain: 'gr-dom',
            kind: 'subscriber',
            space: '10.50.9.0/24',
            policy: { unit: { default: '27' }, color: 1 },
          }),
        400,
        'CASM_ERR_VALIDATION',
        watch,
      )
      assert.ok(paths(nested).includes('body/space'), paths(nested).join())
      assert.ok(paths(nested).includes('body/policy/unit/default'), paths(nested).join())
      assert.ok(paths(nested).includes('body/policy'), paths(nested).join())
      await h.refuse(
        () => root.post('/api/v1/domains', { name: 'bad name!' }),
        400,
        'CASM_ERR_VALIDATION',
        watch,
      )
      await h.refuse(
        () => root.post('/api/v1/domains', { name: 'dom_0mwws9di6000u3qvsxf5' }),
        400,
        'CASM_ERR_VALIDATION',
        watch,
      )
      await h.refuse(
        () => root.post('/api/v1/pools/gr-pool/grants', { device: 'gr-dev', length: 27.5 }),
        400,
        'CASM_ERR_VALIDATION',
        watch,
      )
      await h.refuse(
        () => root.post('/api/v1/pools/gr-pool/grants', [{ device: 'gr-dev' }]),
        400,
        'CASM_ERR_VALIDATION',
        watch,
      )
      const q = await h.refuse(
        () => root.get('/api/v1/grants?colour=red'),
        400,
        'CASM_ERR_VALIDATION',
        watch,
      )
      assert.ok(
        paths(q).every((p) => p.startsWith('querystring')),
        paths(q).join(),
      )
      await h.refuse(() => root.get('/api/v1/grants?limit=abc'), 400, 'CASM_ERR_VALIDATION', watch)

      const text = await h.refuse(
        () =>
          root.req('POST', '/api/v1/domains', {
            payload: 'name=plain',
            headers: { 'content-type': 'text/plain' },
          }),
        415,
        'CASM_ERR_UNSUPPORTED_MEDIA_TYPE',
        watch,
      )
      assert.ok(text.message.length > 0)
      await h.refuse(
        () =>
          root.req('POST', '/api/v1/domains', {
            payload: '<name>x</name>',
            headers: { 'content-type': 'application/xml' },
          }),
        415,
        'CASM_ERR_UNSUPPORTED_MEDIA_TYPE',
        watch,
      )
      await h.refuse(
        () =>
          root.post('/api/v1/domains', { name: 'huge', description: 'x'.repeat(1024 * 1024 + 1) }),
        413,
        'CASM_ERR_TOO_LARGE',
        watch,
      )

      const nr = await h.refuse(
        () => root.get('/api/v1/nothing-here'),
        404,
        'CASM_ERR_NOT_FOUND',
        watch,
      )
      assert.match(nr.message, /no route GET \/api\/v1\/nothing-here/)
      await h.refuse(
        () => root.req('PUT', '/api/v1/domains/gr-dom', { body: { name: 'x' } }),
        404,
        'CASM_ERR_NOT_FOUND',
        watch,
      )
      // Other paths are the web console's (src/api/console.ts); API paths stay the API's.
      await h.refuse(() => h.as(null).get('/api/nowhere'), 404, 'CASM_ERR_NOT_FOUND', watch)
      await h.refuse(() => h.as(null).req('DELETE', '/nowhere'), 404, 'CASM_ERR_NOT_FOUND', watch)
      await h.refuse(
        () => root.del('/api/v1/grants/gr_00000000000000000000'),
        404,
        'CASM_ERR_NOT_FOUND',
        watch,
      )
    })

    // ---- idempotency ---------------------------------------------------------------------------

    it('idempotency: a retry gets the first answer and changes nothing; another body is refused', async () => {
      await h.pool({
        name: 'idem-pool',
        domain: 'gr-dom',
        space: ['10.50.3.0/28'],
        policy: { unit: { min: 28, default: 29, max: 29 }, quarantine: 0 },
      })
      const watch = ['/api/v1/grants?pool=idem-pool', '/api/v1/pools/idem-pool/usage']
      const key = (k: string) => ({ headers: { 'idempotency-key': k } })
      const body = { device: 'gr-dev' }
      const first = await root.post('/api/v1/pools/idem-pool/grants', body, key('idem-1'))
      const g = ok<GrantOut>(first, 201)
      assert.equal(first.headers['idempotent-replayed'], 'false')
      assert.deepEqual(ok(await root.get(`/api/v1/grants/${g.id}`)), g)
      const before = await h.snapshot(watch, root)
      const again = await root.post('/api/v1/pools/idem-pool/grants', body, key('idem-1'))
      assert.equal(again.status, 201)
      assert.equal(again.headers['idempotent-replayed'], 'true')
      assert.equal(again.text, first.text)
      assert.deepEqual(await h.snapshot(watch, root), before, 'a replay changes nothing')
      assert.equal(
        ok<Page<GrantOut>>(await root.get('/api/v1/grants?pool=idem-pool')).items.length,
        1,
      )

      const mismatch = await h.refuse(
        () =>
          root.post(
            '/api/v1/pools/idem-pool/grants',
            { device: 'gr-dev', length: 28 },
            key('idem-1'),
          ),
        422,
        'CASM_ERR_IDEMPOTENCY_MISMATCH',
        watch,
      )
      assert.match(mismatch.message, /idem-1/)
      await h.refuse(
        () => root.post('/api/v1/pools/gr-pool/grants', body, key('idem-1')),
        422,
        'CASM_ERR_IDEMPOTENCY_MISMATCH',
        watch,
      )
      await h.refuse(
        () => root.post('/api/v1/pools/idem-pool/grants', body, key('k'.repeat(201))),
        400,
        'CASM_ERR_VALIDATION',
        watch,
      )

      // Fill the pool; a refusal is remembered too, even after space was freed.
      const second = await h.grant('idem-pool', body)
      let snap = await h.snapshot(watch, root)
      const refused = await root.post('/api/v1/pools/idem-pool/grants', body, key('idem-2'))
      fails(refused, 409, 'CASM_ERR_POOL_EXHAUSTED')
      assert.equal(refused.headers['idempotent-replayed'], 'false')
      assert.deepEqual(await h.snapshot(watch, root), snap)
      ok(await root.post(`/api/v1/grants/${second.id}/release`))
      assert.equal((await h.poolUsage('idem-pool')).free, '8')
      snap = await h.snapshot(watch, root)
      const replay = await root.post('/api/v1/pools/idem-pool/grants', body, key('idem-2'))
      assert.equal(replay.status, 409)
      assert.equal(replay.headers['idempotent-replayed'], 'true')
      assert.equal(replay.text, refused.text, 'the same refusal, word for word')
      assert.deepEqual(await h.snapshot(watch, root), snap, 'a replayed refusal changes nothing')
      // A new key goes through now.
      const fresh = await root.post('/api/v1/pools/idem-pool/grants', body, key('idem-3'))
      assert.equal(ok<GrantOut>(fresh, 201).prefix, second.prefix)
      assert.equal(fresh.headers['idempotent-replayed'], 'false')

      // Keys work on every POST, PATCH and DELETE included.
      const d1 = await root.post('/api/v1/domains', { name: 'idem-dom' }, key('idem-dom'))
      const d2 = await root.post('/api/v1/domains', { name: 'idem-dom' }, key('idem-dom'))
      assert.equal(d1.status, 201)
      assert.equal(d2.status, 201)
      assert.equal(d2.text, d1.text)
      const del1 = await root.del('/api/v1/domains/idem-dom', key('idem-del'))
      const del2 = await root.del('/api/v1/domains/idem-dom', key('idem-del'))
      assert.equal(del1.status, 204)
      assert.equal(del2.status, 204)
      assert.equal(del2.headers['idempotent-replayed'], 'true')
      // Keys are per tenant.
      const t2 = h.as(h.rootSecret, 't2')
      const other = await t2.post('/api/v1/domains', { name: 'idem-dom' }, key('idem-dom'))
      assert.equal(other.status, 201)
      assert.equal(other.headers['idempotent-replayed'], 'false')
    })

    // ---- concurrency ---------------------------------------------------------------------------

    it('concurrent requests (one write batch) each get their own answer', async () => {
      await h.pool({
        name: 'conc-pool',
        domain: 'gr-dom',
        space: ['10.50.5.0/24'],
        policy: { unit: { min: 28, default: 28, max: 28 }, quarantine: 0 },
      })
      const before = await h.eventCount()
      const keyed = (i: number) => i % 5 === 0
      const answers = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          root.post(
            '/api/v1/pools/conc-pool/grants',
            { device: 'gr-dev' },
            keyed(i) ? { headers: { 'idempotency-key': 'conc-1' } } : {},
          ),
        ),
      )
      const granted = answers.filter((a) => a.status === 201)
      const refused = answers.filter((a) => a.status !== 201)
      for (const a of refused) fails(a, 409, 'CASM_ERR_POOL_EXHAUSTED')
      // 16 units for 17 different requests (the 4 keyed ones are one request).
      const prefixes = new Set(granted.map((a) => (a.body as GrantOut).prefix))
      assert.equal(prefixes.size, 16)
      const keyedTexts = new Set(answers.filter((_, i) => keyed(i)).map((a) => a.text))
      assert.equal(keyedTexts.size, 1, 'every retry of one key gets the same answer')
      assert.equal(await h.eventCount(), before + 16)
      const listed = ok<Page<GrantOut>>(await root.get('/api/v1/grants?pool=conc-pool')).items
      assert.deepEqual(new Set(listed.map((g) => g.prefix)), prefixes)
      const u = await h.poolUsage('conc-pool')
      assert.equal(u.free, '0')
      addsUp(u)

      // Releases, double releases and refusals mixed in one batch.
      const [a, b, c] = listed
      assert.ok(a !== undefined && b !== undefined && c !== undefined)
      const mixed = await Promise.all([
        root.post(`/api/v1/grants/${a.id}/release`),
        root.post(`/api/v1/grants/${a.id}/release`),
        root.post(`/api/v1/grants/${b.id}/release`),
        root.post('/api/v1/pools/conc-pool/grants', { device: 'gr-ghost' }),
        root.post('/api/v1/pools/conc-pool/reservations', { prefix: c.prefix }),
        root.post('/api/v1/pools/conc-pool/grants', { device: 'gr-dev', prefix: c.prefix }),
      ])
      // The two releases of `a` race: one wins, the other finds it free.
      const [r1, r2] = mixed
      const [won, lost] = r1.status === 200 ? [r1, r2] : [r2, r1]
      assert.equal(ok<GrantOut>(won).state, 'free')
      fails(lost, 409, 'CASM_ERR_ILLEGAL_TRANSITION')
      assert.equal(ok<GrantOut>(mixed[2]).state, 'free')
      fails(mixed[3], 404, 'CASM_ERR_NOT_FOUND')
      fails(mixed[4], 409, 'CASM_ERR_OVERLAP')
      fails(mixed[5], 409, 'CASM_ERR_OVERLAP')
      assert.equal((await h.poolUsage('conc-pool')).free, '32')
      assert.equal(await h.eventCount(), before + 18)
      assert.equal(ok<VerifyOut>(await root.get('/api/v1/events/verify')).ok, true)
    })

    // ---- the API description and the system endpoints ---------------------------------------

    it('/openapi.json is valid OpenAPI 3.1; every operation is described with examples', async () => {
      const doc = ok<{
        openapi: string
        paths: Record<string, Record<string, Record<string, unknown>>>
      }>(await h.as(null).get('/openapi.json'))
      assert.equal(doc.openapi, '3.1.0')
      await SwaggerParser.validate(structuredClone(doc) as never)
      const ajv = new Ajv({ strict: false, validateFormats: false })
      let operations = 0
      let bodies = 0
      for (const [path, item] of Object.entries(doc.paths)) {
        if (!path.startsWith('/api/v1/')) continue
        for (const [method, op] of Object.entries(item)) {
          operations++
          const where = `${method.toUpperCase()} ${path}`
          assert.ok(typeof op['summary'] === 'string' && op['summary'] !== '', `${where}: summary`)
          const responses = Object.keys(op['responses'] ?? {})
          assert.ok(
            responses.some((s) => /^2\d\d$/.test(s)),
            `${where}: a 2xx response`,
          )
          const rb = op['requestBody'] as
            | {
                content: Record<
                  string,
                  {
                    schema: object
                    example?: unknown
                    examples?: Record<string, { value: unknown }>
                  }
                >
              }
            | undefined
          if (rb === undefined) continue
          bodies++
          const media = rb.content['application/json']
          assert.ok(media !== undefined, `${where}: a JSON body`)
          const examples = [
            ...(media.example === undefined ? [] : [media.example]),
            ...Object.values(media.examples ?? {}).map((e) => e.value),
          ]
          assert.ok(examples.length > 0, `${where}: the request body has examples`)
          const validate = ajv.compile(media.schema)
          for (const ex of examples) {
            assert.ok(validate(ex), `${where}: example ${JSON.stringify(ex)} fits the schema`)
          }
        }
      }
      assert.ok(operations >= 40, `${operations} operations`)
      assert.ok(bodies >= 13, `${bodies} request bodies`)
      const docs = await h.as(null).get('/docs/')
      assert.equal(docs.status, 200)
      assert.match(String(docs.headers['content-type']), /text\/html/)
      assert.match(docs.text, /swagger-ui/i)
    })

    it('/healthz reports the store, /metrics the pools', async () => {
      const health = ok<Health>(await h.as(null).get('/healthz'))
      assert.equal(health.status, 'ok')
      assert.equal(health.store, h.store.kind)
      assert.ok(health.schemaVersion >= 1)
      const v = ok<VerifyOut>(await root.get('/api/v1/events/verify'))
      assert.equal(health.events, v.head.seq)
      assert.equal(
        health.uptimeSeconds,
        Math.round((h.clock.now() - h.coordinator.started) / 1000),
        'uptime follows the coordinator clock',
      )
      assert.ok(health.uptimeSeconds > 86_400)

      await h.pool({ name: 'metrics-pool', domain: 'gr-dom', space: ['10.50.4.0/24'] })
      await h.grant('metrics-pool', { device: 'gr-dev' })
      const m = await h.as(null).get('/metrics')
      assert.equal(m.status, 200)
      assert.match(String(m.headers['content-type']), /text\/plain/)
      const line = (state: string) =>
        new RegExp(
          `^casm_pool_addresses\\{[^}]*pool="metrics-pool"[^}]*state="${state}"[^}]*\\} (\\d+)$`,
          'm',
        ).exec(m.text)?.[1]
      assert.equal(line('total'), '256')
      assert.equal(line('used'), '32')
      assert.equal(line('free'), '224')
      assert.match(m.text, /^casm_http_requests_total\{/m)
    })

    // ---- the device loop over HTTP

    /** A pool `name` of `space` for loop tests, a device and its device token. */
    async function loopSetUp(
      name: string,
      space: string,
      policy: Record<string, unknown> = {},
    ): Promise<{
      dev: Client
      device: DeviceOut
      send: (m: Record<string, unknown>) => Promise<Res>
    }> {
      if (
        ok<Items<DomainOut>>(await root.get('/api/v1/domains')).items.every(
          (d) => d.name !== 'loop-dom',
        )
      ) {
        await h.domain('loop-dom')
        await h.block('loop-dom', '10.60.0.0/16')
      }
      await h.pool({
        name,
        domain: 'loop-dom',
        space: [space],
        selectors: { 'custom.loop': [name] },
        policy: {
          unit: { min: 26, default: 28, max: 28 },
          quarantine: 0,
          holdDown: 0,
          leadTime: 0,
          ...policy,
        },
      })
      const device = await h.device(`${name}-dev`, { custom: { loop: name } })
      const t = ok<TokenCreated>(
        await root.post('/api/v1/tokens', {
          name: `${name}-agent`,
          role: 'device',
          device: device.name,
        }),
        201,
      )
      const dev = h.as(t.secret)
      let n = 0
      const send = (m: Record<string, unknown>): Promise<Res> =>
        dev.post('/api/v1/agent/messages', { v: 1, txn: `${name}-${++n}`, ...m })
      return { dev, device, send }
    }

    it('agent messages: hello, pool-request, report, release over HTTP; a resend gets the first answer', async () => {
      const { dev, send } = await loopSetUp('loop-a', '10.60.1.0/24')
      const sync = ok<{ type: string; grants: unknown[]; device: { name: string } }>(
        await send({ type: 'hello', agent: { version: '1', backend: 'test' }, holds: [] }),
      )
      assert.equal(sync.type, 'sync')
      assert.equal(sync.device.name, 'loop-a-dev')
      const req = { v: 1, txn: 'req-1', type: 'pool-request', reason: 'start-up' }
      const first = await dev.post('/api/v1/agent/messages', req)
      const reply = ok<{ type: string; grants: { grant: string; prefix: string }[] }>(first)
      assert.equal(reply.type, 'pool-reply')
      assert.equal(first.headers['idempotent-replayed'], 'false')
      const grant = reply.grants[0]?.grant ?? ''
      const events = await h.eventCount()
      const again = await dev.post('/api/v1/agent/messages', req)
      assert.equal(again.text, first.text, 'the first answer again')
      assert.equal(again.headers['idempotent-replayed'], 'true')
      assert.equal(await h.eventCount(), events, 'a resend changes nothing')
      const grants = ok<Page<GrantOut>>(await root.get('/api/v1/grants?pool=loop-a')).items
      assert.equal(grants.length, 1)
      await h.refuse(
        () => dev.post('/api/v1/agent/messages', { ...req, reason: 'other' }),
        422,
        'CASM_ERR_IDEMPOTENCY_MISMATCH',
        ['/api/v1/grants?pool=loop-a'],
      )
      const confirm = ok<{ type: string; decisions: string[] }>(
        await send({
          type: 'status-report',
          window: 10,
          grants: [{ grant, used: 15, peak: 16, average: 12 }],
        }),
      )
      assert.deepEqual(confirm.decisions, ['grant'])
      const detail = ok<{ usage: { used: number; peak: number; average: number } }>(
        await root.get(`/api/v1/grants/${grant}/detail`),
      )
      assert.deepEqual(
        { used: detail.usage.used, peak: detail.usage.peak, average: detail.usage.average },
        { used: 15, peak: 16, average: 12 },
      )
      const rel = ok<{ type: string; grants: { state: string }[] }>(
        await send({ type: 'release-request', grants: [grant] }),
      )
      assert.equal(rel.type, 'release-notification')
      assert.equal(rel.grants[0]?.state, 'free')
    })

    it('agent messages: malformed, foreign and out-of-order messages are refused and change nothing', async () => {
      const { dev, send } = await loopSetUp('loop-b', '10.60.2.0/24')
      const reply = ok<{ grants: { grant: string }[] }>(await send({ type: 'pool-request' }))
      const grant = reply.grants[0]?.grant ?? ''
      const watch = ['/api/v1/grants?pool=loop-b', `/api/v1/grants/${grant}/detail`]
      const post = (body: unknown) => () => dev.post('/api/v1/agent/messages', body)
      await h.refuse(post({ v: 1, txn: 'x1', type: 'teleport' }), 400, 'CASM_ERR_VALIDATION', watch)
      await h.refuse(
        post({ v: 2, txn: 'x2', type: 'status-query' }),
        400,
        'CASM_ERR_VALIDATION',
        watch,
      )
      await h.refuse(post({ v: 1, type: 'status-query' }), 400, 'CASM_ERR_VALIDATION', watch)
      await h.refuse(
        post({
          v: 1,
          txn: 'x3',
          type: 'status-report',
          window: 10,
          grants: [{ grant, used: 'lots' }],
        }),
        400,
        'CASM_ERR_VALIDATION',
        watch,
      )
      await h.refuse(
        post({
          v: 1,
          txn: 'x4',
          type: 'status-report',
          window: 10,
          grants: [{ grant, used: 999 }],
        }),
        400,
        'CASM_ERR_VALIDATION',
        watch,
      )
      await h.refuse(
        post({ v: 1, txn: 'x5', type: 'release-confirm', grants: [grant] }),
        409,
        'CASM_ERR_OUT_OF_ORDER',
        watch,
      )
      const other = await loopSetUp('loop-c', '10.60.3.0/24')
      await h.refuse(
        () => other.send({ type: 'status-report', window: 10, grants: [{ grant, used: 1 }] }),
        404,
        'CASM_ERR_NOT_FOUND',
        watch,
      )
      // Operators' tokens are not devices.
      await h.refuse(
        () => root.post('/api/v1/agent/messages', { v: 1, txn: 'x6', type: 'status-query' }),
        403,
        'CASM_ERR_FORBIDDEN',
        watch,
      )
      await h.refuse(() => root.get('/api/v1/agent/stream'), 403, 'CASM_ERR_FORBIDDEN')
      await h.refuse(
        () => dev.get('/api/v1/agent/stream', { headers: { 'last-event-id': '999' } }),
        409,
        'CASM_ERR_OUT_OF_ORDER',
      )
      await h.refuse(
        () => dev.get('/api/v1/agent/stream', { headers: { 'last-event-id': 'abc' } }),
        400,
        'CASM_ERR_VALIDATION',
      )
    })

    it('grant operations: pin, drain, undrain, move; loop status with the dry run; alerts', async () => {
      const a = await loopSetUp('loop-d', '10.60.4.0/28', {
        unit: { min: 28, default: 28, max: 28 },
      })
      const b = await loopSetUp('loop-e', '10.60.5.0/24')
      const reply = ok<{ grants: { grant: string; prefix: string }[] }>(
        await a.send({ type: 'pool-request' }),
      )
      const grant = reply.grants[0]?.grant ?? ''
      const pinned = ok<{ pinned: boolean }>(
        await root.post(`/api/v1/grants/${grant}/pin`, { pinned: true }),
      )
      assert.equal(pinned.pinned, true)
      const drained = ok<{ state: string; drainCause: string }>(
        await root.post(`/api/v1/grants/${grant}/drain`, { reason: 'maintenance' }),
      )
      assert.deepEqual([drained.state, drained.drainCause], ['draining', 'operator'])
      await h.refuse(
        () => root.post(`/api/v1/grants/${grant}/drain`, {}),
        409,
        'CASM_ERR_ILLEGAL_TRANSITION',
      )
      const back = ok<{ state: string; drainCause: null }>(
        await root.post(`/api/v1/grants/${grant}/undrain`),
      )
      assert.deepEqual([back.state, back.drainCause], ['active', null])
      await h.refuse(
        () => root.post(`/api/v1/grants/${grant}/move`, { device: 'loop-d-dev' }),
        400,
        'CASM_ERR_VALIDATION',
      )
      await h.refuse(
        () => root.post(`/api/v1/grants/${grant}/move`, { device: 'nobody' }),
        404,
        'CASM_ERR_NOT_FOUND',
      )
      const moving = ok<{ state: string; drainCause: string; movingTo: string }>(
        await root.post(`/api/v1/grants/${grant}/move`, { device: 'loop-e-dev' }),
      )
      assert.deepEqual(
        [moving.state, moving.drainCause, moving.movingTo],
        ['draining', 'move', b.device.id],
      )
      // The device's pool is full (one /28): its users get nowhere else — an alert says so.
      const confirm = ok<{ decisions: string[] }>(
        await a.send({ type: 'status-report', window: 10, grants: [{ grant, used: 3 }] }),
      )
      // Its own pool is full (one /28); pools without selectors serve any device: it gets space
      // there for the users still on the moving grant.
      assert.deepEqual(confirm.decisions, ['grant'])
      const status = ok<{
        streamEventId: number
        routes: number
        grants: { id: string; state: string }[]
        plan: { kind: string; reason: string }[]
        agent: unknown
        utilisation: Record<string, number>
      }>(await root.get('/api/v1/devices/loop-d-dev/loop'))
      assert.equal(status.routes, 2, 'the moving grant and the new one, in two pools')
      const alerts = ok<Items<{ kind: string }>>(
        await root.get('/api/v1/alerts?open=false&limit=50'),
      )
      assert.ok(Array.isArray(alerts.items))
      await h.refuse(() => root.get('/api/v1/alerts?limit=0'), 400, 'CASM_ERR_VALIDATION')
      assert.deepEqual(status.grants.map((g) => g.state).sort(), ['active', 'draining'])
      assert.ok(Array.isArray(status.plan))
      // A report of 0 proves the grant empty only once the device has applied the drain: here it
      // says so by acknowledging the stream up to the drain (its reports do not carry state).
      ok(await a.send({ type: 'status-report', window: 10, grants: [{ grant, used: 0 }] }))
      assert.equal(
        ok<Page<GrantOut>>(await root.get('/api/v1/grants?device=loop-e-dev&state=active')).items
          .length,
        0,
        'not yet: the drain was not acknowledged',
      )
      ok(await a.send({ type: 'ack', upTo: status.streamEventId }))
      ok(await a.send({ type: 'status-report', window: 10, grants: [{ grant, used: 0 }] }))
      const moved = ok<Page<GrantOut>>(
        await root.get('/api/v1/grants?device=loop-e-dev&state=active'),
      ).items
      assert.deepEqual(
        moved.map((g) => g.prefix),
        [reply.grants[0]?.prefix],
      )
      // A viewer reads but cannot act.
      const viewer = ok<TokenCreated>(
        await root.post('/api/v1/tokens', { name: 'loop-viewer', role: 'viewer' }),
        201,
      )
      const v = h.as(viewer.secret)
      ok(await v.get('/api/v1/devices/loop-e-dev/loop'))
      await h.refuse(
        () => v.post(`/api/v1/grants/${moved[0]?.id ?? ''}/drain`, {}),
        403,
        'CASM_ERR_FORBIDDEN',
      )
      const q = ok<{ eventId: number }>(await root.post('/api/v1/devices/loop-e-dev/status-query'))
      assert.ok(q.eventId >= 1)
      const m = await h.as(null).get('/metrics')
      assert.match(m.text, /^casm_loop_messages_total\{type="status-report"\} \d+$/m)
      assert.match(m.text, /^casm_loop_decisions_total\{kind="grant"\} \d+$/m)
      assert.match(m.text, /^casm_agent_streams \d+$/m)
    })

    it('lease replay: snapshots per grant, checked whole; read back by the device and by operators', async () => {
      const a = await loopSetUp('lease-a', '10.60.10.0/24')
      const b = await loopSetUp('lease-b', '10.60.11.0/24')
      const grantOf = async (send: typeof a.send) =>
        ok<{ grants: { grant: string; prefix: string }[] }>(await send({ type: 'pool-request' }))
          .grants[0] ?? assert.fail('no grant')
      const g1 = await grantOf(a.send)
      const g2 = await grantOf(a.send)
      const theirs = await grantOf(b.send)
      assert.deepEqual([g1.prefix, g2.prefix], ['10.60.10.0/28', '10.60.10.16/28'])
      const cltt = Math.floor(h.clock.now() / 1000)
      const lease = (address: string, fields: Record<string, unknown> = {}) => ({
        kind: 'v4',
        address,
        hwAddress: '1a:1b:1c:1d:1e:1f',
        validLifetime: 3600,
        cltt,
        ...fields,
      })
      const mine = '/api/v1/agent/leases?includeExpired=true'
      const watch = [mine]
      const put = (c: Client, grants: unknown) => () => c.put('/api/v1/agent/leases', { grants })
      /** An upload of `a` that must be refused and leave its stored leases as they were. */
      const refusedUpload = (grants: unknown, status: number, code: string) =>
        h.refuse(put(a.dev, grants), status, code, watch, a.dev)

      // A good upload: counts per grant; no event; read back in canonical form.
      const events = await h.eventCount()
      const stored = ok<LeaseUploadOut>(
        await put(a.dev, [
          {
            grant: g1.grant,
            leases: [
              lease('10.60.10.5', { hostname: 'cpe-5', userContext: { line: 'dsl-5' } }),
              lease('10.60.10.3'),
            ],
          },
          { grant: g2.grant, leases: [lease('10.60.10.17', { validLifetime: 60 })] },
        ])(),
      )
      assert.deepEqual(stored, {
        grants: [
          { grant: g1.grant, stored: 2 },
          { grant: g2.grant, stored: 1 },
        ],
        stored: 3,
      })
      assert.equal(await h.eventCount(), events, 'an upload writes no event')
      const read = ok<Page<LeaseOut>>(await a.dev.get('/api/v1/agent/leases'))
      assert.equal(read.next, null)
      assert.deepEqual(
        read.items.map((l) => [l.grant, l.address]),
        [
          [g1.grant, '10.60.10.3'],
          [g1.grant, '10.60.10.5'],
          [g2.grant, '10.60.10.17'],
        ],
      )
      assert.deepEqual(read.items[1], {
        grant: g1.grant,
        ...lease('10.60.10.5', { hostname: 'cpe-5', userContext: { line: 'dsl-5' } }),
        expiresAt: iso((cltt + 3600) * 1000),
        storedAt: iso(h.clock.now()),
      })

      // Refusals change nothing: a lease outside its grant, another device's grant, a grant
      // twice, a lease twice, an operator's token, more than 100,000 leases.
      const outside = await refusedUpload(
        [
          { grant: g2.grant, leases: [] },
          { grant: g1.grant, leases: [lease('10.60.10.6'), lease('10.60.10.16')] },
        ],
        400,
        'CASM_ERR_VALIDATION',
      )
      assert.match(outside.message, /^\/grants\/1\/leases\/1\/address: 10\.60\.10\.16 is outside/)
      await refusedUpload([{ grant: theirs.grant, leases: [] }], 404, 'CASM_ERR_NOT_FOUND')
      await refusedUpload(
        [{ grant: g1.grant, leases: [lease('10.60.10.4'), lease('10.60.10.4')] }],
        400,
        'CASM_ERR_VALIDATION',
      )
      await refusedUpload(
        [
          { grant: g1.grant, leases: [] },
          { grant: g1.grant, leases: [] },
        ],
        400,
        'CASM_ERR_VALIDATION',
      )
      await refusedUpload(
        [{ grant: g1.grant, leases: [{ ...lease('10.60.10.4'), hwAddress: 'xyz' }] }],
        400,
        'CASM_ERR_VALIDATION',
      )
      await h.refuse(put(root, [{ grant: g1.grant, leases: [] }]), 403, 'CASM_ERR_FORBIDDEN')
      const many = (n: number) => Array.from({ length: n }, () => lease('10.60.10.4'))
      const tooMany = await refusedUpload(
        [
          { grant: g1.grant, leases: many(50_000) },
          { grant: g2.grant, leases: many(50_001) },
        ],
        400,
        'CASM_ERR_VALIDATION',
      )
      assert.match(tooMany.message, /at most 100000 leases, this one 100001/)

      // A snapshot replaces its grant's leases only; an empty one leaves none.
      ok(await put(a.dev, [{ grant: g1.grant, leases: [lease('10.60.10.9')] }])())
      const replaced = ok<Page<LeaseOut>>(await a.dev.get('/api/v1/agent/leases')).items
      assert.deepEqual(
        replaced.map((l) => l.address),
        ['10.60.10.9', '10.60.10.17'],
      )
      ok(await put(a.dev, [{ grant: g1.grant, leases: [] }])())
      ok(
        await put(a.dev, [
          { grant: g1.grant, leases: [lease('10.60.10.9'), lease('10.60.10.1')] },
        ])(),
      )

      // Ended leases are left out unless asked for; pages follow the cursor.
      h.clock.advance(61_000)
      const live = ok<Page<LeaseOut>>(await a.dev.get('/api/v1/agent/leases')).items
      assert.deepEqual(
        live.map((l) => l.address),
        ['10.60.10.1', '10.60.10.9'],
      )
      const pages = await allPages<LeaseOut>(a.dev, mine, 2)
      assert.deepEqual(
        pages.map((p) => p.map((l) => l.address)),
        [['10.60.10.1', '10.60.10.9'], ['10.60.10.17']],
      )
      const only = ok<Page<LeaseOut>>(
        await a.dev.get(`/api/v1/agent/leases?grant=${g2.grant}&includeExpired=true`),
      ).items
      assert.deepEqual(
        only.map((l) => l.address),
        ['10.60.10.17'],
      )
      const both = ok<Page<LeaseOut>>(
        await a.dev.get(`/api/v1/agent/leases?grant=${g2.grant}&grant=${g1.grant}`),
      ).items
      assert.deepEqual(
        both.map((l) => l.address),
        ['10.60.10.1', '10.60.10.9'],
        'repeated grant: either one (the one of g2 has ended)',
      )
      await h.refuse(
        () => a.dev.get(`/api/v1/agent/leases?grant=${theirs.grant}`),
        404,
        'CASM_ERR_NOT_FOUND',
      )
      await h.refuse(
        () => a.dev.get('/api/v1/agent/leases?after=not-a-cursor'),
        400,
        'CASM_ERR_VALIDATION',
      )
      await h.refuse(() => root.get('/api/v1/agent/leases'), 403, 'CASM_ERR_FORBIDDEN')

      // Operators and viewers read a device's leases in their tenant; devices may not.
      const byRoot = ok<Page<LeaseOut>>(
        await root.get('/api/v1/devices/lease-a-dev/leases?includeExpired=true'),
      )
      assert.deepEqual(byRoot, ok<Page<LeaseOut>>(await a.dev.get(mine)))
      const viewer = ok<TokenCreated>(
        await root.post('/api/v1/tokens', { name: 'lease-viewer', role: 'viewer' }),
        201,
      )
      assert.equal(
        ok<Page<LeaseOut>>(await h.as(viewer.secret).get('/api/v1/devices/lease-a-dev/leases'))
          .items.length,
        2,
      )
      await h.refuse(
        () => a.dev.get('/api/v1/devices/lease-a-dev/leases'),
        403,
        'CASM_ERR_FORBIDDEN',
      )
      ok(await root.post('/api/v1/tenants', { name: 'lease-t2' }), 201)
      await h.refuse(
        () => h.as(h.rootSecret, 'lease-t2').get('/api/v1/devices/lease-a-dev/leases'),
        404,
        'CASM_ERR_NOT_FOUND',
      )

      // A released grant's leases go with it, and it takes no more.
      ok(await a.send({ type: 'release-request', grants: [g1.grant] }))
      assert.deepEqual(
        ok<Page<LeaseOut>>(await a.dev.get(mine)).items.map((l) => l.grant),
        [g2.grant],
      )
      assert.deepEqual(
        ok<Page<LeaseOut>>(await a.dev.get(`/api/v1/agent/leases?grant=${g1.grant}`)).items,
        [],
      )
      await refusedUpload([{ grant: g1.grant, leases: [] }], 409, 'CASM_ERR_OUT_OF_ORDER')
      const m = await h.as(null).get('/metrics')
      assert.match(m.text, /^casm_lease_uploads_total [1-9]\d*$/m)
      assert.match(m.text, /^casm_lease_upload_leases_total [1-9]\d*$/m)
    })
    // ---- import and export -------------------------------------------------------------------

    it('import: dry run, all or nothing with every ref, overlaps, round trip, roles', async () => {
      const tenant = async (name: string): Promise<Client> => {
        ok(await root.post('/api/v1/tenants', { name }), 201)
        return h.as(h.rootSecret, name)
      }
      const a = await tenant('imp-a')
      const doc = {
        version: 1,
        domains: [{ name: 'inet' }, { name: 'vrf-b' }],
        blocks: [
          { domain: 'inet', space: '10.0.0.0/16', ref: 'b.csv:2' },
          { domain: 'vrf-b', space: '10.0.0.0/16', ref: 'b.csv:3' },
        ],
        pools: [
          { name: 'p1', domain: 'inet', kind: 'dhcp', space: ['10.0.0.0/24'], ref: 'p.csv:2' },
          { name: 'p2', domain: 'vrf-b', kind: 'dhcp', space: ['10.0.0.0/24'], ref: 'p.csv:3' },
        ],
        devices: [{ name: 'dev-1', attributes: { function: 'bng' } }],
        reservations: [{ pool: 'p1', prefix: '10.0.0.0/28', description: 'gw', ref: 'r.csv:2' }],
        grants: [{ pool: 'p1', device: 'dev-1', prefix: '10.0.0.128/27' }],
      }
      const dry = ok<{ applied: boolean; created: unknown[] }>(
        await a.post('/api/v1/import?dryRun=true', doc),
      )
      assert.equal(dry.applied, false)
      assert.equal(dry.created.length, 9)
      assert.deepEqual(ok<Items<unknown>>(await a.get('/api/v1/domains')).items, [])

      const bad = {
        ...doc,
        blocks: [...doc.blocks, { domain: 'inet', space: '10.0.128.0/17', ref: 'b.csv:4' }],
        reservations: [...doc.reservations, { pool: 'p1', prefix: '10.9.0.0/28', ref: 'r.csv:3' }],
      }
      const refused = fails(
        await a.post('/api/v1/import', bad),
        400,
        'CASM_ERR_VALIDATION',
      ) as unknown as {
        details: { problems: { ref: string; code: string }[] }
      }
      assert.deepEqual(refused.details.problems.map((p) => `${p.ref} ${p.code}`).sort(), [
        'b.csv:4 CASM_ERR_OVERLAP',
        'r.csv:3 CASM_ERR_OUT_OF_POOL',
      ])
      assert.deepEqual(ok<Items<unknown>>(await a.get('/api/v1/domains')).items, [])

      const done = ok<{ applied: boolean }>(await a.post('/api/v1/import', doc))
      assert.equal(done.applied, true)
      const exported = ok<Record<string, unknown>>(await a.get('/api/v1/export'))
      const b = await tenant('imp-b')
      ok(await b.post('/api/v1/import', exported))
      assert.deepEqual(ok(await b.get('/api/v1/export')), exported)

      const viewer = ok<{ secret: string }>(
        await a.post('/api/v1/tokens', { name: 'imp-viewer', role: 'viewer' }),
        201,
      )
      fails(
        await h.as(viewer.secret).post('/api/v1/import?dryRun=true', doc),
        403,
        'CASM_ERR_FORBIDDEN',
      )
    })
  })
}
