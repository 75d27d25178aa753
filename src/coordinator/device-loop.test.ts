/**
 * The device loop below the API, with a fake clock: every protocol message, every policy rule
 * applied (growth next to the device's grants, drain after hold-down, release only when reported
 * empty, undrain, forecast, lifetimes, silence, exhaustion, pin, move), refusals that change
 * nothing, and a property test of the invariants over random reports.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, afterEach, beforeEach, describe, it } from 'node:test'
import fc from 'fast-check'
import type {
  CoordinatorMessage,
  DeviceMessage,
  GrantInfo,
  StreamMessage,
} from '../domain/device-protocol.js'
import type { PoolPolicyInput } from '../domain/pool-policy.js'
import { Prefix } from '../ip/index.js'
import { openStore } from '../store/open-store.js'
import { rejectsCode } from '../../test/support/throws-code.js'
import { type Caller, systemCaller } from './caller.js'
import { FakeClock } from './clock.js'
import { Coordinator } from './coordinator.js'
import { flagSilentDevices, handleMessage } from './device-loop.js'
import { deviceLoopStatus, forceDrain, moveGrant, pin } from './grant-operations.js'
import { createBlock, createDevice, createDomain, createPool } from './inventory.js'

const dirs: string[] = []
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

const T0 = Date.parse('2026-11-26T00:00:00Z')

/** A coordinator on a fresh SQLite store with a pool `p` of `space` and devices d0..d(n-1). */
class Bench {
  readonly co: Coordinator
  readonly clock: FakeClock
  readonly admin: Caller
  readonly ids = new Map<string, string>()
  #txn = 0

  private constructor(co: Coordinator, clock: FakeClock, admin: Caller) {
    this.co = co
    this.clock = clock
    this.admin = admin
  }

  static async open(
    space: string,
    policy: PoolPolicyInput = {},
    devices = 2,
    family: 'ipv4' | 'ipv6' = 'ipv4',
  ): Promise<Bench> {
    const dir = mkdtempSync(join(tmpdir(), 'casm-loop-'))
    dirs.push(dir)
    const clock = new FakeClock(T0)
    const { coordinator: co } = await Coordinator.open(openStore({ dataDir: dir }), {
      clock,
      sweepIntervalMs: 0,
    })
    const t = await co.reader.getTenant('default')
    assert.ok(t)
    const admin = systemCaller(t.id)
    const b = new Bench(co, clock, admin)
    await co.run(createDomain(admin, { name: 'dom' }))
    await co.run(
      createBlock(admin, {
        domain: 'dom',
        space: family === 'ipv4' ? '10.0.0.0/8' : '2001:db8::/32',
      }),
    )
    await co.run(
      createPool(admin, {
        name: 'p',
        domain: 'dom',
        kind: 'subscriber',
        space: [space],
        policy: {
          unit:
            family === 'ipv4'
              ? { min: 24, default: 28, max: 30 }
              : { min: 48, default: 56, max: 60 },
          quarantine: 0,
          holdDown: 60,
          leadTime: 0,
          ...policy,
        },
      }),
    )
    for (let i = 0; i < devices; i++) {
      const d = await co.run(createDevice(admin, { name: `d${i}` }))
      b.ids.set(`d${i}`, d.id)
    }
    return b
  }

  device(name: string): Caller {
    const id = this.ids.get(name)
    assert.ok(id)
    return { ...this.admin, tokenId: `tok-${name}`, role: 'device', root: false, deviceId: id }
  }

  /** Sends a message as device `name` (a fresh txn unless given). */
  async send(
    name: string,
    m: { type: DeviceMessage['type']; txn?: string } & Record<string, unknown>,
  ): Promise<CoordinatorMessage> {
    const full = { v: 1, txn: m.txn ?? `t${++this.#txn}`, ...m } as DeviceMessage
    return this.co.run(handleMessage(this.device(name), full))
  }

  async request(name: string): Promise<GrantInfo> {
    const r = await this.send(name, { type: 'pool-request' })
    assert.equal(r.type, 'pool-reply')
    const g = r.grants[0]
    assert.ok(g)
    return g
  }

  /**
   * Reports usage as device `name`. The device serves each grant in the state the coordinator
   * has for it (it applied every drain it was sent) unless `served` says otherwise (`none`: the
   * report does not say).
   */
  async report(
    name: string,
    usage: Record<string, number>,
    served: 'current' | 'none' | Record<string, 'active' | 'draining'> = 'current',
  ): Promise<string[]> {
    const states = new Map((await this.grants(name)).map((g) => [g.id, g.state]))
    const stateOf = (grant: string): { state?: 'active' | 'draining' } => {
      if (served === 'none') return {}
      const st = served === 'current' ? states.get(grant) : served[grant]
      return st === 'active' || st === 'draining' ? { state: st } : {}
    }
    const r = await this.send(name, {
      type: 'status-report',
      window: 10,
      grants: Object.entries(usage).map(([grant, used]) => ({ grant, used, ...stateOf(grant) })),
    })
    assert.equal(r.type, 'report-confirm')
    return [...r.decisions]
  }

  /** Messages on the device's stream after `after`. */
  async stream(name: string, after = 0): Promise<StreamMessage[]> {
    const id = this.ids.get(name) ?? ''
    const rows = await this.co.reader.deviceMessages(id, after, 1000)
    return rows.map((r) => JSON.parse(r.body) as StreamMessage)
  }

  async grants(name: string): Promise<{ id: string; prefix: string; state: string }[]> {
    const rows = await this.co.reader.listAllocations(
      this.admin.tenantId,
      { type: 'grant', deviceId: this.ids.get(name) ?? '' },
      { limit: 1000 },
    )
    return rows.map((r) => ({ id: r.id, prefix: r.prefix, state: r.state }))
  }

  async live(name: string): Promise<{ id: string; prefix: string; state: string }[]> {
    return (await this.grants(name)).filter((g) => g.state === 'active' || g.state === 'draining')
  }

  async eventCount(): Promise<number> {
    return (await this.co.reader.chainHead()).seq
  }

  close(): Promise<void> {
    return this.co.close()
  }
}

describe('device protocol', () => {
  let b: Bench
  beforeEach(async () => {
    b = await Bench.open('10.1.0.0/24')
  })
  afterEach(() => b.close())

  it('hello answers what the device must hold, and what it must remove', async () => {
    const first = await b.send('d0', {
      type: 'hello',
      agent: { version: '1', backend: 'sim' },
      holds: [],
    })
    assert.equal(first.type, 'sync')
    assert.deepEqual(first.grants, [])
    assert.equal(first.reportInterval, 10)
    const g = await b.request('d0')
    const sync = await b.send('d0', {
      type: 'hello',
      agent: { version: '1', backend: 'sim' },
      holds: [{ prefix: g.prefix }, { prefix: '10.9.9.0/28' }, { prefix: '10.1.0.0/255' }].slice(
        0,
        2,
      ),
    })
    assert.equal(sync.type, 'sync')
    assert.deepEqual(
      sync.grants.map((x) => x.prefix),
      [g.prefix],
    )
    assert.deepEqual(
      sync.remove.map((r) => r.prefix),
      ['10.9.9.0/28'],
    )
    await rejectsCode(
      b.send('d0', {
        type: 'hello',
        agent: { version: '1', backend: 'sim' },
        holds: [{ prefix: 'nonsense' }],
      }),
      'CASM_ERR_VALIDATION',
    )
  })

  it('pool-request grants the default unit, the length being a hint inside the bounds', async () => {
    const g = await b.request('d0')
    assert.equal(Prefix.parse(g.prefix).length, 28)
    assert.equal(g.pool, 'p')
    const r = await b.send('d0', { type: 'pool-request', length: 26 })
    assert.equal(r.type, 'pool-reply')
    assert.equal(Prefix.parse(r.grants[0]?.prefix ?? '').length, 26, 'the hint is taken')
    const small = await b.send('d0', { type: 'pool-request', length: 32 })
    assert.equal(small.type, 'pool-reply')
    assert.equal(Prefix.parse(small.grants[0]?.prefix ?? '').length, 30, 'clamped to the unit max')
  })

  it('a device acts only on its own grants; refused messages change nothing', async () => {
    const g0 = await b.request('d0')
    await b.request('d1')
    const before = await b.eventCount()
    await rejectsCode(b.report('d1', { [g0.grant]: 1 }), 'CASM_ERR_NOT_FOUND')
    await rejectsCode(
      b.send('d1', { type: 'release-request', grants: [g0.grant] }),
      'CASM_ERR_NOT_FOUND',
    )
    await rejectsCode(b.send('d1', { type: 'renew', grants: [g0.grant] }), 'CASM_ERR_NOT_FOUND')
    await rejectsCode(b.report('d0', { [g0.grant]: 17 }), 'CASM_ERR_VALIDATION', /between 0 and 16/)
    await rejectsCode(
      b.send('d0', {
        type: 'status-report',
        window: 10,
        grants: [
          { grant: g0.grant, used: 1 },
          { grant: g0.grant, used: 2 },
        ],
      }),
      'CASM_ERR_VALIDATION',
    )
    assert.equal(await b.eventCount(), before)
    assert.equal((await b.live('d0')).length, 1)
    const status = await b.co.reader.getGrantStatus(g0.grant)
    assert.equal(status?.used ?? null, null, 'no usage recorded from refused reports')
  })

  it('out-of-order messages are refused: confirm before release, report after release, ack ahead', async () => {
    const g = await b.request('d0')
    await rejectsCode(
      b.send('d0', { type: 'release-confirm', grants: [g.grant] }),
      'CASM_ERR_OUT_OF_ORDER',
    )
    await rejectsCode(b.send('d0', { type: 'ack', upTo: 99 }), 'CASM_ERR_OUT_OF_ORDER')
    const rel = await b.send('d0', { type: 'release-request', grants: [g.grant] })
    assert.equal(rel.type, 'release-notification')
    assert.equal(rel.grants[0]?.state, 'free')
    await rejectsCode(b.report('d0', { [g.grant]: 0 }), 'CASM_ERR_OUT_OF_ORDER')
    await rejectsCode(b.send('d0', { type: 'renew', grants: [g.grant] }), 'CASM_ERR_OUT_OF_ORDER')
    await rejectsCode(
      b.send('d0', { type: 'release-request', grants: [g.grant] }),
      'CASM_ERR_OUT_OF_ORDER',
    )
    const ok = await b.send('d0', { type: 'release-confirm', grants: [g.grant] })
    assert.equal(ok.type, 'ok')
  })

  it('a non-device caller cannot speak the protocol', async () => {
    await rejectsCode(
      b.co.run(handleMessage(b.admin, { v: 1, txn: 'x', type: 'status-query' })),
      'CASM_ERR_FORBIDDEN',
    )
  })

  it('ack lets the coordinator forget stream messages up to it', async () => {
    const g = await b.request('d0')
    await b.report('d0', { [g.grant]: 15 })
    const before = await b.stream('d0')
    assert.ok(before.length >= 1)
    const r = await b.send('d0', { type: 'ack', upTo: 1 })
    assert.equal(r.type, 'ok')
    assert.equal((await b.stream('d0')).length, before.length - 1)
  })
})

describe('policy loop', () => {
  let b: Bench
  afterEach(() => b.close())

  it('grows past the high watermark, next to the grant, keeping one route', async () => {
    // Sparse: devices start far apart, so each has room to grow in one route.
    b = await Bench.open('10.1.0.0/24', { strategy: 'sparse' })
    const g0 = await b.request('d0')
    const g = await b.request('d1')
    assert.ok(g)
    assert.deepEqual(await b.report('d0', { [g0.grant]: 10 }), [], '62% is under 80%')
    assert.deepEqual(await b.report('d0', { [g0.grant]: 13 }), ['grant'])
    const events = await b.stream('d0')
    const reply = events.find((e) => e.type === 'pool-reply')
    assert.ok(reply?.type === 'pool-reply')
    const second = Prefix.parse(reply.grants[0]?.prefix ?? '')
    const first = Prefix.parse(g0.prefix)
    assert.ok(first.last + 1n === second.first || second.last + 1n === first.first, 'adjacent')
    const status = await deviceLoopStatus(b.co.reader, b.admin, 'd0', b.clock.now())
    assert.equal(status.routes, 1)
    assert.equal(status.grants.length, 2)
    const ev = await b.co.reader.listEvents(
      { tenantId: b.admin.tenantId, action: 'grant.create' },
      { limit: 10 },
    )
    assert.ok(
      ev.some((e) => e.reason?.includes('high watermark') === true),
      'the event says why',
    )
  })

  it('a full device gets enough units in one decision to fall under the watermark, in one pool-reply', async () => {
    b = await Bench.open('10.1.0.0/24', { strategy: 'sparse' })
    const held = [await b.request('d0'), await b.request('d0'), await b.request('d0')]
    const full = Object.fromEntries(held.map((g) => [g.grant, 16]))
    // 48 of 48 in use at 0.8: 60 needed, 12 missing → 1 unit is not enough (48/64 = 75 % is);
    // with 4 grants full (64): 80 needed, 16 missing → 2 units (64/96 = 67 %).
    held.push(await b.request('d0'))
    full[held[3]?.grant ?? ''] = 16
    assert.deepEqual(await b.report('d0', full), ['grant'])
    const replies = (await b.stream('d0')).filter((e) => e.type === 'pool-reply')
    const last = replies[replies.length - 1]
    assert.ok(last?.type === 'pool-reply')
    assert.equal(last.grants.length, 2, 'two units in one reply')
    assert.equal((await b.live('d0')).length, 6)
    assert.deepEqual(await b.report('d0', full), [], '64 of 96 is under the watermark')
    const ev = await b.co.reader.listEvents(
      { tenantId: b.admin.tenantId, action: 'grant.create' },
      { limit: 20 },
    )
    assert.ok(ev.some((e) => e.reason?.includes('unit 2 of 2') === true))
  })

  it('drains the least-used grant after the hold-down, and releases it only when reported empty', async () => {
    b = await Bench.open('10.1.0.0/24', { holdDown: 60 })
    const a = await b.request('d0')
    const c = await b.request('d0')
    assert.deepEqual(await b.report('d0', { [a.grant]: 3, [c.grant]: 1 }), [])
    b.clock.advance(30_000)
    assert.deepEqual(await b.report('d0', { [a.grant]: 3, [c.grant]: 1 }), [], 'hold-down not over')
    b.clock.advance(31_000)
    assert.deepEqual(await b.report('d0', { [a.grant]: 3, [c.grant]: 1 }), ['drain'])
    const drain = (await b.stream('d0')).find((e) => e.type === 'drain')
    assert.ok(drain?.type === 'drain')
    assert.equal(drain.grant, c.grant, 'the least used drains')
    assert.equal(drain.cause, 'policy')
    // Still in use: never released.
    for (let i = 0; i < 5; i++) {
      b.clock.advance(10_000)
      assert.deepEqual(await b.report('d0', { [a.grant]: 3, [c.grant]: 1 }), [])
    }
    assert.equal((await b.live('d0')).length, 2)
    b.clock.advance(10_000)
    assert.deepEqual(await b.report('d0', { [a.grant]: 3, [c.grant]: 0 }), ['release'])
    const note = (await b.stream('d0')).find((e) => e.type === 'release-notification')
    assert.ok(note?.type === 'release-notification')
    assert.equal(note.grants[0]?.grant, c.grant)
    assert.deepEqual(
      (await b.live('d0')).map((x) => x.id),
      [a.grant],
    )
    // minUnits: the last grant is never drained.
    b.clock.advance(3_600_000)
    assert.deepEqual(await b.report('d0', { [a.grant]: 0 }), [])
    assert.deepEqual(await b.report('d0', { [a.grant]: 0 }), [])
  })

  it('a report of 0 made before the device applied the drain releases nothing', async () => {
    b = await Bench.open('10.1.0.0/24', { holdDown: 0 })
    const a = await b.request('d0')
    const c = await b.request('d0')
    await b.co.run(forceDrain(b.admin, c.grant))
    // The device has not seen the drain yet: it still serves c as active.
    assert.deepEqual(
      await b.report('d0', { [a.grant]: 3, [c.grant]: 0 }, { [c.grant]: 'active' }),
      [],
    )
    // A device that does not say what it serves: its acknowledgement of the drain counts.
    assert.deepEqual(await b.report('d0', { [a.grant]: 3, [c.grant]: 0 }, 'none'), [])
    const drain = (await b.stream('d0')).find((e) => e.type === 'drain')
    assert.ok(drain !== undefined)
    const seq = (await b.co.reader.getDeviceLoop(b.ids.get('d0') ?? ''))?.streamSeq ?? 0
    await b.send('d0', { type: 'ack', upTo: seq })
    assert.deepEqual(await b.report('d0', { [a.grant]: 3, [c.grant]: 0 }, 'none'), ['release'])
    const e = await b.request('d0')
    await b.co.run(forceDrain(b.admin, e.grant))
    // It says it serves the grant as draining: that is enough.
    assert.deepEqual(
      await b.report('d0', { [a.grant]: 3, [e.grant]: 0 }, { [e.grant]: 'draining' }),
      ['release'],
    )
  })

  it('undrains a policy drain when usage climbs back over the high watermark', async () => {
    b = await Bench.open('10.1.0.0/24', { holdDown: 0 })
    const a = await b.request('d0')
    const c = await b.request('d0')
    assert.deepEqual(await b.report('d0', { [a.grant]: 2, [c.grant]: 1 }), ['drain'])
    assert.deepEqual(await b.report('d0', { [a.grant]: 14, [c.grant]: 1 }), ['undrain'])
    const live = await b.live('d0')
    assert.ok(live.every((g) => g.state === 'active'))
  })

  it('a pinned grant is never reclaimed', async () => {
    b = await Bench.open('10.1.0.0/24', { holdDown: 0 })
    const a = await b.request('d0')
    const c = await b.request('d0')
    await b.co.run(pin(b.admin, a.grant, true))
    await b.co.run(pin(b.admin, c.grant, true))
    assert.deepEqual(await b.report('d0', { [a.grant]: 0, [c.grant]: 0 }), [])
    assert.equal((await b.live('d0')).length, 2)
  })

  it('forecast: steady growth under the watermark grants before the lead time runs out', async () => {
    b = await Bench.open('10.1.0.0/24', { leadTime: 600, reportInterval: 10 })
    const a = await b.request('d0')
    let decisions: string[] = []
    for (let used = 1; used <= 8 && decisions.length === 0; used++) {
      decisions = await b.report('d0', { [a.grant]: used })
      b.clock.advance(60_000)
    }
    // One more address a minute: 16 run out within 10 minutes well before 80% is reached.
    assert.deepEqual(decisions, ['grant'])
    const ev = await b.co.reader.listEvents(
      { tenantId: b.admin.tenantId, action: 'grant.create' },
      { limit: 10 },
    )
    assert.ok(ev.some((e) => e.reason?.includes('forecast') === true))
  })

  it('exhaustion: two devices compete for the last unit; the loser gets an alert, not an overlap', async () => {
    b = await Bench.open('10.1.0.0/27') // two /28 units
    const a = await b.request('d0')
    const c = await b.request('d1')
    const [r0, r1] = await Promise.all([
      b.report('d0', { [a.grant]: 16 }),
      b.report('d1', { [c.grant]: 16 }),
    ])
    assert.deepEqual([...r0, ...r1].sort(), ['grant-failed', 'grant-failed'], 'the pool was full')
    const alerts = await b.co.reader.listAlerts(b.admin.tenantId, true, 10)
    assert.ok(alerts.some((x) => x.kind === 'pool-exhausted'))
    // Three failures in a row: a device alert too.
    await b.report('d0', { [a.grant]: 16 })
    await b.report('d0', { [a.grant]: 16 })
    const again = await b.co.reader.listAlerts(b.admin.tenantId, true, 10)
    assert.ok(again.some((x) => x.kind === 'grant-failures' && x.objectId === b.ids.get('d0')))
    await rejectsCode(b.send('d0', { type: 'pool-request' }), 'CASM_ERR_POOL_EXHAUSTED')
  })

  it('the last free unit goes to exactly one of two devices reporting at once', async () => {
    b = await Bench.open('10.1.0.0/26') // four /28 units
    const a = await b.request('d0')
    const c = await b.request('d1')
    await b.request('d1')
    const results = await Promise.all([
      b.report('d0', { [a.grant]: 16 }),
      b.report('d1', { [c.grant]: 16 }),
    ])
    const granted = results.flat().filter((x) => x === 'grant').length
    assert.equal(granted, 1)
    const all = [...(await b.live('d0')), ...(await b.live('d1'))].map((g) =>
      Prefix.parse(g.prefix),
    )
    assert.equal(all.length, 4)
    assert.equal(new Set(all.map(String)).size, 4, 'no prefix twice')
  })

  it('lifetime: the sweep drains, a renewal keeps it, an empty report expires it', async () => {
    b = await Bench.open('10.1.0.0/24', { lifetime: 100 })
    const a = await b.request('d0')
    assert.ok(a.expiresAt !== null)
    b.clock.advance(60_000)
    const r = await b.send('d0', { type: 'renew', grants: [a.grant] })
    assert.equal(r.type, 'renew-reply')
    assert.equal(r.grants[0]?.expiresAt, new Date(b.clock.now() + 100_000).toISOString())
    b.clock.advance(99_000)
    await b.co.sweepNow()
    assert.equal((await b.live('d0'))[0]?.state, 'active', 'renewed: not yet due')
    b.clock.advance(2_000)
    await b.co.sweepNow()
    assert.equal((await b.live('d0'))[0]?.state, 'draining', 'drained, not expired')
    const drain = (await b.stream('d0')).find((e) => e.type === 'drain')
    assert.ok(drain?.type === 'drain')
    assert.equal(drain.cause, 'lifetime')
    await rejectsCode(b.send('d0', { type: 'renew', grants: [a.grant] }), 'CASM_ERR_OUT_OF_ORDER')
    await b.co.sweepNow()
    assert.equal((await b.live('d0'))[0]?.state, 'draining', 'still in use: kept')
    assert.deepEqual(
      await b.report('d0', { [a.grant]: 2 }),
      ['grant'],
      'its users need space while the old grant drains',
    )
    assert.deepEqual(await b.report('d0', { [a.grant]: 0 }), ['expire'])
    const left = await b.live('d0')
    assert.equal(left.length, 1)
    assert.notEqual(left[0]?.id, a.grant)
    const expired = (await b.grants('d0')).find((g) => g.id === a.grant)
    assert.ok(expired?.state === 'free' || expired?.state === 'quarantined')
  })

  it('a silent device raises one alert (nothing reclaimed) and clears it when it reports', async () => {
    b = await Bench.open('10.1.0.0/24', { staleAfter: 30 })
    const a = await b.request('d0')
    await b.report('d0', { [a.grant]: 1 })
    b.clock.advance(29_000)
    assert.equal(await b.co.run(flagSilentDevices()), 0)
    b.clock.advance(2_000)
    assert.equal(await b.co.run(flagSilentDevices()), 1)
    assert.equal(await b.co.run(flagSilentDevices()), 0, 'raised once')
    let alerts = await b.co.reader.listAlerts(b.admin.tenantId, true, 10)
    assert.deepEqual(
      alerts.map((x) => x.kind),
      ['device-silent'],
    )
    assert.equal((await b.live('d0')).length, 1)
    await b.report('d0', { [a.grant]: 1 })
    alerts = await b.co.reader.listAlerts(b.admin.tenantId, true, 10)
    assert.deepEqual(alerts, [])
  })

  it('move: drains on the first device, then the same prefix goes to the second', async () => {
    b = await Bench.open('10.1.0.0/24', { quarantine: 300 })
    const a = await b.request('d0')
    await b.co.run(moveGrant(b.admin, a.grant, 'd1'))
    const drain = (await b.stream('d0')).find((e) => e.type === 'drain')
    assert.ok(drain?.type === 'drain')
    assert.equal(drain.cause, 'move')
    assert.deepEqual(
      await b.report('d0', { [a.grant]: 4 }),
      ['grant'],
      'in use: it stays, and the device gets other space for its remaining users',
    )
    assert.deepEqual(await b.report('d0', { [a.grant]: 0 }), ['release'])
    assert.equal((await b.live('d0')).length, 1, 'only its new grant')
    const moved = await b.live('d1')
    assert.deepEqual(
      moved.map((g) => g.prefix),
      [a.prefix],
    )
    const reply = (await b.stream('d1')).find((e) => e.type === 'pool-reply')
    assert.ok(reply?.type === 'pool-reply')
    assert.equal(reply.grants[0]?.prefix, a.prefix)
  })

  it('move: a device that releases the moving grant itself hands it on too', async () => {
    b = await Bench.open('10.1.0.0/24', { quarantine: 300 })
    const a = await b.request('d0')
    await b.co.run(moveGrant(b.admin, a.grant, 'd1'))
    const r = await b.send('d0', { type: 'release-request', grants: [a.grant] })
    assert.equal(r.type, 'release-notification')
    assert.equal(r.grants[0]?.state, 'free', 'no quarantine on a move')
    assert.deepEqual(
      (await b.live('d1')).map((g) => g.prefix),
      [a.prefix],
    )
  })

  it('force-drain by an operator, even when pinned; dry run shows the plan without applying it', async () => {
    b = await Bench.open('10.1.0.0/24', { holdDown: 0 })
    const a = await b.request('d0')
    const c = await b.request('d0')
    await b.report('d0', { [a.grant]: 14, [c.grant]: 0 })
    await b.co.run(pin(b.admin, a.grant, true))
    const drained = await b.co.run(forceDrain(b.admin, a.grant, 'maintenance'))
    assert.equal(drained.state, 'draining')
    assert.equal(drained.drainCause, 'operator')
    await rejectsCode(b.co.run(forceDrain(b.admin, a.grant)), 'CASM_ERR_ILLEGAL_TRANSITION')
    const before = await b.eventCount()
    const status = await deviceLoopStatus(b.co.reader, b.admin, 'd0', b.clock.now())
    assert.ok(status.plan.length > 0, 'the engine has something to say')
    assert.equal(await b.eventCount(), before, 'a dry run changes nothing')
  })

  it('IPv6 prefix delegation pools count /64s', async () => {
    b = await Bench.open('2001:db8:100::/40', {}, 1, 'ipv6')
    const a = await b.request('d0')
    assert.equal(Prefix.parse(a.prefix).length, 56)
    assert.deepEqual(await b.report('d0', { [a.grant]: 250 }), ['grant'], '250 of 256 /64s')
  })
})

describe('policy loop invariants', () => {
  it('no grant is released while its device reports use, and grants never overlap (random reports)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            device: fc.constantFrom('d0', 'd1', 'd2'),
            usage: fc.array(fc.integer({ min: 0, max: 16 }), { minLength: 1, maxLength: 6 }),
            advance: fc.integer({ min: 0, max: 120_000 }),
            op: fc.constantFrom('report', 'report', 'report', 'drain', 'sweep'),
          }),
          { minLength: 5, maxLength: 30 },
        ),
        async (steps) => {
          const b = await Bench.open('10.1.0.0/25', { holdDown: 30, lifetime: 300 }, 3)
          try {
            for (const d of ['d0', 'd1', 'd2']) await b.request(d)
            for (const s of steps) {
              b.clock.advance(s.advance)
              const live = await b.live(s.device)
              if (s.op === 'sweep') {
                await b.co.sweepNow()
                continue
              }
              if (s.op === 'drain') {
                const g = live.find((x) => x.state === 'active')
                if (g !== undefined) await b.co.run(forceDrain(b.admin, g.id))
                continue
              }
              const usage: Record<string, number> = {}
              live.forEach((g, i) => (usage[g.id] = s.usage[i % s.usage.length] ?? 0))
              const before = new Map(live.map((g) => [g.id, usage[g.id] ?? 0]))
              await b.report(s.device, usage)
              const after = new Map((await b.live(s.device)).map((g) => [g.id, g]))
              for (const [id, used] of before) {
                if (used > 0) assert.ok(after.has(id), `grant ${id} reported in use was released`)
              }
            }
            const all = (
              await b.co.reader.listAllocations(
                b.admin.tenantId,
                { type: 'grant', live: true },
                { limit: 1000 },
              )
            )
              .map((r) => Prefix.of(r.family, r.first, r.length))
              .sort((x, y) => x.compare(y))
            for (let i = 1; i < all.length; i++)
              assert.ok((all[i - 1] as Prefix).last < (all[i] as Prefix).first, 'overlap')
          } finally {
            await b.close()
          }
        },
      ),
      { numRuns: 15 },
    )
  })
})
