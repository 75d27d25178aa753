import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { Prefix } from '../ip/index.js'
import { throwsCode } from '../../test/support/throws-code.js'
import { type KeaProcess, type KeaService, keaSkipReason, startKea } from './kea-process.js'
import {
  parsePerfdhcpProgress,
  parsePerfdhcpReport,
  type PerfdhcpOptions,
  perfdhcpArgs,
  perfdhcpExchangeNames,
  type PerfdhcpProgress,
  runPerfdhcp,
  startPerfdhcp,
} from './perfdhcp.js'

/** Statistics block of perfdhcp 2.2's final report, as it prints it. */
function block(name: string, sent: number, received: number, delays: string): string {
  return `***Statistics for: ${name}***
sent packets: ${sent}
received packets: ${received}
drops: ${sent - received}
drops ratio: 0.000 %
orphans: 13
rejected leases: 0
non unique addresses: 0

${delays}
collected packets: 0
`
}
const DELAYS = `min delay: 0.205 ms
avg delay: 0.425 ms
max delay: 0.582 ms
std deviation: 0.090 ms`
/** What perfdhcp prints for delays when nothing came back. */
const NO_DELAYS = `min delay: inf ms
avg delay: min delay: n/a
avg delay: n/a
max delay: n/a
std deviation: n/a`

/** The final report: rate, malformed packets, then one block per exchange. */
function report(rate: number, expected: number, blocks: readonly string[]): string {
  return `***Rate statistics***
Rate: ${rate} 4-way exchanges/second, expected rate: ${expected}

***Malformed Packets***
Malformed packets: 0
${blocks.join('\n')}`
}

/** `perfdhcp -4 ... -R 50 -r 20 -p 3 -t 1 -f 5 -F 2` against Kea 2.2: exit 3. */
const V4_OUTPUT = `Running: perfdhcp -4 -l 127.0.0.1 -L 20068 -N 20067 -R 50 -r 20 -p 3 -t 1 -f 5 -F 2 127.0.0.1
Scenario: basic.
Multi-thread mode enabled.
sent: 19/19/3/0; received: 19/19/3/0; drops: 0/0/0/0; rejected: 0/0/0/0
sent: 39/39/8/2; received: 39/39/8/0; drops: 0/0/0/2; rejected: 0/0/0/0
${report(14.7485, 20, [
  block('DISCOVER-OFFER', 59, 59, DELAYS),
  block('REQUEST-ACK', 59, 59, DELAYS),
  block('REQUEST-ACK (renewal)', 13, 13, DELAYS),
  block('RELEASE', 4, 0, NO_DELAYS),
])}`

/** `perfdhcp -6 ... -A 1 -e prefix-only -f 3 -F 2` against Kea 2.2: exit 0. */
const V6_OUTPUT = report(7.248, 10, [
  block('SOLICIT-ADVERTISE', 29, 29, DELAYS),
  block('REQUEST-REPLY', 29, 29, DELAYS),
  block('RENEW-REPLY', 7, 7, DELAYS),
  block('RELEASE-REPLY', 4, 4, DELAYS),
])

describe('perfdhcp report parsing', () => {
  it('reads every exchange of a DHCPv4 report, with n/a delays as undefined', () => {
    const r = parsePerfdhcpReport(V4_OUTPUT)
    assert.equal(r.rate, 14.7485)
    assert.equal(r.malformed, 0)
    assert.deepEqual(Object.keys(r.exchanges), [
      'DISCOVER-OFFER',
      'REQUEST-ACK',
      'REQUEST-ACK (renewal)',
      'RELEASE',
    ])
    assert.deepEqual(r.exchanges['REQUEST-ACK'], {
      sent: 59,
      received: 59,
      drops: 0,
      orphans: 13,
      rejectedLeases: 0,
      nonUniqueAddresses: 0,
      minDelayMs: 0.205,
      avgDelayMs: 0.425,
      maxDelayMs: 0.582,
    })
    const release = r.exchanges.RELEASE
    assert.equal(release?.drops, 4)
    assert.equal(release.minDelayMs, undefined)
    assert.equal(release.avgDelayMs, undefined)
    assert.equal(release.maxDelayMs, undefined)
  })

  it('reads a DHCPv6 report', () => {
    const r = parsePerfdhcpReport(V6_OUTPUT)
    assert.equal(r.exchanges['SOLICIT-ADVERTISE']?.received, 29)
    assert.equal(r.exchanges['RENEW-REPLY']?.sent, 7)
    assert.equal(r.exchanges['RELEASE-REPLY']?.received, 4)
  })

  it('reads nothing from output without a report', () => {
    assert.deepEqual(parsePerfdhcpReport('Running: perfdhcp\n'), {
      exchanges: {},
      rate: undefined,
      malformed: 0,
    })
  })

  it('names the columns of periodic reports by the exchanges the options ask for', () => {
    const v4: PerfdhcpOptions = { service: 'dhcp4', serverPort: 1, clientPort: 2, rate: 20 }
    const names = perfdhcpExchangeNames({ ...v4, renewRate: 5, releaseRate: 2 })
    const line = V4_OUTPUT.split('\n')[4] ?? ''
    assert.deepEqual(parsePerfdhcpProgress(line, names, 2000), {
      elapsedMs: 2000,
      exchanges: {
        'DISCOVER-OFFER': { sent: 39, received: 39, drops: 0, rejected: 0 },
        'REQUEST-ACK': { sent: 39, received: 39, drops: 0, rejected: 0 },
        'REQUEST-ACK (renewal)': { sent: 8, received: 8, drops: 0, rejected: 0 },
        RELEASE: { sent: 2, received: 0, drops: 2, rejected: 0 },
      },
    })
    assert.equal(parsePerfdhcpProgress('Scenario: basic.', names, 0), undefined)
    assert.deepEqual(perfdhcpExchangeNames({ ...v4, service: 'dhcp6', releaseRate: 1 }), [
      'SOLICIT-ADVERTISE',
      'REQUEST-REPLY',
      'RELEASE-REPLY',
    ])
    assert.deepEqual(perfdhcpExchangeNames({ ...v4, extraArgs: ['-i'] }), ['DISCOVER-OFFER'])
  })
})

describe('perfdhcp arguments', () => {
  const ports = { serverPort: 10547, clientPort: 10546 }

  it('relays DHCPv4 from 127.0.0.1 and DHCPv6 one level deep over lo', () => {
    assert.deepEqual(
      perfdhcpArgs({ service: 'dhcp4', serverPort: 10067, clientPort: 10068, rate: 10 }),
      ['-4', '-l', '127.0.0.1', '-L', '10068', '-N', '10067', '-r', '10', '127.0.0.1'],
    )
    const v6 = perfdhcpArgs({
      service: 'dhcp6',
      ...ports,
      leaseType: 'prefix-only',
      rate: 10,
      clients: 100,
      duration: 3,
      requests: 20,
      renewRate: 3,
      releaseRate: 2,
      seed: 7,
      exitWaitMs: 1000,
      dropTime: 2,
      reportInterval: 1,
    })
    assert.equal(
      v6.join(' '),
      '-6 -l lo -A 1 -L 10546 -N 10547 -e prefix-only -r 10 -R 100 -p 3 -n 20 -f 3 -F 2 -s 7 -W 1000000 -d 2 -t 1 ::1',
    )
  })

  it('refuses options perfdhcp would refuse', () => {
    const v6 = { service: 'dhcp6', ...ports } as const
    throwsCode(() => perfdhcpArgs({ ...v6, rate: 0 }), 'CASM_ERR_INVALID_ARGUMENT', /rate/)
    throwsCode(() => perfdhcpArgs({ ...v6, clients: 1.5 }), 'CASM_ERR_INVALID_ARGUMENT')
    throwsCode(() => perfdhcpArgs({ ...v6, renewRate: 1 }), 'CASM_ERR_INVALID_ARGUMENT')
    throwsCode(
      () => perfdhcpArgs({ ...v6, rate: 5, renewRate: 3, releaseRate: 3 }),
      'CASM_ERR_INVALID_ARGUMENT',
      /exceed/,
    )
    throwsCode(
      () => perfdhcpArgs({ ...v6, service: 'dhcp4', leaseType: 'prefix-only' }),
      'CASM_ERR_INVALID_ARGUMENT',
      /DHCPv6 only/,
    )
  })
})

/** Settings that finish cleanly: the last exchange is not cut off (peers.md §5). */
const CLEAN_END = { dropTime: 2, exitWaitMs: 1000 } as const

/** A Kea for the enclosing suite, started before its tests and removed after them. */
function suiteKea(service: KeaService): () => KeaProcess {
  let kea: KeaProcess | undefined
  before(async () => {
    kea = await startKea({ service })
  })
  after(() => kea?.dispose())
  return () => {
    assert.ok(kea, 'Kea did not start')
    return kea
  }
}

describe('perfdhcp against Kea', { skip: keaSkipReason(), timeout: 60_000 }, () => {
  describe('DHCPv4', () => {
    const kea = suiteKea('dhcp4')

    it('gets no lease while the shared network has no subnet, whatever the exit code', async () => {
      const r = await runPerfdhcp({
        service: 'dhcp4',
        ...kea().ports,
        rate: 2,
        requests: 2,
        dropTime: 0.5,
      })
      assert.equal(r.allAnswered, false)
      assert.equal(r.exchanges['DISCOVER-OFFER']?.received, 0)
    })

    it('completes every DORA once a subnet is set, and Kea holds the leases', async () => {
      await kea().setSubnets([{ id: 1, subnet: '10.8.0.0/24', pools: [{ pool: '10.8.0.0/24' }] }])
      const r = await runPerfdhcp({
        service: 'dhcp4',
        ...kea().ports,
        clients: 10,
        rate: 20,
        requests: 10,
        ...CLEAN_END,
      })
      assert.equal(r.exitCode, 0, r.stdout)
      assert.ok(r.allAnswered, r.stdout)
      assert.equal(r.exchanges['REQUEST-ACK']?.received, 10)
      const leases = await kea().command<{
        leases: { 'ip-address': string; 'subnet-id': number }[]
      }>('lease4-get-all')
      assert.equal(leases.arguments?.leases.length, 10)
      for (const lease of leases.arguments.leases) {
        assert.match(lease['ip-address'], /^10\.8\.0\.\d+$/)
        assert.equal(lease['subnet-id'], 1)
      }
    })

    it('streams progress every second and ends with the report', async () => {
      const run = startPerfdhcp({
        service: 'dhcp4',
        ...kea().ports,
        clients: 20,
        rate: 10,
        duration: 3,
      })
      const seen: PerfdhcpProgress[] = []
      for await (const p of run) seen.push(p)
      const r = await run.result
      assert.ok(seen.length >= 2, r.stdout)
      assert.deepEqual(r.progress, seen)
      const acks = seen.map((p) => p.exchanges['REQUEST-ACK']?.received ?? 0)
      assert.ok(acks[0]! > 0 && acks[1]! > acks[0]!, `ACKs per report: ${acks.join(', ')}`)
      assert.ok((r.exchanges['REQUEST-ACK']?.received ?? 0) >= acks.at(-1)!)
    })

    it('stops early and still reports', async () => {
      const run = startPerfdhcp({ service: 'dhcp4', ...kea().ports, clients: 5, rate: 10 })
      for await (const p of run) {
        assert.ok(p.elapsedMs > 0)
        run.stop()
      }
      const r = await run.result
      assert.ok((r.exchanges['DISCOVER-OFFER']?.sent ?? 0) > 0, r.stdout)
    })
  })

  describe('DHCPv6 with prefix delegation', () => {
    const kea = suiteKea('dhcp6')

    it('gets no prefix with no subnet: the ADVERTISE rejects the lease, no REQUEST goes out', async () => {
      const r = await runPerfdhcp({
        service: 'dhcp6',
        ...kea().ports,
        leaseType: 'prefix-only',
        rate: 1,
        requests: 1,
        ...CLEAN_END,
      })
      assert.equal(r.allAnswered, false)
      assert.equal(r.exchanges['SOLICIT-ADVERTISE']?.received, 1)
      assert.equal(r.exchanges['SOLICIT-ADVERTISE'].rejectedLeases, 1)
      assert.equal(r.exchanges['REQUEST-REPLY']?.sent, 0)
    })

    it('delegates a /56 of the /48 to every client', async () => {
      await kea().setSubnets([
        {
          id: 1,
          subnet: '2001:db8:a::/48',
          'pd-pools': [{ prefix: '2001:db8:a::', 'prefix-len': 48, 'delegated-len': 56 }],
        },
      ])
      const r = await runPerfdhcp({
        service: 'dhcp6',
        ...kea().ports,
        leaseType: 'prefix-only',
        clients: 8,
        rate: 16,
        requests: 8,
        ...CLEAN_END,
      })
      assert.ok(r.allAnswered, r.stdout)
      assert.equal(r.exchanges['REQUEST-REPLY']?.received, 8)
      const leases = await kea().command<{
        leases: { type: string; 'ip-address': string; 'prefix-len': number }[]
      }>('lease6-get-all')
      const pd = leases.arguments?.leases ?? []
      const delegated = new Set<string>()
      for (const lease of pd) {
        assert.equal(lease.type, 'IA_PD')
        const prefix = Prefix.parse(`${lease['ip-address']}/${lease['prefix-len']}`)
        assert.equal(prefix.length, 56)
        assert.ok(Prefix.parse('2001:db8:a::/48').contains(prefix), prefix.toString())
        delegated.add(prefix.toString())
      }
      assert.equal(delegated.size, 8)
    })
  })
})
