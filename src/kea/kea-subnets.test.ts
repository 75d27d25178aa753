import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { throwsCode } from '../../test/support/throws-code.js'
import {
  type Json,
  type KeaGrant,
  type KeaLayout,
  ownedSubnets,
  placeGrants,
  subnetEntry,
  v4PoolRange,
} from './kea-subnets.js'
import { Prefix } from '../ip/index.js'

const layout: KeaLayout = {
  mode: 'v4',
  sharedNetwork: 'casm',
  relay: ['192.0.2.1'],
  owner: 'casm',
  delegatedLength: 56,
  gateway: false,
}

const grant = (prefix: string, subnetId: number, extra: Partial<KeaGrant> = {}): KeaGrant => ({
  prefix,
  grant: `gr_${subnetId}`,
  state: 'active',
  drainMode: 'natural',
  subnetId,
  ...extra,
})

/** What Kea answers to config-get: maps with sorted keys and its defaults filled in. */
function asKeaReturnsIt(config: Json): Json {
  const sort = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(sort)
      : typeof v === 'object' && v !== null
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map((k) => [k, sort((v as Json)[k])]),
          )
        : v
  const out = sort(config) as Json
  for (const net of (out['Dhcp4'] as Json)['shared-networks'] as Json[])
    for (const s of net['subnet4'] as Json[]) {
      s['valid-lifetime'] = 4000
      s['option-data'] = []
    }
  return out
}

const empty = (): Json => ({ Dhcp4: { 'shared-networks': [], subnet4: [] } })

describe('kea subnet layout', () => {
  it('keeps network and broadcast addresses (and a gateway) out of IPv4 pools', () => {
    assert.deepEqual(v4PoolRange(Prefix.parse('100.64.8.0/27'), false), {
      first: '100.64.8.1',
      last: '100.64.8.30',
    })
    assert.deepEqual(v4PoolRange(Prefix.parse('100.64.8.0/27'), true), {
      first: '100.64.8.2',
      last: '100.64.8.30',
      router: '100.64.8.1',
    })
    assert.deepEqual(v4PoolRange(Prefix.parse('100.64.8.0/31'), false), {
      first: '100.64.8.0',
      last: '100.64.8.1',
    })
  })

  it('writes delegated-prefix pools and refuses grants smaller than one delegation', () => {
    const pd = { ...layout, mode: 'pd' as const }
    assert.deepEqual(
      subnetEntry(grant('2001:db8:100::/48', 7, { state: 'draining', drainMode: 'fast' }), pd)[
        'pd-pools'
      ],
      [
        {
          prefix: '2001:db8:100::',
          'prefix-len': 48,
          'delegated-len': 56,
          'client-class': 'casm-drain-fast',
        },
      ],
    )
    throwsCode(
      () => subnetEntry(grant('2001:db8:100::/60', 7), pd),
      'CASM_ERR_BACKEND',
      /smaller than one delegated prefix/,
    )
    throwsCode(
      () => subnetEntry(grant('2001:db8:100::/48', 7), layout),
      'CASM_ERR_BACKEND',
      /not IPv4/,
    )
  })

  it('adds the shared network and drain classes once, and changes nothing when Kea already has it', () => {
    const first = placeGrants(empty(), [grant('100.64.8.0/27', 1_000_000)], layout)
    assert.equal(first.changed, true)
    const dhcp4 = first.config['Dhcp4'] as Json
    assert.deepEqual(
      (dhcp4['client-classes'] as Json[]).map((c) => c['name']),
      ['casm-drain-natural', 'casm-drain-fast'],
    )
    assert.deepEqual((dhcp4['shared-networks'] as Json[])[0]!['relay'], {
      'ip-addresses': ['192.0.2.1'],
    })
    // Kea sorts keys and fills defaults in: still nothing to do.
    const again = placeGrants(
      asKeaReturnsIt(first.config),
      [grant('100.64.8.0/27', 1_000_000)],
      layout,
    )
    assert.equal(again.changed, false)
  })

  it('never touches subnets it does not own, wherever they are', () =>
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 63 }), { maxLength: 12 }), (picks) => {
        const foreign = {
          id: 7,
          subnet: '192.0.2.0/24',
          pools: [{ pool: '192.0.2.10-192.0.2.20' }],
        }
        const other = {
          id: 8,
          subnet: '198.51.100.0/24',
          'user-context': {
            casm: { owner: 'other', prefix: '198.51.100.0/24', state: 'active', drain: 'natural' },
          },
        }
        const base: Json = {
          Dhcp4: { subnet4: [foreign], 'shared-networks': [{ name: 'casm', subnet4: [other] }] },
        }
        const grants = [...new Set(picks)].map((i) => grant(`100.64.${i}.0/24`, 1_000_000 + i))
        const { config } = placeGrants(base, grants, layout)
        const d = config['Dhcp4'] as Json
        assert.deepEqual(d['subnet4'], [foreign])
        const net = (d['shared-networks'] as Json[])[0]!
        assert.deepEqual((net['subnet4'] as Json[])[0], other)
        assert.deepEqual(
          [...ownedSubnets(config, layout).keys()].sort(),
          grants.map((g) => g.prefix).sort(),
        )
        // Placing the same again is a no-op; placing none takes only casm's own away.
        assert.equal(placeGrants(config, grants, layout).changed, false)
        const none = placeGrants(config, [], layout).config
        assert.equal(ownedSubnets(none, layout).size, 0)
        assert.deepEqual(((none['Dhcp4'] as Json)['shared-networks'] as Json[])[0]!['subnet4'], [
          other,
        ])
      }),
    ))

  it('refuses a grant overlapping a subnet it does not own and leaves the input alone', () => {
    const base: Json = { Dhcp4: { subnet4: [{ id: 7, subnet: '100.64.8.0/24' }] } }
    const before = JSON.stringify(base)
    throwsCode(
      () => placeGrants(base, [grant('100.64.8.128/27', 1)], layout),
      'CASM_ERR_BACKEND',
      /overlaps subnet 100\.64\.8\.0\/24 \(id 7\)/,
    )
    assert.equal(JSON.stringify(base), before)
  })

  it('moves its own subnets back into its shared network and rewrites a changed drain', () => {
    const stray = subnetEntry(grant('100.64.8.0/27', 5), layout)
    const base: Json = {
      Dhcp4: { subnet4: [stray], 'shared-networks': [{ name: 'casm', subnet4: [] }] },
    }
    const { config, changed } = placeGrants(
      base,
      [grant('100.64.8.0/27', 5, { state: 'draining' })],
      layout,
    )
    assert.equal(changed, true)
    const d = config['Dhcp4'] as Json
    assert.deepEqual(d['subnet4'], [])
    const pools = ((d['shared-networks'] as Json[])[0]!['subnet4'] as Json[])[0]!['pools']
    assert.deepEqual(pools, [
      { pool: '100.64.8.1-100.64.8.30', 'client-class': 'casm-drain-natural' },
    ])
  })
})
