import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { excludeCidr, mergeCidr, parseCidr } from 'cidr-tools'
import { throwsCode } from '../../test/support/throws-code.js'
import { Address } from './address.js'
import {
  AddressRange,
  aggregatePrefixes,
  mergeRanges,
  rangeToPrefixes,
  subtractRanges,
} from './address-range.js'
import { bitLength, trailingZeros } from './bits.js'
import { Prefix } from './prefix.js'

/** Start and end of cidr-tools' parse of each network: the oracle's view, not ours. */
function spans(nets: readonly string[]): [bigint, bigint][] {
  return nets.map((n) => {
    const p = parseCidr(n)
    return [p.start, p.end]
  })
}

const v4 = fc.bigInt({ min: 0n, max: 0xffffffffn })
const v4Prefix = fc
  .tuple(v4, fc.integer({ min: 8, max: 32 }))
  .map(([v, l]) => Prefix.of('ipv4', v, l, true))
const v6Prefix = fc
  .tuple(fc.bigInt({ min: 0n, max: (1n << 16n) - 1n }), fc.integer({ min: 100, max: 128 }))
  .map(([v, l]) => Prefix.of('ipv6', (0x20010db8n << 96n) | v, l, true))

describe('AddressRange', () => {
  it('parses ranges, prefixes and single addresses', () => {
    const r = AddressRange.parse('192.0.2.5-192.0.2.20')
    assert.equal(r.size, 16n)
    assert.equal(r.toString(), '192.0.2.5-192.0.2.20')
    assert.equal(AddressRange.parse('10.0.0.0/30').toString(), '10.0.0.0-10.0.0.3')
    assert.equal(AddressRange.parse('2001:db8::1 - 2001:db8::ff').size, 255n)
    assert.equal(AddressRange.parse('10.0.0.7').size, 1n)
    assert.equal(AddressRange.parse('02-00-5e-00-00-01').family, 'mac')
  })

  it('refuses reversed, mixed and malformed ranges', () => {
    throwsCode(() => AddressRange.parse('10.0.0.9-10.0.0.1'), 'CASM_ERR_RANGE')
    throwsCode(() => AddressRange.parse('10.0.0.1-2001:db8::1'), 'CASM_ERR_FAMILY_MISMATCH')
    throwsCode(() => AddressRange.parse('10.0.0.1-'), 'CASM_ERR_ADDRESS_SYNTAX')
    throwsCode(() => AddressRange.of('ipv4', 5n, 4n), 'CASM_ERR_RANGE')
    throwsCode(() => AddressRange.of('ipv4', 0n, 1n << 32n), 'CASM_ERR_RANGE')
  })

  it('contains, overlaps, compares', () => {
    const r = AddressRange.parse('10.0.0.5-10.0.0.20')
    assert.ok(r.contains(Address.parse('10.0.0.5')))
    assert.ok(!r.contains(Address.parse('10.0.0.21')))
    assert.ok(r.contains(Prefix.parse('10.0.0.8/29')))
    assert.ok(!r.contains(Prefix.parse('10.0.0.0/29')))
    assert.ok(r.overlaps(Prefix.parse('10.0.0.0/29')))
    assert.ok(!r.overlaps(Prefix.parse('10.0.0.24/29')))
    assert.ok(!r.overlaps(Prefix.parse('::/0')))
    assert.ok(r.compare(AddressRange.parse('10.0.0.5-10.0.0.30')) < 0)
    assert.ok(r.equals(AddressRange.parse('10.0.0.5-10.0.0.20')))
    assert.equal(r.firstAddress().toString(), '10.0.0.5')
    assert.equal(r.lastAddress().toString(), '10.0.0.20')
    assert.equal(JSON.stringify(r), '"10.0.0.5-10.0.0.20"')
  })

  it('converts to the minimal prefixes', () => {
    assert.deepEqual(AddressRange.parse('192.0.2.5-192.0.2.20').toPrefixes().map(String), [
      '192.0.2.5/32',
      '192.0.2.6/31',
      '192.0.2.8/29',
      '192.0.2.16/30',
      '192.0.2.20/32',
    ])
    assert.deepEqual(AddressRange.parse('0.0.0.0-255.255.255.255').toPrefixes().map(String), [
      '0.0.0.0/0',
    ])
    assert.deepEqual(
      AddressRange.parse('::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff').toPrefixes().map(String),
      ['::/0'],
    )
    assert.equal(AddressRange.parse('10.0.0.0-10.0.0.255').toPrefix()?.toString(), '10.0.0.0/24')
    assert.equal(AddressRange.parse('10.0.0.1-10.0.0.255').toPrefix(), undefined)
  })

  it('range → prefixes is minimal, exact and ordered (cidr-tools oracle)', () => {
    fc.assert(
      fc.property(v4, v4, (a, b) => {
        const [first, last] = a <= b ? [a, b] : [b, a]
        const ours = rangeToPrefixes('ipv4', first, last)
        const r = AddressRange.of('ipv4', first, last)
        // cidr-tools merges the range's own pieces into its minimal cover.
        const theirs = spans(mergeCidr(ours.map(String)))
        assert.deepEqual(
          ours.map((p) => [p.first, p.last]),
          theirs,
        )
        assert.ok(ours.length <= 62)
        assert.deepEqual(AddressRange.fromPrefixes(ours), [r])
      }),
    )
  })

  it('IPv6 ranges too', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }),
        fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }),
        (a, b) => {
          const [first, last] = a <= b ? [a, b] : [b, a]
          const ours = rangeToPrefixes('ipv6', first, last)
          assert.equal(ours[0]?.first, first)
          assert.equal(ours.at(-1)?.last, last)
          assert.ok(ours.length <= 254)
          for (let i = 1; i < ours.length; i++)
            assert.equal((ours[i] as Prefix).first, (ours[i - 1] as Prefix).last + 1n)
          assert.deepEqual(
            spans(mergeCidr(ours.map(String))),
            ours.map((p) => [p.first, p.last]),
          )
        },
      ),
    )
  })
})

describe('aggregatePrefixes', () => {
  it('merges buddies, drops duplicates and nested prefixes', () => {
    const input = [
      '10.0.0.0/25',
      '10.0.0.128/25',
      '10.0.1.0/24',
      '10.0.1.0/26',
      '10.0.1.0/24',
      '192.0.2.0/24',
    ]
    assert.deepEqual(aggregatePrefixes(input.map((t) => Prefix.parse(t))).map(String), [
      '10.0.0.0/23',
      '192.0.2.0/24',
    ])
    assert.deepEqual(aggregatePrefixes([]), [])
  })

  it('refuses mixed families', () => {
    throwsCode(
      () => aggregatePrefixes([Prefix.parse('10.0.0.0/8'), Prefix.parse('::/0')]),
      'CASM_ERR_FAMILY_MISMATCH',
    )
  })

  it('equals cidr-tools mergeCidr on random IPv4 and IPv6 lists', () => {
    for (const arb of [v4Prefix, v6Prefix]) {
      fc.assert(
        fc.property(fc.array(arb, { maxLength: 40 }), (list) => {
          const ours = aggregatePrefixes(list).map((p) => [p.first, p.last])
          const theirs = list.length === 0 ? [] : spans(mergeCidr(list.map(String)))
          assert.deepEqual(ours, theirs)
        }),
      )
    }
  })
})

describe('mergeRanges and subtractRanges', () => {
  it('merges touching and overlapping ranges', () => {
    const merged = mergeRanges(
      ['10.0.0.0-10.0.0.9', '10.0.0.10-10.0.0.20', '10.0.0.15-10.0.0.30', '10.0.1.0-10.0.1.0'].map(
        (t) => AddressRange.parse(t),
      ),
    )
    assert.deepEqual(merged.map(String), ['10.0.0.0-10.0.0.30', '10.0.1.0-10.0.1.0'])
  })

  it('subtracts like cidr-tools excludeCidr', () => {
    fc.assert(
      fc.property(
        fc.array(v4Prefix, { minLength: 1, maxLength: 10 }),
        fc.array(v4Prefix, { maxLength: 10 }),
        (base, cut) => {
          const ours = subtractRanges(
            base.map((p) => AddressRange.fromPrefix(p)),
            cut.map((p) => AddressRange.fromPrefix(p)),
          )
            .flatMap((r) => r.toPrefixes())
            .map((p) => [p.first, p.last])
          const theirs = spans(excludeCidr(base.map(String), cut.map(String)))
          assert.deepEqual(ours, theirs)
        },
      ),
    )
  })
})

describe('bit helpers', () => {
  it('bitLength and trailingZeros', () => {
    assert.equal(bitLength(0n), 0)
    assert.equal(bitLength(1n), 1)
    assert.equal(bitLength(255n), 8)
    assert.equal(bitLength(256n), 9)
    assert.equal(bitLength(1n << 127n), 128)
    assert.equal(trailingZeros(0n, 32), 32)
    assert.equal(trailingZeros(8n, 32), 3)
    assert.equal(trailingZeros(1n << 100n, 128), 100)
    assert.equal(trailingZeros(1n << 100n, 64), 64)
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: (1n << 128n) - 1n }), (n) => {
        assert.equal(bitLength(n), n.toString(2).length)
        const bin = n.toString(2)
        assert.equal(trailingZeros(n, 200), bin.length - 1 - bin.lastIndexOf('1'))
      }),
    )
  })
})
