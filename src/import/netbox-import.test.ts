import assert from 'node:assert/strict'
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'

import { validateImportDocument } from '../domain/import-document.js'
import { generateNetboxPrefixes } from '../../test/fixtures/import/generate-netbox.js'
import { detectNetboxTable, importNetbox, netboxPoolKind, parseNetbox } from './netbox-import.js'

const DIR = join(import.meta.dirname, '../../test/fixtures/import/netbox')

function filesIn(dir: string): { name: string; text: string }[] {
  return readdirSync(dir)
    .filter((f) => /\.(csv|json)$/.test(f))
    .map((name) => ({ name, text: readFileSync(join(dir, name), 'utf8') }))
}

describe('parseNetbox on the sample export', () => {
  const result = parseNetbox(filesIn(DIR))
  const doc = result.document

  it('reads every row without problems, and the document passes validation', () => {
    assert.deepEqual(result.problems, [])
    assert.deepEqual(validateImportDocument(doc).problems, [])
    assert.equal(importNetbox, parseNetbox)
  })

  it('makes one domain per VRF and global for none, in order of use', () => {
    assert.deepEqual(doc.domains, [
      { name: 'red', description: 'NetBox VRF red (rd 65000:1)', ref: 'prefixes.csv:2' },
      { name: 'blue', ref: 'prefixes.csv:7' },
      { name: 'global', description: 'global routing table', ref: 'prefixes.csv:11' },
    ])
  })

  it('turns aggregates into blocks of the domains using them, and uncovered roots into blocks', () => {
    assert.deepEqual(
      doc.blocks.map((b) => [b.domain, b.space, b.ref, b.reserved === true]),
      [
        ['red', '10.0.0.0/8', 'aggregates.csv:2', false],
        ['blue', '10.0.0.0/8', 'aggregates.csv:2', false],
        ['blue', '172.16.0.0/12', 'prefixes.csv:9', false],
        ['global', '100.64.0.0/10', 'prefixes.csv:13', true],
        ['global', '192.0.2.0/24', 'aggregates.csv:3', false],
        ['global', '2001:db8::/32', 'aggregates.csv:4', false],
      ],
    )
    assert.deepEqual(doc.blocks[0], {
      domain: 'red',
      space: '10.0.0.0/8',
      source: { rir: 'RFC 1918', notes: 'Private space, RFC 1918' },
      description: 'Private space, RFC 1918',
      tags: ['added:2020-01-15'],
      ref: 'aggregates.csv:2',
    })
  })

  it('turns leaf active and is_pool prefixes into pools with a kind from the role', () => {
    assert.deepEqual(
      doc.pools.map((p) => [p.name, p.domain, p.kind, p.family, p.space.join(' '), p.ref]),
      [
        ['red-10.1.1.0-24', 'red', 'static', 'ipv4', '10.1.1.0/24', 'prefixes.csv:3'],
        ['red-10.1.2.0-23', 'red', 'subscriber', 'ipv4', '10.1.2.0/23', 'prefixes.csv:5'],
        ['blue-10.1.1.0-24', 'blue', 'static', 'ipv4', '10.1.1.0/24', 'prefixes.csv:8'],
        ['blue-172.16.5.0-24', 'blue', 'static', 'ipv4', '172.16.5.0/24', 'prefixes.csv:10'],
        ['global-192.0.2.0-25', 'global', 'cgn', 'ipv4', '192.0.2.0/25', 'prefixes.csv:11'],
        [
          'global-2001_db8_0_1__-64',
          'global',
          'static',
          'ipv6',
          '2001:db8:0:1::/64',
          'prefixes.csv:16',
        ],
        [
          'global-2001_db8_0_100__-56',
          'global',
          'pd',
          'ipv6',
          '2001:db8:0:100::/56',
          'prefixes.csv:15',
        ],
      ],
    )
    assert.deepEqual(doc.pools[1], {
      name: 'red-10.1.2.0-23',
      domain: 'red',
      kind: 'subscriber',
      family: 'ipv4',
      space: ['10.1.2.0/23'],
      policy: { unit: { min: 23, default: 27, max: 32 } },
      description: 'BNG pool, east',
      tags: ['site:fra1', 'role:Subscriber'],
      ref: 'prefixes.csv:5',
    })
  })

  it('turns reserved prefixes in pools, ranges and addresses into reservations', () => {
    assert.deepEqual(doc.reservations, [
      {
        pool: 'red-10.1.1.0-24',
        prefix: '10.1.1.0/28',
        description: 'gateways and VRRP',
        ref: 'prefixes.csv:4',
      },
      {
        pool: 'red-10.1.1.0-24',
        range: '10.1.1.100-10.1.1.199',
        description: 'DHCP scope red',
        ref: 'ip-ranges.csv:2',
      },
      {
        pool: 'blue-10.1.1.0-24',
        range: '10.1.1.120-10.1.1.130',
        description: 'DHCP scope blue, "lab"',
        ref: 'ip-ranges.csv:4',
      },
      {
        pool: 'global-2001_db8_0_1__-64',
        range: '2001:db8:0:1::1000-2001:db8:0:1::1fff',
        description: 'reserved; IPv6 static range',
        ref: 'ip-ranges.csv:3',
      },
      {
        pool: 'red-10.1.1.0-24',
        address: '10.1.1.20',
        hostname: 'srv1.red.example.net',
        description: 'web server',
        ref: 'ip-addresses.json:6',
      },
      {
        pool: 'blue-10.1.1.0-24',
        address: '10.1.1.5',
        hostname: 'printer.blue.example.net',
        description: 'reserved; same address, other VRF',
        ref: 'ip-addresses.json:24',
      },
      {
        pool: 'global-192.0.2.0-25',
        address: '192.0.2.10',
        hostname: 'nat-vip.example.net',
        description: 'role vip; NAT VIP',
        ref: 'ip-addresses.json:33',
      },
      {
        pool: 'global-2001_db8_0_1__-64',
        address: '2001:db8:0:1::10',
        hostname: 'srv6.example.net',
        description: '{"escaped": [1, 2]}',
        ref: 'ip-addresses.json:42',
      },
    ])
  })

  it('notes what it skipped, each with its row', () => {
    assert.deepEqual(
      result.notes.map((n) => n.ref),
      [
        'prefixes.csv:6', // reserved /24 outside pools
        'prefixes.csv:12', // deprecated /26 outside pools
        'ip-addresses.json:15', // inside the DHCP range
        'ip-addresses.json:51', // status dhcp
        'ip-addresses.json:60', // inside the reserved /28
        'ip-addresses.json:69', // in a block, in no pool
      ],
    )
  })

  it('keeps the same private space of two VRFs apart as two domains', () => {
    const tens = doc.pools.filter((p) => p.space[0] === '10.1.1.0/24')
    assert.deepEqual(
      tens.map((p) => p.domain),
      ['red', 'blue'],
    )
  })
})

describe('parseNetbox on bad rows', () => {
  const files = [...filesIn(DIR), ...filesIn(join(DIR, 'bad'))]
  const { problems, document } = parseNetbox(files)

  it('reports every bad row with its file, line, column and code, and imports the rest', () => {
    assert.deepEqual(
      problems.map((p) => [p.ref, p.path, p.code]),
      [
        ['bad-prefixes.csv:2', '/prefix', 'CASM_ERR_ADDRESS_SYNTAX'],
        ['bad-prefixes.csv:3', '/prefix', 'CASM_ERR_HOST_BITS'],
        ['bad-prefixes.csv:4', '/status', 'CASM_ERR_VALIDATION'],
        ['bad-prefixes.csv:5', '/is_pool', 'CASM_ERR_VALIDATION'],
        ['bad-ranges.csv:2', '/end_address', 'CASM_ERR_RANGE'],
        ['bad-addresses.csv:2', '/address', 'CASM_ERR_OUT_OF_POOL'],
      ],
    )
    assert.equal(document.pools.length, 7)
  })

  it('says what to fix', () => {
    const byRef = new Map(problems.map((p) => [p.ref, p.message]))
    assert.match(byRef.get('bad-prefixes.csv:3') ?? '', /the network is 10\.1\.0\.0\/16/)
    assert.match(byRef.get('bad-prefixes.csv:4') ?? '', /use one of container, active, reserved/)
    assert.match(byRef.get('bad-ranges.csv:2') ?? '', /ends before it starts/)
    assert.match(byRef.get('bad-addresses.csv:2') ?? '', /outside every prefix of red/)
  })
})

describe('parseNetbox mapping rules', () => {
  const csv = (name: string, ...lines: string[]) => ({ name, text: `${lines.join('\n')}\n` })

  it('makes a nested prefix a pool inside the outer one, never two blocks', () => {
    const { document, problems } = parseNetbox([
      csv('p.csv', 'prefix,vrf,status', '10.2.0.0/24,v,active', '10.0.0.0/8,v,container'),
    ])
    assert.deepEqual(problems, [])
    assert.deepEqual(
      document.blocks.map((b) => b.space),
      ['10.0.0.0/8'],
    )
    assert.deepEqual(
      document.pools.map((p) => [p.name, p.space[0]]),
      [['v-10.2.0.0-24', '10.2.0.0/24']],
    )
  })

  it('makes a lone active prefix both the block and its pool', () => {
    const { document } = parseNetbox([csv('p.csv', 'prefix,status', '192.0.2.0/24,active')])
    assert.deepEqual(
      document.blocks.map((b) => [b.domain, b.space]),
      [['global', '192.0.2.0/24']],
    )
    assert.deepEqual(
      document.pools.map((p) => p.space[0]),
      ['192.0.2.0/24'],
    )
  })

  it('treats active prefixes with active children as structure, and notes pools inside pools', () => {
    const { document, notes } = parseNetbox([
      csv(
        'p.csv',
        'prefix,status,is_pool',
        '10.0.0.0/16,active,false',
        '10.0.1.0/24,active,true',
        '10.0.1.0/26,active,false',
      ),
    ])
    assert.deepEqual(
      document.pools.map((p) => p.space[0]),
      ['10.0.1.0/24'],
    )
    assert.deepEqual(
      notes.map((n) => n.ref),
      ['p.csv:4'],
    )
  })

  it('reports a prefix listed twice in one VRF, but not across VRFs', () => {
    const { problems } = parseNetbox([
      csv('p.csv', 'prefix,vrf', '10.0.0.0/8,a', '10.0.0.0/8,b', '10.0.0.0/8,a'),
    ])
    assert.deepEqual(
      problems.map((p) => [p.ref, p.code]),
      [['p.csv:4', 'CASM_ERR_ALREADY_EXISTS']],
    )
  })

  it('reports overlapping aggregates, and ranges overlapping a reservation or each other', () => {
    const { problems } = parseNetbox([
      csv('a.csv', 'prefix,rir', '10.0.0.0/8,RFC 1918', '10.1.0.0/16,RFC 1918'),
      csv('p.csv', 'prefix,status', '10.0.0.0/24,active', '10.0.0.0/28,reserved'),
      csv(
        'r.csv',
        'start_address,end_address',
        '10.0.0.10,10.0.0.20',
        '10.0.0.30,10.0.0.40',
        '10.0.0.35,10.0.0.50',
      ),
    ])
    assert.deepEqual(
      problems.map((p) => [p.ref, p.code]),
      [
        ['a.csv:3', 'CASM_ERR_OVERLAP'],
        ['r.csv:2', 'CASM_ERR_OVERLAP'],
        ['r.csv:4', 'CASM_ERR_OVERLAP'],
      ],
    )
  })

  it('keeps a reserved root usable when pools lie in it, and notes it', () => {
    const { document, notes } = parseNetbox([
      csv(
        'p.csv',
        'prefix,status',
        '10.0.0.0/16,reserved',
        '10.0.1.0/24,active',
        '10.9.0.0/16,deprecated',
      ),
    ])
    assert.deepEqual(
      document.blocks.map((b) => [b.space, b.reserved ?? false]),
      [
        ['10.0.0.0/16', false],
        ['10.9.0.0/16', true],
      ],
    )
    assert.deepEqual(
      notes.map((n) => n.ref),
      ['p.csv:2'],
    )
  })

  it('gives VRFs whose names clash once made valid distinct domain names', () => {
    const { document } = parseNetbox([
      csv('p.csv', 'prefix,vrf', '10.0.0.0/8,Cust A', '10.0.0.0/8,Cust-A', '10.0.0.0/8,Global'),
    ])
    assert.deepEqual(
      document.domains.map((d) => [d.name, d.description]),
      [
        ['Cust-A', "imported as 'Cust A'"],
        ['Cust-A-2', "imported as 'Cust-A'"],
        ['global', 'global routing table'],
      ],
    )
  })

  it('lets a prefix larger than an aggregate be the block, with a note', () => {
    const { document, notes } = parseNetbox([
      csv('a.csv', 'prefix,rir', '10.1.0.0/16,RFC 1918', '10.2.0.0/16,RFC 1918'),
      csv('p.csv', 'prefix,vrf,status', '10.0.0.0/8,x,container', '10.1.5.0/24,x,active'),
    ])
    assert.deepEqual(
      document.blocks.map((b) => [b.domain, b.space]),
      [['x', '10.0.0.0/8']],
    )
    assert.deepEqual(
      document.pools.map((p) => p.space[0]),
      ['10.1.5.0/24'],
    )
    assert.deepEqual(
      notes.map((n) => n.ref),
      ['a.csv:2', 'a.csv:3'],
    )
  })

  it('never nests an IPv6 prefix under an IPv4 one of the same number', () => {
    const { document } = parseNetbox([
      csv('p.csv', 'prefix,status', '10.0.0.0/8,container', '::a00:0/104,container'),
    ])
    assert.deepEqual(
      document.blocks.map((b) => b.space),
      ['10.0.0.0/8', '::a00:0/104'],
    )
  })

  it('reads the API list as a plain array, with nested objects', () => {
    const text = JSON.stringify([
      {
        prefix: '10.0.0.0/24',
        vrf: { name: 'Cust A', rd: '65000:7' },
        status: { value: 'active' },
        is_pool: true,
        role: { name: 'DHCP' },
        scope: { name: 'ams1' },
      },
    ])
    const { document, problems } = parseNetbox([{ name: 'prefixes.json', text }])
    assert.deepEqual(problems, [])
    assert.deepEqual(document.domains, [
      { name: 'Cust-A', description: 'NetBox VRF Cust A (rd 65000:7)', ref: 'prefixes.json:1' },
    ])
    assert.equal(document.pools[0]!.kind, 'dhcp')
    assert.deepEqual(document.pools[0]!.tags, ['site:ams1', 'role:DHCP'])
  })

  it('reports files it cannot read or place', () => {
    const { problems } = parseNetbox([
      { name: 'x.json', text: '{"results": [' },
      { name: 'y.csv', text: 'foo,bar\n1,2\n' },
      { name: 'z.csv', text: 'prefix,description\n10.0.0.0/8,"open\n' },
    ])
    assert.deepEqual(
      problems.map((p) => [p.ref, p.code]),
      [
        ['x.json:1', 'CASM_ERR_MALFORMED_JSON'],
        ['y.csv:1', 'CASM_ERR_VALIDATION'],
        ['z.csv:2', 'CASM_ERR_VALIDATION'],
      ],
    )
  })

  it('tells the table from its columns and the pool kind from the role', () => {
    assert.equal(detectNetboxTable(new Set(['start_address', 'end_address'])), 'ip-ranges')
    assert.equal(detectNetboxTable(new Set(['address', 'vrf'])), 'ip-addresses')
    assert.equal(detectNetboxTable(new Set(['prefix', 'rir'])), 'aggregates')
    assert.equal(detectNetboxTable(new Set(['prefix', 'vrf'])), 'prefixes')
    assert.equal(detectNetboxTable(new Set(['name', 'rd'])), 'vrfs')
    assert.equal(detectNetboxTable(new Set(['foo'])), undefined)
    assert.equal(netboxPoolKind('', true), 'subscriber')
    assert.equal(netboxPoolKind('', false), 'static')
    assert.equal(netboxPoolKind('Carrier-grade NAT', false), 'cgn')
  })
})

describe('parseNetbox at scale', () => {
  it('maps 100,000 prefixes', (t) => {
    const g = generateNetboxPrefixes(100_000)
    const cpu0 = process.cpuUsage()
    const t0 = performance.now()
    const { document, problems } = parseNetbox([{ name: 'prefixes.csv', text: g.text }])
    const ms = performance.now() - t0
    const cpu = process.cpuUsage(cpu0)
    t.diagnostic(
      `100,000 NetBox prefixes parsed and mapped in ${ms.toFixed(0)} ms (cpu ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms)`,
    )
    assert.equal(g.rows, 100_000)
    assert.deepEqual(problems, [])
    assert.equal(document.domains.length, g.expected.domains)
    assert.equal(document.blocks.length, g.expected.blocks)
    assert.equal(document.pools.length, g.expected.pools)
    assert.equal(document.reservations?.length, g.expected.reservations)
  })
})
