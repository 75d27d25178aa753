/**
 * Helpers of the end-to-end tests of `casm agent`: a real agent process with its JSON log
 * parsed, `casm serve` on a fixed port (so an agent finds it again after a restart), and the
 * inventory a test needs (a domain, a block, a pool with a fast policy loop, devices and their
 * tokens).
 *
 * @module
 */
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after } from 'node:test'
import { fileURLToPath } from 'node:url'
import { api } from './casm-server.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

/** One line of `casm agent --json`. */
export type Line = Record<string, unknown> & { action: string; time: string }

/** What an {@link AgentProcess} may be told besides the backend's options. */
export interface AgentProcessOptions {
  /** `--request-timeout` in seconds (default 2). */
  readonly requestTimeout?: number
  /** `--tick` in seconds (default 0.05). */
  readonly tick?: number
}

/** A running `casm agent --json`, its log lines parsed. */
export class AgentProcess {
  readonly lines: Line[] = []
  private readonly child: ChildProcess
  private readonly exited: Promise<number | null>
  private stderr = ''

  /**
   * @param state the state directory (`--state`), kept in {@link AgentProcess.state} for the
   *   invariant checks, which read the sim's snapshot there.
   */
  constructor(
    url: string,
    token: string,
    readonly state: string,
    extra: readonly string[],
    options: AgentProcessOptions = {},
  ) {
    this.child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli/main.ts',
        'agent',
        '--coordinator',
        url,
        '--token',
        token,
        '--state',
        state,
        '--json',
        '--tick',
        String(options.tick ?? 0.05),
        '--request-timeout',
        String(options.requestTimeout ?? 2),
        ...extra,
      ],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CASM_URL: '' } },
    )
    let buffer = ''
    this.child.stdout?.on('data', (d: Buffer) => {
      buffer += d.toString()
      let cut: number
      while ((cut = buffer.indexOf('\n')) >= 0) {
        const text = buffer.slice(0, cut)
        buffer = buffer.slice(cut + 1)
        if (text.trim() !== '') this.lines.push(JSON.parse(text) as Line)
      }
    })
    this.child.stderr?.on('data', (d: Buffer) => (this.stderr += d.toString()))
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)))
  }

  /** Lines of one action. */
  of(action: string): Line[] {
    return this.lines.filter((l) => l.action === action)
  }

  /** The last `count` lines, shortened, for failure messages. */
  tail(count = 15): string {
    return this.lines
      .slice(-count)
      .map((l) => JSON.stringify(l).slice(0, 300))
      .join('\n')
  }

  /** Waits for a line matching `match`, from the `from`-th line on. */
  async until(what: string, match: (l: Line) => boolean, from = 0, ms = 40_000): Promise<Line> {
    const deadline = Date.now() + ms
    for (;;) {
      const hit = this.lines.slice(from).find(match)
      if (hit !== undefined) return hit
      if (Date.now() > deadline)
        assert.fail(`agent: timed out waiting for ${what}\n${this.stderr}\n${this.tail()}`)
      await new Promise((r) => setTimeout(r, 50))
    }
  }

  /** SIGTERM; resolves with the exit code. */
  async stop(): Promise<number | null> {
    this.child.kill('SIGTERM')
    return this.exited
  }

  async kill9(): Promise<void> {
    this.child.kill('SIGKILL')
    await this.exited
  }
}

/** A grant as a report line names it. */
export interface ReportedGrant {
  grant: string | null
  prefix: string
  used: number
  plane?: string
}

/** The grants of a report line. */
export const reported = (l: Line): ReportedGrant[] => l['grants'] as ReportedGrant[]

/** A coordinator to talk to with an admin token. */
export interface Target {
  url: string
  token: string
}

/** Fails unless the answer is a success; returns its body. */
export async function ok(
  p: Promise<{ status: number; body: unknown }>,
): Promise<Record<string, unknown>> {
  const r = await p
  assert.ok(r.status < 300, JSON.stringify(r.body))
  return r.body as Record<string, unknown>
}

/** The policy of the pools of these tests: a fast loop, /28 units. */
export const FAST_POLICY = {
  unit: { min: 24, default: 28, max: 28 },
  quarantine: 0,
  reportInterval: 1,
  holdDown: 1,
  leadTime: 0,
  highWatermark: 0.8,
  lowWatermark: 0.2,
  minUnits: 1,
} as const

/** Creates a device and a device token for it; returns the token's secret. */
export async function addDevice(s: Target, name: string): Promise<string> {
  await ok(api(s, 'POST', '/api/v1/devices', { name }))
  const tok = await ok(
    api(s, 'POST', '/api/v1/tokens', { name: `${name}-agent`, role: 'device', device: name }),
  )
  return tok['secret'] as string
}

/**
 * A domain, a block, pool `bng` (100.64.0.0/20 unless `space` says otherwise) with a fast policy
 * loop, and device bng-1; returns its token.
 */
export async function setUp(
  s: Target,
  space: readonly string[] = ['100.64.0.0/20'],
): Promise<string> {
  await ok(api(s, 'POST', '/api/v1/domains', { name: 'net' }))
  await ok(api(s, 'POST', '/api/v1/blocks', { domain: 'net', space: '100.64.0.0/16' }))
  await ok(
    api(s, 'POST', '/api/v1/pools', {
      name: 'bng',
      domain: 'net',
      kind: 'subscriber',
      space,
      policy: FAST_POLICY,
    }),
  )
  return addDevice(s, 'bng-1')
}

/** A grant as `GET /api/v1/grants` lists it. */
export interface GrantOut {
  id: string
  pool: string
  device: string
  prefix: string
  state: string
}

/** The device's grants as the coordinator has them (every state). */
export async function grantsOf(s: Target, device = 'bng-1'): Promise<GrantOut[]> {
  const r = await api(s, 'GET', `/api/v1/grants?device=${device}&limit=1000`)
  assert.equal(r.status, 200, JSON.stringify(r.body))
  return (r.body as { items: GrantOut[] }).items
}

/** Active and draining grants. */
export const live = <G extends { state: string }>(gs: readonly G[]): G[] =>
  gs.filter((g) => g.state === 'active' || g.state === 'draining')

/** Polls `check` until it returns true; fails with `describe()` after `ms`. */
export async function eventually(
  what: string,
  check: () => Promise<boolean> | boolean,
  describe: () => Promise<string> | string = () => '',
  ms = 40_000,
): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}\n${await describe()}`)
    await new Promise((r) => setTimeout(r, 200))
  }
}

/** A TCP port free at the moment. */
export async function freePort(): Promise<number> {
  const srv = createServer()
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve))
  const port = (srv.address() as { port: number }).port
  await new Promise((resolve) => srv.close(resolve))
  return port
}

/** A `casm serve` started by {@link serveOn}. */
export interface FixedPortServer {
  url: string
  token: string
  kill9: () => Promise<void>
  stop: () => Promise<void>
}

/** `casm serve` on a fixed port, so that an agent finds it again after a restart. */
export async function serveOn(port: number, dataDir: string): Promise<FixedPortServer> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'src/cli/main.ts',
      'serve',
      '--listen',
      `127.0.0.1:${port}`,
      '--data',
      dataDir,
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DATABASE_URL: '' } },
  )
  let out = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr.on('data', (d: Buffer) => (out += d.toString()))
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const deadline = Date.now() + 30_000
  while (!out.includes('serving on')) {
    assert.ok(Date.now() < deadline, `casm serve did not start:\n${out}`)
    await new Promise((r) => setTimeout(r, 50))
  }
  return {
    url: `http://127.0.0.1:${port}`,
    token: readFileSync(join(dataDir, 'admin-token'), 'utf8').trim(),
    kill9: async () => {
      child.kill('SIGKILL')
      await exited
    },
    stop: async () => {
      child.kill('SIGTERM')
      await exited
    },
  }
}

/**
 * A maker of temporary directories under `prefix`, all removed after the enclosing suite (call
 * it inside a `describe`).
 */
export function tempDirs(prefix: string): () => string {
  const dirs: string[] = []
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true })
  })
  return () => {
    const d = mkdtempSync(join(tmpdir(), prefix))
    dirs.push(d)
    return d
  }
}
