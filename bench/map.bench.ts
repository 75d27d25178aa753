/**
 * `npm run bench -- map`: the address map of a /8 holding 1,000,000 grants, on SQLite.
 *
 * The fixture — one block 10.0.0.0/8, one pool over it, 1,000 devices, 1,000,000 grants of /28
 * to /30 with free gaps, mostly active, some draining or in quarantine, each device holding long
 * stretches — is written straight into the store. Then a real `casm serve` runs on it and the
 * benchmark measures:
 *
 * - `map.endpoint.o9` / `map.endpoint.o10`: `GET /api/v1/blocks/{id}/map` of the whole /8 at
 *   order 9 (512 × 512 cells) and 10 (1024 × 1024), from Node: time and bytes sent;
 * - `map.browser.first-draw.o9` / `.o10`: in Debian's chromium (playwright-core), a page holding
 *   only the map component, from the fetch starting (`casm-map-request` mark) to the canvas
 *   painted (`casm-map-drawn`), page reloaded each sample;
 * - `map.browser.zoom`: a click on a cell, from the new fetch to the new paint;
 * - `map.browser.recolour`: `Colour by` device, from the change to the new paint (no fetch).
 *
 * `BENCH_MAP_DATA=DIR` keeps the fixture in DIR and reuses it on later runs; `BENCH_MAP_GRANTS`
 * and `BENCH_MAP_SAMPLES` change its size and the number of samples.
 *
 * @module
 */

import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { extname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { systemCaller } from '../src/coordinator/caller.js'
import { Coordinator } from '../src/coordinator/coordinator.js'
import { newId } from '../src/coordinator/ids.js'
import {
  createBlock,
  createDevice,
  createDomain,
  createPool,
} from '../src/coordinator/inventory.js'
import type { AllocationRow } from '../src/coordinator/store.js'
import type { GrantState } from '../src/domain/grant-lifecycle.js'
import { Prefix } from '../src/ip/index.js'
import { openStore } from '../src/store/open-store.js'
import { launchChromium } from '../test/support/browser.js'
import { type BenchResult, now, progress, rng, round } from './measure.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const GRANTS = Number(process.env['BENCH_MAP_GRANTS'] ?? 1_000_000)
const DEVICES = 1000
const SAMPLES = Number(process.env['BENCH_MAP_SAMPLES'] ?? 5)
const BASE = Prefix.parse('10.0.0.0/8').first

/** Writes the fixture. */
async function preload(dataDir: string): Promise<void> {
  const store = openStore({ dataDir })
  const { coordinator: co, bootstrapToken } = await Coordinator.open(store, { sweepIntervalMs: 0 })
  if (bootstrapToken === undefined) throw new Error('the fixture store was not empty')
  writeFileSync(join(dataDir, 'admin-token'), bootstrapToken.secret, { mode: 0o600 })
  const tenant = await co.reader.getTenant('default')
  if (tenant === undefined) throw new Error('no default tenant')
  const c = systemCaller(tenant.id)
  await co.run(createDomain(c, { name: 'metro' }))
  await co.run(createBlock(c, { domain: 'metro', space: '10.0.0.0/8' }))
  const pool = await co.run(
    createPool(c, {
      name: 'bng',
      domain: 'metro',
      kind: 'subscriber',
      space: ['10.0.0.0/8'],
      policy: { unit: { min: 24, default: 30, max: 32 }, quarantine: 3600 },
    }),
  )
  const devices: string[] = []
  for (let i = 0; i < DEVICES; i++)
    devices.push((await co.run(createDevice(c, { name: `bng-${i}` }))).id)
  await co.close()

  const fixture = openStore({ dataDir })
  const random = rng(8)
  const started = Date.now()
  const chunk = 20_000
  let cursor = 0n
  let n = 0
  while (n < GRANTS) {
    const rows: AllocationRow[] = []
    const at = Date.now()
    while (rows.length < chunk && n < GRANTS) {
      const length = 28 + Math.floor(random() * 3)
      const size = 1n << BigInt(32 - length)
      cursor = ((cursor + size - 1n) / size) * size
      // One unit in eight is left free: gaps of the same size.
      if (random() < 0.125) {
        cursor += size
        continue
      }
      const first = BASE + cursor
      cursor += size
      const r = random()
      const state: GrantState = r < 0.03 ? 'draining' : r < 0.05 ? 'quarantined' : 'active'
      // Devices hold stretches of about 1,000 grants; one grant in ten goes to another device.
      const dev =
        random() < 0.1 ? Math.floor(random() * DEVICES) : Math.floor((n / GRANTS) * DEVICES)
      const p = Prefix.of('ipv4', first, length)
      rows.push({
        id: newId('grant'),
        tenantId: tenant.id,
        domainId: pool.domainId,
        poolId: pool.id,
        type: 'grant',
        family: 'ipv4',
        prefix: p.toString(),
        first: p.first,
        last: p.last,
        length,
        state,
        deviceId: devices[dev] as string,
        reservationId: null,
        requestor: null,
        hostname: '',
        description: '',
        createdAt: at,
        updatedAt: at,
        expiresAt: null,
        releasedAt: null,
        quarantineUntil: state === 'quarantined' ? at + 86_400_000 : null,
        changedVersion: 0,
      })
      n++
    }
    await fixture.write((tx) => tx.insertAllocations(rows))
    if (n % 200_000 === 0 || n === GRANTS)
      progress(
        `map: ${n} of ${GRANTS} grants stored (${Math.round((Date.now() - started) / 1000)} s)`,
      )
  }
  await fixture.close()
  progress(`map: the grants reach ${Prefix.of('ipv4', BASE + cursor - 1n, 32).toString()}`)
}

/** Starts `casm serve` on the data; resolves once it listens and has loaded its pools. */
async function serve(dataDir: string): Promise<{ child: ChildProcess; port: number }> {
  const env: NodeJS.ProcessEnv = { ...process.env, CASM_DATA: dataDir }
  delete env['DATABASE_URL']
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(ROOT, 'src/cli/main.ts'),
      'serve',
      '--listen',
      '127.0.0.1:0',
      '--data',
      dataDir,
    ],
    { env, stdio: ['ignore', 'pipe', 'pipe'], cwd: ROOT },
  )
  let out = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr.on('data', (d: Buffer) => (out += d.toString()))
  const port = await new Promise<number>((resolve, reject) => {
    const check = (): void => {
      // Measure once the pool's allocator is loaded: that load runs after "serving".
      const m = /serving on http:\/\/127\.0\.0\.1:(\d+)/.exec(out)
      if (m !== null && /pool\(s\) loaded/.test(out)) resolve(Number(m[1]))
    }
    child.stdout.on('data', check)
    child.once('exit', (code) => reject(new Error(`server exited ${String(code)}: ${out}`)))
  })
  return { child, port }
}

/** Builds the page holding only the map (web/src/map/standalone) into a temporary directory. */
async function buildPage(): Promise<string> {
  const out = mkdtempSync(join(tmpdir(), 'casm-bench-map-page-'))
  const { build } = await import('vite')
  const react = (await import('@vitejs/plugin-react')).default
  await build({
    configFile: false,
    root: join(ROOT, 'web/src/map/standalone'),
    base: '/map-bench/',
    plugins: [react()],
    logLevel: 'warn',
    build: { outDir: out, emptyOutDir: true },
  })
  return out
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor((s.length - 1) / 2)] ?? 0
}

const TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.css': 'text/css',
}

async function runCase(): Promise<BenchResult[]> {
  // BENCH_MAP_DATA keeps the fixture in that directory, and reuses it when it is there.
  const kept = process.env['BENCH_MAP_DATA']
  const dataDir = kept ?? mkdtempSync(join(tmpdir(), 'casm-bench-map-'))
  const reuse = kept !== undefined && existsSync(join(kept, 'admin-token'))
  let pageDir: string | undefined
  let server: { child: ChildProcess; port: number } | undefined
  const results: BenchResult[] = []
  try {
    if (!reuse) {
      mkdirSync(dataDir, { recursive: true })
      progress(`map: storing ${GRANTS} grants`)
      await preload(dataDir)
    }
    const token = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim()
    progress('map: building the page')
    pageDir = await buildPage()
    progress('map: starting casm serve')
    server = await serve(dataDir)
    const origin = `http://127.0.0.1:${server.port}`
    const blocks = (await (
      await fetch(`${origin}/api/v1/blocks`, { headers: { authorization: `Bearer ${token}` } })
    ).json()) as { items: { id: string; space: string }[] }
    const blockId = blocks.items.find((b) => b.space === '10.0.0.0/8')?.id
    if (blockId === undefined) throw new Error('the fixture has no block 10.0.0.0/8')

    for (const order of [9, 10]) {
      const times: number[] = []
      let bytes = 0
      for (let i = 0; i < SAMPLES; i++) {
        const t = now()
        const res = await fetch(`${origin}/api/v1/blocks/${blockId}/map?order=${order}`, {
          headers: { authorization: `Bearer ${token}` },
        })
        const body = await res.arrayBuffer()
        times.push(Number(now() - t) / 1000)
        if (res.status !== 200) throw new Error(`map answered ${res.status}`)
        bytes = body.byteLength
      }
      const summary = JSON.parse(
        await (
          await fetch(`${origin}/api/v1/blocks/${blockId}/map?order=${order}`, {
            headers: { authorization: `Bearer ${token}` },
          })
        ).text(),
      ) as { cells: number; counts: { grants: number; utilisation: number } }
      progress(`map: endpoint order ${order}: ${round(median(times) / 1000)} ms, ${bytes} bytes`)
      results.push({
        bench: `map.endpoint.o${order}`,
        ops_per_s: round(1e6 / median(times)),
        p50_us: round(median(times)),
        max_us: round(Math.max(...times)),
        bytes,
        cells: summary.cells,
        grants: summary.counts.grants,
        utilisation: summary.counts.utilisation,
        samples: SAMPLES,
      })
    }

    const browser = await launchChromium()
    try {
      const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } })
      await context.addInitScript({
        content: `sessionStorage.setItem('casm.token', ${JSON.stringify(token)})`,
      })
      const dir = pageDir
      await context.route(`${origin}/map-bench/**`, async (route) => {
        const path = new URL(route.request().url()).pathname.replace(/^\/map-bench\/?/, '')
        const file = join(dir, path === '' ? 'index.html' : path)
        await route.fulfill({
          status: 200,
          contentType: TYPES[extname(file)] ?? 'application/octet-stream',
          body: readFileSync(file),
        })
      })
      const page = await context.newPage()
      page.on('pageerror', (e) => {
        progress(`map: the page failed: ${e.message}`)
      })
      const span = () =>
        page.evaluate<{ ms: number; draws: number }>(
          `(() => {
            const last = (name) => performance.getEntriesByName(name).at(-1)?.startTime ?? 0
            return {
              ms: last('casm-map-drawn') - last('casm-map-request'),
              draws: performance.getEntriesByName('casm-map-drawn').length,
            }
          })()`,
        )
      const ready = async (draws: number) => {
        await page.waitForFunction(
          `performance.getEntriesByName('casm-map-drawn').length > ${draws} && document.querySelector('.address-map')?.getAttribute('data-state') === 'ready'`,
          undefined,
          { timeout: 120_000 },
        )
      }
      for (const order of [9, 10]) {
        const samples: number[] = []
        for (let i = 0; i < SAMPLES; i++) {
          await page.goto(`${origin}/map-bench/index.html?block=${blockId}&order=${order}`)
          await ready(0)
          samples.push((await span()).ms)
        }
        progress(`map: browser first draw, order ${order}: ${round(median(samples))} ms`)
        results.push({
          bench: `map.browser.first-draw.o${order}`,
          ops_per_s: round(1000 / median(samples)),
          p50_us: round(median(samples) * 1000),
          max_us: round(Math.max(...samples) * 1000),
          samples: SAMPLES,
        })
      }

      // Zoom: click a cell of the order-9 map (a /12 around it), then back out with Escape.
      const zooms: number[] = []
      const recolours: number[] = []
      await page.goto(`${origin}/map-bench/index.html?block=${blockId}&order=9`)
      await ready(0)
      const canvas = page.getByTestId('address-map')
      for (let i = 0; i < SAMPLES; i++) {
        const before = (await span()).draws
        const box = await canvas.boundingBox()
        if (box === null) throw new Error('no canvas')
        await canvas.click({ position: { x: box.width * (0.2 + 0.1 * i), y: box.height * 0.3 } })
        await ready(before)
        zooms.push((await span()).ms)
        const back = (await span()).draws
        await canvas.press('Escape')
        await ready(back)
      }
      for (let i = 0; i < SAMPLES; i++) {
        const before = (await span()).draws
        const t0 = await page.evaluate<number>('performance.now()')
        await page.getByLabel('Colour by').selectOption(i % 2 === 0 ? 'device' : 'state')
        await ready(before)
        recolours.push(
          (await page.evaluate<number>(
            "performance.getEntriesByName('casm-map-drawn').at(-1)?.startTime ?? 0",
          )) - t0,
        )
      }
      progress(`map: zoom ${round(median(zooms))} ms, recolour ${round(median(recolours))} ms`)
      results.push({
        bench: 'map.browser.zoom',
        ops_per_s: round(1000 / median(zooms)),
        p50_us: round(median(zooms) * 1000),
        max_us: round(Math.max(...zooms) * 1000),
        samples: SAMPLES,
        what: 'click on a cell of the /8 at order 9: fetch of the /12 to its paint',
      })
      results.push({
        bench: 'map.browser.recolour',
        ops_per_s: round(1000 / median(recolours)),
        p50_us: round(median(recolours) * 1000),
        max_us: round(Math.max(...recolours) * 1000),
        samples: SAMPLES,
        what: 'Colour by state/device on the /8 at order 9: change to paint, no fetch',
      })
    } finally {
      await browser.close()
    }
    return results
  } finally {
    if (server !== undefined) {
      const child = server.child
      child.kill('SIGTERM')
      await new Promise((r) => child.once('exit', r))
    }
    if (pageDir !== undefined) rmSync(pageDir, { recursive: true, force: true })
    if (kept === undefined) rmSync(dataDir, { recursive: true, force: true })
  }
}

/** The cases of this benchmark. */
export const cases: Record<string, () => Promise<BenchResult[]>> = {
  sqlite: runCase,
}
