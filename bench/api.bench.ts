/**
 * `npm run bench -- api`: grants through a real `casm serve` process (the built dist/), with 16
 * concurrent HTTP clients, into a pool that already holds 1,000,000 grants — on SQLite and on
 * PostgreSQL — and the cold start with those grants stored.
 *
 * The 1,000,000 grants (with their events, hash-chained) are written straight into the store by
 * this process before the server starts, as the coordinator would have written them.
 *
 * @module
 */

import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import http from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { preloadGrants } from '../test/support/grant-fixture.js'
import { type BenchResult, LatencyRecorder, now, progress, round } from './measure.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const PRELOAD = Number(process.env['BENCH_API_GRANTS'] ?? 1_000_000)
const CLIENTS = 16
const SECONDS = Number(process.env['BENCH_API_SECONDS'] ?? 20)
const DEVICES = 1000

/** Writes the fixture: a /8 pool of /30 units holding PRELOAD grants of DEVICES devices. */
export async function preload(dataDir: string, databaseUrl: string | undefined): Promise<void> {
  const started = Date.now()
  await preloadGrants(dataDir, PRELOAD, DEVICES, {
    databaseUrl,
    reason: 'benchmark fixture',
    onProgress: (stored) => {
      progress(
        `api: ${stored} of ${PRELOAD} grants stored (${Math.round((Date.now() - started) / 1000)} s)`,
      )
    },
  })
  if (databaseUrl !== undefined) {
    // A database that has been running has been vacuumed and analysed; a fresh bulk load has not,
    // and autovacuum would otherwise run into the measurement.
    progress('api: VACUUM ANALYZE after the bulk load')
    const c = new pg.Client({ connectionString: databaseUrl })
    await c.connect()
    await c.query('VACUUM ANALYZE')
    await c.query('CHECKPOINT')
    await c.end()
  }
}

/** Starts the built server; resolves with the process and the time until it listened. */
async function serve(
  dataDir: string,
  databaseUrl: string | undefined,
): Promise<{ child: ChildProcess; port: number; servingMs: number; out: () => string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, CASM_DATA: dataDir }
  if (databaseUrl === undefined) delete env['DATABASE_URL']
  else env['DATABASE_URL'] = databaseUrl
  const t0 = Date.now()
  const child = spawn(
    process.execPath,
    [join(ROOT, 'dist/cli/main.js'), 'serve', '--listen', '127.0.0.1:0', '--data', dataDir],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let out = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr.on('data', (d: Buffer) => (out += d.toString()))
  const port = await new Promise<number>((resolve, reject) => {
    const check = (): void => {
      const m = /serving on http:\/\/127\.0\.0\.1:(\d+)/.exec(out)
      if (m !== null) resolve(Number(m[1]))
    }
    child.stdout.on('data', check)
    child.once('exit', (code) => reject(new Error(`server exited ${String(code)}: ${out}`)))
  })
  return { child, port, servingMs: Date.now() - t0, out: () => out }
}

const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS })

function post(
  port: number,
  token: string,
  path: string,
  body: unknown,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body)
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        agent,
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(data),
        },
      },
      (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (d: string) => (text += d))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }))
      },
    )
    req.on('error', reject)
    req.end(data)
  })
}

function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const m = /VmRSS:\s+(\d+) kB/.exec(status)
  return m === null ? 0 : Number(m[1]) / 1024
}

function cpuSecondsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
  return (Number(fields[11]) + Number(fields[12])) / 100
}

async function runCase(kind: 'sqlite' | 'postgres'): Promise<BenchResult> {
  const dataDir = mkdtempSync(join(tmpdir(), 'casm-bench-api-'))
  let databaseUrl: string | undefined
  let dropDb: (() => Promise<void>) | undefined
  if (kind === 'postgres') {
    const admin = process.env['TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test'
    const name = `casm_bench_${randomBytes(4).toString('hex')}`
    const c = new pg.Client({ connectionString: admin })
    await c.connect()
    await c.query(`CREATE DATABASE ${name}`)
    await c.end()
    const u = new URL(admin)
    u.pathname = `/${name}`
    databaseUrl = u.toString()
    dropDb = async () => {
      const d = new pg.Client({ connectionString: admin })
      await d.connect()
      await d.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      await d.end()
    }
  }
  try {
    progress(`api ${kind}: storing ${PRELOAD} grants`)
    await preload(dataDir, databaseUrl)
    // The fixture's million objects must not be collected during the measurement.
    const gc = (globalThis as { gc?: () => void }).gc
    gc?.()
    gc?.()
    const token = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim()
    progress(`api ${kind}: cold start`)
    const t0 = Date.now()
    const server = await serve(dataDir, databaseUrl)
    // Cold start: until the first grant is answered (the pool's 1M grants loaded).
    const first = await post(server.port, token, '/api/v1/pools/bng/grants', { device: 'bng-0' })
    const coldStartMs = Date.now() - t0
    if (first.status !== 201) throw new Error(`first grant failed: ${first.status} ${first.text}`)
    progress(
      `api ${kind}: serving after ${server.servingMs} ms, first grant after ${coldStartMs} ms; ${CLIENTS} clients for ${SECONDS} s`,
    )
    const rec = new LatencyRecorder(2_000_000)
    const deadline = now() + BigInt(SECONDS) * 1_000_000_000n
    const cpu0 = cpuSecondsOf(server.child.pid as number)
    const wall0 = now()
    let failures = 0
    let n = 0
    const client = async (w: number): Promise<void> => {
      while (now() < deadline) {
        const t = now()
        const r = await post(server.port, token, '/api/v1/pools/bng/grants', {
          device: `bng-${(w * 61 + n++) % DEVICES}`,
        })
        rec.add(now() - t)
        if (r.status !== 201) failures++
      }
    }
    await Promise.all(Array.from({ length: CLIENTS }, (_, w) => client(w)))
    const wallS = Number(now() - wall0) / 1e9
    const cpuS = cpuSecondsOf(server.child.pid as number) - cpu0
    const rss = rssOf(server.child.pid as number)
    server.child.kill('SIGTERM')
    await new Promise((r) => server.child.once('exit', r))
    return {
      bench: `api.${kind}`,
      ops_per_s: round(rec.count / wallS),
      p50_us: round(rec.quantileUs(0.5)),
      p99_us: round(rec.quantileUs(0.99)),
      rss_mb: round(rss),
      grants: rec.count,
      failures,
      clients: CLIENTS,
      live_grants_before: PRELOAD,
      cold_start_ms: coldStartMs,
      serving_ms: server.servingMs,
      server_cpu_percent: round((cpuS / wallS) * 100),
      reference: 'NetBox users report over 30 s to take one address from a /8',
    }
  } finally {
    agent.destroy()
    await dropDb?.()
    rmSync(dataDir, { recursive: true, force: true })
  }
}

/** The cases of this benchmark. */
export const cases: Record<string, () => Promise<BenchResult[]>> = {
  sqlite: async () => [await runCase('sqlite')],
  postgres: async () => [await runCase('postgres')],
}
