import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type KeaProcess, keaSkipReason, startKea } from '../../src/kea/kea-process.js'
import { runPerfdhcp } from '../../src/kea/perfdhcp.js'
import { dhcp4Probe, dhcp4ProbePacket, parseDhcp4Answer } from './dhcp4-probe.js'

/** perfdhcp's first client (`-b mac=00:0c:01:02:03:04`, its default). */
const PERFDHCP_MAC = '00:0c:01:02:03:04'
const PORTS = { serverPort: 10067, clientPort: 10068 }

/** The options of the packet, code → data. */
function options(packet: Buffer): Map<number, string> {
  const found = new Map<number, string>()
  for (let at = 240; packet[at] !== 255; at += 2 + packet[at + 1]!)
    found.set(packet[at]!, packet.subarray(at + 2, at + 2 + packet[at + 1]!).toString('hex'))
  return found
}

describe('dhcp4Probe packets', () => {
  it('relays a DISCOVER with the client id perfdhcp uses', () => {
    const p = dhcp4ProbePacket({ ...PORTS, kind: 'discover', mac: PERFDHCP_MAC }, 0x1234abcd)
    assert.equal(p.length, 300)
    assert.deepEqual([...p.subarray(0, 4)], [1, 1, 6, 1]) // BOOTREQUEST, Ethernet, hlen, 1 hop
    assert.equal(p.readUInt32BE(4), 0x1234abcd)
    assert.deepEqual([...p.subarray(12, 16)], [0, 0, 0, 0]) // ciaddr
    assert.deepEqual([...p.subarray(24, 28)], [127, 0, 0, 1]) // giaddr
    assert.equal(p.subarray(28, 34).toString('hex'), '000c01020304')
    assert.deepEqual(
      options(p),
      new Map([
        [53, '01'],
        [61, '01000c01020304'],
      ]),
    )
  })

  it('renews with ciaddr and reboots with option 50', () => {
    const renew = dhcp4ProbePacket(
      { ...PORTS, kind: 'renew', mac: PERFDHCP_MAC, address: '10.0.0.9' },
      1,
    )
    assert.deepEqual([...renew.subarray(12, 16)], [10, 0, 0, 9])
    assert.equal(options(renew).get(53), '03')
    assert.equal(options(renew).has(50), false)
    const reboot = dhcp4ProbePacket(
      { ...PORTS, kind: 'reboot', mac: PERFDHCP_MAC, address: '10.0.0.9' },
      1,
    )
    assert.deepEqual([...reboot.subarray(12, 16)], [0, 0, 0, 0])
    assert.equal(options(reboot).get(50), '0a000009')
    assert.throws(() => dhcp4ProbePacket({ ...PORTS, kind: 'renew', mac: PERFDHCP_MAC }, 1))
    assert.throws(() => dhcp4ProbePacket({ ...PORTS, kind: 'discover', mac: '00:0c' }, 1))
  })

  it('reads the answer to its own transaction only', () => {
    const reply = Buffer.from(
      dhcp4ProbePacket({ ...PORTS, kind: 'discover', mac: PERFDHCP_MAC }, 7),
    )
    reply[0] = 2
    Buffer.from([10, 0, 0, 9]).copy(reply, 16)
    Buffer.from([53, 1, 5, 51, 4, 0, 0, 0, 60, 255]).copy(reply, 240)
    assert.deepEqual(parseDhcp4Answer(reply, 7), { type: 'ACK', yiaddr: '10.0.0.9', leaseTime: 60 })
    assert.equal(parseDhcp4Answer(reply, 8), undefined)
    reply[242] = 6
    assert.equal(parseDhcp4Answer(reply, 7)?.type, 'NAK')
  })
})

describe('dhcp4Probe against Kea', { skip: keaSkipReason(), timeout: 60_000 }, () => {
  let kea: KeaProcess
  let address: string
  const subnet = (clientClass?: string) => ({
    id: 1,
    subnet: '10.6.0.0/24',
    pools: [
      { pool: '10.6.0.10-10.6.0.200', ...(clientClass ? { 'client-class': clientClass } : {}) },
    ],
  })
  const probe = (kind: 'discover' | 'renew' | 'reboot', mac = PERFDHCP_MAC) =>
    dhcp4Probe({ ...kea.ports, kind, mac, address, timeoutMs: 1000 })

  before(async () => {
    kea = await startKea({
      service: 'dhcp4',
      validLifetime: 60,
      extraConfig: {
        'client-classes': [
          { name: 'casm-not-discover', test: 'not (pkt4.msgtype == 1)' },
          { name: 'casm-never', test: "'a' == 'b'" },
        ],
      },
    })
    await kea.setSubnets([subnet()])
    // One client, DORA twice a second for 2 s (`-n 1` would end before its ACK comes back).
    await runPerfdhcp({ service: 'dhcp4', ...kea.ports, clients: 1, rate: 2, duration: 2 })
    const leases = await kea.command<{ leases: { 'ip-address': string; 'hw-address': string }[] }>(
      'lease4-get-all',
    )
    const lease = leases.arguments?.leases.find((l) => l['hw-address'] === PERFDHCP_MAC)
    assert.ok(lease, JSON.stringify(leases))
    address = lease['ip-address']
  })
  after(() => kea.dispose())

  it("speaks for perfdhcp's client: its renewal is acknowledged with its address", async () => {
    assert.deepEqual(await probe('renew'), { type: 'ACK', yiaddr: address, leaseTime: 60 })
    const offer = await probe('discover', '02:00:00:00:00:01')
    assert.equal(offer.type, 'OFFER')
    assert.match(offer.yiaddr ?? '', /^10\.6\.0\.\d+$/)
    assert.notEqual(offer.yiaddr, address)
  })

  it('a pool only for non-DISCOVERs offers nothing new but keeps its clients', async () => {
    await kea.setSubnets([subnet('casm-not-discover')])
    assert.equal((await probe('discover', '02:00:00:00:00:02')).type, 'timeout')
    assert.deepEqual(await probe('renew'), { type: 'ACK', yiaddr: address, leaseTime: 60 })
    assert.equal((await probe('reboot')).type, 'ACK')
  })

  it('a pool whose class never matches refuses renewals', async () => {
    await kea.setSubnets([subnet('casm-never')])
    assert.equal((await probe('renew')).type, 'NAK')
  })
})
