/**
 * The Kea backend against real Kea 2.2 servers (DHCPv4 and DHCPv6 with prefix delegation),
 * started per test on loopback in temporary directories.
 */
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { dhcp4Probe } from '../../../test/support/dhcp4-probe.js'
import { rejectsCode } from '../../../test/support/throws-code.js'
import type { StoredLease } from '../../domain/device-lease.js'
import { type KeaProcess, keaSkipReason, startKea } from '../../kea/kea-process.js'
import { runPerfdhcp } from '../../kea/perfdhcp.js'
import { backendConformance } from './backend.case.js'
import { KeaBackend, type KeaBackendOptions } from './kea-backend.js'

const skip = keaSkipReason()

interface Rig {
  readonly kea4: KeaProcess
  readonly kea6: KeaProcess
  readonly dir: string
  readonly backend: (extra?: Partial<KeaBackendOptions>) => KeaBackend
  readonly cleanup: () => Promise<void>
}

async function rig(): Promise<Rig> {
  const [kea4, kea6] = await Promise.all([
    startKea({ service: 'dhcp4', validLifetime: 600 }),
    startKea({ service: 'dhcp6', validLifetime: 600 }),
  ])
  const dir = await mkdtemp(join(tmpdir(), 'casm-kea-backend-'))
  return {
    kea4,
    kea6,
    dir,
    backend: (extra = {}) =>
      new KeaBackend({
        dhcp4: { socket: kea4.socketPath },
        dhcp6: { socket: kea6.socketPath },
        stateFile: join(dir, 'kea-backend.json'),
        ...extra,
      }),
    cleanup: async () => {
      await Promise.all([kea4.dispose(), kea6.dispose()])
      await rm(dir, { recursive: true, force: true })
    },
  }
}

const grant = (id: string, prefix: string, state: 'active' | 'draining' = 'active') => ({
  grant: id,
  prefix,
  state,
})

/** casm's subnets in the shared network `casm`, as `prefix id pools`. */
async function subnets(kea: KeaProcess): Promise<string[]> {
  const { arguments: config } =
    await kea.command<Record<string, Record<string, unknown>>>('config-get')
  const root = (config?.['Dhcp4'] ?? config?.['Dhcp6']) as Record<string, unknown>
  const key = root['subnet4'] === undefined ? 'subnet6' : 'subnet4'
  const nets = root['shared-networks'] as Record<string, unknown>[]
  const net = nets.find((n) => n['name'] === 'casm')
  type Pool = Record<string, string | number | undefined>
  return ((net?.[key] ?? []) as Record<string, unknown>[]).map((s) => {
    const pools = ((s['pools'] ?? []) as Pool[]).map(
      (p) =>
        `${String(p['pool'])}${p['client-class'] === undefined ? '' : `[${String(p['client-class'])}]`}`,
    )
    const pd = ((s['pd-pools'] ?? []) as Pool[]).map(
      (p) =>
        `${String(p['prefix'])}/${String(p['prefix-len'])}>${String(p['delegated-len'])}${p['client-class'] === undefined ? '' : `[${String(p['client-class'])}]`}`,
    )
    return `${String(s['subnet'])} ${String(s['id'])} ${[...pools, ...pd].join(',')}`
  })
}

const nowS = () => Math.floor(Date.now() / 1000)

describe('kea backend', { skip }, () => {
  backendConformance('kea', async () => {
    const r = await rig()
    return { backend: r.backend(), reopen: () => r.backend(), cleanup: r.cleanup }
  })

  const rigs: Rig[] = []
  const fresh = async (): Promise<Rig> => {
    const r = await rig()
    rigs.push(r)
    return r
  }
  after(async () => {
    await Promise.all(rigs.map((r) => r.cleanup()))
  })

  it('lays grants out as tagged subnets with ids that never change or come back', async () => {
    const r = await fresh()
    const b = r.backend()
    await b.start()
    await b.install(grant('gr_a', '100.64.8.0/27'))
    await b.install(grant('gr_b', '100.64.8.32/27'))
    await b.install(grant('gr_p', '2001:db8:100::/48'))
    assert.deepEqual(await subnets(r.kea4), [
      '100.64.8.0/27 1000000 100.64.8.1-100.64.8.30',
      '100.64.8.32/27 1000001 100.64.8.33-100.64.8.62',
    ])
    // One counter for both servers: an id names one grant wherever it appears.
    assert.deepEqual(await subnets(r.kea6), ['2001:db8:100::/48 1000002 2001:db8:100::/48>56'])
    await b.drain({ ...grant('gr_a', '100.64.8.0/27'), drainMode: 'natural' })
    await b.remove(grant('gr_b', '100.64.8.32/27'))
    await b.install(grant('gr_c', '100.64.9.0/28'))
    // gr_a keeps 1000000 through its drain; gr_c does not take gr_b's 1000001 again.
    assert.deepEqual(await subnets(r.kea4), [
      '100.64.8.0/27 1000000 100.64.8.1-100.64.8.30[casm-drain-natural]',
      '100.64.9.0/28 1000003 100.64.9.1-100.64.9.14',
    ])
    await b.drain({ ...grant('gr_a', '100.64.8.0/27'), drainMode: 'fast' })
    assert.match((await subnets(r.kea4))[0]!, /\[casm-drain-fast\]$/)
    // config-write: the file Kea restarts from holds the same subnets.
    await r.kea4.restart()
    assert.deepEqual((await subnets(r.kea4)).length, 2)
    await b.stop()
  })

  it('drains naturally (renewals kept, no new client) or fast (renewals refused), as Kea answers real DHCP messages', async () => {
    const r = await fresh()
    const b = r.backend()
    await b.start()
    await b.install(grant('gr_a', '100.64.8.0/29'))
    const probe = (kind: 'discover' | 'renew' | 'reboot', mac: string, address?: string) =>
      dhcp4Probe({
        serverPort: r.kea4.serverPort,
        clientPort: r.kea4.clientPort,
        kind,
        mac,
        ...(address === undefined ? {} : { address }),
      })
    const offered = await probe('discover', '02:00:00:00:00:01')
    assert.equal(offered.type, 'OFFER')
    const address = offered.yiaddr!
    // The client takes the address (the probe has no SELECTING request; the lease is added).
    const added = await r.kea4.command('lease4-add', {
      'ip-address': address,
      'hw-address': '02:00:00:00:00:01',
      'client-id': '01:02:00:00:00:00:01',
      'valid-lft': 600,
      expire: nowS() + 600,
    })
    assert.equal(added.result, 0, JSON.stringify(added))
    assert.equal((await probe('reboot', '02:00:00:00:00:01', address)).type, 'ACK')
    // A second grant for new subscribers, the first one drained.
    await b.install(grant('gr_b', '100.64.9.0/29'))
    await b.drain({ ...grant('gr_a', '100.64.8.0/29'), drainMode: 'natural' })
    assert.deepEqual(await probe('renew', '02:00:00:00:00:01', address), {
      type: 'ACK',
      yiaddr: address,
      leaseTime: 600,
    })
    assert.equal((await probe('reboot', '02:00:00:00:00:01', address)).type, 'ACK')
    const fresh2 = await probe('discover', '02:00:00:00:00:02')
    assert.equal(fresh2.type, 'OFFER')
    assert.ok(fresh2.yiaddr!.startsWith('100.64.9.'), `new client offered ${fresh2.yiaddr}`)
    // The one using the drained grant, starting over, is moved too.
    assert.ok((await probe('discover', '02:00:00:00:00:01')).yiaddr!.startsWith('100.64.9.'))
    await b.drain({ ...grant('gr_a', '100.64.8.0/29'), drainMode: 'fast' })
    assert.equal((await probe('renew', '02:00:00:00:00:01', address)).type, 'NAK')
    await b.undrain(grant('gr_a', '100.64.8.0/29', 'draining'))
    assert.equal((await probe('renew', '02:00:00:00:00:01', address)).type, 'ACK')
    await b.stop()
  })

  it('leaves subnets it does not own alone and refuses grants that overlap them', async () => {
    const r = await fresh()
    const { arguments: config } =
      await r.kea4.command<Record<string, Record<string, unknown>>>('config-get')
    const dhcp4 = config!['Dhcp4']!
    dhcp4['subnet4'] = [
      { id: 7, subnet: '192.0.2.0/24', pools: [{ pool: '192.0.2.10-192.0.2.20' }] },
    ]
    delete (config as Record<string, unknown>)['hash']
    assert.equal((await r.kea4.command('config-set', config)).result, 0)
    const b = r.backend()
    await b.start()
    await b.install(grant('gr_a', '100.64.8.0/27'))
    await rejectsCode(
      b.install(grant('gr_x', '192.0.2.128/25')),
      'CASM_ERR_BACKEND',
      /overlaps subnet 192\.0\.2\.0\/24 \(id 7\)/,
    )
    assert.deepEqual(
      (await b.holds()).map((h) => h.prefix),
      ['100.64.8.0/27'],
    )
    const after = (await r.kea4.command<Record<string, Record<string, unknown>>>('config-get'))
      .arguments!
    assert.deepEqual(
      (after['Dhcp4']!['subnet4'] as { id: number }[]).map((s) => s.id),
      [7],
    )
    await rejectsCode(
      b.install(grant('gr_s', '2001:db8:1:100::/60')),
      'CASM_ERR_BACKEND',
      /smaller than one delegated prefix/,
    )
    await b.stop()
  })

  it('counts live leases only, in usage units, and reports a drained grant empty only when Kea is', async () => {
    const r = await fresh()
    const b = r.backend()
    await b.start()
    await b.install(grant('gr_a', '100.64.8.0/27'))
    await b.install(grant('gr_p', '2001:db8:100::/48'))
    const add4 = (ip: string, cltt: number) =>
      r.kea4.command('lease4-add', {
        'ip-address': ip,
        'hw-address': '1a:1b:1c:1d:1e:1f',
        'valid-lft': 600,
        expire: cltt + 600,
      })
    assert.equal((await add4('100.64.8.5', nowS())).result, 0)
    assert.equal((await add4('100.64.8.6', nowS())).result, 0)
    // Ended ten seconds ago, not yet reclaimed: not counted.
    assert.equal((await add4('100.64.8.7', nowS() - 610)).result, 0)
    const pd = await r.kea6.command('lease6-add', {
      'ip-address': '2001:db8:100:200::',
      type: 'IA_PD',
      'prefix-len': 56,
      duid: '01:02:03:04:05:06',
      iaid: 1,
      'subnet-id': 1000001,
      'valid-lft': 600,
      expire: nowS() + 600,
    })
    assert.equal(pd.result, 0, JSON.stringify(pd))
    const used = async (prefix: string) =>
      new Map((await b.usage()).map((u) => [u.prefix, u.used])).get(prefix)
    // Active grants: Kea's statistics, which count an ended lease until Kea reclaims it (1 s here).
    // Scaled to the 30 leasable addresses of the /27: 2 leases are ceil(2 × 32 / 30) = 3 units.
    assert.ok([3, 4].includes((await used('100.64.8.0/27'))!))
    assert.equal(await used('2001:db8:100::/48'), 256)
    await new Promise((r) => setTimeout(r, 2_500))
    assert.equal(await used('100.64.8.0/27'), 3)
    // Draining grants: the leases themselves, live ones only.
    assert.equal(
      (
        await r.kea4.command('lease4-add', {
          'ip-address': '100.64.8.8',
          'hw-address': '1a:1b:1c:1d:1e:1f',
          'valid-lft': 600,
          expire: nowS() - 5,
        })
      ).result,
      0,
    )
    await b.drain({ ...grant('gr_a', '100.64.8.0/27'), drainMode: 'natural' })
    assert.equal(await used('100.64.8.0/27'), 3)
    await r.kea4.command('lease4-del', { 'ip-address': '100.64.8.5' })
    // 1 lease of 30 leasable addresses: ceil(32 / 30) = 2 units.
    assert.equal(new Map((await b.usage()).map((u) => [u.prefix, u.used])).get('100.64.8.0/27'), 2)
    await r.kea4.command('lease4-del', { 'ip-address': '100.64.8.6' })
    assert.equal(new Map((await b.usage()).map((u) => [u.prefix, u.used])).get('100.64.8.0/27'), 0)
    await b.stop()
  })

  it('puts its subnets back into a Kea that lost them, with the same ids, and replays leases into it', async () => {
    const r = await fresh()
    const original = await readFile(r.kea4.configPath, 'utf8')
    const b = r.backend()
    await b.start()
    await b.install(grant('gr_a', '100.64.8.0/27'))
    await b.install(grant('gr_b', '100.64.8.32/27'))
    await r.kea4.command('lease4-add', {
      'ip-address': '100.64.8.9',
      'hw-address': '1a:1b:1c:1d:1e:2f',
      'valid-lft': 600,
      expire: nowS() + 600,
    })
    const archived: readonly StoredLease[] = await b.leases()
    assert.deepEqual(
      archived.map((l) => `${l.grant} ${l.address} ${l.hwAddress}`),
      ['gr_a 100.64.8.9 1a:1b:1c:1d:1e:2f'],
    )
    // Every start waits for a replay (the agent replays what the coordinator stored, leases Kea
    // has already are left alone); after it, nothing is pending.
    assert.equal(await b.needsReplay(), true, 'a start waits for its replay')
    assert.equal((await b.replay([])).added, 0)
    assert.equal(await b.needsReplay(), false)
    const before = await subnets(r.kea4)

    // A rebuilt server: the original configuration file, an empty lease file.
    await r.kea4.kill()
    await writeFile(r.kea4.configPath, original)
    await rm(r.kea4.leaseFile, { force: true })
    await r.kea4.start()
    assert.deepEqual(await subnets(r.kea4), [])
    await b.usage()
    assert.deepEqual(await subnets(r.kea4), before)
    assert.equal(await b.needsReplay(), true)
    const result = await b.replay([
      ...archived,
      { ...archived[0]!, grant: 'gr_gone', address: '100.64.9.1' },
      { ...archived[0]!, address: '100.64.8.10', cltt: nowS() - 700 },
    ])
    assert.deepEqual(
      { ...result, errors: [] },
      { added: 1, present: 0, skipped: 2, failed: 0, errors: [] },
    )
    assert.deepEqual(
      (await b.leases()).map((l) => `${l.address} ${l.hwAddress} ${l.subnetId}`),
      ['100.64.8.9 1a:1b:1c:1d:1e:2f 1000000'],
    )
    // Replaying again changes nothing.
    assert.equal((await b.replay(archived)).present, 1)
    assert.equal(await b.needsReplay(), false, 'the replay ended the wait')
    await b.stop()
  })

  it('serves DHCPv6 addresses (IA_NA) from a grant in na mode, to real clients', async () => {
    const r = await fresh()
    const b = r.backend({ v6Mode: 'na', dhcp4: undefined })
    await b.start()
    await b.install(grant('gr_n', '2001:db8:5::/64'))
    assert.deepEqual(await subnets(r.kea6), [
      '2001:db8:5::/64 1000000 2001:db8:5::1-2001:db8:5:0:ffff:ffff:ffff:ffff',
    ])
    const run = await runPerfdhcp({
      service: 'dhcp6',
      serverPort: r.kea6.serverPort,
      clientPort: r.kea6.clientPort,
      leaseType: 'address-only',
      rate: 10,
      clients: 5,
      requests: 5,
      dropTime: 2,
      exitWaitMs: 1_000,
    })
    assert.equal(run.exchanges['REQUEST-REPLY']?.received, 5, run.stdout)
    // A /64 is one usage unit: in use as soon as one address is.
    assert.deepEqual(await b.usage(), [{ grant: 'gr_n', prefix: '2001:db8:5::/64', used: 1 }])
    await b.drain({ ...grant('gr_n', '2001:db8:5::/64'), drainMode: 'natural' })
    assert.deepEqual(await b.usage(), [{ grant: 'gr_n', prefix: '2001:db8:5::/64', used: 1 }])
    assert.equal((await b.leases()).filter((l) => l.kind === 'na').length, 5)
    await b.stop()
  })

  it('refuses a prefix of a family it has no server for, and a Kea that is not there', async () => {
    const r = await fresh()
    const only4 = r.backend({ dhcp6: undefined })
    await only4.start()
    await rejectsCode(
      only4.install(grant('gr_p', '2001:db8:100::/48')),
      'CASM_ERR_BACKEND',
      /no DHCPv6/,
    )
    await only4.stop()
    const nowhere = new KeaBackend({ dhcp4: { socket: join(r.dir, 'missing.sock') } })
    await rejectsCode(
      nowhere.start(),
      'CASM_ERR_BACKEND',
      /did not answer 'config-get'.*is it running/,
    )
  })
})
