/**
 * The conformance suite of the {@link Store} seam: one set of tests that every store (SQLite,
 * PostgreSQL) must pass. Each implementation's test file opens a fresh, empty store and calls
 * {@link runStoreSuite}; the suite runs against real databases, never mocks.
 *
 * Tests share one store per run but create their own tenants, domains and pools with fresh ids,
 * so they do not depend on each other's order. Where a read spans every tenant (all tokens, all
 * pools, the event chain, due units), the assertions look at this test's own rows or at deltas.
 *
 * @example
 * ```ts
 * runStoreSuite('sqlite', async () => {
 *   const dir = mkdtempSync(join(tmpdir(), 'casm-store-'))
 *   const store = openStore({ dataDir: dir })
 *   return { store, cleanup: async () => { await store.close(); rmSync(dir, { recursive: true }) } }
 * })
 * ```
 *
 * @module
 */

import assert from 'node:assert/strict'
import { after, before, describe, it, type TestContext } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { isCasmError } from '../errors/casm-error.js'
import { AddressRange, type Family, Prefix, mergeRanges } from '../ip/index.js'
import type {
  AllocationType,
  Block,
  CasmEvent,
  Device,
  Domain,
  Pool,
  Reservation,
  Tenant,
} from '../domain/model.js'
import { defaultPolicy } from '../domain/pool-policy.js'
import { hashEvent, verifyChain } from '../coordinator/event-chain.js'
import { newId } from '../coordinator/ids.js'
import { ChainMovedError } from '../coordinator/store.js'
import type {
  AlertRow,
  DeviceLeaseRow,
  DeviceLoopRow,
  DeviceMessageRow,
  GrantStatusRow,
  AllocationFilter,
  AllocationRow,
  ChainHead,
  EventFilter,
  PoolRangeRow,
  Store,
  TokenRow,
  UsageSampleRow,
} from '../coordinator/store.js'
import { MIGRATIONS, SCHEMA_VERSION } from './migrations.js'
import { PostgresDriver } from './postgres/postgres-driver.js'
import type { SqlDriver } from './sql-driver.js'
import { SqlStore } from './sql-store.js'
import { SqliteDriver } from './sqlite/sqlite-driver.js'

/** A store opened for the suite, and how to close it and remove its data. */
export interface OpenedStore {
  readonly store: Store
  readonly cleanup: () => Promise<void>
}

/**
 * Opens a new, empty, unmigrated store at a location of its own on every call; or returns the
 * reason to skip (the database is not available).
 */
export type OpenStore = () => Promise<OpenedStore | string>

/** 2026-01-01T00:00:00Z: fixture times are around it. */
const T0 = 1_767_225_600_000

const MAX_V4 = 2n ** 32n - 1n
const MAX_V6 = 2n ** 128n - 1n
const MAX_MAC = 2n ** 48n - 1n

interface Range {
  readonly first: bigint
  readonly last: bigint
}

/** What most tests start from: a tenant with a domain, a pool in it and a device. */
interface World {
  readonly tenant: Tenant
  readonly domain: Domain
  readonly pool: Pool
  readonly ranges: readonly Range[]
  readonly device: Device
}

// ---- fixtures ------------------------------------------------------------------------------

const byId = <T extends { readonly id: string }>(a: T, b: T): number =>
  a.id < b.id ? -1 : a.id > b.id ? 1 : 0

const sortedById = <T extends { readonly id: string }>(rows: readonly T[]): T[] =>
  [...rows].sort(byId)

function defined<T>(value: T | undefined, what: string): T {
  assert.notEqual(value, undefined, `${what} is missing`)
  return value as T
}

function makeTenant(fields: Partial<Tenant> = {}): Tenant {
  const id = fields.id ?? newId('tenant')
  return { id, name: `acme-${id.slice(4)}`, createdAt: T0, ...fields }
}

function makeDomain(tenant: Tenant, fields: Partial<Domain> = {}): Domain {
  return {
    id: newId('domain'),
    tenantId: tenant.id,
    name: 'global',
    description: 'the public internet',
    createdAt: T0,
    updatedAt: T0,
    ...fields,
  }
}

function rangesOf(space: readonly string[]): Range[] {
  return mergeRanges(space.map((s) => AddressRange.fromPrefix(Prefix.parse(s)))).map((r) => ({
    first: r.first,
    last: r.last,
  }))
}

function makePool(
  domain: Domain,
  family: Family,
  space: readonly string[],
  fields: Partial<Pool> = {},
): { pool: Pool; ranges: Range[] } {
  const pool: Pool = {
    id: newId('pool'),
    tenantId: domain.tenantId,
    domainId: domain.id,
    name: `${family}-${newId('pool').slice(-6)}`,
    kind: family === 'mac' ? 'custom' : 'subscriber',
    family,
    space,
    policy: defaultPolicy(family),
    priority: 10,
    selectors: { function: ['bng'], 'custom.region': ['eu-west', 'eu-central'] },
    tags: ['residential', 'fra1'],
    description: `${family} subscriber space`,
    createdAt: T0,
    updatedAt: T0,
    ...fields,
  }
  return { pool, ranges: rangesOf(pool.space) }
}

function makeDevice(tenant: Tenant, fields: Partial<Device> = {}): Device {
  return {
    id: newId('device'),
    tenantId: tenant.id,
    name: 'bng-fra1-01',
    policy: {},
    attributes: {
      function: 'bng',
      formFactor: 'physical',
      plane: 'data',
      scope: 'public',
      custom: { region: 'eu-west', rack: 'r12' },
    },
    description: 'Frankfurt BNG',
    createdAt: T0,
    updatedAt: T0,
    ...fields,
  }
}

function makeToken(tenantId: string | null, fields: Partial<TokenRow> = {}): TokenRow {
  const id = fields.id ?? newId('token')
  return {
    id,
    tenantId,
    name: `ops-${id.slice(4)}`,
    role: 'operator',
    hash: `sha256-${id}`,
    deviceId: null,
    createdAt: T0,
    revokedAt: null,
    ...fields,
  }
}

function makeBlock(domain: Domain, space: string, fields: Partial<Block> = {}): Block {
  return {
    id: newId('block'),
    tenantId: domain.tenantId,
    domainId: domain.id,
    family: Prefix.parse(space).family,
    space,
    reserved: false,
    source: { rir: 'RIPE', originAs: 64500, notes: 'allocated 2019' },
    description: 'from RIPE',
    tags: ['public'],
    createdAt: T0,
    updatedAt: T0,
    ...fields,
  }
}

/** A unit of `pool` at `prefix`: an active grant unless `fields` say otherwise. */
function makeUnit(pool: Pool, prefix: string, fields: Partial<AllocationRow> = {}): AllocationRow {
  const p = Prefix.parse(prefix, { family: pool.family })
  const type: AllocationType = fields.type ?? 'grant'
  return {
    id: newId(type === 'grant' ? 'grant' : type === 'assignment' ? 'assignment' : 'unit'),
    tenantId: pool.tenantId,
    domainId: pool.domainId,
    poolId: pool.id,
    type,
    family: pool.family,
    prefix: p.toString(),
    first: p.first,
    last: p.last,
    length: p.length,
    state: 'active',
    deviceId: null,
    reservationId: null,
    requestor: null,
    hostname: '',
    description: '',
    createdAt: T0,
    updatedAt: T0,
    expiresAt: null,
    releasedAt: null,
    quarantineUntil: null,
    changedVersion: 1,
    ...fields,
  }
}

/** A stored lease of `grant` at `address` (a v4 lease unless `fields` say otherwise). */
function makeLease(
  grant: AllocationRow,
  address: string,
  fields: Partial<DeviceLeaseRow> = {},
): DeviceLeaseRow {
  return {
    tenantId: grant.tenantId,
    deviceId: grant.deviceId ?? 'dev_none',
    grantId: grant.id,
    address,
    kind: 'v4',
    lease: {
      kind: 'v4',
      address,
      hwAddress: '1a:1b:1c:1d:1e:1f',
      validLifetime: 3600,
      cltt: T0 / 1000,
      hostname: 'cpe "7" ✓',
      userContext: { site: { rack: 12, tags: ['a', null] } },
    },
    expiresAt: T0 + 3_600_000,
    storedAt: T0,
    ...fields,
  }
}

function makeReservation(pool: Pool, fields: Partial<Reservation> = {}): Reservation {
  return {
    id: newId('reservation'),
    tenantId: pool.tenantId,
    poolId: pool.id,
    kind: 'reserved',
    target: { prefix: '100.64.255.0/24' },
    prefixes: ['100.64.255.0/24'],
    description: 'kept for infrastructure',
    createdAt: T0,
    ...fields,
  }
}

type EventInput = Partial<Omit<CasmEvent, 'seq' | 'prevHash' | 'hash'>>

/** Events chained after `head`, hashed as the coordinator hashes them. */
function chainAfter(head: ChainHead, inputs: readonly EventInput[]): CasmEvent[] {
  let seq = head.seq
  let prevHash = head.hash
  return inputs.map((input) => {
    const body: Omit<CasmEvent, 'hash'> = {
      id: newId('event'),
      tenantId: null,
      at: T0,
      actor: 'system',
      action: 'pool.create',
      objectType: 'pool',
      objectId: null,
      before: null,
      after: null,
      reason: null,
      requestId: null,
      ...input,
      seq: ++seq,
      prevHash,
    }
    const event: CasmEvent = { ...body, hash: hashEvent(body) }
    prevHash = event.hash
    return event
  })
}

/** Appends events after the current head, in one write; returns them as stored. */
function appendChained(store: Store, inputs: readonly EventInput[]): Promise<CasmEvent[]> {
  return store.write(async (tx) => {
    const events = chainAfter(await tx.chainHead(), inputs)
    await tx.appendEvents(events)
    return events
  })
}

/** Creates a tenant, a domain, a pool and a device in one write. */
async function seed(
  store: Store,
  family: Family = 'ipv4',
  space: readonly string[] = ['100.64.0.0/16'],
): Promise<World> {
  const tenant = makeTenant()
  const domain = makeDomain(tenant)
  const { pool, ranges } = makePool(domain, family, space)
  const device = makeDevice(tenant)
  await store.write(async (tx) => {
    await tx.insertTenant(tenant)
    await tx.insertDomain(domain)
    await tx.insertPool(pool, ranges)
    await tx.insertDevice(device)
  })
  return { tenant, domain, pool, ranges, device }
}

/** Adds a pool to an existing domain. */
async function addPool(
  store: Store,
  domain: Domain,
  family: Family,
  space: readonly string[],
  fields: Partial<Pool> = {},
): Promise<Pool> {
  const { pool, ranges } = makePool(domain, family, space, fields)
  await store.write((tx) => tx.insertPool(pool, ranges))
  return pool
}

function insertUnits(store: Store, rows: readonly AllocationRow[]): Promise<void> {
  return store.write((tx) => tx.insertAllocations(rows))
}

/** Every row of a tenant matching `filter`, read in pages of `pageSize` by the id cursor. */
async function readAllPages(
  store: Store,
  tenantId: string,
  filter: AllocationFilter,
  pageSize: number,
): Promise<AllocationRow[]> {
  const out: AllocationRow[] = []
  let after: string | undefined
  for (let guard = 0; guard < 1000; guard++) {
    const page = await store.reader.listAllocations(
      tenantId,
      filter,
      after === undefined ? { limit: pageSize } : { after, limit: pageSize },
    )
    assert.ok(page.length <= pageSize, `a page holds at most ${pageSize} rows`)
    if (page.length === 0) return out
    out.push(...page)
    after = defined(page.at(-1), 'last row of the page').id
  }
  assert.fail('paging did not end')
}

/** Raw SQL on the database a store uses (a second connection, for what the seam cannot do). */
function rawDriver(store: Store): SqlDriver {
  return store.kind === 'sqlite'
    ? new SqliteDriver({ file: store.location })
    : new PostgresDriver({ url: store.location, max: 2 })
}

async function tableNames(driver: SqlDriver): Promise<string[]> {
  const rows =
    driver.dialect === 'sqlite'
      ? await driver.all(
          "SELECT name FROM sqlite_master WHERE type IN ('table', 'index') AND name NOT LIKE 'sqlite_%' ORDER BY name",
        )
      : await driver.all(
          "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' UNION ALL SELECT indexname AS name FROM pg_indexes WHERE schemaname = 'public' ORDER BY name",
        )
  return rows.map((r) => String(r['name']))
}

async function migrationRows(driver: SqlDriver): Promise<{ version: number; name: string }[]> {
  const rows = await driver.all('SELECT version, name FROM schema_migrations ORDER BY version')
  return rows.map((r) => ({ version: Number(r['version']), name: String(r['name']) }))
}

const isExclusionViolation = (e: unknown): boolean =>
  e instanceof Error &&
  (e as Error & { code?: unknown }).code === '23P01' &&
  (e as Error & { constraint?: unknown }).constraint === 'allocation_no_overlap'

// ---- the suite -----------------------------------------------------------------------------

/**
 * Runs the conformance suite against the stores `open` gives. `open` is called once for the
 * shared store (in `before`) and again by the migration tests, which need fresh databases; each
 * call must return a new empty store (or a skip reason).
 */
export function runStoreSuite(name: string, open: OpenStore): void {
  describe(`store conformance: ${name}`, () => {
    let shared: OpenedStore | undefined
    let skipReason = 'the store did not open'

    before(async () => {
      const opened = await open()
      if (typeof opened === 'string') {
        skipReason = opened
        return
      }
      shared = opened
      await opened.store.migrate()
    })

    after(async () => {
      await shared?.cleanup()
    })

    /** A test on the shared store; skipped with the reason when the database is unavailable. */
    function test(title: string, fn: (store: Store, t: TestContext) => Promise<void>): void {
      it(title, async (t) => {
        if (shared === undefined) {
          t.skip(skipReason)
          return
        }
        await fn(shared.store, t)
      })
    }

    /** Runs `fn` on a new empty store of its own, then removes it. */
    async function withFreshStore(
      t: TestContext,
      fn: (store: Store) => Promise<void>,
    ): Promise<void> {
      const opened = await open()
      if (typeof opened === 'string') {
        t.skip(opened)
        return
      }
      try {
        await fn(opened.store)
      } finally {
        await opened.cleanup()
      }
    }

    // ---- migrations ----------------------------------------------------------------------

    test('migrate takes a fresh database from 0 to the schema version; again, it is a no-op', async (_, t) => {
      await withFreshStore(t, async (store) => {
        assert.ok(store.location.length > 0)
        assert.deepEqual(await store.migrate(), { from: 0, to: SCHEMA_VERSION })
        assert.deepEqual(await store.migrate(), { from: SCHEMA_VERSION, to: SCHEMA_VERSION })

        const raw = rawDriver(store)
        try {
          assert.deepEqual(
            await migrationRows(raw),
            MIGRATIONS.map((m) => ({ version: m.version, name: m.name })),
          )
          const tables = await tableNames(raw)
          for (const table of ['tenant', 'pool', 'allocation', 'event', 'chain_head'])
            assert.ok(tables.includes(table), `table ${table} exists`)
        } finally {
          await raw.close()
        }
        assert.deepEqual(await store.reader.listTenants(), [])
        assert.deepEqual(await store.reader.chainHead(), { seq: 0, hash: '0'.repeat(64) })
        assert.equal(await store.reader.countTokens(), 0)

        // A second store on the same database sees the first one's commits; close ends it.
        const tenant = makeTenant()
        await store.write((tx) => tx.insertTenant(tenant))
        const second = new SqlStore(rawDriver(store), store.location)
        let closed = false
        try {
          assert.deepEqual(await second.migrate(), { from: SCHEMA_VERSION, to: SCHEMA_VERSION })
          assert.deepEqual(await second.reader.getTenant(tenant.id), tenant)
          await second.close()
          closed = true
          await assert.rejects(second.reader.listTenants())
        } finally {
          if (!closed) await second.close()
        }
        assert.deepEqual(await store.reader.getTenant(tenant.id), tenant)
      })
    })

    test('migrate upgrades a version-1 database with data in place', async (_, t) => {
      await withFreshStore(t, async (store) => {
        const raw = rawDriver(store)
        const v1 = MIGRATIONS[0] as (typeof MIGRATIONS)[number]
        const tenant = makeTenant()
        const domain = makeDomain(tenant)
        const { pool, ranges } = makePool(domain, 'ipv4', ['100.64.0.0/16'])
        try {
          await raw.exec(
            'CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)',
          )
          await raw.exec(store.kind === 'sqlite' ? v1.sqlite : v1.postgres)
          await raw.run(
            'INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)',
            [1, v1.name, T0],
          )
          // What casm 1 wrote: a device without a policy column, a pool policy without loop fields.
          await raw.run('INSERT INTO tenant (id, name, created_at) VALUES (?, ?, ?)', [
            tenant.id,
            tenant.name,
            T0,
          ])
          await raw.run(
            'INSERT INTO device (id, tenant_id, name, attributes, description, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
            ['dev_old', tenant.id, 'old-bng', '{}', '', T0, T0],
          )
        } finally {
          await raw.close()
        }
        const {
          leadTime: _l,
          minUnits: _m,
          reportInterval: _r,
          staleAfter: _s,
          drain: _d,
          ...v1Policy
        } = pool.policy
        assert.deepEqual(await store.migrate(), { from: 1, to: SCHEMA_VERSION })
        const d = await store.reader.getDevice(tenant.id, 'old-bng')
        assert.deepEqual(d?.policy, {}, 'devices get empty overrides')
        await store.write(async (tx) => {
          await tx.insertDomain(domain)
          await tx.insertPool({ ...pool, policy: v1Policy as typeof pool.policy }, ranges)
        })
        const read = await store.reader.getPool(tenant.id, pool.id)
        assert.deepEqual(read?.policy, pool.policy, 'an old policy reads with the new defaults')
        // Every later version is in place: the loop's tables (2), lease replay (3), usage history (4).
        const device = makeDevice(tenant)
        const unit = makeUnit(pool, '100.64.0.0/24', { deviceId: device.id })
        const status: GrantStatusRow = {
          grantId: unit.id,
          deviceId: device.id,
          pinned: false,
          drainCause: null,
          movingTo: null,
          used: 3,
          peak: 3,
          average: 3,
          ports: null,
          plane: null,
          reportedAt: T0,
          confirmedAt: null,
          servedState: null,
          drainSeq: null,
        }
        const lease = makeLease(unit, '100.64.0.9')
        await store.write(async (tx) => {
          await tx.insertDevice(device)
          await tx.insertAllocations([unit])
          await tx.putGrantStatus([status])
          await tx.replaceGrantLeases(unit.id, [lease])
        })
        assert.deepEqual(await store.reader.getGrantStatus(unit.id), status)
        assert.deepEqual(await store.reader.deviceLeases(device.id, { limit: 10 }), [lease])
        const usage: UsageSampleRow = {
          tenantId: tenant.id,
          objectType: 'pool',
          objectId: pool.id,
          family: 'ipv4',
          at: T0,
          used: 256n,
          total: 65536n,
          utilisation: 256 / 65536,
        }
        await store.write((tx) => tx.putUsageSamples([usage]))
        assert.deepEqual(await store.reader.usageHistory(pool.id, undefined, T0, 10), [usage])
        const check = rawDriver(store)
        try {
          assert.deepEqual(
            await migrationRows(check),
            MIGRATIONS.map((m) => ({ version: m.version, name: m.name })),
          )
        } finally {
          await check.close()
        }
      })
    })

    test('migrate refuses a database with a newer schema version and changes nothing', async (_, t) => {
      await withFreshStore(t, async (store) => {
        await store.migrate()
        const tenant = makeTenant()
        await store.write((tx) => tx.insertTenant(tenant))
        const raw = rawDriver(store)
        try {
          await raw.run(
            'INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)',
            [SCHEMA_VERSION + 1, 'from a newer casm', T0],
          )
          const migrations = await migrationRows(raw)
          const tables = await tableNames(raw)

          await assert.rejects(store.migrate(), (e: unknown) => {
            assert.ok(isCasmError(e, 'CASM_ERR_SCHEMA_TOO_NEW'), String(e))
            assert.deepEqual(e.details, { found: SCHEMA_VERSION + 1, supported: SCHEMA_VERSION })
            return true
          })

          assert.deepEqual(await migrationRows(raw), migrations)
          assert.deepEqual(await tableNames(raw), tables)
        } finally {
          await raw.close()
        }
        assert.deepEqual(await store.reader.getTenant(tenant.id), tenant)
        assert.deepEqual(await store.reader.listTenants(), [tenant])
      })
    })

    test('migrate refuses an empty database marked with a newer version and creates no table', async (_, t) => {
      await withFreshStore(t, async (store) => {
        const raw = rawDriver(store)
        try {
          await raw.exec(
            'CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)',
          )
          await raw.run(
            'INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)',
            [SCHEMA_VERSION + 5, 'from a much newer casm', T0],
          )
          const tables = await tableNames(raw)
          await assert.rejects(store.migrate(), (e: unknown) =>
            isCasmError(e, 'CASM_ERR_SCHEMA_TOO_NEW'),
          )
          assert.deepEqual(await tableNames(raw), tables)
          assert.ok(!tables.includes('tenant'))
          assert.deepEqual(await migrationRows(raw), [
            { version: SCHEMA_VERSION + 5, name: 'from a much newer casm' },
          ])
        } finally {
          await raw.close()
        }
      })
    })

    // ---- tenants and tokens --------------------------------------------------------------

    test('tenants: insert, get by id and by name, list in name order, unique names', async (store) => {
      const b = makeTenant({ name: `zz-b-${newId('tenant').slice(4)}` })
      const a = makeTenant({ name: `zz-a-${newId('tenant').slice(4)}`, createdAt: T0 + 1 })
      await store.write(async (tx) => {
        await tx.insertTenant(b)
        await tx.insertTenant(a)
      })
      assert.deepEqual(await store.reader.getTenant(a.id), a)
      assert.deepEqual(await store.reader.getTenant(a.name), a)
      assert.deepEqual(await store.reader.getTenant(b.name), b)
      assert.equal(await store.reader.getTenant(newId('tenant')), undefined)
      assert.equal(await store.reader.getTenant('no-such-tenant'), undefined)

      const listed = await store.reader.listTenants()
      const names = listed.map((x) => x.name)
      assert.deepEqual(
        names,
        [...names].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)),
        'ordered by name',
      )
      assert.deepEqual(
        listed.filter((x) => x.id === a.id || x.id === b.id),
        [a, b],
      )

      await assert.rejects(store.write((tx) => tx.insertTenant(makeTenant({ name: a.name }))))
      assert.equal((await store.reader.listTenants()).length, listed.length)
    })

    test('deleteTenant removes the tenant with its tokens and idempotency rows', async (store) => {
      const gone = makeTenant()
      const kept = makeTenant()
      const goneToken = makeToken(gone.id)
      const keptToken = makeToken(kept.id)
      const row = (tenantId: string) => ({
        tenantId,
        key: 'key-1',
        requestHash: 'h1',
        status: 201,
        body: '{"ok":true}',
        createdAt: T0,
      })
      await store.write(async (tx) => {
        await tx.insertTenant(gone)
        await tx.insertTenant(kept)
        await tx.insertToken(goneToken)
        await tx.insertToken(keptToken)
        await tx.insertIdempotency(row(gone.id))
        await tx.insertIdempotency(row(kept.id))
      })
      await store.write((tx) => tx.deleteTenant(gone.id))
      assert.equal(await store.reader.getTenant(gone.id), undefined)
      assert.equal(await store.reader.getToken(goneToken.id), undefined)
      assert.equal(await store.reader.getIdempotency(gone.id, 'key-1'), undefined)
      assert.deepEqual(await store.reader.getTenant(kept.id), kept)
      assert.deepEqual(await store.reader.getToken(keptToken.id), keptToken)
      assert.deepEqual(await store.reader.getIdempotency(kept.id, 'key-1'), row(kept.id))
    })

    test('tokens: insert, get by id and hash, list per tenant / root / all, count, revoke', async (store) => {
      const tenant = makeTenant()
      const other = makeTenant()
      const device = makeDevice(tenant)
      const countBefore = await store.reader.countTokens()
      const t1 = makeToken(tenant.id, { role: 'admin' })
      const t2 = makeToken(tenant.id, { role: 'device', deviceId: device.id, createdAt: T0 + 5 })
      const root = makeToken(null, { role: 'admin', name: 'root' })
      const t3 = makeToken(other.id, { role: 'viewer', revokedAt: T0 + 9 })
      await store.write(async (tx) => {
        await tx.insertTenant(tenant)
        await tx.insertTenant(other)
        await tx.insertDevice(device)
        for (const tok of [t2, root, t3, t1]) await tx.insertToken(tok)
      })

      assert.deepEqual(await store.reader.getToken(t2.id), t2)
      assert.deepEqual(await store.reader.getToken(t3.id), t3)
      assert.deepEqual(await store.reader.getTokenByHash(root.hash), root)
      assert.equal(await store.reader.getTokenByHash('sha256-nothing'), undefined)
      assert.equal(await store.reader.getToken(newId('token')), undefined)

      assert.deepEqual(await store.reader.listTokens(tenant.id), sortedById([t1, t2]))
      assert.deepEqual(await store.reader.listTokens(other.id), [t3])
      const roots = await store.reader.listTokens(null)
      assert.ok(roots.some((x) => x.id === root.id))
      assert.ok(roots.every((x) => x.tenantId === null))
      const all = await store.reader.listTokens(undefined)
      assert.deepEqual(all, sortedById(all), 'ordered by id')
      for (const tok of [t1, t2, root, t3]) assert.ok(all.some((x) => x.id === tok.id))
      assert.equal(await store.reader.countTokens(), countBefore + 4)
      assert.equal(await store.reader.countTokens(), all.length)

      await store.write((tx) => tx.revokeToken(t1.id, T0 + 100))
      assert.deepEqual(await store.reader.getToken(t1.id), { ...t1, revokedAt: T0 + 100 })
      // Revoking again keeps the first revocation time.
      await store.write((tx) => tx.revokeToken(t1.id, T0 + 200))
      assert.equal((await store.reader.getToken(t1.id))?.revokedAt, T0 + 100)
      assert.deepEqual(await store.reader.getToken(t2.id), t2)

      // A hash belongs to one token.
      await assert.rejects(
        store.write((tx) => tx.insertToken(makeToken(tenant.id, { hash: t1.hash }))),
      )
      assert.equal(await store.reader.countTokens(), countBefore + 4)
    })

    // ---- domains and blocks --------------------------------------------------------------

    test('domains: insert, get by id and by name within a tenant, list, update, delete', async (store) => {
      const tenant = makeTenant()
      const other = makeTenant()
      const core = makeDomain(tenant, { name: 'core', description: 'core VRF' })
      const cust = makeDomain(tenant, { name: 'customer-a', createdAt: T0 + 1 })
      const elsewhere = makeDomain(other, { name: 'core' })
      await store.write(async (tx) => {
        await tx.insertTenant(tenant)
        await tx.insertTenant(other)
        await tx.insertDomain(cust)
        await tx.insertDomain(core)
        await tx.insertDomain(elsewhere)
      })
      assert.deepEqual(await store.reader.getDomain(tenant.id, core.id), core)
      assert.deepEqual(await store.reader.getDomain(tenant.id, 'core'), core)
      assert.deepEqual(await store.reader.getDomain(other.id, 'core'), elsewhere)
      assert.equal(await store.reader.getDomain(other.id, core.id), undefined)
      assert.equal(await store.reader.getDomain(tenant.id, 'nope'), undefined)
      assert.deepEqual(await store.reader.listDomains(tenant.id), [core, cust])
      assert.deepEqual(await store.reader.listDomains(other.id), [elsewhere])

      await assert.rejects(
        store.write((tx) => tx.insertDomain(makeDomain(tenant, { name: 'core' }))),
      )

      const renamed: Domain = {
        ...core,
        name: 'backbone',
        description: 'renamed',
        updatedAt: T0 + 50,
      }
      await store.write((tx) => tx.updateDomain(renamed))
      assert.deepEqual(await store.reader.getDomain(tenant.id, core.id), renamed)
      assert.deepEqual(await store.reader.getDomain(tenant.id, 'backbone'), renamed)
      assert.equal(await store.reader.getDomain(tenant.id, 'core'), undefined)

      await store.write((tx) => tx.deleteDomain(cust.id))
      assert.equal(await store.reader.getDomain(tenant.id, cust.id), undefined)
      assert.deepEqual(await store.reader.listDomains(tenant.id), [renamed])
    })

    test('blocks: insert, get, list, update, delete; source and tags round-trip', async (store) => {
      const w = await seed(store)
      const other = makeDomain(w.tenant, { name: 'lab' })
      const v6 = makeBlock(w.domain, '2001:db8::/32', {
        source: { rir: 'RIPE', originAs: 4_200_000_000 },
        tags: [],
      })
      const v4 = makeBlock(w.domain, '100.64.0.0/10', {
        reserved: true,
        source: { rir: 'private', notes: 'RFC 6598 shared space — "CGN"' },
        tags: ['cgn', 'shared'],
      })
      const v4b = makeBlock(w.domain, '10.0.0.0/8', { source: {} })
      const lab = makeBlock(other, '192.0.2.0/24')
      const p = (s: string) => Prefix.parse(s)
      await store.write(async (tx) => {
        await tx.insertDomain(other)
        for (const b of [v6, v4, v4b, lab])
          await tx.insertBlock(b, p(b.space).first, p(b.space).last)
      })
      assert.deepEqual(await store.reader.getBlock(w.tenant.id, v4.id), v4)
      assert.deepEqual(await store.reader.getBlock(w.tenant.id, v6.id), v6)
      assert.equal(await store.reader.getBlock(makeTenant().id, v4.id), undefined)
      assert.deepEqual(await store.reader.listBlocks(w.tenant.id, w.domain.id), [v4b, v4, v6])
      assert.deepEqual(await store.reader.listBlocks(w.tenant.id, other.id), [lab])
      const all = await store.reader.listBlocks(w.tenant.id)
      assert.equal(all.length, 4)
      assert.deepEqual(
        all.filter((b) => b.domainId === w.domain.id),
        [v4b, v4, v6],
      )

      // A range block, not one prefix.
      const moved: Block = {
        ...v4b,
        space: '198.18.0.5-198.18.3.250',
        reserved: true,
        source: { rir: 'ARIN' },
        description: 'moved',
        tags: ['lab'],
        updatedAt: T0 + 7,
      }
      const r = AddressRange.parse(moved.space)
      await store.write((tx) => tx.updateBlock(moved, r.first, r.last))
      assert.deepEqual(await store.reader.getBlock(w.tenant.id, v4b.id), moved)
      const ten = p('10.0.0.0/8')
      assert.deepEqual(
        await store.reader.blocksOverlapping(w.domain.id, 'ipv4', ten.first, ten.last),
        [],
      )
      assert.deepEqual(await store.reader.blocksOverlapping(w.domain.id, 'ipv4', r.last, r.last), [
        moved,
      ])
      assert.deepEqual(
        await store.reader.blocksOverlapping(w.domain.id, 'ipv4', r.last + 1n, r.last + 1n),
        [],
      )

      await store.write((tx) => tx.deleteBlock(v6.id))
      assert.equal(await store.reader.getBlock(w.tenant.id, v6.id), undefined)
      assert.equal((await store.reader.listBlocks(w.tenant.id)).length, 3)
    })

    test('blocksOverlapping: sharing one address overlaps, touching does not', async (store) => {
      const w = await seed(store)
      const lab = makeDomain(w.tenant, { name: 'lab' })
      const a = makeBlock(w.domain, '10.0.0.0/24')
      const b = makeBlock(w.domain, '10.0.2.0/24')
      const c = makeBlock(w.domain, '::a00:0/120') // the same numbers as 10.0.0.0/24, in IPv6
      const d = makeBlock(lab, '10.0.0.0/24')
      await store.write(async (tx) => {
        await tx.insertDomain(lab)
        for (const x of [b, a, c, d]) {
          const p = Prefix.parse(x.space)
          await tx.insertBlock(x, p.first, p.last)
        }
      })
      const A = Prefix.parse('10.0.0.0/24')
      const B = Prefix.parse('10.0.2.0/24')
      const q = (first: bigint, last: bigint, family: Family = 'ipv4', domain = w.domain.id) =>
        store.reader.blocksOverlapping(domain, family, first, last)

      assert.deepEqual(await q(A.last + 1n, B.first - 1n), [], 'the gap between them')
      assert.deepEqual(await q(A.first - 256n, A.first - 1n), [], 'touching from below')
      assert.deepEqual(await q(B.last + 1n, B.last + 256n), [], 'touching from above')
      assert.deepEqual(await q(A.last, A.last), [a], 'the last address')
      assert.deepEqual(await q(A.first, A.first), [a], 'the first address')
      assert.deepEqual(await q(A.first + 5n, A.first + 9n), [a], 'inside')
      assert.deepEqual(await q(A.last, B.first), [a, b], 'spanning both, in address order')
      assert.deepEqual(await q(0n, MAX_V4), [a, b], 'covering everything')
      assert.deepEqual(await q(A.first, A.last, 'ipv6'), [c], 'the family is part of the key')
      assert.deepEqual(await q(A.first, A.last, 'ipv4', lab.id), [d], 'so is the domain')
    })

    // ---- pools ---------------------------------------------------------------------------

    test('pools: insert with ranges, get, list, versions, update with and without ranges', async (store) => {
      const w = await seed(store, 'ipv4', ['100.64.0.0/16', '100.65.0.0/17', '198.18.0.0/24'])
      assert.deepEqual(w.ranges, [
        { first: Prefix.parse('100.64.0.0/16').first, last: Prefix.parse('100.65.0.0/17').last },
        { first: Prefix.parse('198.18.0.0/24').first, last: Prefix.parse('198.18.0.0/24').last },
      ])
      const rangeRows = (pool: Pool, ranges: readonly Range[]): PoolRangeRow[] =>
        ranges.map((r) => ({ poolId: pool.id, first: r.first, last: r.last }))
      const everything = (family: Family) =>
        store.reader.poolRangesOverlapping(
          w.domain.id,
          family,
          0n,
          family === 'ipv4' ? MAX_V4 : MAX_V6,
        )

      assert.deepEqual(await store.reader.getPool(w.tenant.id, w.pool.id), w.pool)
      assert.deepEqual(await store.reader.getPool(w.tenant.id, w.pool.name), w.pool)
      assert.equal(await store.reader.getPool(makeTenant().id, w.pool.id), undefined)
      assert.equal(await store.reader.getPool(w.tenant.id, 'nope'), undefined)
      assert.deepEqual(await everything('ipv4'), rangeRows(w.pool, w.ranges))
      assert.deepEqual(await store.reader.poolVersion(w.pool.id), { version: 0, spaceVersion: 0 })
      assert.equal(await store.reader.poolVersion(newId('pool')), undefined)

      const lab = makeDomain(w.tenant, { name: 'lab' })
      const { pool: v6, ranges: v6Ranges } = makePool(w.domain, 'ipv6', ['2001:db8::/40'], {
        name: 'a-v6',
        kind: 'pd',
        policy: { ...defaultPolicy('ipv6'), lifetime: 86400, quarantine: 0 },
        selectors: {},
        tags: [],
      })
      const { pool: labPool, ranges: labRanges } = makePool(lab, 'ipv4', ['10.0.0.0/8'], {
        name: 'lab-pool',
      })
      await store.write(async (tx) => {
        await tx.insertDomain(lab)
        await tx.insertPool(v6, v6Ranges)
        await tx.insertPool(labPool, labRanges)
      })
      assert.deepEqual(await store.reader.listPools(w.tenant.id), [v6, w.pool, labPool])
      assert.deepEqual(await store.reader.listPools(w.tenant.id, w.domain.id), [v6, w.pool])
      assert.deepEqual(await store.reader.listPools(w.tenant.id, lab.id), [labPool])
      assert.deepEqual(await everything('ipv6'), rangeRows(v6, v6Ranges))

      const allPools = await store.reader.listAllPools()
      const keys = allPools.map((p) => `${p.tenantId}\u0000${p.name}`)
      assert.deepEqual(
        keys,
        [...keys].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)),
        'ordered by tenant, then name',
      )
      assert.deepEqual(
        allPools.filter((p) => p.tenantId === w.tenant.id),
        [v6, w.pool, labPool],
      )

      await store.write((tx) => tx.setPoolVersion(w.pool.id, { version: 12, spaceVersion: 3 }))
      assert.deepEqual(await store.reader.poolVersion(w.pool.id), { version: 12, spaceVersion: 3 })
      assert.deepEqual(await store.reader.poolVersion(v6.id), { version: 0, spaceVersion: 0 })

      // Without ranges: the fields change, the ranges and versions stay.
      const edited: Pool = {
        ...w.pool,
        name: 'cgn-public',
        kind: 'cgn',
        policy: { ...w.pool.policy, highWatermark: 0.9, strategy: 'sparse' },
        priority: -3,
        selectors: { scope: ['public'] },
        tags: ['cgn'],
        description: 'now CGN',
        updatedAt: T0 + 60,
      }
      await store.write((tx) => tx.updatePool(edited))
      assert.deepEqual(await store.reader.getPool(w.tenant.id, w.pool.id), edited)
      assert.deepEqual(await store.reader.getPool(w.tenant.id, 'cgn-public'), edited)
      assert.equal(await store.reader.getPool(w.tenant.id, w.pool.name), undefined)
      assert.deepEqual(await everything('ipv4'), rangeRows(w.pool, w.ranges))
      assert.deepEqual(await store.reader.poolVersion(w.pool.id), { version: 12, spaceVersion: 3 })

      // With ranges: a resize replaces them.
      const resized: Pool = {
        ...edited,
        space: ['100.64.0.0/15', '203.0.113.0/24'],
        updatedAt: T0 + 70,
      }
      const newRanges = rangesOf(resized.space)
      await store.write((tx) => tx.updatePool(resized, newRanges))
      assert.deepEqual(await store.reader.getPool(w.tenant.id, w.pool.id), resized)
      assert.deepEqual(await everything('ipv4'), rangeRows(w.pool, newRanges))
      const old = Prefix.parse('198.18.0.0/24')
      assert.deepEqual(
        await store.reader.poolRangesOverlapping(w.domain.id, 'ipv4', old.first, old.last),
        [],
      )
    })

    test('poolRangesOverlapping: ranges of every pool of the domain and family', async (store) => {
      const w = await seed(store, 'ipv4', ['10.0.0.0/24', '10.0.4.0/24'])
      const second = await addPool(store, w.domain, 'ipv4', ['10.0.2.0/24'])
      await addPool(store, w.domain, 'ipv6', ['::a00:0/118'])
      const lab = makeDomain(w.tenant, { name: 'lab' })
      const { pool: labPool, ranges } = makePool(lab, 'ipv4', ['10.0.0.0/16'])
      await store.write(async (tx) => {
        await tx.insertDomain(lab)
        await tx.insertPool(labPool, ranges)
      })
      const [r0, r4] = w.ranges.map((r) => ({ poolId: w.pool.id, ...r }))
      const r2 = { poolId: second.id, ...defined(rangesOf(second.space)[0], 'range') }
      const q = (first: bigint, last: bigint) =>
        store.reader.poolRangesOverlapping(w.domain.id, 'ipv4', first, last)
      const p = (s: string) => Prefix.parse(s)

      assert.deepEqual(await q(p('10.0.0.0/16').first, p('10.0.0.0/16').last), [r0, r2, r4])
      assert.deepEqual(await q(p('10.0.1.0/24').first, p('10.0.1.0/24').last), [], 'touching')
      assert.deepEqual(await q(p('10.0.0.255').first, p('10.0.2.0').first), [r0, r2])
      assert.deepEqual(await q(p('10.0.4.128/25').first, p('10.0.4.128/25').last), [r4])
      assert.deepEqual(await q(p('10.0.5.0').first, MAX_V4), [])
    })

    test('deletePool removes the pool and its ranges; units must go first', async (store) => {
      const w = await seed(store, 'ipv4', ['100.64.0.0/20'])
      const reservation = makeReservation(w.pool, {
        target: { prefix: '100.64.15.0/24' },
        prefixes: ['100.64.15.0/24'],
      })
      await store.write(async (tx) => {
        await tx.insertReservation(reservation)
        await tx.insertAllocations([
          makeUnit(w.pool, '100.64.0.0/24'),
          makeUnit(w.pool, '100.64.15.0/24', {
            type: 'reservation',
            reservationId: reservation.id,
          }),
        ])
      })
      await assert.rejects(store.write((tx) => tx.deletePool(w.pool.id)))
      assert.deepEqual(await store.reader.getPool(w.tenant.id, w.pool.id), w.pool)

      await store.write(async (tx) => {
        await tx.deleteAllocations({ poolId: w.pool.id })
        await tx.deleteReservation(reservation.id)
        await tx.deletePool(w.pool.id)
      })
      assert.equal(await store.reader.getPool(w.tenant.id, w.pool.id), undefined)
      assert.equal(await store.reader.poolVersion(w.pool.id), undefined)
      assert.deepEqual(await store.reader.listPools(w.tenant.id), [])
      assert.ok(!(await store.reader.listAllPools()).some((p) => p.id === w.pool.id))
      assert.deepEqual(
        await store.reader.poolRangesOverlapping(w.domain.id, 'ipv4', 0n, MAX_V4),
        [],
      )
      // The space can be given to a new pool of the same name.
      await addPool(store, w.domain, 'ipv4', ['100.64.0.0/20'], { name: w.pool.name })
      assert.equal((await store.reader.listPools(w.tenant.id)).length, 1)
    })

    // ---- devices -------------------------------------------------------------------------

    test('devices: insert, get by id and by name, list, update, delete', async (store) => {
      const w = await seed(store)
      const dhcp = makeDevice(w.tenant, {
        name: 'dhcp-01',
        attributes: { function: 'dhcp-server', formFactor: 'virtual', segmentId: 'vlan-200' },
      })
      const bare = makeDevice(w.tenant, { name: 'edge', attributes: {} })
      await store.write(async (tx) => {
        await tx.insertDevice(dhcp)
        await tx.insertDevice(bare)
      })
      assert.deepEqual(await store.reader.getDevice(w.tenant.id, w.device.id), w.device)
      assert.deepEqual(await store.reader.getDevice(w.tenant.id, 'dhcp-01'), dhcp)
      assert.deepEqual(await store.reader.getDevice(w.tenant.id, bare.id), bare)
      assert.equal(await store.reader.getDevice(makeTenant().id, dhcp.id), undefined)
      assert.deepEqual(await store.reader.listDevices(w.tenant.id), [w.device, dhcp, bare])
      await assert.rejects(
        store.write((tx) => tx.insertDevice(makeDevice(w.tenant, { name: 'edge' }))),
      )

      const changed: Device = {
        ...dhcp,
        name: 'dhcp-02',
        attributes: { function: 'dhcp-server', custom: { site: 'fra1', 'kea.subnet': '7' } },
        description: 'moved',
        updatedAt: T0 + 11,
      }
      await store.write((tx) => tx.updateDevice(changed))
      assert.deepEqual(await store.reader.getDevice(w.tenant.id, dhcp.id), changed)
      assert.deepEqual(await store.reader.getDevice(w.tenant.id, 'dhcp-02'), changed)
      assert.equal(await store.reader.getDevice(w.tenant.id, 'dhcp-01'), undefined)

      await store.write((tx) => tx.deleteDevice(bare.id))
      assert.equal(await store.reader.getDevice(w.tenant.id, bare.id), undefined)
      assert.deepEqual(await store.reader.listDevices(w.tenant.id), [w.device, changed])
    })

    test('devices keep their policy overrides', async (store) => {
      const w = await seed(store)
      const d = makeDevice(w.tenant, {
        name: 'tuned',
        policy: { highWatermark: 0.9, holdDown: 60 },
      })
      await store.write((tx) => tx.insertDevice(d))
      assert.deepEqual(await store.reader.getDevice(w.tenant.id, d.id), d)
      const changed: Device = { ...d, policy: { minUnits: 2 }, updatedAt: T0 + 1 }
      await store.write((tx) => tx.updateDevice(changed))
      assert.deepEqual((await store.reader.getDevice(w.tenant.id, d.id))?.policy, { minUnits: 2 })
    })

    test('grant status: put inserts and replaces; per device; goes with its grant', async (store) => {
      const w = await seed(store)
      const g = makeUnit(w.pool, '100.64.0.0/28', { deviceId: w.device.id })
      const h = makeUnit(w.pool, '100.64.0.16/28', { deviceId: w.device.id })
      await store.write((tx) => tx.insertAllocations([g, h]))
      const s: GrantStatusRow = {
        grantId: g.id,
        deviceId: w.device.id,
        pinned: true,
        drainCause: 'move',
        movingTo: 'dev_x',
        used: 7,
        peak: 9,
        average: 6.25,
        ports: { total: 64512, used: 1000, peak: 1200, average: 950.5 },
        plane: 'up-2',
        reportedAt: T0 + 5,
        confirmedAt: null,
        servedState: 'draining',
        drainSeq: 7,
      }
      await store.write((tx) => tx.putGrantStatus([s]))
      assert.deepEqual(await store.reader.getGrantStatus(g.id), s)
      const t: GrantStatusRow = {
        ...s,
        grantId: h.id,
        pinned: false,
        drainCause: null,
        movingTo: null,
        ports: null,
        plane: null,
      }
      const s2: GrantStatusRow = { ...s, used: 0, confirmedAt: T0 + 9 }
      await store.write((tx) => tx.putGrantStatus([s2, t]))
      assert.deepEqual(await store.reader.getGrantStatus(g.id), s2)
      // deviceGrants: each live unit of the device with its status (null where none is stored).
      const bare = makeUnit(w.pool, '100.64.0.32/28', { deviceId: w.device.id })
      await store.write((tx) => tx.insertAllocations([bare]))
      const joined = await store.reader.deviceGrants(w.device.id)
      const expected = [
        { unit: g, status: s2 },
        { unit: h, status: t },
        { unit: bare, status: null },
      ].sort((x, y) => x.unit.id.localeCompare(y.unit.id))
      assert.deepEqual(joined, expected)
      assert.equal(await store.reader.getGrantStatus('grant_none'), undefined)
      // A status needs its grant.
      await assert.rejects(
        store.write((tx) => tx.putGrantStatus([{ ...s, grantId: 'grant_none' }])),
      )
      await store.write((tx) => tx.deleteAllocations({ poolId: w.pool.id }))
      assert.equal(await store.reader.getGrantStatus(g.id), undefined, 'gone with its grant')
      assert.deepEqual(await store.reader.deviceGrants(w.device.id), [])
    })

    test('device loop: put inserts and replaces; quietDevices finds the stale, not the silent', async (store) => {
      const w = await seed(store)
      const other = makeDevice(w.tenant, { name: 'other' })
      await store.write((tx) => tx.insertDevice(other))
      const loop: DeviceLoopRow = {
        deviceId: w.device.id,
        tenantId: w.tenant.id,
        agent: { version: '0.1.0', backend: 'sim', planes: ['up-1', 'up-2'] },
        helloAt: T0,
        reportAt: T0 + 10,
        staleAt: T0 + 70,
        lowSince: { ipv4: T0 + 3, ipv6: null },
        history: { ipv4: [{ at: T0, used: 3, capacity: 32 }] },
        streamSeq: 4,
        ackedSeq: 2,
        silent: false,
        failures: 1,
      }
      await store.write((tx) => tx.putDeviceLoop(loop))
      assert.deepEqual(await store.reader.getDeviceLoop(w.device.id), loop)
      assert.equal(await store.reader.getDeviceLoop(other.id), undefined)
      const quiet: DeviceLoopRow = { ...loop, deviceId: other.id, agent: null, staleAt: T0 + 50 }
      await store.write((tx) => tx.putDeviceLoop(quiet))
      assert.deepEqual(await store.reader.quietDevices(T0 + 49, 10), [])
      assert.deepEqual(
        (await store.reader.quietDevices(T0 + 70, 10)).map((d) => d.deviceId),
        [other.id, w.device.id],
        'oldest first',
      )
      assert.equal((await store.reader.quietDevices(T0 + 70, 1)).length, 1)
      await store.write((tx) => tx.putDeviceLoop({ ...quiet, silent: true }))
      assert.deepEqual(
        (await store.reader.quietDevices(T0 + 70, 10)).map((d) => d.deviceId),
        [w.device.id],
      )
    })

    test('usage samples: put replaces at the same time, history oldest first per object and family, prune by age; device loops list', async (store) => {
      const w = await seed(store)
      const other = makeDevice(w.tenant, { name: 'other' })
      await store.write((tx) => tx.insertDevice(other))
      const sample = (
        objectId: string,
        family: Family,
        at: number,
        used: bigint,
        fields: Partial<UsageSampleRow> = {},
      ): UsageSampleRow => ({
        tenantId: w.tenant.id,
        objectType: objectId === w.pool.id ? 'pool' : 'device',
        objectId,
        family,
        at,
        used,
        total: 1n << 80n,
        utilisation: Number(used) / 2 ** 80,
        ...fields,
      })
      const huge = (1n << 80n) - 1n
      await store.write((tx) =>
        tx.putUsageSamples([
          sample(w.pool.id, 'ipv4', T0 + 2, 5n),
          sample(w.pool.id, 'ipv4', T0, 3n),
          sample(w.pool.id, 'ipv4', T0 + 1, huge, { utilisation: 0.123456789 }),
          sample(w.device.id, 'ipv6', T0 + 1, 7n),
          sample(w.device.id, 'ipv4', T0 + 1, 6n),
          sample(w.device.id, 'ipv4', T0 + 3, 8n),
          sample(other.id, 'ipv4', T0 + 1, 9n),
        ]),
      )
      const ats = (rows: readonly UsageSampleRow[]) => rows.map((r) => [r.family, r.at, r.used])
      assert.deepEqual(await store.reader.usageHistory(w.pool.id, undefined, T0, 10), [
        sample(w.pool.id, 'ipv4', T0, 3n),
        sample(w.pool.id, 'ipv4', T0 + 1, huge, { utilisation: 0.123456789 }),
        sample(w.pool.id, 'ipv4', T0 + 2, 5n),
      ])
      assert.deepEqual(ats(await store.reader.usageHistory(w.pool.id, 'ipv4', T0 + 1, 1)), [
        ['ipv4', T0 + 1, huge],
      ])
      assert.deepEqual(await store.reader.usageHistory(w.pool.id, 'ipv6', T0, 10), [])
      assert.deepEqual(ats(await store.reader.usageHistory(w.device.id, undefined, T0, 10)), [
        ['ipv4', T0 + 1, 6n],
        ['ipv6', T0 + 1, 7n],
        ['ipv4', T0 + 3, 8n],
      ])
      assert.deepEqual(ats(await store.reader.usageHistory(w.device.id, 'ipv4', T0, 10)), [
        ['ipv4', T0 + 1, 6n],
        ['ipv4', T0 + 3, 8n],
      ])
      // The same object, family and time: replaced.
      await store.write((tx) => tx.putUsageSamples([sample(w.pool.id, 'ipv4', T0, 4n)]))
      assert.deepEqual(ats(await store.reader.usageHistory(w.pool.id, 'ipv4', T0, 1)), [
        ['ipv4', T0, 4n],
      ])
      await store.write((tx) => tx.putUsageSamples([]))
      assert.equal(await store.write((tx) => tx.pruneUsageSamples(T0 + 2)), 5)
      assert.deepEqual(ats(await store.reader.usageHistory(w.pool.id, undefined, 0, 10)), [
        ['ipv4', T0 + 2, 5n],
      ])
      assert.deepEqual(ats(await store.reader.usageHistory(w.device.id, undefined, 0, 10)), [
        ['ipv4', T0 + 3, 8n],
      ])
      assert.deepEqual(await store.reader.usageHistory(other.id, undefined, 0, 10), [])

      const mine = async () =>
        (await store.reader.listDeviceLoops()).filter((l) => l.tenantId === w.tenant.id)
      assert.deepEqual(await mine(), [])
      const loop: DeviceLoopRow = {
        deviceId: w.device.id,
        tenantId: w.tenant.id,
        agent: null,
        helloAt: null,
        reportAt: T0,
        staleAt: T0 + 60,
        lowSince: {},
        history: { ipv4: [{ at: T0, used: 3, capacity: 32 }] },
        streamSeq: 0,
        ackedSeq: 0,
        silent: false,
        failures: 0,
      }
      await store.write((tx) => tx.putDeviceLoop(loop))
      await store.write((tx) => tx.putDeviceLoop({ ...loop, deviceId: other.id, history: {} }))
      const loops = await mine()
      assert.deepEqual(
        loops,
        [loop, { ...loop, deviceId: other.id, history: {} }].sort((a, b) =>
          a.deviceId < b.deviceId ? -1 : 1,
        ),
      )
    })

    test('device messages: append, read after a seq in order, prune by ack and by age', async (store) => {
      const w = await seed(store)
      const other = makeDevice(w.tenant, { name: 'other' })
      await store.write((tx) => tx.insertDevice(other))
      const msg = (deviceId: string, seq: number, at = T0): DeviceMessageRow => ({
        deviceId,
        seq,
        type: 'drain',
        body: JSON.stringify({ v: 1, txn: `s-${seq}`, type: 'drain', note: 'quote " and ✓' }),
        createdAt: at,
      })
      await store.write((tx) =>
        tx.appendDeviceMessages([1, 2, 3, 4].map((n) => msg(w.device.id, n, T0 + n))),
      )
      await store.write((tx) => tx.appendDeviceMessages([msg(other.id, 1, T0 + 100)]))
      await assert.rejects(store.write((tx) => tx.appendDeviceMessages([msg(w.device.id, 2)])))
      assert.deepEqual(
        (await store.reader.deviceMessages(w.device.id, 1, 10)).map((m) => m.seq),
        [2, 3, 4],
      )
      assert.deepEqual(await store.reader.deviceMessages(w.device.id, 1, 1), [
        msg(w.device.id, 2, T0 + 2),
      ])
      assert.equal(
        await store.write((tx) => tx.pruneDeviceMessages({ deviceId: w.device.id, upTo: 2 })),
        2,
      )
      assert.deepEqual(
        (await store.reader.deviceMessages(w.device.id, 0, 10)).map((m) => m.seq),
        [3, 4],
      )
      assert.equal(await store.write((tx) => tx.pruneDeviceMessages({ before: T0 + 4 })), 1)
      assert.deepEqual(
        (await store.reader.deviceMessages(w.device.id, 0, 10)).map((m) => m.seq),
        [4],
      )
      assert.equal((await store.reader.deviceMessages(other.id, 0, 10)).length, 1)
    })

    test('alerts: put inserts and replaces; list per tenant, open only, newest first', async (store) => {
      const w = await seed(store)
      const t2 = makeTenant()
      await store.write((tx) => tx.insertTenant(t2))
      const a: AlertRow = {
        id: `pool-exhausted:${w.pool.id}`,
        tenantId: w.tenant.id,
        kind: 'pool-exhausted',
        objectType: 'pool',
        objectId: w.pool.id,
        message: 'no free unit',
        raisedAt: T0,
        clearedAt: null,
      }
      const b: AlertRow = {
        ...a,
        id: 'device-silent:d',
        kind: 'device-silent',
        objectType: 'device',
        objectId: 'd',
        raisedAt: T0 + 5,
      }
      const c: AlertRow = { ...a, id: 'device-silent:e', tenantId: t2.id, raisedAt: T0 + 9 }
      await store.write(async (tx) => {
        await tx.putAlert(a)
        await tx.putAlert(b)
        await tx.putAlert(c)
      })
      assert.deepEqual(await store.reader.getAlert(a.id), a)
      assert.deepEqual(await store.reader.listAlerts(w.tenant.id, true, 10), [b, a])
      assert.deepEqual(await store.reader.listAlerts(undefined, true, 10), [c, b, a])
      assert.deepEqual(await store.reader.listAlerts(undefined, true, 1), [c])
      const cleared = { ...a, clearedAt: T0 + 20, message: 'space again' }
      await store.write((tx) => tx.putAlert(cleared))
      assert.deepEqual(await store.reader.listAlerts(w.tenant.id, true, 10), [b])
      assert.deepEqual(await store.reader.listAlerts(w.tenant.id, false, 10), [b, cleared])
    })

    test('deleteDevice drops its device tokens and unlinks its units', async (store) => {
      const w = await seed(store)
      const token = makeToken(w.tenant.id, { role: 'device', deviceId: w.device.id })
      const other = makeToken(w.tenant.id)
      const held = makeUnit(w.pool, '100.64.0.0/27', { deviceId: w.device.id })
      await store.write(async (tx) => {
        await tx.insertToken(token)
        await tx.insertToken(other)
        await tx.insertAllocations([held])
      })
      await store.write((tx) => tx.deleteDevice(w.device.id))
      assert.equal(await store.reader.getDevice(w.tenant.id, w.device.id), undefined)
      assert.equal(await store.reader.getToken(token.id), undefined)
      assert.deepEqual(await store.reader.getToken(other.id), other)
      assert.deepEqual(await store.reader.getAllocation(w.tenant.id, held.id), {
        ...held,
        deviceId: null,
      })
    })

    test('device leases: a snapshot per grant, read per device in (grant, address) order', async (store) => {
      const w = await seed(store)
      const g = makeUnit(w.pool, '100.64.0.0/28', { deviceId: w.device.id })
      const h = makeUnit(w.pool, '100.64.0.16/28', { deviceId: w.device.id })
      await store.write((tx) => tx.insertAllocations([g, h]))
      // Text order of the addresses, not numeric order: the cursor pages by it on both stores.
      const gLeases = ['100.64.0.10', '100.64.0.1', '100.64.0.2'].map((a) => makeLease(g, a))
      const hLease = makeLease(h, '100.64.0.17', { expiresAt: T0 + 10 })
      await store.write(async (tx) => {
        await tx.replaceGrantLeases(g.id, gLeases)
        await tx.replaceGrantLeases(h.id, [hLease])
      })
      const [l1, l10, l2] = [gLeases[1], gLeases[0], gLeases[2]] as DeviceLeaseRow[]
      const all = await store.reader.deviceLeases(w.device.id, { limit: 10 })
      assert.deepEqual(all, [l1, l10, l2, hLease], 'exact rows, JSON included')
      assert.deepEqual(await store.reader.deviceLeases(w.device.id, { limit: 2 }), [l1, l10])
      assert.deepEqual(
        await store.reader.deviceLeases(w.device.id, {
          after: { grantId: g.id, address: '100.64.0.10' },
          limit: 10,
        }),
        [l2, hLease],
      )
      assert.deepEqual(
        await store.reader.deviceLeases(w.device.id, { grantIds: [h.id], limit: 10 }),
        [hLease],
      )
      assert.deepEqual(await store.reader.deviceLeases(w.device.id, { grantIds: [], limit: 9 }), [])
      assert.deepEqual(
        await store.reader.deviceLeases(w.device.id, { liveAt: T0 + 10, limit: 10 }),
        [l1, l10, l2],
        'a lease ending at liveAt has ended',
      )
      // A snapshot replaces the grant's leases and leaves the other grant's alone.
      const again = makeLease(g, '100.64.0.1', { storedAt: T0 + 30, expiresAt: T0 + 99 })
      await store.write((tx) => tx.replaceGrantLeases(g.id, [again]))
      assert.deepEqual(await store.reader.deviceLeases(w.device.id, { limit: 10 }), [again, hLease])
      await assert.rejects(
        store.write((tx) => tx.replaceGrantLeases(g.id, [again, again])),
        'one lease per address and grant',
      )
      await assert.rejects(store.write((tx) => tx.replaceGrantLeases(g.id, [hLease])))
      await assert.rejects(
        store.write((tx) => tx.replaceGrantLeases('gr_none', [{ ...again, grantId: 'gr_none' }])),
        'a lease needs its grant',
      )
      assert.deepEqual(await store.reader.deviceLeases(w.device.id, { limit: 10 }), [again, hLease])
      // Only grants the device holds live are read; deleting forgets.
      await store.write((tx) => tx.updateAllocation({ ...h, state: 'quarantined' }))
      assert.deepEqual(await store.reader.deviceLeases(w.device.id, { limit: 10 }), [again])
      assert.equal(await store.write((tx) => tx.deleteGrantLeases(h.id)), 1)
      assert.equal(await store.write((tx) => tx.deleteGrantLeases(h.id)), 0)
      await store.write((tx) => tx.replaceGrantLeases(g.id, []))
      assert.deepEqual(await store.reader.deviceLeases(w.device.id, { limit: 10 }), [])
    })

    test('device leases: prefixes for delegation; they go with their grant and their device', async (store) => {
      const w = await seed(store, 'ipv6', ['2001:db8::/32'])
      const other = makeDevice(w.tenant, { name: 'other' })
      await store.write((tx) => tx.insertDevice(other))
      const g = makeUnit(w.pool, '2001:db8:1::/48', { deviceId: w.device.id })
      const o = makeUnit(w.pool, '2001:db8:2::/48', { deviceId: other.id })
      await store.write((tx) => tx.insertAllocations([g, o]))
      const pd = makeLease(g, '2001:db8:1:100::/56', {
        kind: 'pd',
        lease: {
          kind: 'pd',
          address: '2001:db8:1:100::',
          prefixLength: 56,
          duid: '00:03:00:01:1a:1b',
          iaid: 4_294_967_295,
          validLifetime: 4_294_967_295,
          preferredLifetime: 0,
          cltt: 253_402_300_799,
          state: 2,
        },
        expiresAt: (253_402_300_799 + 4_294_967_295) * 1000,
      })
      const na = makeLease(g, '2001:db8:1::5', { kind: 'na' })
      const theirs = makeLease(o, '2001:db8:2::5', { kind: 'na' })
      await store.write(async (tx) => {
        await tx.replaceGrantLeases(g.id, [pd, na])
        await tx.replaceGrantLeases(o.id, [theirs])
      })
      assert.deepEqual(await store.reader.deviceLeases(w.device.id, { limit: 10 }), [pd, na])
      assert.deepEqual(await store.reader.deviceLeases(other.id, { limit: 10 }), [theirs])
      assert.deepEqual(
        await store.reader.deviceLeases(w.device.id, { grantIds: [o.id], limit: 10 }),
        [],
        "another device's grant reads as nothing",
      )
      await store.write((tx) => tx.deleteDevice(other.id))
      assert.deepEqual(await store.reader.deviceLeases(other.id, { limit: 10 }), [])
      await store.write((tx) => tx.deleteAllocations({ poolId: w.pool.id }))
      assert.deepEqual(await store.reader.deviceLeases(w.device.id, { limit: 10 }), [])
      // Nothing is left behind to reappear with a new grant of the same id.
      await store.write((tx) => tx.insertAllocations([g]))
      assert.deepEqual(await store.reader.deviceLeases(w.device.id, { limit: 10 }), [])
    })

    // ---- reservations --------------------------------------------------------------------

    test('reservations: insert, get, list; deleting one deletes its allocation rows', async (store) => {
      const w = await seed(store)
      const second = await addPool(store, w.domain, 'ipv4', ['198.18.0.0/24'])
      const infra = makeReservation(w.pool)
      const range = makeReservation(w.pool, {
        kind: 'excluded',
        target: { range: '100.64.1.0-100.64.1.7' },
        prefixes: ['100.64.1.0/29'],
      })
      const pattern = makeReservation(second, {
        target: { pattern: { every: 24, offsets: [0, -1], length: 32, within: '198.18.0.0/24' } },
        prefixes: ['198.18.0.0/32', '198.18.0.255/32'],
        description: 'network and broadcast',
      })
      const unitsOf = (r: Reservation, pool: Pool): AllocationRow[] =>
        r.prefixes.map((p) =>
          makeUnit(pool, p, {
            type: r.kind === 'reserved' ? 'reservation' : 'exclusion',
            reservationId: r.id,
            description: r.description,
          }),
        )
      const infraUnits = unitsOf(infra, w.pool)
      const rangeUnits = unitsOf(range, w.pool)
      const patternUnits = unitsOf(pattern, second)
      const grant = makeUnit(w.pool, '100.64.2.0/24', { deviceId: w.device.id })
      await store.write(async (tx) => {
        for (const r of [pattern, infra, range]) await tx.insertReservation(r)
        await tx.insertAllocations([...infraUnits, ...rangeUnits, ...patternUnits, grant])
      })

      assert.deepEqual(await store.reader.getReservation(w.tenant.id, pattern.id), pattern)
      assert.deepEqual(await store.reader.getReservation(w.tenant.id, range.id), range)
      assert.equal(await store.reader.getReservation(makeTenant().id, infra.id), undefined)
      assert.deepEqual(
        await store.reader.listReservations(w.tenant.id),
        sortedById([infra, range, pattern]),
      )
      assert.deepEqual(
        await store.reader.listReservations(w.tenant.id, w.pool.id),
        sortedById([infra, range]),
      )
      assert.deepEqual(await store.reader.listReservations(w.tenant.id, second.id), [pattern])

      await store.write((tx) => tx.deleteReservation(pattern.id))
      assert.equal(await store.reader.getReservation(w.tenant.id, pattern.id), undefined)
      assert.deepEqual(await store.reader.liveUnits(second.id), [])
      assert.deepEqual(
        sortedById(await store.reader.liveUnits(w.pool.id)),
        sortedById([...infraUnits, ...rangeUnits, grant]),
      )

      await store.write((tx) => tx.deleteReservation(range.id))
      assert.deepEqual(
        sortedById(await store.reader.liveUnits(w.pool.id)),
        sortedById([...infraUnits, grant]),
      )
      assert.deepEqual(await store.reader.listReservations(w.tenant.id), [infra])
    })

    // ---- allocations ---------------------------------------------------------------------

    test('insertAllocations stores many rows exactly', async (store) => {
      const w = await seed(store, 'ipv4', ['100.64.0.0/22'])
      const states = ['active', 'draining', 'quarantined', 'free', 'released', 'expired'] as const
      const rows = Array.from({ length: 450 }, (_, i) =>
        makeUnit(w.pool, `100.64.${i >> 8}.${i & 255}/32`, {
          type: i % 3 === 0 ? 'assignment' : 'grant',
          state: states[i % states.length] ?? 'active',
          deviceId: i % 3 === 0 ? null : w.device.id,
          requestor: i % 3 === 0 ? { function: 'end-point', custom: { mac: `host-${i}` } } : null,
          hostname: i % 3 === 0 ? `host-${i}.example.net` : '',
          description: i % 5 === 0 ? `row ${i}` : '',
          createdAt: T0 + i,
          updatedAt: T0 + 2 * i,
          expiresAt: i % 2 === 0 ? T0 + 86_400_000 + i : null,
          releasedAt: i % 7 === 0 ? T0 + i : null,
          quarantineUntil: i % 11 === 0 ? T0 + 300_000 : null,
          changedVersion: i,
        }),
      )
      await store.write(async (tx) => {
        await tx.insertAllocations([])
        await tx.insertAllocations(rows)
      })
      const stored = await store.reader.listAllocations(
        w.tenant.id,
        { poolId: w.pool.id },
        { limit: 1000 },
      )
      assert.equal(stored.length, 450)
      assert.deepEqual(stored, sortedById(rows))
      assert.equal(await store.reader.countAllocations(w.tenant.id, {}), 450)
      const some = defined(rows[123], 'row 123')
      assert.deepEqual(await store.reader.getAllocation(w.tenant.id, some.id), some)
      assert.equal(await store.reader.getAllocation(makeTenant().id, some.id), undefined)
      assert.equal(await store.reader.getAllocation(w.tenant.id, newId('grant')), undefined)
    })

    test('updateAllocation changes the state fields, and whether the unit is live follows', async (store) => {
      const w = await seed(store)
      const row = makeUnit(w.pool, '100.64.8.0/24', {
        deviceId: w.device.id,
        requestor: { function: 'bng' },
        expiresAt: T0 + 1000,
        changedVersion: 4,
      })
      await insertUnits(store, [row])
      const draining: AllocationRow = {
        ...row,
        state: 'draining',
        hostname: 'bng-fra1-01.example.net',
        description: 'being emptied',
        updatedAt: T0 + 10,
      }
      await store.write((tx) => tx.updateAllocation(draining))
      assert.deepEqual(await store.reader.getAllocation(w.tenant.id, row.id), draining)

      const quarantined: AllocationRow = {
        ...draining,
        state: 'quarantined',
        updatedAt: T0 + 20,
        releasedAt: T0 + 20,
        quarantineUntil: T0 + 320,
      }
      await store.write((tx) => tx.updateAllocation(quarantined))
      assert.deepEqual(await store.reader.getAllocation(w.tenant.id, row.id), quarantined)
      assert.deepEqual(await store.reader.liveUnits(w.pool.id), [quarantined])

      const free: AllocationRow = {
        ...quarantined,
        state: 'free',
        deviceId: null,
        updatedAt: T0 + 400,
        expiresAt: null,
        quarantineUntil: null,
        changedVersion: 9,
      }
      await store.write((tx) => tx.updateAllocation(free))
      assert.deepEqual(await store.reader.getAllocation(w.tenant.id, row.id), free)
      assert.deepEqual(await store.reader.liveUnits(w.pool.id), [])
      assert.deepEqual(
        await store.reader.listAllocations(w.tenant.id, { live: false }, { limit: 10 }),
        [free],
      )
      assert.equal(await store.reader.countAllocations(w.tenant.id, { live: true }), 0)

      // The unit's identity and space are not state: they stay.
      const moved = makeUnit(w.pool, '100.64.9.0/24', { type: 'assignment', createdAt: T0 + 999 })
      await store.write((tx) => tx.updateAllocation({ ...moved, id: row.id, state: 'free' }))
      const after = defined(await store.reader.getAllocation(w.tenant.id, row.id), 'the unit')
      assert.equal(after.prefix, row.prefix)
      assert.equal(after.first, row.first)
      assert.equal(after.last, row.last)
      assert.equal(after.type, 'grant')
      assert.equal(after.createdAt, row.createdAt)
      assert.deepEqual(after.requestor, row.requestor)
    })

    test('listAllocations and countAllocations filter by type, pool, device, state and live; pages by id', async (store) => {
      const w = await seed(store, 'ipv4', ['10.1.0.0/16'])
      const p2 = await addPool(store, w.domain, 'ipv4', ['10.2.0.0/16'])
      const d2 = makeDevice(w.tenant, { name: 'bng-fra1-02' })
      const rsv = makeReservation(w.pool, { target: { prefix: '10.1.255.0/24' }, prefixes: [] })
      const d1 = w.device.id
      const rows: AllocationRow[] = [
        makeUnit(w.pool, '10.1.0.0/24', { deviceId: d1 }),
        makeUnit(w.pool, '10.1.1.0/24', { deviceId: d1, state: 'draining' }),
        makeUnit(w.pool, '10.1.2.0/24', { deviceId: d2.id, state: 'quarantined' }),
        makeUnit(w.pool, '10.1.3.0/24', { deviceId: d1, state: 'free' }),
        makeUnit(w.pool, '10.1.4.1/32', {
          type: 'assignment',
          requestor: { function: 'server', plane: 'management' },
          hostname: 'db1.example.net',
        }),
        makeUnit(w.pool, '10.1.255.0/24', { type: 'reservation', reservationId: rsv.id }),
        makeUnit(w.pool, '10.1.254.0/32', { type: 'exclusion' }),
        makeUnit(p2, '10.2.0.0/24', { deviceId: d2.id }),
        makeUnit(p2, '10.2.1.1/32', { type: 'assignment', state: 'released' }),
        makeUnit(p2, '10.2.2.0/24', { deviceId: d1, state: 'expired' }),
        makeUnit(p2, '10.2.3.0/24', { deviceId: d1, state: 'free' }),
      ]
      // Another tenant's units never show.
      const stranger = await seed(store, 'ipv4', ['10.1.0.0/16'])
      await store.write(async (tx) => {
        await tx.insertDevice(d2)
        await tx.insertReservation(rsv)
        await tx.insertAllocations([...rows].reverse())
        await tx.insertAllocations([
          makeUnit(stranger.pool, '10.1.0.0/24', { deviceId: stranger.device.id }),
        ])
      })

      const filters: [AllocationFilter, (r: AllocationRow) => boolean][] = [
        [{}, () => true],
        [{ type: 'grant' }, (r) => r.type === 'grant'],
        [{ type: 'assignment' }, (r) => r.type === 'assignment'],
        [{ type: 'exclusion' }, (r) => r.type === 'exclusion'],
        [{ poolId: p2.id }, (r) => r.poolId === p2.id],
        [{ deviceId: d1 }, (r) => r.deviceId === d1],
        [{ deviceId: d2.id }, (r) => r.deviceId === d2.id],
        [{ state: 'active' }, (r) => r.state === 'active'],
        [{ state: 'free' }, (r) => r.state === 'free'],
        [{ live: true }, (r) => r.state !== 'free'],
        [{ live: false }, (r) => r.state === 'free'],
        [
          { type: 'grant', deviceId: d1, live: true },
          (r) => r.type === 'grant' && r.deviceId === d1 && r.state !== 'free',
        ],
        [
          { poolId: w.pool.id, state: 'quarantined' },
          (r) => r.poolId === w.pool.id && r.state === 'quarantined',
        ],
        [{ poolId: p2.id, type: 'reservation' }, () => false],
      ]
      for (const [filter, keep] of filters) {
        const expected = sortedById(rows.filter(keep))
        const label = JSON.stringify(filter)
        assert.deepEqual(
          await store.reader.listAllocations(w.tenant.id, filter, { limit: 100 }),
          expected,
          label,
        )
        assert.equal(
          await store.reader.countAllocations(w.tenant.id, filter),
          expected.length,
          label,
        )
        assert.deepEqual(await readAllPages(store, w.tenant.id, filter, 2), expected, label)
      }

      const all = sortedById(rows)
      const third = defined(all[2], 'third row')
      assert.deepEqual(
        await store.reader.listAllocations(w.tenant.id, {}, { after: third.id, limit: 3 }),
        all.slice(3, 6),
      )
      assert.deepEqual(
        await store.reader.listAllocations(w.tenant.id, {}, { limit: 4 }),
        all.slice(0, 4),
      )
      assert.equal(await store.reader.countAllocations(stranger.tenant.id, {}), 1)
    })

    test('deviceUnits: the live units of one device, in id order', async (store) => {
      const w = await seed(store)
      const other = makeDevice(w.tenant, { name: 'other' })
      await store.write((tx) => tx.insertDevice(other))
      const mine = [
        makeUnit(w.pool, '100.64.1.0/28', { deviceId: w.device.id }),
        makeUnit(w.pool, '100.64.1.16/28', { deviceId: w.device.id, state: 'draining' }),
      ]
      const gone = makeUnit(w.pool, '100.64.1.32/28', { deviceId: w.device.id, state: 'free' })
      const theirs = makeUnit(w.pool, '100.64.1.48/28', { deviceId: other.id })
      await store.write((tx) => tx.insertAllocations([...mine, gone, theirs]))
      assert.deepEqual(
        (await store.reader.deviceUnits(w.device.id)).map((r) => r.id),
        mine.map((r) => r.id).sort(),
      )
      assert.deepEqual(await store.reader.deviceUnits('dev_none'), [])
    })

    test('liveUnits and unitsChangedSince', async (store) => {
      const w = await seed(store, 'ipv4', ['10.0.0.0/16'])
      const other = await addPool(store, w.domain, 'ipv4', ['10.1.0.0/16'])
      const v5 = makeUnit(w.pool, '10.0.0.0/24', { changedVersion: 5 })
      const v3a = makeUnit(w.pool, '10.0.1.0/24', { changedVersion: 3, state: 'quarantined' })
      const v1 = makeUnit(w.pool, '10.0.2.0/24', { changedVersion: 1 })
      const v3free = makeUnit(w.pool, '10.0.3.0/24', { changedVersion: 3, state: 'free' })
      const v2 = makeUnit(w.pool, '10.0.4.0/24', { changedVersion: 2, type: 'exclusion' })
      const elsewhere = makeUnit(other, '10.1.0.0/24', { changedVersion: 9 })
      await insertUnits(store, [v5, v3a, v1, v3free, v2, elsewhere])

      assert.deepEqual(
        sortedById(await store.reader.liveUnits(w.pool.id)),
        sortedById([v5, v3a, v1, v2]),
      )
      assert.deepEqual(await store.reader.liveUnits(other.id), [elsewhere])
      // The lean rebuild input: live units only, in address order, three fields each.
      assert.deepEqual(
        await store.reader.liveUnitKeys(w.pool.id),
        [v5, v3a, v1, v2].map((u) => ({ first: u.first, length: u.length, type: u.type })),
      )
      assert.deepEqual(await store.reader.unitsChangedSince(w.pool.id, 2), [
        ...sortedById([v3a, v3free]),
        v5,
      ])
      assert.deepEqual(await store.reader.unitsChangedSince(w.pool.id, 0), [
        v1,
        v2,
        ...sortedById([v3a, v3free]),
        v5,
      ])
      assert.deepEqual(await store.reader.unitsChangedSince(w.pool.id, 5), [])

      await store.write((tx) =>
        tx.updateAllocation({ ...v1, state: 'free', changedVersion: 6, updatedAt: T0 + 1 }),
      )
      assert.deepEqual(await store.reader.unitsChangedSince(w.pool.id, 5), [
        { ...v1, state: 'free', changedVersion: 6, updatedAt: T0 + 1 },
      ])
      assert.equal((await store.reader.liveUnits(w.pool.id)).length, 3)
    })

    test('liveUnitsOverlapping: the unit holding first, then units starting inside, up to limit', async (store) => {
      const w = await seed(store, 'ipv4', ['10.0.0.0/16'])
      const u0 = makeUnit(w.pool, '10.0.0.0/24')
      const u1free = makeUnit(w.pool, '10.0.1.0/24', { state: 'free' })
      const u2a = makeUnit(w.pool, '10.0.2.0/25', { type: 'assignment', state: 'released' })
      const u2b = makeUnit(w.pool, '10.0.2.128/25', { type: 'reservation' })
      const u4 = makeUnit(w.pool, '10.0.4.0/22', { state: 'quarantined' })
      await insertUnits(store, [u4, u2b, u0, u1free, u2a])
      // The same space in another domain, and the same numbers in IPv6, never show.
      const lab = makeDomain(w.tenant, { name: 'lab' })
      const { pool: labPool, ranges } = makePool(lab, 'ipv4', ['10.0.0.0/16'], { name: 'lab' })
      await store.write(async (tx) => {
        await tx.insertDomain(lab)
        await tx.insertPool(labPool, ranges)
        await tx.insertAllocations([makeUnit(labPool, '10.0.3.0/24')])
      })
      const v6 = await addPool(store, w.domain, 'ipv6', ['::a00:0/112'])
      await insertUnits(store, [makeUnit(v6, '::a00:300/120')])

      const a = (s: string) => Prefix.parse(s).first
      const q = (first: bigint, last: bigint, limit = 100) =>
        store.reader.liveUnitsOverlapping(w.domain.id, 'ipv4', first, last, limit)

      assert.deepEqual(await q(a('10.0.0.77'), a('10.0.4.0')), [u0, u2a, u2b, u4])
      assert.deepEqual(await q(a('10.0.0.77'), a('10.0.4.0'), 2), [u0, u2a])
      assert.deepEqual(await q(a('10.0.0.77'), a('10.0.4.0'), 1), [u0])
      assert.deepEqual(await q(a('10.0.0.0'), a('10.0.0.0')), [u0], 'first is the unit start')
      assert.deepEqual(await q(a('10.0.0.255'), a('10.0.2.0')), [u0, u2a], 'ends on a start')
      assert.deepEqual(
        await q(a('10.0.1.5'), a('10.0.3.255')),
        [u2a, u2b],
        'a free unit is no unit',
      )
      assert.deepEqual(await q(a('10.0.2.200'), a('10.0.2.201')), [u2b])
      assert.deepEqual(await q(a('10.0.3.0'), a('10.0.3.255')), [], 'nothing before reaches in')
      assert.deepEqual(await q(a('10.0.5.1'), MAX_V4), [u4])
      assert.deepEqual(await q(0n, MAX_V4, 3), [u0, u2a, u2b])
      assert.deepEqual(await q(a('10.0.8.0'), MAX_V4), [])
    })

    test('liveSpansOverlapping: the units of liveUnitsOverlapping, as spans', async (store) => {
      const w = await seed(store, 'ipv4', ['10.0.0.0/16'])
      const device = w.device
      const units = [
        makeUnit(w.pool, '10.0.0.0/24', { deviceId: device.id }),
        makeUnit(w.pool, '10.0.1.0/24', { state: 'free' }),
        makeUnit(w.pool, '10.0.2.0/25', { type: 'assignment', state: 'released' }),
        makeUnit(w.pool, '10.0.2.128/25', { type: 'reservation' }),
        makeUnit(w.pool, '10.0.4.0/22', { state: 'draining', deviceId: device.id }),
      ]
      await insertUnits(store, units)
      const v6 = await addPool(store, w.domain, 'ipv6', ['::a00:0/112'])
      await insertUnits(store, [makeUnit(v6, '::a00:300/120')])
      const a = (s: string) => Prefix.parse(s).first
      for (const [first, last, limit] of [
        [a('10.0.0.77'), a('10.0.4.0'), 100],
        [a('10.0.0.77'), a('10.0.4.0'), 2],
        [a('10.0.1.5'), a('10.0.3.255'), 100],
        [a('10.0.3.0'), a('10.0.3.255'), 100],
        [0n, MAX_V4, 100],
        [0n, MAX_V4, 3],
      ] as const) {
        const spans = await store.reader.liveSpansOverlapping(
          w.domain.id,
          'ipv4',
          first,
          last,
          limit,
        )
        const full = await store.reader.liveUnitsOverlapping(
          w.domain.id,
          'ipv4',
          first,
          last,
          limit,
        )
        assert.deepEqual(
          spans,
          full.map((u) => ({
            first: u.first,
            last: u.last,
            type: u.type,
            state: u.state,
            deviceId: u.deviceId,
          })),
        )
      }
      const v6unit = Prefix.parse('::a00:300/120')
      assert.deepEqual(
        await store.reader.liveSpansOverlapping(w.domain.id, 'ipv6', 0n, MAX_V6, 9),
        [
          {
            first: v6unit.first,
            last: v6unit.last,
            type: 'grant',
            state: 'active',
            deviceId: null,
          },
        ],
      )
      const macPool = await addPool(store, w.domain, 'mac', ['02:00:00:00:00:00/40'])
      const macUnit = makeUnit(macPool, '02:00:00:00:ff:00/44', { state: 'quarantined' })
      await insertUnits(store, [macUnit])
      assert.deepEqual(
        await store.reader.liveSpansOverlapping(w.domain.id, 'mac', 0n, MAX_MAC, 9),
        [
          {
            first: macUnit.first,
            last: macUnit.last,
            type: 'grant',
            state: 'quarantined',
            deviceId: null,
          },
        ],
      )
      const all = await store.reader.liveSpansOverlapping(w.domain.id, 'ipv4', 0n, MAX_V4, 100)
      assert.deepEqual(
        all.map((u) => [u.type, u.state, u.deviceId]),
        [
          ['grant', 'active', device.id],
          ['assignment', 'released', null],
          ['reservation', 'active', null],
          ['grant', 'draining', device.id],
        ],
      )
    })

    test('liveUsageIn counts live units lying inside, by type and length', async (store) => {
      const w = await seed(store, 'ipv4', ['10.0.0.0/16'])
      await insertUnits(store, [
        makeUnit(w.pool, '10.0.0.0/24'),
        makeUnit(w.pool, '10.0.1.0/24', { state: 'draining' }),
        makeUnit(w.pool, '10.0.2.0/24', { state: 'quarantined' }),
        makeUnit(w.pool, '10.0.3.0/24', { state: 'free' }),
        makeUnit(w.pool, '10.0.4.1/32', { type: 'assignment' }),
        makeUnit(w.pool, '10.0.4.2/32', { type: 'assignment' }),
        makeUnit(w.pool, '10.0.4.3/32', { type: 'assignment', state: 'free' }),
        makeUnit(w.pool, '10.0.5.0/30', { type: 'reservation' }),
        makeUnit(w.pool, '10.0.5.255/32', { type: 'exclusion' }),
        makeUnit(w.pool, '10.0.6.0/25'),
        makeUnit(w.pool, '10.0.8.0/22'),
      ])
      const lab = makeDomain(w.tenant, { name: 'lab' })
      const { pool: labPool, ranges } = makePool(lab, 'ipv4', ['10.0.0.0/16'], { name: 'lab' })
      await store.write(async (tx) => {
        await tx.insertDomain(lab)
        await tx.insertPool(labPool, ranges)
        await tx.insertAllocations([makeUnit(labPool, '10.0.3.0/24')])
      })
      type Usage = { type: AllocationType; length: number; count: number }
      const usage = async (first: string, last: string): Promise<Usage[]> =>
        (
          await store.reader.liveUsageIn(
            w.domain.id,
            'ipv4',
            Prefix.parse(first).first,
            Prefix.parse(last).first,
          )
        ).sort((x, y) => (x.type === y.type ? x.length - y.length : x.type < y.type ? -1 : 1))

      assert.deepEqual(await usage('10.0.0.0', '10.0.7.255'), [
        { type: 'assignment', length: 32, count: 2 },
        { type: 'exclusion', length: 32, count: 1 },
        { type: 'grant', length: 24, count: 3 },
        { type: 'grant', length: 25, count: 1 },
        { type: 'reservation', length: 30, count: 1 },
      ])
      // A unit that only partly lies inside is not counted.
      assert.deepEqual(await usage('10.0.0.128', '10.0.4.1'), [
        { type: 'assignment', length: 32, count: 1 },
        { type: 'grant', length: 24, count: 2 },
      ])
      assert.deepEqual(await usage('10.0.8.0', '10.0.11.255'), [
        { type: 'grant', length: 22, count: 1 },
      ])
      assert.deepEqual(await usage('10.0.8.0', '10.0.11.254'), [])
      assert.deepEqual(
        await store.reader.liveUsageIn(w.domain.id, 'ipv6', 0n, MAX_V6),
        [],
        'other family',
      )
    })

    test('dueUnits: ended lifetimes and quarantines of live units, in id order, up to limit', async (store) => {
      const w = await seed(store, 'ipv4', ['10.0.0.0/16'])
      const now = T0 + 3_600_000
      let n = 0
      const unit = (fields: Partial<AllocationRow>) => makeUnit(w.pool, `10.0.${n++}.0/24`, fields)
      const due = [
        unit({ expiresAt: now - 1 }),
        unit({ expiresAt: now }),
        unit({ state: 'draining', expiresAt: now - 5000 }),
        unit({ state: 'quarantined', quarantineUntil: now, expiresAt: now + 1000 }),
        unit({ state: 'quarantined', quarantineUntil: now - 1 }),
        // Released or expired units are between states: the sweep finishes them at once.
        unit({ state: 'released', releasedAt: now - 1 }),
        unit({ state: 'expired', expiresAt: now + 9999 }),
      ]
      const notDue = [
        unit({ expiresAt: now + 1 }),
        unit({ expiresAt: null }),
        unit({ state: 'draining', expiresAt: null }),
        unit({ state: 'quarantined', quarantineUntil: now + 1, expiresAt: now - 1000 }),
        unit({ state: 'free', expiresAt: now - 1, quarantineUntil: now - 1 }),
        unit({ type: 'reservation' }),
        unit({ type: 'assignment', expiresAt: null }),
      ]
      await insertUnits(store, [...notDue, ...due].reverse())

      const all = await store.reader.dueUnits(now, 100_000)
      assert.deepEqual(all, sortedById(all), 'ordered by id')
      assert.deepEqual(
        all.filter((r) => r.tenantId === w.tenant.id),
        sortedById(due),
      )
      assert.deepEqual(await store.reader.dueUnits(now, 3), all.slice(0, 3))
      const earlier = await store.reader.dueUnits(now - 2, 100_000)
      assert.deepEqual(
        earlier.filter((r) => r.tenantId === w.tenant.id),
        sortedById([due[2], due[5], due[6]].map((r) => defined(r, 'due unit'))),
      )
    })

    test('deleteAllocations by reservation and by pool', async (store) => {
      const w = await seed(store, 'ipv4', ['10.0.0.0/16'])
      const p2 = await addPool(store, w.domain, 'ipv4', ['10.1.0.0/16'])
      const rsv = makeReservation(w.pool, {
        target: { prefix: '10.0.255.0/24' },
        prefixes: ['10.0.255.0/25', '10.0.255.128/25'],
      })
      const held = rsv.prefixes.map((p) =>
        makeUnit(w.pool, p, { type: 'reservation', reservationId: rsv.id }),
      )
      const grants = [
        makeUnit(w.pool, '10.0.0.0/24'),
        makeUnit(w.pool, '10.0.1.0/24', { state: 'free' }),
      ]
      const p2Grants = [makeUnit(p2, '10.1.0.0/24'), makeUnit(p2, '10.1.1.0/24')]
      await store.write(async (tx) => {
        await tx.insertReservation(rsv)
        await tx.insertAllocations([...held, ...grants, ...p2Grants])
      })
      const list = (poolId: string) =>
        store.reader.listAllocations(w.tenant.id, { poolId }, { limit: 100 })

      await store.write((tx) => tx.deleteAllocations({ reservationId: rsv.id }))
      assert.deepEqual(await list(w.pool.id), sortedById(grants))
      assert.deepEqual(await store.reader.getReservation(w.tenant.id, rsv.id), rsv)

      await store.write((tx) => tx.deleteAllocations({ poolId: w.pool.id }))
      assert.deepEqual(await list(w.pool.id), [])
      assert.deepEqual(await list(p2.id), sortedById(p2Grants))
      assert.equal(await store.reader.countAllocations(w.tenant.id, {}), 2)
    })

    // ---- exact values --------------------------------------------------------------------

    test('addresses round-trip exactly at the edges of IPv4, IPv6 and MAC', async (store) => {
      const w = await seed(store, 'ipv4', ['0.0.0.0/0'])
      const v6 = await addPool(store, w.domain, 'ipv6', ['::/0'])
      const mac = await addPool(store, w.domain, 'mac', ['00:00:00:00:00:00/0'])
      const wide = makeDomain(w.tenant, { name: 'wide' })
      const { pool: wide4, ranges: wide4Ranges } = makePool(wide, 'ipv4', ['0.0.0.0/0'])
      const { pool: wide6, ranges: wide6Ranges } = makePool(wide, 'ipv6', ['::/0'])
      await store.write(async (tx) => {
        await tx.insertDomain(wide)
        await tx.insertPool(wide4, wide4Ranges)
        await tx.insertPool(wide6, wide6Ranges)
      })

      const rows = [
        makeUnit(w.pool, '0.0.0.0/32'),
        makeUnit(w.pool, '127.255.255.255/32'),
        makeUnit(w.pool, '128.0.0.0/32'),
        makeUnit(w.pool, '255.255.255.255/32'),
        makeUnit(v6, '::/128'),
        makeUnit(v6, '::ffff:ffff/128'),
        makeUnit(v6, '::1:0:0/128'),
        makeUnit(v6, '7fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128'),
        makeUnit(v6, '8000::/128'),
        makeUnit(v6, 'ff00::/9'),
        makeUnit(v6, 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128'),
        makeUnit(mac, '00:00:00:00:00:00/48'),
        makeUnit(mac, '00:11:22:00:00:00/24'),
        makeUnit(mac, 'ff:ff:ff:ff:ff:ff/48'),
        makeUnit(wide4, '0.0.0.0/0'),
        makeUnit(wide6, '::/0'),
      ]
      await insertUnits(store, rows)
      for (const row of rows) {
        assert.deepEqual(await store.reader.getAllocation(w.tenant.id, row.id), row, row.prefix)
      }
      const v4Edge = defined(rows[3], 'ipv4 max')
      assert.equal(v4Edge.first, MAX_V4)
      const wideRow = defined(rows.at(-1), '::/0')
      assert.equal(wideRow.last, MAX_V6)
      assert.equal(defined(rows[13], 'mac max').last, MAX_MAC)

      // Byte order is numeric order, across the high bit.
      const inV4 = await store.reader.liveUnitsOverlapping(w.domain.id, 'ipv4', 0n, MAX_V4, 10)
      assert.deepEqual(inV4, rows.slice(0, 4))
      const inV6 = await store.reader.liveUnitsOverlapping(w.domain.id, 'ipv6', 0n, MAX_V6, 10)
      assert.deepEqual(inV6, rows.slice(4, 11))
      const inMac = await store.reader.liveUnitsOverlapping(w.domain.id, 'mac', 0n, MAX_MAC, 10)
      assert.deepEqual(inMac, rows.slice(11, 14))
      assert.deepEqual(
        await store.reader.liveUnitsOverlapping(wide.id, 'ipv6', MAX_V6, MAX_V6, 10),
        [wideRow],
      )
      const ff = Prefix.parse('ff00::/9')
      assert.deepEqual(
        await store.reader.liveUnitsOverlapping(w.domain.id, 'ipv6', ff.first + 1n, ff.last, 10),
        [rows[9]],
      )

      // Pool ranges and blocks keep the same values.
      assert.deepEqual(await store.reader.poolRangesOverlapping(wide.id, 'ipv6', MAX_V6, MAX_V6), [
        { poolId: wide6.id, first: 0n, last: MAX_V6 },
      ])
      assert.deepEqual(await store.reader.poolRangesOverlapping(wide.id, 'ipv4', 0n, 0n), [
        { poolId: wide4.id, first: 0n, last: MAX_V4 },
      ])
      const top = makeBlock(wide, 'ffff::/16')
      const bottom = makeBlock(wide, '0.0.0.0/8', { reserved: true })
      await store.write(async (tx) => {
        await tx.insertBlock(top, Prefix.parse(top.space).first, MAX_V6)
        await tx.insertBlock(bottom, 0n, Prefix.parse(bottom.space).last)
      })
      assert.deepEqual(await store.reader.blocksOverlapping(wide.id, 'ipv6', MAX_V6, MAX_V6), [top])
      assert.deepEqual(
        await store.reader.blocksOverlapping(wide.id, 'ipv6', 0n, MAX_V6 - 2n ** 112n),
        [],
      )
      assert.deepEqual(await store.reader.blocksOverlapping(wide.id, 'ipv4', 0n, 0n), [bottom])
    })

    test('JSON fields round-trip', async (store) => {
      const tricky = 'quotes " and \' backslash \\ newline \n tab \t unicode café ✓ 🌍 end'
      // NUL only where the value is JSON: JSON text escapes it; PostgreSQL TEXT cannot hold it.
      const nul = `${tricky} \u0000 \u001f`
      const tenant = makeTenant()
      const domain = makeDomain(tenant, { description: tricky })
      const { pool, ranges } = makePool(domain, 'ipv4', ['192.0.2.0/24'], {
        policy: {
          unit: { min: 24, default: 28, max: 32 },
          strategy: 'adjacent',
          highWatermark: 0.95,
          lowWatermark: 0.05,
          holdDown: 0,
          lifetime: 315_360_000,
          quarantine: 1,
          leadTime: 0,
          minUnits: 3,
          reportInterval: 5,
          staleAfter: 17,
          drain: 'fast',
        },
        selectors: {
          function: ['bng', 'cgn'],
          segmentType: ['point-to-point'],
          'custom.tier': ['gold — 1', nul],
        },
        tags: ['a', '', tricky],
        description: tricky,
      })
      const device = makeDevice(tenant, {
        attributes: { custom: { note: tricky, empty: '' }, segmentId: 'vxlan-10001' },
        description: tricky,
      })
      const block = makeBlock(domain, '192.0.2.0/24', {
        source: { rir: 'private', originAs: 0, notes: tricky },
        tags: [tricky],
      })
      const reservation = makeReservation(pool, {
        target: { pattern: { every: 28, offsets: [0, 1, -1] } },
        prefixes: [],
        description: tricky,
      })
      const unit = makeUnit(pool, '192.0.2.16/28', {
        type: 'assignment',
        requestor: {
          function: 'end-point',
          formFactor: 'virtual',
          plane: 'control',
          segmentId: '42',
          segmentType: 'loopback',
          scope: 'vpn',
          custom: { who: nul },
        },
        hostname: 'vm-7.example.net',
        description: tricky,
      })
      await store.write(async (tx) => {
        await tx.insertTenant(tenant)
        await tx.insertDomain(domain)
        await tx.insertPool(pool, ranges)
        await tx.insertDevice(device)
        await tx.insertBlock(block, ranges[0]?.first ?? 0n, ranges[0]?.last ?? 0n)
        await tx.insertReservation(reservation)
        await tx.insertAllocations([unit])
      })
      assert.deepEqual(await store.reader.getDomain(tenant.id, domain.id), domain)
      assert.deepEqual(await store.reader.getPool(tenant.id, pool.id), pool)
      assert.deepEqual(await store.reader.getDevice(tenant.id, device.id), device)
      assert.deepEqual(await store.reader.getBlock(tenant.id, block.id), block)
      assert.deepEqual(await store.reader.getReservation(tenant.id, reservation.id), reservation)
      assert.deepEqual(await store.reader.getAllocation(tenant.id, unit.id), unit)

      const values: unknown[] = [
        { prefix: '192.0.2.16/28', nested: { list: [1, 'two', null, true, 2.5, -0.125] } },
        [nul, { '': '' }],
        'plain text',
        0,
        false,
        1e21,
      ]
      const events = await appendChained(
        store,
        values.map((v, i) => ({
          tenantId: tenant.id,
          objectId: unit.id,
          objectType: 'assignment',
          action: 'assignment.update',
          before: i === 0 ? null : values[i - 1],
          after: v,
          reason: i === 0 ? tricky : null,
          requestId: i === 1 ? 'req-1' : null,
        })),
      )
      const stored = await store.reader.listEvents({ tenantId: tenant.id }, { limit: 100 })
      assert.deepEqual(stored, events)
    })

    // ---- events --------------------------------------------------------------------------

    test('finishBatch writes rows, pool versions and events at once, guarded by the head', async (store) => {
      const w = await seed(store, 'ipv4', ['100.96.0.0/24'])
      const head = await store.reader.chainHead()
      const rows = [
        makeUnit(w.pool, '100.96.0.0/30', { changedVersion: 4 }),
        makeUnit(w.pool, '100.96.0.4/30', { changedVersion: 4 }),
      ]
      const events = chainAfter(head, [
        {
          tenantId: w.tenant.id,
          action: 'grant.create',
          objectType: 'grant',
          objectId: rows[0]?.id ?? null,
        },
        {
          tenantId: w.tenant.id,
          action: 'grant.create',
          objectType: 'grant',
          objectId: rows[1]?.id ?? null,
        },
      ])
      await store.write((tx) =>
        tx.finishBatch({
          rows,
          versions: [{ poolId: w.pool.id, version: { version: 4, spaceVersion: 2 } }],
          events,
          head,
        }),
      )
      assert.deepEqual(sortedById(await store.reader.liveUnits(w.pool.id)), sortedById(rows))
      assert.deepEqual(await store.reader.poolVersion(w.pool.id), { version: 4, spaceVersion: 2 })
      const last = defined(events.at(-1), 'last event')
      assert.deepEqual(await store.reader.chainHead(), { seq: last.seq, hash: last.hash })
      assert.deepEqual(await store.reader.scanEvents(head.seq, 10), events)

      // A writer whose head is stale (another appended meanwhile) is refused and changes nothing.
      const stale = { seq: last.seq, hash: 'f'.repeat(64) }
      const more = [makeUnit(w.pool, '100.96.0.8/30', { changedVersion: 5 })]
      await assert.rejects(
        store.write((tx) =>
          tx.finishBatch({
            rows: more,
            versions: [{ poolId: w.pool.id, version: { version: 5, spaceVersion: 2 } }],
            events: chainAfter(stale, [{ action: 'grant.create' }]),
            head: stale,
          }),
        ),
        (e: unknown) => e instanceof ChainMovedError,
      )
      assert.equal((await store.reader.liveUnits(w.pool.id)).length, 2)
      assert.deepEqual(await store.reader.poolVersion(w.pool.id), { version: 4, spaceVersion: 2 })
      assert.deepEqual(await store.reader.chainHead(), { seq: last.seq, hash: last.hash })

      // Nothing to write is fine.
      await store.write((tx) =>
        tx.finishBatch({
          rows: [],
          versions: [],
          events: [],
          head: { seq: last.seq, hash: last.hash },
        }),
      )
      assert.deepEqual(await store.reader.chainHead(), { seq: last.seq, hash: last.hash })
    })

    test('appendEvents moves the chain head; scanEvents pages in seq order', async (store) => {
      const head = await store.reader.chainHead()
      const tenant = makeTenant()
      await store.write((tx) => tx.insertTenant(tenant))
      const first = await appendChained(store, [
        { tenantId: null, action: 'tenant.create', objectType: 'tenant', objectId: tenant.id },
        { tenantId: tenant.id, action: 'domain.create', objectType: 'domain', after: { n: 1 } },
        { tenantId: tenant.id, action: 'pool.create', reason: 'seeding' },
      ])
      const last1 = defined(first.at(-1), 'last event')
      assert.deepEqual(await store.reader.chainHead(), { seq: head.seq + 3, hash: last1.hash })
      assert.equal(defined(first[0], 'first event').prevHash, head.hash)

      await store.write((tx) => tx.appendEvents([]))
      assert.deepEqual(await store.reader.chainHead(), { seq: last1.seq, hash: last1.hash })

      const second = await appendChained(store, [
        { tenantId: tenant.id, action: 'grant.create', at: T0 + 1, requestId: 'req-9' },
        { tenantId: tenant.id, action: 'grant.release', at: T0 + 2, before: { s: 'active' } },
      ])
      const last2 = defined(second.at(-1), 'last event')
      assert.deepEqual(await store.reader.chainHead(), { seq: head.seq + 5, hash: last2.hash })

      const ours = [...first, ...second]
      assert.deepEqual(await store.reader.scanEvents(head.seq, 2), ours.slice(0, 2))
      assert.deepEqual(await store.reader.scanEvents(head.seq + 2, 2), ours.slice(2, 4))
      assert.deepEqual(await store.reader.scanEvents(head.seq + 4, 2), ours.slice(4))
      assert.deepEqual(await store.reader.scanEvents(head.seq + 5, 2), [])
      const fromStart = await store.reader.scanEvents(0, 100_000)
      assert.deepEqual(
        fromStart.map((e) => e.seq),
        Array.from({ length: head.seq + 5 }, (_, i) => i + 1),
      )

      // A seq that is already taken is refused, and the head stays.
      const clash = chainAfter({ seq: head.seq, hash: head.hash }, [{ action: 'x.y' }])
      await assert.rejects(store.write((tx) => tx.appendEvents(clash)))
      assert.deepEqual(await store.reader.chainHead(), { seq: last2.seq, hash: last2.hash })

      // Many events in one call (PostgreSQL inserts them in chunks).
      const bulk = await appendChained(
        store,
        Array.from({ length: 450 }, (_, i) => ({
          tenantId: tenant.id,
          action: 'grant.create',
          at: T0 + 10 + i,
          after: { i },
        })),
      )
      const lastBulk = defined(bulk.at(-1), 'last event')
      assert.deepEqual(await store.reader.chainHead(), { seq: head.seq + 455, hash: lastBulk.hash })
      assert.deepEqual(await store.reader.scanEvents(head.seq + 5, 1000), bulk)

      const verified = await verifyChain(store.reader)
      assert.equal(verified.ok, true, JSON.stringify(verified.broken))
      assert.equal(verified.checked, head.seq + 455)
    })

    test('listEvents filters by tenant, object, type, action, actor and time; pages by seq', async (store) => {
      const a = makeTenant()
      const b = makeTenant()
      await store.write(async (tx) => {
        await tx.insertTenant(a)
        await tx.insertTenant(b)
      })
      const root = `token:${newId('token')}`
      const actA = `token:${newId('token')}`
      const actB = `token:${newId('token')}`
      const p1 = newId('pool')
      const p2 = newId('pool')
      const g1 = newId('grant')
      const events = await appendChained(store, [
        { tenantId: a.id, at: T0 + 1000, actor: actA, action: 'pool.create', objectId: p1 },
        { tenantId: a.id, at: T0 + 2000, actor: actA, action: 'pool.update', objectId: p1 },
        { tenantId: b.id, at: T0 + 2000, actor: actB, action: 'pool.create', objectId: p2 },
        {
          tenantId: null,
          at: T0 + 3000,
          actor: root,
          action: 'tenant.create',
          objectType: 'tenant',
          objectId: a.id,
        },
        {
          tenantId: a.id,
          at: T0 + 3000,
          actor: root,
          action: 'grant.create',
          objectType: 'grant',
          objectId: g1,
        },
        {
          tenantId: a.id,
          at: T0 + 4000,
          actor: 'device:bng-1',
          action: 'grant.release',
          objectType: 'grant',
          objectId: g1,
        },
        {
          tenantId: null,
          at: T0 + 5000,
          actor: root,
          action: 'tenant.create',
          objectType: 'tenant',
          objectId: b.id,
        },
      ])
      assert.equal(events.length, 7)
      const [e1, e2, e3, e4, e5, e6, e7] = events as [
        CasmEvent,
        CasmEvent,
        CasmEvent,
        CasmEvent,
        CasmEvent,
        CasmEvent,
        CasmEvent,
      ]
      const list = (filter: EventFilter, limit = 100, after?: string) =>
        store.reader.listEvents(filter, after === undefined ? { limit } : { after, limit })

      assert.deepEqual(await list({ tenantId: a.id }), [e1, e2, e5, e6])
      assert.deepEqual(await list({ tenantId: b.id }), [e3])
      assert.deepEqual(await list({ tenantId: null, actor: root }), [e4, e7])
      const rootEvents = await list({ tenantId: null }, 100_000)
      assert.ok(rootEvents.every((e) => e.tenantId === null))
      assert.ok(rootEvents.some((e) => e.id === e4.id) && rootEvents.some((e) => e.id === e7.id))
      assert.deepEqual(await list({ objectId: p1 }), [e1, e2])
      assert.deepEqual(await list({ objectId: g1, action: 'grant.release' }), [e6])
      assert.deepEqual(await list({ tenantId: a.id, objectType: 'grant' }), [e5, e6])
      assert.deepEqual(await list({ tenantId: a.id, objectType: 'pool' }), [e1, e2])
      assert.deepEqual(await list({ tenantId: a.id, action: 'pool.update' }), [e2])
      assert.deepEqual(await list({ actor: root }), [e4, e5, e7])
      assert.deepEqual(await list({ actor: actA }), [e1, e2])
      assert.deepEqual(await list({ tenantId: a.id, since: T0 + 2000, until: T0 + 4000 }), [e2, e5])
      assert.deepEqual(await list({ tenantId: a.id, since: T0 + 3000 }), [e5, e6])
      assert.deepEqual(await list({ tenantId: a.id, until: T0 + 2000 }), [e1])
      assert.deepEqual(await list({ actor: root, since: T0 + 3001, until: T0 + 5001 }), [e7])

      // The cursor is the seq of the last event seen.
      assert.deepEqual(await list({ tenantId: a.id }, 3), [e1, e2, e5])
      assert.deepEqual(await list({ tenantId: a.id }, 3, String(e5.seq)), [e6])
      assert.deepEqual(await list({ tenantId: a.id }, 3, String(e6.seq)), [])
      assert.deepEqual(await list({ actor: root }, 1, String(e4.seq)), [e5])
      const unfiltered = await list({}, 3, String(e1.seq - 1))
      assert.deepEqual(unfiltered, [e1, e2, e3])
    })

    // ---- idempotency ---------------------------------------------------------------------

    test('idempotency rows: insert, get, one per tenant and key; prune removes only older rows', async (store) => {
      const tenant = makeTenant()
      const other = makeTenant()
      const row = (tenantId: string, key: string, createdAt: number) => ({
        tenantId,
        key,
        requestHash: `sha256:${key}`,
        status: key === 'k3' ? 409 : 201,
        body: JSON.stringify({ key, note: 'café ✓' }),
        createdAt,
      })
      // Far older than anything else the suite writes, so the counts are exact.
      const rows = [
        row(tenant.id, 'k1', 1000),
        row(tenant.id, 'k2', 2000),
        row(tenant.id, 'k3', 3000),
        row(other.id, 'k1', 1500),
      ]
      await store.write(async (tx) => {
        await tx.insertTenant(tenant)
        await tx.insertTenant(other)
        for (const r of rows) await tx.insertIdempotency(r)
      })
      for (const r of rows)
        assert.deepEqual(await store.reader.getIdempotency(r.tenantId, r.key), r)
      assert.equal(await store.reader.getIdempotency(tenant.id, 'k4'), undefined)
      await assert.rejects(store.write((tx) => tx.insertIdempotency(row(tenant.id, 'k1', 4000))))

      assert.equal(await store.write((tx) => tx.pruneIdempotency(1000)), 0)
      assert.equal(await store.write((tx) => tx.pruneIdempotency(2000)), 2)
      assert.equal(await store.reader.getIdempotency(tenant.id, 'k1'), undefined)
      assert.equal(await store.reader.getIdempotency(other.id, 'k1'), undefined)
      assert.deepEqual(await store.reader.getIdempotency(tenant.id, 'k2'), rows[1])
      assert.equal(await store.write((tx) => tx.pruneIdempotency(3001)), 2)
      assert.equal(await store.reader.getIdempotency(tenant.id, 'k3'), undefined)
      assert.equal(await store.write((tx) => tx.pruneIdempotency(3001)), 0)

      // By key prefix: only agent answers; LIKE's wildcards in the prefix are literal.
      await store.write(async (tx) => {
        await tx.insertIdempotency(row(tenant.id, 'agent:d1:t1', 100))
        await tx.insertIdempotency(row(tenant.id, 'agentXd1', 100))
        await tx.insertIdempotency(row(tenant.id, 'a_%:x', 100))
        await tx.insertIdempotency(row(tenant.id, 'other', 100))
      })
      assert.equal(await store.write((tx) => tx.pruneIdempotency(101, 'agent:')), 1)
      assert.equal(await store.write((tx) => tx.pruneIdempotency(101, 'a_%')), 1)
      assert.ok(await store.reader.getIdempotency(tenant.id, 'agentXd1'))
      assert.ok(await store.reader.getIdempotency(tenant.id, 'other'))
      assert.equal(await store.write((tx) => tx.pruneIdempotency(101)), 2)
    })

    // ---- transactions --------------------------------------------------------------------

    test('a write whose function throws leaves nothing behind', async (store) => {
      const head = await store.reader.chainHead()
      const tenant = makeTenant()
      const domain = makeDomain(tenant)
      const { pool, ranges } = makePool(domain, 'ipv4', ['100.64.0.0/16'])
      const unit = makeUnit(pool, '100.64.0.0/24')
      const boom = new Error('boom')
      await assert.rejects(
        store.write(async (tx) => {
          await tx.insertTenant(tenant)
          await tx.insertDomain(domain)
          await tx.insertPool(pool, ranges)
          await tx.insertAllocations([unit])
          await tx.setPoolVersion(pool.id, { version: 1, spaceVersion: 1 })
          await tx.appendEvents(chainAfter(await tx.chainHead(), [{ tenantId: tenant.id }]))
          await tx.insertIdempotency({
            tenantId: tenant.id,
            key: 'k',
            requestHash: 'h',
            status: 201,
            body: '{}',
            createdAt: T0,
          })
          assert.deepEqual(await tx.getAllocation(tenant.id, unit.id), unit)
          throw boom
        }),
        (e: unknown) => e === boom,
      )
      assert.equal(await store.reader.getTenant(tenant.id), undefined)
      assert.equal(await store.reader.getPool(tenant.id, pool.id), undefined)
      assert.equal(await store.reader.getAllocation(tenant.id, unit.id), undefined)
      assert.deepEqual(await store.reader.poolRangesOverlapping(domain.id, 'ipv4', 0n, MAX_V4), [])
      assert.equal(await store.reader.getIdempotency(tenant.id, 'k'), undefined)
      assert.deepEqual(await store.reader.chainHead(), head)
      assert.deepEqual(await store.reader.scanEvents(head.seq, 10), [])

      // A failing statement rolls back the statements before it too.
      await assert.rejects(
        store.write(async (tx) => {
          await tx.insertTenant(tenant)
          await tx.insertDomain(domain)
          await tx.insertDomain({ ...domain, id: newId('domain') }) // same name: refused
        }),
      )
      assert.equal(await store.reader.getTenant(tenant.id), undefined)
      assert.equal(await store.reader.getDomain(tenant.id, domain.id), undefined)

      // And the store still writes.
      assert.equal(
        await store.write(async (tx) => {
          await tx.insertTenant(tenant)
          return 'done'
        }),
        'done',
      )
      assert.deepEqual(await store.reader.getTenant(tenant.id), tenant)
    })

    test('savepoint rolls back only its own writes and rethrows', async (store) => {
      const kept = makeTenant()
      const undone = makeTenant()
      const inner = makeTenant()
      const afterwards = makeTenant()
      const boom = new Error('savepoint boom')
      const result = await store.write(async (tx) => {
        await tx.insertTenant(kept)
        await assert.rejects(
          tx.savepoint(async () => {
            await tx.insertTenant(undone)
            assert.deepEqual(await tx.getTenant(undone.id), undone)
            throw boom
          }),
          (e: unknown) => e === boom,
        )
        assert.equal(await tx.getTenant(undone.id), undefined)
        assert.deepEqual(await tx.getTenant(kept.id), kept)

        // A statement the database refuses inside a savepoint leaves the transaction usable.
        await assert.rejects(
          tx.savepoint(async () => {
            await tx.insertTenant(inner)
            await tx.insertTenant(makeTenant({ name: kept.name }))
          }),
        )
        assert.equal(await tx.getTenant(inner.id), undefined)

        const value = await tx.savepoint(async () => {
          await tx.insertTenant(afterwards)
          return 42
        })
        assert.equal(value, 42)
        return 'committed'
      })
      assert.equal(result, 'committed')
      assert.deepEqual(await store.reader.getTenant(kept.id), kept)
      assert.deepEqual(await store.reader.getTenant(afterwards.id), afterwards)
      assert.equal(await store.reader.getTenant(undone.id), undefined)
      assert.equal(await store.reader.getTenant(inner.id), undefined)
    })

    test('nested savepoints undo exactly their own level', async (store) => {
      const all = Array.from({ length: 6 }, () => makeTenant())
      const [a, b, c, d, e, f] = all as [Tenant, Tenant, Tenant, Tenant, Tenant, Tenant]
      const innerBoom = new Error('inner')
      const outerBoom = new Error('outer')
      await store.write(async (tx) => {
        await tx.insertTenant(a)
        // The inner savepoint fails; the outer one catches it and goes on.
        await tx.savepoint(async () => {
          await tx.insertTenant(b)
          await assert.rejects(
            tx.savepoint(async () => {
              await tx.insertTenant(c)
              throw innerBoom
            }),
            (x: unknown) => x === innerBoom,
          )
          await tx.insertTenant(d)
        })
        // The inner savepoint succeeds, the outer one fails: both are undone.
        await assert.rejects(
          tx.savepoint(async () => {
            await tx.savepoint(async () => {
              await tx.insertTenant(e)
              await tx.savepoint(() => tx.insertTenant(f))
            })
            assert.deepEqual(await tx.getTenant(f.id), f)
            throw outerBoom
          }),
          (x: unknown) => x === outerBoom,
        )
      })
      const present = async (t: Tenant) => (await store.reader.getTenant(t.id)) !== undefined
      assert.deepEqual(await Promise.all(all.map(present)), [true, true, false, true, false, false])
    })

    test('concurrent writes never interleave', async (store) => {
      const w = await seed(store)
      const log: string[] = []
      const bump = (name: string, fail = false) =>
        store.write(async (tx) => {
          log.push(`${name}:start`)
          const v = defined(await tx.poolVersion(w.pool.id), 'pool version')
          await sleep(30)
          await tx.setPoolVersion(w.pool.id, {
            version: v.version + 1,
            spaceVersion: v.spaceVersion,
          })
          await sleep(5)
          log.push(`${name}:end`)
          if (fail) throw new Error(`${name} fails`)
          return v.version + 1
        })
      const results = await Promise.allSettled([bump('a'), bump('b', true), bump('c'), bump('d')])
      assert.deepEqual(
        results.map((r) => r.status),
        ['fulfilled', 'rejected', 'fulfilled', 'fulfilled'],
      )
      assert.deepEqual(await store.reader.poolVersion(w.pool.id), { version: 3, spaceVersion: 0 })
      const values = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []))
      assert.deepEqual(
        [...values].sort((x, y) => x - y),
        [1, 2, 3],
      )
      assert.equal(log.length, 8)
      for (let i = 0; i < log.length; i += 2) {
        const startOf = defined(log[i], 'start').split(':')
        assert.deepEqual(
          [startOf[1], log[i + 1]],
          ['start', `${startOf[0] ?? ''}:end`],
          log.join(' '),
        )
      }
    })

    test('store.reader sees committed data only', async (store) => {
      const w = await seed(store)
      const tenant = makeTenant()
      const renamed: Domain = { ...w.domain, name: 'renamed', updatedAt: T0 + 5 }
      const unit = makeUnit(w.pool, '100.64.0.0/24')
      await store.write(async (tx) => {
        await tx.insertTenant(tenant)
        await tx.updateDomain(renamed)
        await tx.insertAllocations([unit])
        await tx.setPoolVersion(w.pool.id, { version: 7, spaceVersion: 1 })
        // The transaction sees its own writes ...
        assert.deepEqual(await tx.getTenant(tenant.id), tenant)
        assert.deepEqual(await tx.getDomain(w.tenant.id, w.domain.id), renamed)
        assert.deepEqual(await tx.liveUnits(w.pool.id), [unit])
        // ... the reader does not, until the commit.
        assert.equal(await store.reader.getTenant(tenant.id), undefined)
        assert.ok(!(await store.reader.listTenants()).some((t) => t.id === tenant.id))
        assert.deepEqual(await store.reader.getDomain(w.tenant.id, w.domain.id), w.domain)
        assert.deepEqual(await store.reader.liveUnits(w.pool.id), [])
        assert.equal(await store.reader.countAllocations(w.tenant.id, {}), 0)
        assert.deepEqual(await store.reader.poolVersion(w.pool.id), { version: 0, spaceVersion: 0 })
      })
      assert.deepEqual(await store.reader.getTenant(tenant.id), tenant)
      assert.deepEqual(await store.reader.getDomain(w.tenant.id, w.domain.id), renamed)
      assert.deepEqual(await store.reader.liveUnits(w.pool.id), [unit])
      assert.deepEqual(await store.reader.poolVersion(w.pool.id), { version: 7, spaceVersion: 1 })
    })

    // ---- PostgreSQL's overlap guard ------------------------------------------------------

    test('postgres: the database refuses overlapping live units of one domain and family', async (store, t) => {
      if (store.kind !== 'postgres') {
        t.skip('only the PostgreSQL schema guards overlap (EXCLUDE USING gist)')
        return
      }
      const w = await seed(store, 'ipv4', ['10.0.0.0/16'])
      const v6 = await addPool(store, w.domain, 'ipv6', ['::/0'])
      const mac = await addPool(store, w.domain, 'mac', ['00:00:00:00:00:00/0'])
      const lab = makeDomain(w.tenant, { name: 'lab' })
      const { pool: labPool, ranges } = makePool(lab, 'ipv4', ['10.0.0.0/16'], { name: 'lab' })
      await store.write(async (tx) => {
        await tx.insertDomain(lab)
        await tx.insertPool(labPool, ranges)
      })
      const refused = (rows: AllocationRow[]) =>
        assert.rejects(insertUnits(store, rows), isExclusionViolation)

      const base = makeUnit(w.pool, '10.0.0.0/24')
      await insertUnits(store, [base])
      await refused([makeUnit(w.pool, '10.0.0.0/24')])
      await refused([makeUnit(w.pool, '10.0.0.64/26', { state: 'quarantined' })])
      await refused([makeUnit(w.pool, '10.0.0.0/23', { type: 'reservation' })])
      await refused([makeUnit(w.pool, '10.0.0.255/32', { type: 'assignment', state: 'released' })])
      // Two rows of one statement overlapping each other, next to the existing one.
      await refused([makeUnit(w.pool, '10.0.2.0/24'), makeUnit(w.pool, '10.0.2.128/25')])

      const accepted = [
        makeUnit(w.pool, '10.0.1.0/24'), // touching
        makeUnit(w.pool, '10.0.0.0/25', { state: 'free' }), // free space holds nothing
        makeUnit(w.pool, '10.0.0.0/24', { state: 'free' }),
        makeUnit(labPool, '10.0.0.0/24'), // another domain
        makeUnit(v6, '::a00:0/120'), // the same numbers in IPv6
      ]
      for (const row of accepted) await insertUnits(store, [row])

      // A free unit cannot come back to life over a live one.
      const freeRow = defined(accepted[2], 'free row')
      await assert.rejects(
        store.write((tx) => tx.updateAllocation({ ...freeRow, state: 'active' })),
        isExclusionViolation,
      )
      // After the live one is freed, it can.
      await store.write(async (tx) => {
        await tx.updateAllocation({ ...base, state: 'free' })
        await tx.updateAllocation({ ...freeRow, state: 'active' })
      })

      // MAC units are guarded too, and kept apart from IPv6 at the same numbers by the family.
      const oui = makeUnit(mac, '00:11:22:00:00:00/24')
      await insertUnits(store, [oui])
      await assert.rejects(
        insertUnits(store, [makeUnit(mac, '00:11:22:33:44:00/40')]),
        isExclusionViolation,
      )
      await assert.rejects(
        insertUnits(store, [makeUnit(mac, '00:11:22:ff:ff:ff/48', { type: 'exclusion' })]),
        isExclusionViolation,
      )
      const macOk = [
        makeUnit(mac, '00:11:23:00:00:00/24'),
        makeUnit(mac, '00:11:22:33:44:00/40', { state: 'free' }),
        makeUnit(v6, '::11:2200:0/104'), // where the OUI maps to, but IPv6
      ]
      for (const row of macOk) await insertUnits(store, [row])

      const live = await store.reader.listAllocations(w.tenant.id, { live: true }, { limit: 100 })
      assert.deepEqual(
        live.map((r) => `${r.domainId === lab.id ? 'lab' : 'main'} ${r.family} ${r.prefix}`).sort(),
        [
          'lab ipv4 10.0.0.0/24',
          'main ipv4 10.0.0.0/24',
          'main ipv4 10.0.1.0/24',
          'main ipv6 ::11:2200:0/104',
          'main ipv6 ::a00:0/120',
          'main mac 00:11:22:00:00:00/24',
          'main mac 00:11:23:00:00:00/24',
        ],
      )
    })
  })
}
