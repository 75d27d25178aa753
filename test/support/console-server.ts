/**
 * The built casm (`node bin/casm.js serve`, the console from `dist/web`) for the console's
 * browser tests, and a store preloaded with many grants for the tests of big inventories.
 *
 * @module
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
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

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

/**
 * Fails with what to do when the build the browser tests need is missing: the CLI (`dist/cli`)
 * and the console (`dist/web/index.html`), both made by `npm run build`.
 */
export function assertBuilt(): void {
  for (const file of ['dist/cli/main.js', 'dist/web/index.html']) {
    if (!existsSync(join(ROOT, file)))
      throw new Error(
        `${file} is missing: run \`npm run build\` before the console's browser tests`,
      )
  }
}

/** A running `node bin/casm.js serve`. */
export interface ConsoleServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string
  /** The admin token of the data directory. */
  readonly token: string
  /** Everything the process printed so far. */
  output(): string
  /** SIGTERM, SIGKILL after 5 s; resolves once the process is gone. */
  stop(): Promise<void>
}

/** Starts the built `casm serve` on a free port of 127.0.0.1; resolves once it listens. */
export async function startConsoleServer(dataDir: string): Promise<ConsoleServer> {
  assertBuilt()
  const env: NodeJS.ProcessEnv = { ...process.env, CASM_DATA: dataDir }
  delete env['DATABASE_URL']
  const child: ChildProcess = spawn(
    process.execPath,
    [join(ROOT, 'bin/casm.js'), 'serve', '--listen', '127.0.0.1:0', '--data', dataDir],
    { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let out = ''
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()))
  let gone = false
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      gone = true
      resolve()
    }),
  )
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`casm serve did not start in 60 s:\n${out}`))
    }, 60_000)
    const check = (): void => {
      const m = /serving on http:\/\/127\.0\.0\.1:(\d+)/.exec(out)
      if (m === null) return
      clearTimeout(timer)
      resolve(Number(m[1]))
    }
    child.stdout?.on('data', check)
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`casm serve exited with ${String(code)}:\n${out}`))
    })
  })
  return {
    url: `http://127.0.0.1:${port}`,
    token: readFileSync(join(dataDir, 'admin-token'), 'utf8').trim(),
    output: () => out,
    async stop() {
      if (gone) return
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
      await exited
      clearTimeout(timer)
    },
  }
}

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
): Promise<GrantFixture> {
  const fixture = {
    domain: 'metro',
    block: '10.0.0.0/8',
    pool: 'bng',
    devices,
    grants: count,
  } as const
  const store = openStore({ dataDir })
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

  const raw = openStore({ dataDir })
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
          reason: 'console test fixture',
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
  }
  await raw.close()
  return fixture
}
