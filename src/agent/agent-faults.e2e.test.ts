/**
 * End to end, with faults: real `casm agent` processes (sim backend, accelerated) against a real
 * `casm serve` when messages are lost and duplicated on the way (test/support/faulty-proxy.ts),
 * when the coordinator is killed while a grant drains, and when two devices compete for the
 * last unit of a pool. Every test ends with the invariants of test/support/agent-invariants.ts:
 * no overlap, nothing released while its device reports use.
 *
 * Two tests hold regressions found here: a release decided on a report made before the device
 * applied the drain, and a release replayed after a sync removing the prefix granted anew.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { allPages, checkInvariants } from '../../test/support/agent-invariants.js'
import {
  AgentProcess,
  type Line,
  type Target,
  addDevice,
  eventually,
  freePort,
  grantsOf,
  live,
  ok,
  reported,
  serveOn,
  setUp,
  tempDirs,
} from '../../test/support/agent-process.js'
import { api, startServer } from '../../test/support/casm-server.js'
import { FaultyProxy } from '../../test/support/faulty-proxy.js'

interface EventOut {
  seq: number
  at: string
  action: string
  objectId: string
  after: Record<string, unknown> | null
}

const idOf = async (s: Target, path: string): Promise<string> =>
  (await ok(api(s, 'GET', path)))['id'] as string

/** The live grants of a device as `id prefix`, sorted. */
const liveOf = async (s: Target, device = 'bng-1'): Promise<string[]> =>
  live(await grantsOf(s, device))
    .map((g) => `${g.id} ${g.prefix}`)
    .sort()

/** What the sim held at its last report, as `id prefix`, sorted (null: not the device's). */
const heldOf = (agent: AgentProcess): string[] => {
  const last = agent.of('report').at(-1)
  return last === undefined
    ? []
    : reported(last)
        .map((g) => `${String(g.grant)} ${g.prefix}`)
        .sort()
}

/** Waits until the sim holds exactly what the coordinator granted the device. */
async function converged(s: Target, agent: AgentProcess, device = 'bng-1'): Promise<void> {
  let coordinator: string[] = []
  await eventually(
    `${device}: the sim holds what the coordinator granted`,
    async () => {
      coordinator = await liveOf(s, device)
      return JSON.stringify(heldOf(agent)) === JSON.stringify(coordinator)
    },
    () => `coordinator: ${JSON.stringify(coordinator)}\nsim: ${JSON.stringify(heldOf(agent))}`,
  )
}

describe('casm agent against casm serve, with faults', { concurrency: true }, () => {
  const temp = tempDirs('casm-agent-faults-')

  it('loses and duplicates messages: the agent resends, each txn is answered once, the state converges', async () => {
    const dir = temp()
    const s = await startServer({ dataDir: join(dir, 'coordinator') })
    const proxy = await FaultyProxy.start({
      target: s.url,
      seed: 20_240_601,
      dropRequest: 0.1,
      dropResponse: 0.1,
      duplicate: 0.15,
      cutStream: 0.4,
      cutAfterMs: [500, 3000],
      streamScript: [true],
      // Whatever the dice say, the first of these meet a fault.
      script: {
        hello: ['drop-response'],
        'pool-request': ['drop-response', 'duplicate'],
        'status-report': ['pass', 'drop-request', 'drop-response', 'duplicate'],
        'release-confirm': ['drop-response'],
      },
    })
    let agent: AgentProcess | undefined
    try {
      const token = await setUp(s)
      // As in the first test of agent.e2e.test.ts, shorter: 30 subscribers (three /28s at 80%)
      // for 150 simulated seconds (7.5 s), then 3; answers count as lost after 1 s.
      agent = new AgentProcess(
        proxy.url,
        token,
        join(dir, 'agent'),
        [
          '--sim-curve',
          'steps,0=30,150=3',
          '--sim-session',
          '20',
          '--sim-retry',
          '5',
          '--speed',
          '20',
        ],
        { requestTimeout: 1 },
      )
      const a = agent
      // Grows (usually to three or four grants), then shrinks back to one.
      await a.until('a release confirmed', (l) => l.action === 'release-confirmed')
      await eventually(
        'the coordinator down to one grant',
        async () => (await liveOf(s)).length === 1,
        async () => `${JSON.stringify(await grantsOf(s))}\n${a.tail()}`,
      )
      await converged(s, a)
      const grown = a.of('event').filter((l) => l['type'] === 'pool-reply')
      assert.ok(grown.length >= 1, 'grown by the policy past the high watermark')
      for (const g of grown) assert.match(String(g['reason']), /high watermark/)

      // Each txn was acted on once: at most one answer was not a replay, and all answers are
      // the same bytes.
      const byTxn = new Map<string, FaultyProxy['exchanges']>()
      for (const e of proxy.exchanges) byTxn.set(e.txn, [...(byTxn.get(e.txn) ?? []), e])
      for (const [txn, exchanges] of byTxn) {
        const answers = exchanges.flatMap((e) => e.answers)
        assert.ok(
          answers.filter((x) => !x.replayed).length <= 1,
          `${txn} acted on more than once: ${JSON.stringify(exchanges)}`,
        )
        for (const x of answers) assert.equal(x.body, answers[0]?.body, `${txn}: answers differ`)
      }
      // The pool-request: answered, the answer lost, resent and duplicated: one grant.
      const requests = proxy.exchanges.filter((e) => e.type === 'pool-request')
      assert.equal(new Set(requests.map((e) => e.txn)).size, 1, 'one pool-request, resent')
      const poolAnswers = requests.flatMap((e) => e.answers)
      assert.ok(poolAnswers.length >= 3, JSON.stringify(requests))
      const granted = poolAnswers.map(
        (x) => (JSON.parse(x.body) as { grants: { grant: string }[] }).grants,
      )
      for (const g of granted) assert.deepEqual(g, granted[0])
      const first = granted[0]?.[0]?.grant
      assert.ok(a.of('granted').some((l) => l['grant'] === first))
      assert.ok(
        a.of('retry').some((l) => l['type'] === 'pool-request'),
        'the agent resent its pool-request',
      )
      // Grants created for the device = the grants it installed: nothing granted twice.
      const device = await idOf(s, '/api/v1/devices/bng-1')
      const created = (await allPages<EventOut>(s, '/api/v1/events?action=grant.create'))
        .filter((e) => e.after?.['deviceId'] === device)
        .map((e) => e.objectId)
        .sort()
      const installed = [
        ...new Set(
          a.lines
            .filter((l) => l.action === 'install' || l.action === 'adopt')
            .map((l) => String(l['grant'])),
        ),
      ].sort()
      assert.deepEqual(created, installed)
      // The faults happened, and the coordinator saw the resends.
      for (const fate of ['drop-request', 'drop-response', 'duplicate'] as const)
        assert.ok(proxy.count(fate) > 0, `no ${fate}`)
      assert.ok(proxy.replays() >= 3, `${proxy.replays()} replays`)
      assert.ok(proxy.cutStreams >= 1 && proxy.streams >= 2, `${proxy.streams} streams`)
      assert.ok(a.of('stream-open').length >= 2)
      // Refusals only of the kind the protocol expects after a lost release-notification.
      for (const r of a.of('refused'))
        assert.ok(
          ['CASM_ERR_OUT_OF_ORDER', 'CASM_ERR_NOT_FOUND'].includes(String(r['code'])) &&
            ['status-report', 'ack'].includes(String(r['type'])),
          JSON.stringify(r),
        )
      assert.equal(await a.stop(), 0)
      const checked = await checkInvariants(s, { 'bng-1': [a] })
      assert.ok(checked.releases >= 2, JSON.stringify(checked))
    } finally {
      await agent?.kill9()
      await proxy.close()
      await s.stop()
    }
  })

  it('a coordinator killed mid-drain: the grant is released only once the sim reports it empty', async () => {
    const dir = temp()
    const port = await freePort()
    let s = await serveOn(port, join(dir, 'coordinator'))
    let agent: AgentProcess | undefined
    try {
      const token = await setUp(s)
      // 8 subscribers, sessions of 8 s on average (so some are still there at the kill, however
      // slow the machine).
      agent = new AgentProcess(s.url, token, join(dir, 'agent'), [
        '--sim-subscribers',
        '8',
        '--sim-session',
        '80',
        '--speed',
        '10',
      ])
      const a = agent
      const install = await a.until('install', (l) => l.action === 'install')
      const grant = install['grant'] as string
      const usedIn = (l: Line): number =>
        l.action === 'report' ? (reported(l).find((g) => g.grant === grant)?.used ?? 0) : 0
      await a.until('a report with users', (l) => usedIn(l) >= 4)

      // An operator drains it; the sim follows and still has users in it.
      const drained = await api(s, 'POST', `/api/v1/grants/${grant}/drain`, { reason: 'e2e' })
      assert.equal(drained.status, 200, JSON.stringify(drained.body))
      const drainLine = await a.until(
        'the sim drains it',
        (l) => l.action === 'drain' && l['grant'] === grant,
      )
      const busy = await a.until(
        'a report of it draining with users',
        (l) => usedIn(l) > 0,
        a.lines.indexOf(drainLine),
      )
      const state = await ok(api(s, 'GET', `/api/v1/grants/${grant}`))
      assert.equal(state['state'], 'draining', `released before the kill: ${JSON.stringify(busy)}`)

      // kill -9 of the coordinator while the grant drains with users.
      const before = a.lines.length
      await s.kill9()
      const killedAt = Date.now()
      await a.until(
        'stream lost',
        (l) => l.action === 'stream-lost' || l.action === 'stream-closed',
        before,
      )
      await a.until('a report while the coordinator is down', (l) => l.action === 'report', before)
      s = await serveOn(port, join(dir, 'coordinator'))
      const sync = await a.until('a new sync', (l) => l.action === 'sync', before)
      assert.ok(
        (sync['grants'] as string[]).some((g) => g.startsWith(`${grant} `)),
        `the grant is still the device's after the restart: ${JSON.stringify(sync)}`,
      )
      await a.until(
        'the drained grant released',
        (l) => l.action === 'release-confirmed' && (l['grants'] as string[]).includes(grant),
        before,
      )
      // Released once, by the restarted coordinator, on a report of 0 the sim made.
      const releases = (
        await allPages<EventOut>(s, `/api/v1/events?action=grant.release&object=${grant}`)
      ).map((e) => Date.parse(e.at))
      assert.equal(releases.length, 1)
      assert.ok((releases[0] as number) > killedAt, 'released after the restart')
      const removed = a.lines.findIndex((l) => l.action === 'remove' && l['grant'] === grant)
      assert.equal(a.lines[removed]?.['why'], 'released')
      const lastReport = a.lines
        .slice(0, removed)
        .reverse()
        .find((l) => l.action === 'report' && reported(l).some((g) => g.grant === grant))
      assert.ok(lastReport !== undefined && usedIn(lastReport) === 0, JSON.stringify(lastReport))
      await converged(s, a)
      assert.equal(await a.stop(), 0)
      const checked = await checkInvariants(s, { 'bng-1': [a] })
      assert.ok(checked.releases >= 1, JSON.stringify(checked))
    } finally {
      await agent?.kill9()
      await s.stop()
    }
  })

  // ---- Regressions

  it('a drain the device has not heard of yet: no release on a report made before it', async () => {
    const dir = temp()
    const s = await startServer({ dataDir: join(dir, 'coordinator') })
    const proxy = await FaultyProxy.start({ target: s.url })
    let agent: AgentProcess | undefined
    try {
      const token = await setUp(s)
      await ok(api(s, 'PATCH', '/api/v1/devices/bng-1', { policy: { lowWatermark: 0 } }))
      // 20 subscribers for 4 s (two /28s), 6 until 15 s (the second empties), then 40.
      agent = new AgentProcess(proxy.url, token, join(dir, 'agent'), [
        '--sim-curve',
        'steps,0=20,40=6,150=40',
        '--sim-session',
        '20',
        '--sim-retry',
        '2',
        '--speed',
        '10',
      ])
      const a = agent
      await a.until('two grants', () => new Set(a.of('install').map((l) => l['grant'])).size >= 2)
      const g2 = [...new Set(a.of('install').map((l) => String(l['grant'])))][1] as string
      const usedIn = (l: Line): number =>
        l.action === 'report' ? (reported(l).find((g) => g.grant === g2)?.used ?? 0) : 0
      const simSeconds = (l: Line): number =>
        (l['backend'] as { simSeconds?: number } | undefined)?.simSeconds ?? 0
      await a.until(
        'the second grant empty, before demand rises',
        (l) => l.action === 'report' && simSeconds(l) >= 100 && usedIn(l) === 0,
      )
      // The stream is slow: the drain does not reach the device, its reports reach the
      // coordinator (which today releases the grant on the first, made before the device knew).
      // Then the device is cut off altogether, which only widens the window: otherwise its
      // next report, refused, would make it resynchronise within one report interval.
      proxy.holdStreams()
      await ok(api(s, 'POST', `/api/v1/grants/${g2}/drain`, { reason: 'e2e' }))
      const mark = a.lines.length
      const next = await a.until('a report after the drain', (l) => l.action === 'report', mark)
      await a.until('its answer', (l) => l.action === 'report-confirm', a.lines.indexOf(next))
      proxy.partitioned = true
      // Demand rises: the device, which knows of no drain, serves users from the grant.
      await a.until('users in the grant', (l) => usedIn(l) > 0, mark)
      proxy.partitioned = false
      proxy.letGo()
      await a.until(
        'the drained grant released',
        (l) => l.action === 'release-confirmed' && (l['grants'] as string[]).includes(g2),
        mark,
      )
      assert.equal(await a.stop(), 0)
      await checkInvariants(s, { 'bng-1': [a] })
    } finally {
      await agent?.kill9()
      await proxy.close()
      await s.stop()
    }
  })

  it('a release replayed after a sync: the prefix granted anew is not removed', async () => {
    const dir = temp()
    const s = await startServer({ dataDir: join(dir, 'coordinator') })
    const proxy = await FaultyProxy.start({ target: s.url })
    let agent: AgentProcess | undefined
    try {
      // Two /28 units; 20 subscribers want more than one all the time.
      const token = await setUp(s, ['100.64.0.0/27'])
      agent = new AgentProcess(proxy.url, token, join(dir, 'agent'), [
        '--sim-subscribers',
        '20',
        '--sim-session',
        '20',
        '--sim-retry',
        '2',
        '--speed',
        '10',
      ])
      const a = agent
      await a.until('two grants', () => new Set(a.of('install').map((l) => l['grant'])).size >= 2)
      const g2 = [...new Set(a.of('install').map((l) => String(l['grant'])))][1] as string
      const prefix = a.of('install').find((l) => l['grant'] === g2)?.['prefix']
      await ok(api(s, 'POST', `/api/v1/grants/${g2}/drain`, { reason: 'e2e' }))
      await a.until('the sim drains it', (l) => l.action === 'drain' && l['grant'] === g2)
      // Slow stream from here on. The grant empties: released, and its prefix, the only free
      // unit, granted again at once; the device's next report names the old grant, is
      // refused, and the sync tells it of the new one.
      proxy.holdStreams()
      const mark = a.lines.length
      await a.until('a sync', (l) => l.action === 'sync', mark)
      await a.until(
        'users in the new grant',
        (l) =>
          l.action === 'report' &&
          reported(l).some((g) => g.prefix === prefix && g.grant !== g2 && g.used > 0),
        mark,
      )
      // The stream replays the release of the old grant (covered by the sync).
      proxy.letGo()
      await a.until(
        'the old grant confirmed',
        (l) => l.action === 'release-confirmed' && (l['grants'] as string[]).includes(g2),
        mark,
      )
      await converged(s, a)
      assert.equal(await a.stop(), 0)
      await checkInvariants(s, { 'bng-1': [a] })
    } finally {
      await agent?.kill9()
      await proxy.close()
      await s.stop()
    }
  })

  it('two devices compete for the last unit: it goes to one, nothing overlaps, the pool is exhausted', async () => {
    const dir = temp()
    const s = await startServer({ dataDir: join(dir, 'coordinator') })
    const agents: Record<string, AgentProcess[]> = {}
    try {
      // Three /28 units. Each device starts with one (granted by an operator, so that neither
      // can take everything before the other has asked); both need far more.
      const tokens: Record<string, string> = {
        'bng-1': await setUp(s, ['100.64.0.0/27', '100.64.0.32/28']),
        'bng-2': await addDevice(s, 'bng-2'),
      }
      const pool = await idOf(s, '/api/v1/pools/bng')
      for (const device of ['bng-1', 'bng-2'])
        await ok(api(s, 'POST', '/api/v1/pools/bng/grants', { device }))
      for (const [i, device] of ['bng-1', 'bng-2'].entries())
        agents[device] = [
          new AgentProcess(s.url, tokens[device] as string, join(dir, device), [
            '--sim-subscribers',
            '40',
            '--sim-session',
            '600',
            '--sim-retry',
            '5',
            '--sim-seed',
            String(i + 1),
            '--speed',
            '20',
          ]),
        ]
      const [one, two] = [agents['bng-1']?.[0], agents['bng-2']?.[0]] as [
        AgentProcess,
        AgentProcess,
      ]

      // The third unit goes to one of them; the other's growth fails: pool-exhausted.
      const total = async (): Promise<number> =>
        (await liveOf(s, 'bng-1')).length + (await liveOf(s, 'bng-2')).length
      await eventually('the pool handed out', async () => (await total()) === 3)
      const failed = (a: AgentProcess): boolean =>
        a.of('report-confirm').some((l) => (l['decisions'] as string[]).includes('grant-failed'))
      await eventually('both devices refused more', () => failed(one) && failed(two))
      const alerts = (await ok(api(s, 'GET', '/api/v1/alerts')))['items'] as {
        kind: string
        objectId: string
      }[]
      assert.ok(
        alerts.some((x) => x.kind === 'pool-exhausted' && x.objectId === pool),
        JSON.stringify(alerts),
      )
      await converged(s, one, 'bng-1')
      await converged(s, two, 'bng-2')
      const held = [(await liveOf(s, 'bng-1')).length, (await liveOf(s, 'bng-2')).length]
      assert.deepEqual([...held].sort(), [1, 2], `split ${JSON.stringify(held)}`)
      assert.equal(await total(), 3)
      // Growth came through the policy loop: nobody asked, nobody was refused.
      for (const a of [one, two]) {
        assert.equal(a.of('pool-request').length, 0)
        assert.equal(a.of('refused').length, 0, JSON.stringify(a.of('refused')))
      }

      // A third device that holds nothing asks in vain, and asks again.
      const late = new AgentProcess(s.url, await addDevice(s, 'bng-3'), join(dir, 'bng-3'), [
        '--sim-subscribers',
        '5',
      ])
      agents['bng-3'] = [late]
      await late.until(
        'a second pool-request',
        () =>
          late.of('pool-request').length >= 2 &&
          late
            .of('refused')
            .some((l) => l['type'] === 'pool-request' && l['code'] === 'CASM_ERR_POOL_EXHAUSTED'),
      )
      assert.equal((await liveOf(s, 'bng-3')).length, 0)
      assert.equal(await total(), 3)
      for (const a of [one, two, late]) assert.equal(await a.stop(), 0)
      const checked = await checkInvariants(s, agents)
      assert.equal(checked.liveGrants, 3)
    } finally {
      for (const a of Object.values(agents).flat()) await a.kill9()
      await s.stop()
    }
  })
})
