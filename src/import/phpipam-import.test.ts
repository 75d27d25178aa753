import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'

import { validateImportDocument } from '../domain/import-document.js'
import { importPhpipam, parsePhpipam } from './phpipam-import.js'

const DIR = join(import.meta.dirname, '../../test/fixtures/import/phpipam')
const file = (name: string) => ({ name, text: readFileSync(join(DIR, name), 'utf8') })

describe('parsePhpipam on the sample export', () => {
  const result = parsePhpipam([file('addresses.csv'), file('subnets.csv'), file('sections.csv')])
  const doc = result.document

  it('reads every row without problems, and the document passes validation', () => {
    assert.deepEqual(result.problems, [])
    assert.deepEqual(validateImportDocument(doc).problems, [])
    assert.equal(importPhpipam, parsePhpipam)
  })

  it('makes one domain per section, or per VRF when the subnet has one', () => {
    assert.deepEqual(doc.domains, [
      { name: 'Customers', description: 'Customer networks', ref: 'sections.csv:2' },
      { name: 'Lab', description: 'Lab networks, not routed', ref: 'sections.csv:3' },
      { name: 'mgmt', ref: 'subnets.csv:9' },
    ])
  })

  it('turns top-level subnets into blocks and the subnets under them into pools', () => {
    assert.deepEqual(
      doc.blocks.map((b) => [b.domain, b.space, b.ref]),
      [
        ['Customers', '10.0.0.0/8', 'subnets.csv:3'],
        ['Customers', '2001:db8:100::/40', 'subnets.csv:11'],
        ['Lab', '10.0.0.0/8', 'subnets.csv:7'],
        ['Lab', '192.168.50.0/24', 'subnets.csv:13'],
        ['mgmt', '172.20.0.0/16', 'subnets.csv:9'],
      ],
    )
    assert.deepEqual(
      doc.pools.map((p) => [p.name, p.domain, p.space[0], p.ref]),
      [
        ['Customers-10.10.1.0-24', 'Customers', '10.10.1.0/24', 'subnets.csv:5'],
        ['Customers-10.10.2.0-24', 'Customers', '10.10.2.0/24', 'subnets.csv:6'],
        ['Customers-2001_db8_100_10__-64', 'Customers', '2001:db8:100:10::/64', 'subnets.csv:12'],
        ['Lab-10.10.1.0-24', 'Lab', '10.10.1.0/24', 'subnets.csv:8'],
        ['Lab-192.168.50.0-24', 'Lab', '192.168.50.0/24', 'subnets.csv:13'],
        ['mgmt-172.20.1.0-24', 'mgmt', '172.20.1.0/24', 'subnets.csv:10'],
      ],
    )
    assert.deepEqual(doc.pools[0], {
      name: 'Customers-10.10.1.0-24',
      domain: 'Customers',
      kind: 'static',
      family: 'ipv4',
      space: ['10.10.1.0/24'],
      policy: { unit: { min: 24, default: 32, max: 32 } },
      description: 'Customer A LAN',
      tags: ['vlan:20', 'full'],
      ref: 'subnets.csv:5',
    })
  })

  it('turns addresses into reservations with the hostname, finding the domain by the subnet', () => {
    assert.deepEqual(doc.reservations, [
      {
        pool: 'Customers-10.10.1.0-24',
        address: '10.10.1.10',
        hostname: 'web1.cust-a.example',
        description: 'Customer A web',
        ref: 'addresses.csv:2',
      },
      {
        pool: 'Customers-10.10.2.0-24',
        address: '10.10.2.1',
        hostname: 'gw.dmz.cust-a.example',
        description: 'reserved; DMZ gateway',
        ref: 'addresses.csv:3',
      },
      {
        pool: 'Lab-10.10.1.0-24',
        address: '10.10.1.10',
        hostname: 'lab-pc.example',
        description: 'same address, Lab section',
        ref: 'addresses.csv:4',
      },
      {
        pool: 'mgmt-172.20.1.0-24',
        address: '172.20.1.9',
        hostname: 'sw1.mgmt.example',
        description: 'deprecated; found by its subnet',
        ref: 'addresses.csv:5',
      },
    ])
  })

  it('skips folders, DHCP addresses and addresses outside every pool with a note', () => {
    assert.deepEqual(
      result.notes.map((n) => n.ref),
      ['subnets.csv:2', 'addresses.csv:6', 'addresses.csv:7'],
    )
    assert.equal(
      result.notes[0]?.message,
      "folder 'Datacenter A' skipped: phpIPAM folders only group subnets and hold no space of their own",
    )
  })
})

describe('parsePhpipam on bad rows', () => {
  it('reports every bad row with its line and code', () => {
    const { problems, document } = parsePhpipam([file('bad-subnets.csv')])
    assert.deepEqual(
      problems.map((p) => [p.ref, p.path, p.code]),
      [
        ['bad-subnets.csv:2', '/subnet', 'CASM_ERR_ADDRESS_SYNTAX'],
        ['bad-subnets.csv:3', '/subnet', 'CASM_ERR_HOST_BITS'],
        ['bad-subnets.csv:4', '/subnet', 'CASM_ERR_PREFIX_LENGTH'],
        ['bad-subnets.csv:5', '/mask', 'CASM_ERR_PREFIX_LENGTH'],
        ['bad-subnets.csv:6', '/mask', 'CASM_ERR_PREFIX_LENGTH'],
        ['bad-subnets.csv:7', '/isfull', 'CASM_ERR_VALIDATION'],
      ],
    )
    assert.deepEqual(document.blocks, [])
  })

  it('reports bad address rows with their line and code', () => {
    const { problems } = parsePhpipam([file('subnets.csv'), file('bad-addresses.csv')])
    assert.deepEqual(
      problems.map((p) => [p.ref, p.path, p.code]),
      [
        ['bad-addresses.csv:2', '/address', 'CASM_ERR_ADDRESS_SYNTAX'],
        ['bad-addresses.csv:3', '/state', 'CASM_ERR_VALIDATION'],
        ['bad-addresses.csv:4', '/address', 'CASM_ERR_OUT_OF_POOL'],
      ],
    )
  })

  it('reports a file that is neither export', () => {
    const { problems } = parsePhpipam([{ name: 'x.csv', text: 'a,b\n1,2\n' }])
    assert.deepEqual(
      problems.map((p) => [p.ref, p.code]),
      [['x.csv:1', 'CASM_ERR_VALIDATION']],
    )
  })
})

describe('parsePhpipam column variants', () => {
  it('takes subnet/length in one column, lower-case headers, and no section as global', () => {
    const text = 'subnet,description,vrf\n10.0.0.0/16,top,\n10.0.5.0/24,leaf,none\n'
    const { document, problems } = parsePhpipam([{ name: 's.csv', text }])
    assert.deepEqual(problems, [])
    assert.deepEqual(
      document.blocks.map((b) => [b.domain, b.space]),
      [['global', '10.0.0.0/16']],
    )
    assert.deepEqual(
      document.pools.map((p) => [p.domain, p.space[0]]),
      [['global', '10.0.5.0/24']],
    )
  })
})
