/**
 * A store preloaded with many grants, written straight into the store with their hash-chained
 * events: the fixture of the API benchmark and of the console's big-inventory tests.
 *
 * @module
 */
import { randomUUID } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { PrefixAllocator } from '../../src/alloc/prefix-allocator.js'
import { grantView } from '../../src/coordinator/allocations.js'
import { systemCaller } from '../../src/coordinator/caller.js'
import { Coordinator } from '../../src/coordinator/coordinator.js'
import { hashEvent } from '../../src/coordinator/event-chain.js'
import { newId } from '../../src/coordinator/ids.js'
import {
  createBlock,
  createDevice,
  createDomain,
  createPool,
} from '../../src/coordinator/inventory.js'
import type { AllocationRow } from '../../src/coordinator/store.js'
import type { CasmEvent } from '../../src/domain/model.js'
import { Prefix } from '../../src/ip/index.js'
import { openStore } from '../../src/store/open-store.js'

/** What {@link preloadGrants} stored. */
export interface GrantFixture {
  readonly domain: string
  /** The block holding the pool, e.g. `10.0.0.0/8`. */
  readonly block: string
  readonly pool: string
  readonly devices: number
  readonly grants: number
}

/**
 * Writes a fresh data directory holding `count` active /30 grants (with their hash-chained
 * `grant.create` events) of a pool over `10.0.0.0/8`, spread over `devices` devices, straight
 * into the store (as the API benchmark does): seconds instead of `count` requests. Writes the
 * admin token as `casm serve` would.
 */
export async function preloadGrants(
  dataDir: string,
  count: number,
  devices = 100,
  o: {
    /** PostgreSQL instead of SQLite in `dataDir`. */
    readonly databaseUrl?: string | undefined
    /** The reason written into the events. */
    readonly reason?: string
    /** Told after every 100,000 grants. */
    readonly onProgress?: (stored: number) => void
  } = {},
): Promise<GrantFixture> {
  const fixture = {
    domain: 'metro',
    block: '10.0.0.0/8',
    pool: 'bng',
    devices,
    grants: count,
  } as const
  const store = openStore({ dataDir, databaseUrl: o.databaseUrl })
  const { coordinator: co, bootstrapToken } = await Coordinator.open(store, { sweepIntervalMs: 0 })
  if (bootstrapToken === undefined) throw new Error('the fixture store was not empty')
  writeFileSync(join(dataDir, 'admin-token'), bootstrapToken.secret, { mode: 0o600 })
  const tenant = await co.reader.getTenant('default')
  if (tenant === undefined) throw new Error('no default tenant')
  const c = systemCaller(tenant.id)
  await co.run(createDomain(c, { name: fixture.domain }))
  await co.run(createBlock(c, { domain: fixture.domain, space: fixture.block }))
  const pool = await co.run(
    createPool(c, {
      name: fixture.pool,
      domain: fixture.domain,
      kind: 'subscriber',
      space: [fixture.block],
      policy: { unit: { min: 24, default: 30, max: 32 }, quarantine: 0 },
    }),
  )
  const deviceIds: string[] = []
  for (let i = 0; i < devices; i++)
    deviceIds.push((await co.run(createDevice(c, { name: `bng-${i}` }))).id)
  await co.close()

  const raw = openStore({ dataDir, databaseUrl: o.databaseUrl })
  const allocator = PrefixAllocator.create('ipv4', [Prefix.parse(fixture.block)])
  const chunk = 10_000
  for (let done = 0; done < count; done += chunk) {
    await raw.write(async (tx) => {
      const head = await tx.chainHead()
      let seq = head.seq
      let prevHash = head.hash
      const rows: AllocationRow[] = []
      const events: CasmEvent[] = []
      const at = Date.now()
      for (let i = done; i < Math.min(count, done + chunk); i++) {
        const p = allocator.allocate(30)
        const row: AllocationRow = {
          id: newId('grant'),
          tenantId: tenant.id,
          domainId: pool.domainId,
          poolId: pool.id,
          type: 'grant',
          family: 'ipv4',
          prefix: p.toString(),
          first: p.first,
          last: p.last,
          length: 30,
          state: 'active',
          deviceId: deviceIds[i % devices]!,
          reservationId: null,
          requestor: null,
          hostname: '',
          description: '',
          createdAt: at,
          updatedAt: at,
          expiresAt: null,
          releasedAt: null,
          quarantineUntil: null,
          changedVersion: 0,
        }
        rows.push(row)
        seq++
        const draft = {
          seq,
          id: `evt_${randomUUID().replace(/-/g, '')}`,
          tenantId: tenant.id,
          at,
          actor: 'system',
          action: 'grant.create',
          objectType: 'grant',
          objectId: row.id,
          before: null,
          after: grantView(row),
          reason: o.reason ?? 'test fixture',
          requestId: null,
          prevHash,
        }
        const e: CasmEvent = { ...draft, hash: hashEvent(draft) }
        prevHash = e.hash
        events.push(e)
      }
      await tx.insertAllocations(rows)
      await tx.appendEvents(events)
    })
    if ((done + chunk) % 100_000 === 0) o.onProgress?.(Math.min(count, done + chunk))
  }
  await raw.close()
  return fixture
}
