/**
 * A minimal DHCPv4 client (RFC 2131) for checks perfdhcp cannot make: one relayed message to a
 * Kea on loopback and the answer it gets, if any.
 *
 * The message comes from a relay agent (giaddr 127.0.0.1, hops 1), as perfdhcp's do, so Kea
 * selects the shared network by its relay address and answers to 127.0.0.1:clientPort. The
 * client identifier (option 61) is 01 + MAC like perfdhcp's: a probe with one of perfdhcp's MACs
 * (00:0c:01:02:03:04 and up) speaks for that client.
 *
 * @module
 */
import { randomInt } from 'node:crypto'
import { createSocket } from 'node:dgram'

/** What the probe sends. */
export type Dhcp4ProbeKind =
  /** DHCPDISCOVER: would the server offer an address to this client? */
  | 'discover'
  /** DHCPREQUEST in RENEWING state: ciaddr = `address`. */
  | 'renew'
  /** DHCPREQUEST in INIT-REBOOT state: option 50 = `address`, ciaddr 0. */
  | 'reboot'

/** One probe. */
export interface Dhcp4ProbeOptions {
  readonly serverPort: number
  /** Where the answer is awaited (bound for the probe's duration). */
  readonly clientPort: number
  readonly kind: Dhcp4ProbeKind
  /** The client's hardware address, `00:0c:01:02:03:04`. */
  readonly mac: string
  /** The address to renew or confirm (`renew`, `reboot`). */
  readonly address?: string
  /** How long to wait for the answer (default 2000 ms). */
  readonly timeoutMs?: number
}

/** The server's answer. */
export interface Dhcp4ProbeAnswer {
  readonly type: 'OFFER' | 'ACK' | 'NAK' | 'timeout'
  /** The address offered or acknowledged (`0.0.0.0` in a NAK, `undefined` on timeout). */
  readonly yiaddr: string | undefined
  /** Option 51, seconds. */
  readonly leaseTime?: number
}

/** DHCP message types (RFC 2132 §9.6). */
const DISCOVER = 1
const REQUEST = 3
const ANSWERS: Readonly<Record<number, Dhcp4ProbeAnswer['type']>> = {
  2: 'OFFER',
  5: 'ACK',
  6: 'NAK',
}
/** RFC 2131 §3: the options start with this magic cookie at offset 236. */
const MAGIC_COOKIE = 0x63825363
const OPTIONS = 240
const RELAY = '127.0.0.1'

function ipv4(text: string): Buffer {
  const octets = text.split('.').map(Number)
  if (octets.length !== 4 || octets.some((o) => !Number.isInteger(o) || o < 0 || o > 255))
    throw new Error(`not an IPv4 address: ${text}`)
  return Buffer.from(octets)
}

function hardware(mac: string): Buffer {
  if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(mac)) throw new Error(`not a MAC address: ${mac}`)
  return Buffer.from(mac.split(':').map((h) => parseInt(h, 16)))
}

/** The BOOTREQUEST of a probe, padded to the 300 bytes of a BOOTP message (RFC 1542 §2.1). */
export function dhcp4ProbePacket(options: Dhcp4ProbeOptions, xid: number): Buffer {
  const { kind, address } = options
  if (kind !== 'discover' && address === undefined) throw new Error(`a ${kind} probe needs address`)
  const chaddr = hardware(options.mac)
  const packet = Buffer.alloc(548)
  packet.writeUInt8(1, 0) // op BOOTREQUEST
  packet.writeUInt8(1, 1) // htype Ethernet
  packet.writeUInt8(6, 2) // hlen
  packet.writeUInt8(1, 3) // hops: one relay
  packet.writeUInt32BE(xid, 4)
  if (kind === 'renew' && address !== undefined) ipv4(address).copy(packet, 12) // ciaddr
  ipv4(RELAY).copy(packet, 24) // giaddr
  chaddr.copy(packet, 28)
  packet.writeUInt32BE(MAGIC_COOKIE, 236)
  let at = OPTIONS
  const option = (code: number, data: Buffer): void => {
    packet.writeUInt8(code, at)
    packet.writeUInt8(data.length, at + 1)
    data.copy(packet, at + 2)
    at += 2 + data.length
  }
  option(53, Buffer.from([kind === 'discover' ? DISCOVER : REQUEST]))
  option(61, Buffer.concat([Buffer.from([1]), chaddr]))
  if (kind === 'reboot' && address !== undefined) option(50, ipv4(address))
  packet.writeUInt8(255, at)
  return packet.subarray(0, Math.max(300, at + 1))
}

/** Reads the answer to `xid` from a BOOTREPLY; `undefined` for anything else. */
export function parseDhcp4Answer(packet: Buffer, xid: number): Dhcp4ProbeAnswer | undefined {
  if (packet.length < OPTIONS || packet[0] !== 2 || packet.readUInt32BE(4) !== xid) return undefined
  if (packet.readUInt32BE(236) !== MAGIC_COOKIE) return undefined
  let type: Dhcp4ProbeAnswer['type'] | undefined
  let leaseTime: number | undefined
  for (let at = OPTIONS; at < packet.length && packet[at] !== 255;) {
    const code = packet[at] ?? 0
    if (code === 0) {
      at++
      continue
    }
    const length = packet[at + 1] ?? 0
    if (code === 53) type = ANSWERS[packet[at + 2] ?? 0]
    if (code === 51 && length === 4) leaseTime = packet.readUInt32BE(at + 2)
    at += 2 + length
  }
  if (type === undefined) return undefined
  const yiaddr = [...packet.subarray(16, 20)].join('.')
  return leaseTime === undefined ? { type, yiaddr } : { type, yiaddr, leaseTime }
}

/**
 * Sends one relayed DHCPv4 message to 127.0.0.1:serverPort and waits on 127.0.0.1:clientPort
 * for the answer. Nothing else may hold clientPort meanwhile (no perfdhcp of the same server).
 *
 * @example
 * ```ts
 * await dhcp4Probe({ ...ports, kind: 'renew', mac: '00:0c:01:02:03:04', address: '10.0.0.1' })
 * // → { type: 'ACK', yiaddr: '10.0.0.1', leaseTime: 60 }
 * ```
 */
export function dhcp4Probe(options: Dhcp4ProbeOptions): Promise<Dhcp4ProbeAnswer> {
  const xid = randomInt(1, 0xffffffff)
  const packet = dhcp4ProbePacket(options, xid)
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4')
    const finish = (answer: Dhcp4ProbeAnswer): void => {
      clearTimeout(timer)
      socket.close()
      resolve(answer)
    }
    const timer = setTimeout(() => {
      finish({ type: 'timeout', yiaddr: undefined })
    }, options.timeoutMs ?? 2_000)
    socket.on('error', (e) => {
      clearTimeout(timer)
      socket.close()
      reject(e)
    })
    socket.on('message', (message) => {
      const answer = parseDhcp4Answer(message, xid)
      if (answer !== undefined) finish(answer)
    })
    socket.bind(options.clientPort, RELAY, () => {
      socket.send(packet, options.serverPort, RELAY)
    })
  })
}
