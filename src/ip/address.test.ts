import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { throwsCode } from '../../test/support/throws-code.js'
import {
  Address,
  detectFamily,
  formatIpv6,
  formatMac,
  parseAddressValue,
  parseIpv4,
  parseIpv6,
  parseMac,
} from './address.js'

describe('parseIpv4', () => {
  it('parses dotted quads', () => {
    assert.equal(parseIpv4('0.0.0.0'), 0n)
    assert.equal(parseIpv4('255.255.255.255'), 0xffffffffn)
    assert.equal(parseIpv4('100.64.0.1'), (100n << 24n) | (64n << 16n) | 1n)
  })

  const bad: [string, RegExp][] = [
    ['256.0.0.1', /out of range/],
    ['1.2.3.999', /out of range/],
    ['1.2.3', /expected 4/],
    ['1.2.3.4.5', /expected 4/],
    ['01.2.3.4', /leading zero/],
    ['1.2.3.04', /leading zero/],
    ['1..3.4', /empty/],
    ['1.2.3.', /empty/],
    ['a.b.c.d', /not a decimal/],
    [' 1.2.3.4', /not a decimal/],
    ['1.2.3.4 ', /not a decimal/],
    ['1.2.3.-4', /not a decimal/],
    ['1.2.3.+4', /not a decimal/],
    ['0x1.2.3.4', /not a decimal/],
    ['', /expected 4/],
  ]
  for (const [text, why] of bad) {
    it(`refuses '${text}'`, () => throwsCode(() => parseIpv4(text), 'CASM_ERR_ADDRESS_SYNTAX', why))
  }
})

describe('parseIpv6', () => {
  const good: [string, bigint][] = [
    ['::', 0n],
    ['::1', 1n],
    ['1::', 1n << 112n],
    ['2001:db8::1', (0x2001n << 112n) | (0xdb8n << 96n) | 1n],
    ['2001:0DB8:0000:0000:0000:0000:0000:0001', (0x2001n << 112n) | (0xdb8n << 96n) | 1n],
    ['::ffff:192.0.2.1', (0xffffn << 32n) | 0xc0000201n],
    ['64:ff9b::192.0.2.33', (0x64n << 112n) | (0xff9bn << 96n) | 0xc0000221n],
    ['1:2:3:4:5:6:7::', 0x0001000200030004000500060007_0000n],
    ['1:2:3:4:5:6::8', 0x0001000200030004000500060000_0008n],
    ['ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', (1n << 128n) - 1n],
  ]
  for (const [text, value] of good) {
    it(`parses '${text}'`, () => assert.equal(parseIpv6(text), value))
  }

  it('refuses zone identifiers with their own code', () => {
    throwsCode(() => parseIpv6('fe80::1%eth0'), 'CASM_ERR_ADDRESS_ZONE')
    throwsCode(() => parseIpv6('fe80::1%25eth0'), 'CASM_ERR_ADDRESS_ZONE')
  })

  const bad: [string, RegExp][] = [
    ['1::2::3', /only once/],
    ['1:2:3:4:5:6:7:8:9', /expected 8/],
    ['1:2:3:4:5:6:7', /expected 8/],
    ['12345::', /more than 4/],
    ['g::1', /not hexadecimal/],
    ['1:2:3:4:5:6:7:8::', /at least one group/],
    ['::1:2:3:4:5:6:7:8', /at least one group/],
    [':1:2:3:4:5:6:7', /empty group/],
    ['1:2:3:4:5:6:7:', /empty group/],
    ['[2001:db8::1]', /brackets/],
    ['1.2.3.4::', /IPv4 part may only come last/],
    ['::ffff:1.2.3.256', /embedded IPv4/],
    ['1:2:3:4:5:6:7:1.2.3.4', /expected 8/],
    ['', /expected 8/],
  ]
  for (const [text, why] of bad) {
    it(`refuses '${text}'`, () => throwsCode(() => parseIpv6(text), 'CASM_ERR_ADDRESS_SYNTAX', why))
  }
})

describe('formatIpv6 (RFC 5952)', () => {
  // Cases from RFC 5952 §4: lower case, no leading zeros, longest zero run compressed, first of
  // equal runs, a lone zero group written out.
  const cases: [string, string][] = [
    ['2001:0db8:0000:0000:0000:0000:0002:0001', '2001:db8::2:1'],
    ['2001:db8:0:0:0:0:2:1', '2001:db8::2:1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:DB8::ABCD', '2001:db8::abcd'],
    ['0:0:0:0:0:0:0:0', '::'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['1:0:0:0:0:0:0:0', '1::'],
    ['::ffff:c000:0201', '::ffff:192.0.2.1'],
  ]
  for (const [input, expected] of cases) {
    it(`${input} → ${expected}`, () => assert.equal(formatIpv6(parseIpv6(input)), expected))
  }

  it('round-trips every value', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }), (v) => {
        assert.equal(parseIpv6(formatIpv6(v)), v)
      }),
    )
  })

  it('round-trips values with long zero runs', () => {
    const group = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff }))
    fc.assert(
      fc.property(fc.array(group, { minLength: 8, maxLength: 8 }), (groups) => {
        const v = groups.reduce((acc, g) => (acc << 16n) | BigInt(g), 0n)
        const text = formatIpv6(v)
        assert.equal(parseIpv6(text), v)
        assert.equal(text, text.toLowerCase())
        assert.ok(!/(^|:)0[0-9a-f]/.test(text), `leading zero in ${text}`)
        assert.ok((text.match(/::/g) ?? []).length <= 1)
      }),
    )
  })
})

describe('MAC addresses', () => {
  it('parses colon, hyphen and dotted forms', () => {
    const v = 0x02005e100001n
    assert.equal(parseMac('02:00:5e:10:00:01'), v)
    assert.equal(parseMac('02-00-5E-10-00-01'), v)
    assert.equal(parseMac('0200.5e10.0001'), v)
    assert.equal(formatMac(v), '02:00:5e:10:00:01')
  })
  it('refuses malformed text', () => {
    for (const t of [
      '02:00:5e:10:00',
      '02:00:5e:10:00:01:02',
      '02:00:5e:10:00:0g',
      '2:0:5e:10:0:1',
    ]) {
      throwsCode(() => parseMac(t), 'CASM_ERR_ADDRESS_SYNTAX')
    }
  })
})

describe('detectFamily and Address', () => {
  it('detects the family from the text', () => {
    assert.equal(detectFamily('192.0.2.1'), 'ipv4')
    assert.equal(detectFamily('2001:db8::1'), 'ipv6')
    assert.equal(detectFamily('::ffff:1.2.3.4'), 'ipv6')
    assert.equal(detectFamily('02:00:5e:10:00:01'), 'mac')
    throwsCode(() => detectFamily('hello'), 'CASM_ERR_ADDRESS_SYNTAX', /neither/)
    throwsCode(() => detectFamily(''), 'CASM_ERR_ADDRESS_SYNTAX')
  })

  it('parses within a requested family only', () => {
    throwsCode(() => parseAddressValue('2001:db8::1', 'ipv4'), 'CASM_ERR_ADDRESS_SYNTAX')
    assert.deepEqual(parseAddressValue('10.0.0.1', 'ipv4'), { family: 'ipv4', value: 0x0a000001n })
  })

  it('compares, prints and serialises', () => {
    const a = Address.parse('10.0.0.1')
    const b = Address.parse('10.0.0.2')
    const c = Address.parse('::1')
    assert.ok(a.compare(b) < 0)
    assert.ok(b.compare(a) > 0)
    assert.equal(a.compare(Address.parse('10.0.0.1')), 0)
    assert.ok(a.compare(c) < 0, 'IPv4 sorts before IPv6')
    assert.ok(a.equals(Address.of('ipv4', 0x0a000001n)))
    assert.equal(JSON.stringify({ a }), '{"a":"10.0.0.1"}')
    assert.equal(a.width, 32)
    assert.ok(Object.isFrozen(a))
  })

  it('refuses values outside the family', () => {
    throwsCode(() => Address.of('ipv4', 1n << 32n), 'CASM_ERR_INVALID_ARGUMENT')
    throwsCode(() => Address.of('mac', -1n), 'CASM_ERR_INVALID_ARGUMENT')
  })

  it('round-trips IPv4 and MAC values', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 0xffffffffn }), (v) => {
        assert.equal(Address.parse(Address.of('ipv4', v).toString()).value, v)
      }),
    )
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 48n) - 1n }), (v) => {
        assert.equal(Address.parse(Address.of('mac', v).toString()).value, v)
      }),
    )
  })
})
