/**
 * End to end: real `casm agent` processes (sim backend, accelerated) against a real `casm serve`:
 * start-up with no pool, growth past the high watermark, shrink and reclaim, restarts of the agent
 * (SIGTERM and kill -9) and of the coordinator.
 */
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { api, startServer } from '../../test/support/casm-server.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

type Line = Record<string, unknown> & { action: string }

/** A running `casm agent --json`, its log lines parsed. */
class AgentProcess {
  readonly lines: Line[] = []
  private readonly child: ChildProcess
  private readonly exited: Promise<number | null>
  private stderr = ''

  constructor(url: string, token: string, state: string, extra: readonly string[]) {
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
        '0.05',
        '--request-timeout',
        '2',
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

  /** Waits for a line matching `match`, from the `from`-th line on. */
  async until(what: string, match: (l: Line) => boolean, from = 0, ms = 40_000): Promise<Line> {
    const deadline = Date.now() + ms
    for (;;) {
      const hit = this.lines.slice(from).find(match)
      if (hit !== undefined) return hit
      if (Date.now() > deadline)
        assert.fail(
          `agent: timed out waiting for ${what}\n${this.stderr}\n${this.lines
            .slice(-15)
            .map((l) => JSON.stringify(l).slice(0, 300))
            .join('\n')}`,
        )
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

/** The grants of the last report line: [{grant, prefix, used}]. */
const reported = (l: Line) =>
  l['grants'] as { grant: string | null; prefix: string; used: number }[]

interface Target {
  url: string
  token: string
}

/** A domain, a block, a pool with a fast policy loop, device bng-1; returns its token. */
async function setUp(s: Target): Promise<string> {
  const ok = async (p: Promise<{ status: number; body: unknown }>) => {
    const r = await p
    assert.ok(r.status < 300, JSON.stringify(r.body))
    return r.body as Record<string, unknown>
  }
  await ok(api(s, 'POST', '/api/v1/domains', { name: 'net' }))
  await ok(api(s, 'POST', '/api/v1/blocks', { domain: 'net', space: '100.64.0.0/16' }))
  await ok(
    api(s, 'POST', '/api/v1/pools', {
      name: 'bng',
      domain: 'net',
      kind: 'subscriber',
      space: ['100.64.0.0/20'],
      policy: {
        unit: { min: 24, default: 28, max: 28 },
        quarantine: 0,
        reportInterval: 1,
        holdDown: 1,
        leadTime: 0,
        highWatermark: 0.8,
        lowWatermark: 0.2,
        minUnits: 1,
      },
    }),
  )
  await ok(api(s, 'POST', '/api/v1/devices', { name: 'bng-1' }))
  const tok = await ok(
    api(s, 'POST', '/api/v1/tokens', { name: 'bng-1-agent', role: 'device', device: 'bng-1' }),
  )
  return tok['secret'] as string
}

/** The device's grants as the coordinator has them. */
async function grantsOf(s: Target): Promise<{ id: string; prefix: string; state: string }[]> {
  const r = await api(s, 'GET', '/api/v1/grants?device=bng-1&limit=1000')
  return (r.body as { items: { id: string; prefix: string; state: string }[] }).items
}

const live = <G extends { state: string }>(gs: readonly G[]): G[] =>
  gs.filter((g) => g.state === 'active' || g.state === 'draining')

async function freePort(): Promise<number> {
  const srv = createServer()
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve))
  const port = (srv.address() as { port: number }).port
  await new Promise((resolve) => srv.close(resolve))
  return port
}

/** `casm serve` on a fixed port, so that an agent finds it again after a restart. */
async function serveOn(
  port: number,
  dataDir: string,
): Promise<{ url: string; token: string; kill9: () => Promise<void>; stop: () => Promise<void> }> {
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

describe('casm agent against casm serve', { concurrency: true }, () => {
  const dirs: string[] = []
  const temp = (): string => {
    const d = mkdtempSync(join(tmpdir(), 'casm-agent-e2e-'))
    dirs.push(d)
    return d
  }
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true })
  })

  it('starts with no pool, grows past the high watermark, then shrinks and gives space back', async () => {
    const dir = temp()
    const s = await startServer({ dataDir: join(dir, 'coordinator') })
    let agent: AgentProcess | undefined
    try {
      const token = await setUp(s)
      // 40 subscribers for 200 simulated seconds (10 s), then 3: sessions of 20 s, 20× speed.
      agent = new AgentProcess(s.url, token, join(dir, 'agent'), [
        '--sim-curve',
        'steps,0=40,200=3',
        '--sim-session',
        '20',
        '--sim-retry',
        '5',
        '--speed',
        '20',
      ])
      const sync = await agent.until('sync', (l) => l.action === 'sync')
      assert.deepEqual(sync['grants'], [])
      await agent.until('pool-request', (l) => l.action === 'pool-request')
      await agent.until('first install', (l) => l.action === 'install')

      // 16 addresses a /28: 40 subscribers need three, each granted past 80% use.
      await agent.until(
        'a third grant',
        () => new Set(agent?.of('install').map((l) => l['grant'])).size >= 3,
      )
      const growth = agent.of('event').filter((l) => l['type'] === 'pool-reply')
      assert.ok(growth.length >= 2)
      for (const g of growth) assert.match(String(g['reason']), /high watermark/)
      const installed = new Set(agent.of('install').map((l) => l['prefix']))
      assert.equal(agent.of('pool-request').length, 1, 'asked once; the rest came by policy')

      // Demand falls to 3: grants drain one by one, empty out, are released and removed.
      await agent.until('a release confirmed', (l) => l.action === 'release-confirmed')
      const shrunk = async (): Promise<boolean> => live(await grantsOf(s)).length === 1
      const deadline = Date.now() + 40_000
      while (!(await shrunk())) {
        assert.ok(Date.now() < deadline, JSON.stringify(await grantsOf(s)))
        await new Promise((r) => setTimeout(r, 200))
      }
      const [kept] = live(await grantsOf(s))
      assert.ok(kept !== undefined && installed.has(kept.prefix))
      const drained = agent.of('event').filter((l) => l['type'] === 'drain')
      assert.ok(drained.every((l) => l['cause'] === 'policy'))
      // Every grant released was drained first and removed from the sim before the confirm.
      for (const r of agent.of('release-confirmed'))
        for (const id of r['grants'] as string[]) {
          assert.ok(
            drained.some((l) => l['grant'] === id),
            `${id} released without a drain`,
          )
          assert.ok(agent.of('remove').some((l) => l['grant'] === id && l['why'] === 'released'))
        }
      // The sim follows: its reports come to name only the grant kept.
      await agent.until('a report of the grant kept alone', (l) =>
        l.action === 'report'
          ? JSON.stringify(reported(l).map((g) => g.grant)) === JSON.stringify([kept.id])
          : false,
      )
      assert.equal(agent.of('refused').length, 0, JSON.stringify(agent.of('refused')))
      assert.equal(await agent.stop(), 0)
    } finally {
      await agent?.kill9()
      await s.stop()
    }
  })

  it('speaks for several user planes (CUPS): grants spread over them, reports name the plane', async () => {
    const dir = temp()
    const s = await startServer({ dataDir: join(dir, 'coordinator') })
    let agent: AgentProcess | undefined
    try {
      const token = await setUp(s)
      // 20 subscribers per plane: the first /28 (on up1) overflows, the next goes to up2.
      agent = new AgentProcess(s.url, token, join(dir, 'agent'), [
        '--planes',
        'up1,up2',
        '--sim-subscribers',
        '20',
        '--sim-session',
        '600',
        '--speed',
        '20',
      ])
      await agent.until(
        'grants on both planes',
        (l) =>
          l.action === 'report' &&
          new Set(reported(l).map((g) => (g as { plane?: string }).plane)).size === 2,
      )
      // The coordinator records the plane of each grant once it has the report.
      type Loop = {
        agent: { backend: string; planes?: string[] } | null
        grants: { usage: { plane: string | null } | null }[]
      }
      let body: Loop
      let planes: (string | null | undefined)[]
      const deadline = Date.now() + 20_000
      for (;;) {
        body = (await api(s, 'GET', '/api/v1/devices/bng-1/loop')).body as Loop
        planes = body.grants.map((g) => g.usage?.plane)
        if (planes.includes('up1') && planes.includes('up2')) break
        assert.ok(Date.now() < deadline, JSON.stringify(planes))
        await new Promise((r) => setTimeout(r, 200))
      }
      assert.deepEqual(body.agent?.planes, ['up1', 'up2'])
      assert.equal(body.agent.backend, 'sim')
      assert.equal(await agent.stop(), 0)
    } finally {
      await agent?.kill9()
      await s.stop()
    }
  })

  it('restarts where it left off, after SIGTERM and after kill -9, and survives a coordinator restart', async () => {
    const dir = temp()
    const state = join(dir, 'agent')
    let s = await serveOn(await freePort(), join(dir, 'coordinator'))
    const port = new URL(s.url).port
    const args = ['--sim-subscribers', '8', '--sim-session', '20', '--speed', '10']
    let agent: AgentProcess | undefined
    try {
      const token = await setUp(s)
      agent = new AgentProcess(s.url, token, state, args)
      const install = await agent.until('install', (l) => l.action === 'install')
      const grant = install['grant'] as string
      await agent.until('a report with users', (l) =>
        l.action === 'report' ? reported(l).some((g) => g.used > 0) : false,
      )

      // SIGTERM: state saved; while it is away an operator drains its grant.
      assert.equal(await agent.stop(), 0)
      const drained = await api(s, 'POST', `/api/v1/grants/${grant}/drain`, { reason: 'e2e' })
      assert.equal(drained.status, 200, JSON.stringify(drained.body))
      agent = new AgentProcess(s.url, token, state, args)
      const start = await agent.until('start', (l) => l.action === 'start')
      assert.equal(start['resumed'], true)
      const hello = await agent.until('hello', (l) => l.action === 'hello')
      assert.deepEqual(hello['holds'], [install['prefix']], 'the sim kept its grant')
      await agent.until('draining in the sim', (l) => l.action === 'drain' && l['grant'] === grant)
      // Its users still count: the coordinator grants new space; the drained grant empties.
      await agent.until('a new grant', (l) => l.action === 'install' && l['grant'] !== grant)
      await agent.until(
        'the drained grant released',
        (l) => l.action === 'release-confirmed' && (l['grants'] as string[]).includes(grant),
      )
      assert.equal(agent.of('pool-request').length, 0, 'it held space: no need to ask')
      const open = await agent.until('stream-open', (l) => l.action === 'stream-open')
      assert.ok((open['after'] as number) >= 0)

      // kill -9 of the coordinator: the agent keeps trying; the restarted one answers.
      const before = agent.lines.length
      await s.kill9()
      await agent.until(
        'stream lost',
        (l) => l.action === 'stream-lost' || l.action === 'stream-closed',
        before,
      )
      s = await serveOn(Number(port), join(dir, 'coordinator'))
      await agent.until('a new sync', (l) => l.action === 'sync', before)
      await agent.until('report-confirm', (l) => l.action === 'report-confirm', before)
      const reopened = await agent.until(
        'stream reopened',
        (l) => l.action === 'stream-open',
        before,
      )
      assert.ok((reopened['after'] as number) >= 1)

      // kill -9 of the agent: the next one resumes from the state file, asks nothing twice.
      const grantsBefore = live(await grantsOf(s))
        .map((g) => g.id)
        .sort()
      await agent.kill9()
      agent = new AgentProcess(s.url, token, state, args)
      const resumed = await agent.until('start', (l) => l.action === 'start')
      assert.equal(resumed['resumed'], true)
      const sync = await agent.until('sync', (l) => l.action === 'sync')
      assert.equal((sync['grants'] as string[]).length, grantsBefore.length)
      await agent.until('a report', (l) => l.action === 'report' && reported(l).length > 0)
      assert.deepEqual(
        live(await grantsOf(s))
          .map((g) => g.id)
          .sort(),
        grantsBefore,
      )
      assert.equal(agent.of('refused').length, 0, JSON.stringify(agent.of('refused')))
      assert.equal(await agent.stop(), 0)
    } finally {
      await agent?.kill9()
      await s.stop()
    }
  })
})
