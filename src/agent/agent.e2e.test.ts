/**
 * End to end: real `casm agent` processes (sim backend, accelerated) against a real `casm serve`:
 * start-up with no pool, growth past the high watermark, shrink and reclaim, restarts of the agent
 * (SIGTERM and kill -9) and of the coordinator. Every test ends with the invariants of
 * test/support/agent-invariants.ts (no overlap; nothing released while its device reports use).
 * Lost and duplicated messages, a coordinator restart mid-drain and two devices competing for the
 * last unit are in agent-faults.e2e.test.ts.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { checkInvariants } from '../../test/support/agent-invariants.js'
import {
  AgentProcess,
  freePort,
  grantsOf,
  live,
  reported,
  serveOn,
  setUp,
  tempDirs,
} from '../../test/support/agent-process.js'
import { api, startServer } from '../../test/support/casm-server.js'

describe('casm agent against casm serve', { concurrency: true }, () => {
  const temp = tempDirs('casm-agent-e2e-')

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
      const checked = await checkInvariants(s, { 'bng-1': [agent] })
      assert.ok(checked.releases >= 2, JSON.stringify(checked))
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
      await checkInvariants(s, { 'bng-1': [agent] })
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
    const runs: AgentProcess[] = []
    const run = (token: string): AgentProcess => {
      agent = new AgentProcess(s.url, token, state, args)
      runs.push(agent)
      return agent
    }
    try {
      const token = await setUp(s)
      agent = run(token)
      const install = await agent.until('install', (l) => l.action === 'install')
      const grant = install['grant'] as string
      await agent.until('a report with users', (l) =>
        l.action === 'report' ? reported(l).some((g) => g.used > 0) : false,
      )

      // SIGTERM: state saved; while it is away an operator drains its grant.
      assert.equal(await agent.stop(), 0)
      const drained = await api(s, 'POST', `/api/v1/grants/${grant}/drain`, { reason: 'e2e' })
      assert.equal(drained.status, 200, JSON.stringify(drained.body))
      agent = run(token)
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
      agent = run(token)
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
      const checked = await checkInvariants(s, { 'bng-1': runs })
      assert.ok(checked.releases >= 1, JSON.stringify(checked))
    } finally {
      await agent?.kill9()
      await s.stop()
    }
  })
})
