import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { createSocket } from 'node:dgram'
import { existsSync, readFileSync } from 'node:fs'
import { after, before, describe, it } from 'node:test'
import { rejectsCode } from '../../test/support/throws-code.js'
import {
  DEFAULT_DHCP_PORTS,
  freeDhcpPorts,
  keaAvailable,
  KeaProcess,
  type KeaService,
  keaSkipReason,
  startKea,
} from './kea-process.js'
import { runPerfdhcp } from './perfdhcp.js'

/** The value at `path` in a parsed JSON document. */
function at(json: unknown, ...path: (string | number)[]): unknown {
  return path.reduce<unknown>((v, k) => (v as Record<string | number, unknown>)[k], json)
}

const SERVICES: readonly KeaService[] = ['dhcp4', 'dhcp6']

describe('KeaProcess configuration', () => {
  const made: KeaProcess[] = []
  after(async () => {
    for (const kea of made) await kea.dispose()
  })
  function make(
    service: KeaService,
    extra: Partial<ConstructorParameters<typeof KeaProcess>[0]> = {},
  ) {
    const kea = new KeaProcess({ service, ...extra })
    made.push(kea)
    return { kea, root: kea.config[service === 'dhcp4' ? 'Dhcp4' : 'Dhcp6'] }
  }

  it('keeps every file in its directory, leases persisted, the shared network empty', () => {
    const { kea, root } = make('dhcp4', { validLifetime: 60 })
    assert.deepEqual(JSON.parse(readFileSync(kea.configPath, 'utf8')), kea.config)
    assert.deepEqual(kea.ports, DEFAULT_DHCP_PORTS.dhcp4)
    assert.deepEqual(at(root, 'interfaces-config', 'interfaces'), ['lo/127.0.0.1'])
    assert.equal(at(root, 'interfaces-config', 'dhcp-socket-type'), 'udp')
    assert.deepEqual(at(root, 'lease-database'), {
      type: 'memfile',
      persist: true,
      name: kea.leaseFile,
      'lfc-interval': 0,
    })
    assert.ok(kea.leaseFile.startsWith(kea.dir))
    assert.deepEqual(at(root, 'control-socket'), {
      'socket-type': 'unix',
      'socket-name': kea.socketPath,
    })
    assert.deepEqual(
      (at(root, 'hooks-libraries') as { library: string }[]).map((h) => h.library.split('/').pop()),
      ['libdhcp_lease_cmds.so', 'libdhcp_stat_cmds.so'],
    )
    assert.equal(at(root, 'expired-leases-processing', 'reclaim-timer-wait-time'), 1)
    assert.deepEqual(at(root, 'shared-networks'), [
      { name: 'casm', relay: { 'ip-addresses': ['127.0.0.1'] }, subnet4: [] },
    ])
    assert.equal(at(root, 'loggers', 0, 'output_options', 0, 'output'), kea.logPath)
    assert.deepEqual(
      [at(root, 'valid-lifetime'), at(root, 'renew-timer'), at(root, 'rebind-timer')],
      [60, 15, 30],
    )
  })

  it('serves DHCPv6 on ::1 with a server id it does not persist', () => {
    const { kea, root } = make('dhcp6', { relay: ['::1', 'fe80::1'], sharedNetwork: 'edge' })
    assert.deepEqual(kea.ports, DEFAULT_DHCP_PORTS.dhcp6)
    assert.deepEqual(at(root, 'interfaces-config', 'interfaces'), ['lo/::1'])
    assert.deepEqual(at(root, 'server-id'), { type: 'LLT', persist: false })
    assert.deepEqual(at(root, 'shared-networks'), [
      { name: 'edge', relay: { 'ip-addresses': ['::1', 'fe80::1'] }, subnet6: [] },
    ])
  })

  it('tells why Kea cannot run', () => {
    const kea = keaAvailable('/nonexistent/hooks')
    assert.ok(!kea.available)
    assert.match(kea.reason, /does not run|hooks missing in \/nonexistent/)
  })

  it('merges extraConfig into the generated map, or lets a function rewrite it', () => {
    const classes = [{ name: 'casm-not-discover', test: 'not (pkt4.msgtype == 1)' }]
    const { root } = make('dhcp4', {
      extraConfig: { 'client-classes': classes, 'lease-database': { 'lfc-interval': 3600 } },
    })
    assert.deepEqual(at(root, 'client-classes'), classes)
    assert.equal(at(root, 'lease-database', 'persist'), true)
    assert.equal(at(root, 'lease-database', 'lfc-interval'), 3600)
    const { kea } = make('dhcp6', { extraConfig: (c) => ({ ...c, extra: 1 }) })
    assert.equal(kea.config['extra'], 1)
  })
})

/** Kea's lease count, by lease4-get-all or lease6-get-all. */
async function leaseCount(kea: KeaProcess): Promise<number> {
  const v = kea.service.slice(-1)
  const answer = await kea.command<{ leases: unknown[] }>(`lease${v}-get-all`)
  return answer.arguments?.leases.length ?? 0
}

describe('KeaProcess', { skip: keaSkipReason(), timeout: 60_000 }, () => {
  for (const service of SERVICES) {
    it(`runs ${service} on a configuration Kea accepts, answers commands and stops`, async () => {
      const kea = await startKea({ service })
      try {
        const check = spawnSync(kea.program, ['-t', kea.configPath], { encoding: 'utf8' })
        assert.equal(check.status, 0, check.stdout + check.stderr)
        assert.ok(kea.pid !== undefined && kea.pid > 0)
        const version = await kea.command('version-get')
        assert.equal(version.result, 0)
        assert.match(version.text ?? '', /^2\./)
        assert.equal((await kea.command('statistic-get-all')).result, 0)
        assert.equal(await leaseCount(kea), 0)
        await kea.stop()
        assert.equal(kea.pid, undefined)
        await assert.rejects(kea.command('version-get'))
      } finally {
        await kea.dispose()
      }
      assert.equal(existsSync(kea.dir), false)
    })
  }

  it('rejects with the end of the log when Kea refuses its configuration', async () => {
    const kea = new KeaProcess({
      service: 'dhcp4',
      ...(await freeDhcpPorts('dhcp4')),
      extraConfig: { 'valid-lifetime': 'forever' },
    })
    try {
      await rejectsCode(
        kea.start(),
        'CASM_ERR_BACKEND',
        /exited \(exit code 1\)[^]*DHCP4_CONFIG_LOAD_FAIL[^]*expecting integer/,
      )
    } finally {
      await kea.dispose()
    }
  })

  it('fails rather than run without a socket when its port is taken', async () => {
    const ports = await freeDhcpPorts('dhcp4')
    const holder = createSocket('udp4')
    await new Promise<void>((resolve) => holder.bind(ports.serverPort, '127.0.0.1', resolve))
    try {
      await rejectsCode(
        startKea({ service: 'dhcp4', ...ports }),
        'CASM_ERR_BACKEND',
        /DHCPSRV_OPEN_SOCKET_FAIL/,
      )
    } finally {
      holder.close()
    }
  })

  describe('leases and configuration across changes and restarts', () => {
    /** The subnets Kea serves now. */
    async function subnets(): Promise<string[]> {
      const path = ['arguments', 'Dhcp4', 'shared-networks', 0, 'subnet4']
      const list = at(await kea.command('config-get'), ...path) as { subnet: string }[]
      return list.map((s) => s.subnet)
    }
    let kea: KeaProcess
    const first = { id: 1, subnet: '10.7.0.0/24', pools: [{ pool: '10.7.0.10-10.7.0.200' }] }
    const second = { id: 2, subnet: '10.7.1.0/24', pools: [{ pool: '10.7.1.10-10.7.1.200' }] }
    before(async () => {
      kea = await startKea({ service: 'dhcp4' })
      await kea.setSubnets([first])
      const r = await runPerfdhcp({
        service: 'dhcp4',
        ...kea.ports,
        clients: 5,
        rate: 10,
        requests: 5,
        dropTime: 2,
        exitWaitMs: 1000,
      })
      assert.ok(r.allAnswered, r.stdout)
    })
    after(() => kea.dispose())

    it('keeps leases when config-set changes the subnets (memfile persist: true)', async () => {
      assert.equal(await leaseCount(kea), 5)
      await kea.setSubnets([first, second])
      assert.equal(await leaseCount(kea), 5)
    })

    it('comes back from a crash with its leases and what config-write wrote', async () => {
      assert.equal((await kea.command('config-write')).result, 0)
      const crashed = kea.pid
      await kea.kill()
      assert.equal(kea.pid, undefined)
      await kea.start()
      assert.notEqual(kea.pid, crashed)
      assert.equal(await leaseCount(kea), 5)
      assert.deepEqual(await subnets(), ['10.7.0.0/24', '10.7.1.0/24'])
    })

    it('restarts on the same configuration file', async () => {
      await kea.setSubnets([second])
      await kea.command('config-write')
      await kea.restart()
      assert.deepEqual(await subnets(), ['10.7.1.0/24'])
    })
  })
})
