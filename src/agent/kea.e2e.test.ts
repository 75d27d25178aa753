/**
 * End to end with real DHCP traffic: `casm serve`, a real Kea that starts with no pool, a real
 * `casm agent --backend kea` feeding it, and perfdhcp as the subscribers. Checked in every test:
 * every lease Kea gave lies in a grant the coordinator assigned to that device, and no grant was
 * released while Kea still had a live lease in it (a lease watcher records every lease seen).
 */
import assert from 'node:assert/strict'
import { readFile, rm, writeFile } from 'node:fs/promises'
import { after, describe, it } from 'node:test'
import { api } from '../../test/support/casm-server.js'
import {
  AgentProcess,
  addDevice,
  eventually,
  grantsOf,
  live,
  ok,
  tempDirs,
  type Target,
} from '../../test/support/agent-process.js'
import { startServer } from '../../test/support/casm-server.js'
import { type KeaProcess, keaSkipReason, startKea } from '../kea/kea-process.js'
import { type PerfdhcpResult, startPerfdhcp } from '../kea/perfdhcp.js'
import { Address, Prefix } from '../ip/index.js'

const skip = keaSkipReason()
const tmp = tempDirs('casm-kea-e2e-')

interface SeenLease {
  readonly address: string
  readonly client: string
  readonly cltt: number
  readonly expire: number
}

/** Polls Kea's leases and keeps every one it saw (address, client, start, end). */
class LeaseWatcher {
  readonly seen = new Map<string, SeenLease>()
  #timer: NodeJS.Timeout | undefined
  #busy = false

  constructor(
    private readonly kea: KeaProcess,
    private readonly v6: boolean,
  ) {}

  start(): void {
    this.#timer = setInterval(() => void this.poll(), 200)
  }

  async poll(): Promise<void> {
    if (this.#busy) return
    this.#busy = true
    try {
      const r = await this.kea.command<{ leases?: Record<string, string | number | undefined>[] }>(
        this.v6 ? 'lease6-get-all' : 'lease4-get-all',
        undefined,
        2_000,
      )
      for (const l of r.arguments?.leases ?? []) {
        const address = this.v6
          ? `${String(l['ip-address'])}/${String(l['prefix-len'] ?? 128)}`
          : String(l['ip-address'])
        const cltt = Number(l['cltt'])
        const seen: SeenLease = {
          address,
          client: String(l['hw-address'] ?? l['duid'] ?? ''),
          cltt,
          expire: cltt + Number(l['valid-lft']),
        }
        this.seen.set(`${address} ${cltt}`, seen)
      }
    } catch {
      // Kea is down (a test killed it): nothing to see.
    } finally {
      this.#busy = false
    }
  }

  stop(): void {
    clearInterval(this.#timer)
  }
}

interface Rig {
  readonly target: Target
  readonly kea: KeaProcess
  readonly agent: AgentProcess
  readonly watcher: LeaseWatcher
  readonly device: string
  readonly v6: boolean
}

const rigs: { stop: () => Promise<void> }[] = []
after(async () => {
  for (const r of rigs.reverse()) await r.stop()
})

/** Coordinator, inventory, an empty Kea and its agent. */
async function rig(
  v6: boolean,
  options: { validLifetime: number; leaseUpload?: number },
): Promise<Rig> {
  const server = await startServer({ dataDir: tmp() })
  rigs.push(server)
  const target = { url: server.url, token: server.token }
  await ok(api(target, 'POST', '/api/v1/domains', { name: 'net' }))
  await ok(
    api(target, 'POST', '/api/v1/blocks', {
      domain: 'net',
      space: v6 ? '2001:db8::/32' : '100.64.0.0/16',
    }),
  )
  await ok(
    api(target, 'POST', '/api/v1/pools', {
      name: 'dhcp',
      domain: 'net',
      kind: 'subscriber',
      space: [v6 ? '2001:db8:100::/40' : '100.64.0.0/22'],
      policy: {
        unit: v6 ? { min: 48, default: 52, max: 52 } : { min: 24, default: 27, max: 27 },
        quarantine: 0,
        reportInterval: 1,
        holdDown: 3,
        leadTime: 4,
        highWatermark: 0.5,
        lowWatermark: 0.2,
        minUnits: 1,
      },
    }),
  )
  const device = 'kea-1'
  const token = await addDevice(target, device)
  const kea = await startKea({
    service: v6 ? 'dhcp6' : 'dhcp4',
    dir: tmp(),
    validLifetime: options.validLifetime,
    logSeverity: 'WARN',
  })
  rigs.push({ stop: () => kea.dispose() })
  const agent = new AgentProcess(target.url, token, tmp(), [
    '--backend',
    'kea',
    v6 ? '--kea-socket6' : '--kea-socket4',
    kea.socketPath,
    '--lease-upload',
    String(options.leaseUpload ?? 60),
  ])
  rigs.push({
    stop: async () => {
      await agent.stop()
    },
  })
  const watcher = new LeaseWatcher(kea, v6)
  watcher.start()
  rigs.push({
    stop: () => {
      watcher.stop()
      return Promise.resolve()
    },
  })
  // The agent asks for a first pool and installs it as a Kea subnet.
  await eventually(
    'the first grant in Kea',
    async () => (await keaSubnets(kea, v6)).length === 1,
    () => agent.tail(),
  )
  return { target, kea, agent, watcher, device, v6 }
}

async function keaSubnets(kea: KeaProcess, v6: boolean): Promise<string[]> {
  const { arguments: config } =
    await kea.command<Record<string, Record<string, unknown>>>('config-get')
  const root = config![v6 ? 'Dhcp6' : 'Dhcp4']!
  const nets = (root['shared-networks'] ?? []) as Record<string, unknown>[]
  return nets.flatMap((n) =>
    ((n[v6 ? 'subnet6' : 'subnet4'] ?? []) as { subnet: string }[]).map((s) => s.subnet),
  )
}

/** Subscribers arriving: `clients` distinct clients at `rate` per second for `seconds`. */
function subscribers(r: Rig, o: { rate: number; clients: number; seconds: number; seed: number }) {
  return startPerfdhcp({
    service: r.v6 ? 'dhcp6' : 'dhcp4',
    serverPort: r.kea.serverPort,
    clientPort: r.kea.clientPort,
    ...(r.v6 ? { leaseType: 'prefix-only' as const } : {}),
    rate: o.rate,
    clients: o.clients,
    duration: o.seconds,
    seed: o.seed,
    // Exchanges still in flight when the period ends are waited for, not counted as drops.
    dropTime: 2,
    exitWaitMs: 2_000,
  })
}

/** Kea's packet counters (statistic-get-all): what reached it and what it answered. */
async function keaCounters(
  kea: KeaProcess,
  v6: boolean,
): Promise<{ first: number; offered: number; second: number; answered: number }> {
  const { arguments: stats } =
    await kea.command<Record<string, [number, string][]>>('statistic-get-all')
  const n = (name: string): number => stats?.[name]?.[0]?.[0] ?? 0
  return v6
    ? {
        first: n('pkt6-solicit-received'),
        offered: n('pkt6-advertise-sent'),
        second: n('pkt6-request-received'),
        answered: n('pkt6-reply-sent'),
      }
    : {
        first: n('pkt4-discover-received'),
        offered: n('pkt4-offer-sent'),
        second: n('pkt4-request-received'),
        answered: n('pkt4-ack-sent'),
      }
}

/**
 * Runs subscribers and checks the DHCP outcome: no client found the space exhausted; every
 * exchange that reached Kea completed (≥ 99 %); and every failure is a packet Kea never
 * received — Kea 2.2 closes its sockets while `config-set` applies a new pool, and perfdhcp,
 * unlike a real client, does not send again (docs/kea.md). Returns the overall rate.
 */
async function serve(
  r: Rig,
  o: { rate: number; clients: number; seconds: number; seed: number },
): Promise<{ rate: number; result: PerfdhcpResult; unseen: number }> {
  const before = await keaCounters(r.kea, r.v6)
  const refusedBefore = r.kea.allocationFailures()
  const result = await subscribers(r, o).result
  const after = await keaCounters(r.kea, r.v6)
  const first = result.exchanges[r.v6 ? 'SOLICIT-ADVERTISE' : 'DISCOVER-OFFER']
  const second = result.exchanges[r.v6 ? 'REQUEST-REPLY' : 'REQUEST-ACK']
  assert.ok(first !== undefined && second !== undefined && first.sent > 0, result.stdout)
  assert.equal(
    r.kea.allocationFailures() - refusedBefore,
    0,
    `clients found no free address\n${result.stdout}`,
  )
  const reached = after.first - before.first
  const requested = after.second - before.second
  const offered = after.offered - before.offered
  const answered = after.answered - before.answered
  // Each half of the exchange on its own: a REQUEST lost on the way must not count against the
  // DISCOVER Kea answered (that loss is counted below, among the packets Kea never received).
  assert.ok(
    offered / reached >= 0.99,
    `Kea offered to ${offered} of the ${reached} clients that reached it`,
  )
  assert.ok(
    answered / requested >= 0.99,
    `Kea acknowledged ${answered} of the ${requested} requests that reached it`,
  )
  const unseen = first.sent - reached + (second.sent - requested)
  const failed = first.sent - second.received
  assert.equal(failed, unseen, `${failed} failed, ${unseen} never reached Kea\n${result.stdout}`)
  // Bounded: a few packets per config-set at these rates.
  assert.ok(second.received / first.sent >= 0.97, result.stdout)
  return { rate: second.received / first.sent, result, unseen }
}

const inside = (address: string, prefix: string): boolean => {
  const p = Prefix.parse(prefix)
  return address.includes('/')
    ? p.contains(Prefix.parse(address))
    : p.contains(Address.parse(address))
}

/** Every lease seen lies in a grant of the device; no grant was released while a lease in it lived. */
async function checkInvariants(r: Rig): Promise<{ leases: number; releases: number }> {
  await r.watcher.poll()
  const grants = await grantsOf(r.target, r.device)
  for (const l of r.watcher.seen.values())
    assert.ok(
      grants.some((g) => inside(l.address, g.prefix)),
      `lease ${l.address} lies in no grant of ${r.device}: ${grants.map((g) => g.prefix).join(' ')}`,
    )
  const events = await ok(api(r.target, 'GET', '/api/v1/events?action=grant.release&limit=1000'))
  const releases = events['items'] as { object: string; time: string }[]
  for (const e of releases) {
    const g = grants.find((x) => x.id === e.object)
    if (g === undefined) continue
    const at = Date.parse(e.time) / 1000
    for (const l of r.watcher.seen.values())
      if (inside(l.address, g.prefix))
        assert.ok(
          !(l.cltt <= at - 1 && at + 1 < l.expire),
          `grant ${g.prefix} released at ${e.time} while lease ${l.address} (${l.client}) lived until ${new Date(l.expire * 1000).toISOString()}`,
        )
  }
  return { leases: r.watcher.seen.size, releases: releases.length }
}

describe('casm agent --backend kea with real DHCP traffic', { skip }, () => {
  for (const v6 of [false, true])
    it(`${v6 ? 'DHCPv6 prefix delegation' : 'DHCPv4'}: grows from one unit under load, then gives the space back as subscribers leave`, async (t) => {
      const r = await rig(v6, { validLifetime: 25 })
      const first = live(await grantsOf(r.target, r.device))
      assert.equal(first.length, 1)
      // One unit holds 30 addresses (/27) or 16 delegated /56s (/52); more subscribers come.
      const { rate, unseen } = await serve(
        r,
        v6
          ? { rate: 5, clients: 150, seconds: 20, seed: 7 }
          : { rate: 10, clients: 300, seconds: 20, seed: 7 },
      )
      const grown = live(await grantsOf(r.target, r.device))
      assert.ok(grown.length >= 3, `grew to ${grown.length} grants`)
      assert.deepEqual((await keaSubnets(r.kea, v6)).sort(), grown.map((g) => g.prefix).sort())
      // The subscribers leave (no renewals: their leases run out); the loop drains and reclaims.
      await eventually(
        'the grants to drain back to one',
        async () => live(await grantsOf(r.target, r.device)).length === 1,
        async () =>
          `${JSON.stringify(live(await grantsOf(r.target, r.device)))}\n${r.agent.tail()}`,
        90_000,
      )
      await eventually(
        'Kea to hold one subnet',
        async () => (await keaSubnets(r.kea, v6)).length === 1,
      )
      const seen = await checkInvariants(r)
      t.diagnostic(
        `success ${(rate * 100).toFixed(2)} % (${unseen} packets lost while Kea reconfigured), grew to ${grown.length} grants, ${seen.leases} leases, ${seen.releases} releases`,
      )
      assert.ok(seen.releases >= 2, `releases ${seen.releases}`)
      assert.ok(seen.leases >= (v6 ? 60 : 100), `leases seen ${seen.leases}`)
    })

  it('DHCPv4: Kea killed and restarted mid-run comes back with its pools and leases', async () => {
    const r = await rig(false, { validLifetime: 120 })
    const run = subscribers(r, { rate: 5, clients: 100, seconds: 8, seed: 11 })
    await run.result
    await eventually(
      'a second grant',
      async () => live(await grantsOf(r.target, r.device)).length >= 2,
    )
    await r.watcher.poll()
    const before = new Set([...r.watcher.seen.values()].map((l) => `${l.address} ${l.client}`))
    await r.kea.kill()
    const during = subscribers(r, { rate: 5, clients: 50, seconds: 3, seed: 12 })
    await during.result
    await r.kea.start()
    // Back from its own file (config-write) and lease file: every pool and lease.
    assert.deepEqual(
      (await keaSubnets(r.kea, false)).sort(),
      live(await grantsOf(r.target, r.device))
        .map((g) => g.prefix)
        .sort(),
    )
    const leases = await r.kea.command<{
      leases: { 'ip-address': string; 'hw-address': string }[]
    }>('lease4-get-all')
    const now = new Set(
      leases.arguments!.leases.map((l) => `${l['ip-address']} ${l['hw-address']}`),
    )
    for (const b of before) assert.ok(now.has(b), `lease ${b} lost over the restart`)
    // New subscribers are served again, and the agent carries on.
    await serve(r, { rate: 5, clients: 40, seconds: 6, seed: 13 })
    await checkInvariants(r)
  })

  it('DHCPv4: a rebuilt Kea (empty configuration and lease file) gets its pools and every lease back', async () => {
    const r = await rig(false, { validLifetime: 300, leaseUpload: 1 })
    const original = await readFile(r.kea.configPath, 'utf8')
    await subscribers(r, { rate: 5, clients: 60, seconds: 8, seed: 21 }).result
    await r.watcher.poll()
    const before = [...r.watcher.seen.values()].map((l) => `${l.address} ${l.client}`).sort()
    assert.ok(before.length >= 20, `leases ${before.length}`)
    const uploads = r.agent.of('leases-uploaded').length
    await r.agent.until(
      'an upload of every lease',
      (l) => l.action === 'leases-uploaded' && Number(l['leases']) === before.length,
      0,
      20_000,
    )
    assert.ok(r.agent.of('leases-uploaded').length > uploads || uploads > 0)
    const grants = live(await grantsOf(r.target, r.device))
      .map((g) => g.prefix)
      .sort()

    await r.kea.kill()
    await writeFile(r.kea.configPath, original)
    await rm(r.kea.leaseFile, { force: true })
    await r.kea.start()
    const mark = r.agent.lines.length
    const replay = await r.agent.until(
      'the lease replay',
      (l) => l.action === 'lease-replay',
      mark,
      30_000,
    )
    assert.equal(replay['added'], before.length, JSON.stringify(replay))
    assert.deepEqual((await keaSubnets(r.kea, false)).sort(), grants)
    const leases = await r.kea.command<{
      leases: { 'ip-address': string; 'hw-address': string }[]
    }>('lease4-get-all')
    assert.deepEqual(
      leases.arguments!.leases.map((l) => `${l['ip-address']} ${l['hw-address']}`).sort(),
      before,
    )
    // A returning subscriber gets its old address: the same clients ask again.
    const had = new Map([...r.watcher.seen.values()].map((l) => [l.client, l.address]))
    await subscribers(r, { rate: 5, clients: 60, seconds: 4, seed: 21 }).result
    await r.watcher.poll()
    let returned = 0
    for (const l of r.watcher.seen.values()) {
      const old = had.get(l.client)
      if (old === undefined) continue
      returned++
      assert.equal(l.address, old, `client ${l.client} moved from ${old} to ${l.address}`)
    }
    assert.ok(returned >= before.length, `returning clients ${returned}`)
    await checkInvariants(r)
  })
})
