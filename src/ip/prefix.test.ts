import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { parseCidr } from 'cidr-tools'
import { throwsCode } from '../../test/support/throws-code.js'
import { Address } from './address.js'
import { familyInfo } from './family.js'
import { Prefix, SPLIT_LIMIT } from './prefix.js'

const P = (t: string): Prefix => Prefix.parse(t)

describe('Prefix.parse', () => {
  it('parses both families and MAC', () => {
    const v4 = P('100.64.0.0/10')
    assert.equal(v4.family, 'ipv4')
    assert.equal(v4.length, 10)
    assert.equal(v4.network, (100n << 24n) | (64n << 16n))
    assert.equal(P('2001:DB8::/32').toString(), '2001:db8::/32')
    assert.equal(P('02:00:5e:00:00:00/24').toString(), '02:00:5e:00:00:00/24')
    assert.equal(P('0.0.0.0/0').size, 1n << 32n)
    assert.equal(P('::/0').size, 1n << 128n)
  })

  it('reads a bare address as a full-length prefix', () => {
    assert.equal(P('192.0.2.7').toString(), '192.0.2.7/32')
    assert.equal(P('2001:db8::7').length, 128)
  })

  it('refuses host bits in strict mode and names the network', () => {
    throwsCode(() => P('10.1.2.3/8'), 'CASM_ERR_HOST_BITS', /10\.0\.0\.0\/8/)
    throwsCode(() => P('2001:db8::1/64'), 'CASM_ERR_HOST_BITS', /2001:db8::\/64/)
  })

  it('masks host bits in lenient mode', () => {
    assert.equal(Prefix.parse('10.1.2.3/8', { lenient: true }).toString(), '10.0.0.0/8')
    assert.equal(Prefix.parse('2001:db8::1/64', { lenient: true }).toString(), '2001:db8::/64')
  })

  const badLengths = [
    '10.0.0.0/33',
    '10.0.0.0/-1',
    '10.0.0.0/',
    '10.0.0.0/ 8',
    '10.0.0.0/8a',
    '::/129',
    '::/1000',
    '10.0.0.0/8/9',
    '02:00:5e:00:00:00/49',
  ]
  for (const t of badLengths) {
    it(`refuses length in '${t}'`, () => throwsCode(() => P(t), 'CASM_ERR_PREFIX_LENGTH'))
  }

  it('refuses bad addresses, zones and garbage', () => {
    throwsCode(() => P('10.0.0.256/24'), 'CASM_ERR_ADDRESS_SYNTAX')
    throwsCode(() => P('fe80::%eth0/64'), 'CASM_ERR_ADDRESS_ZONE')
    throwsCode(() => P('fe80::1%eth0'), 'CASM_ERR_ADDRESS_ZONE')
    throwsCode(() => P('hello/8'), 'CASM_ERR_ADDRESS_SYNTAX')
    throwsCode(() => P('/8'), 'CASM_ERR_ADDRESS_SYNTAX')
    throwsCode(() => P('10.0.0.0:8'), 'CASM_ERR_ADDRESS_SYNTAX')
    throwsCode(() => P('10.0.0.0/8 garbage'), 'CASM_ERR_PREFIX_LENGTH')
  })

  it('enforces a requested family', () => {
    throwsCode(
      () => Prefix.parse('10.0.0.0/8', { family: 'ipv6' }),
      'CASM_ERR_FAMILY_MISMATCH',
      /ipv4 but ipv6/,
    )
    throwsCode(() => Prefix.parse('2001:db8::/32', { family: 'ipv4' }), 'CASM_ERR_FAMILY_MISMATCH')
    assert.equal(Prefix.parse('2001:db8::/32', { family: 'ipv6' }).length, 32)
  })

  it('agrees with cidr-tools on random valid prefixes', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }),
        fc.integer({ min: 0, max: 128 }),
        (v, len) => {
          const p = Prefix.of('ipv6', v, len, true)
          const theirs = parseCidr(p.toString())
          assert.equal(theirs.start, p.first)
          assert.equal(theirs.end, p.last)
        },
      ),
    )
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 0xffffffffn }),
        fc.integer({ min: 0, max: 32 }),
        (v, len) => {
          const p = Prefix.of('ipv4', v, len, true)
          const theirs = parseCidr(p.toString())
          assert.equal(theirs.start, p.first)
          assert.equal(theirs.end, p.last)
          assert.ok(Prefix.parse(p.toString()).equals(p))
        },
      ),
    )
  })
})

describe('Prefix.of', () => {
  it('validates length, range and host bits', () => {
    throwsCode(() => Prefix.of('ipv4', 0n, 33), 'CASM_ERR_PREFIX_LENGTH')
    throwsCode(() => Prefix.of('ipv4', 0n, 1.5), 'CASM_ERR_PREFIX_LENGTH')
    throwsCode(() => Prefix.of('ipv4', 1n << 32n, 32), 'CASM_ERR_INVALID_ARGUMENT')
    throwsCode(() => Prefix.of('ipv4', -1n, 32), 'CASM_ERR_INVALID_ARGUMENT')
    throwsCode(() => Prefix.of('ipv4', 1n, 24), 'CASM_ERR_HOST_BITS')
    assert.equal(Prefix.of('ipv4', 257n, 24, true).network, 256n)
  })
})

describe('Prefix relations', () => {
  it('first, last, size and addresses', () => {
    const p = P('192.0.2.0/24')
    assert.equal(p.size, 256n)
    assert.equal(p.first, p.network)
    assert.equal(p.lastAddress().toString(), '192.0.2.255')
    assert.equal(p.firstAddress().toString(), '192.0.2.0')
    assert.equal(
      P('2001:db8::/32').lastAddress().toString(),
      '2001:db8:ffff:ffff:ffff:ffff:ffff:ffff',
    )
    assert.equal(p.width, 32)
  })

  it('contains and overlaps', () => {
    const big = P('10.0.0.0/8')
    assert.ok(big.contains(P('10.1.0.0/16')))
    assert.ok(big.contains(big))
    assert.ok(!P('10.1.0.0/16').contains(big))
    assert.ok(big.contains(Address.parse('10.255.255.255')))
    assert.ok(!big.contains(Address.parse('11.0.0.0')))
    assert.ok(big.overlaps(P('10.1.0.0/16')))
    assert.ok(P('10.1.0.0/16').overlaps(big))
    assert.ok(!P('10.0.0.0/9').overlaps(P('10.128.0.0/9')))
    assert.ok(!big.contains(P('::/0')), 'different families never contain each other')
    assert.ok(!P('::/0').overlaps(big))
    assert.ok(!P('::/0').contains(Address.parse('10.0.0.1')))
  })

  it('compares by family, network, then length', () => {
    const sorted = ['10.0.0.0/8', '10.0.0.0/16', '9.0.0.0/8', '::/0', '0.0.0.0/0']
      .map(P)
      .sort((a, b) => a.compare(b))
      .map(String)
    assert.deepEqual(sorted, ['0.0.0.0/0', '9.0.0.0/8', '10.0.0.0/8', '10.0.0.0/16', '::/0'])
    assert.ok(P('10.0.0.0/8').equals(P('10.0.0.0/8')))
    assert.ok(!P('10.0.0.0/8').equals(P('10.0.0.0/9')))
  })

  it('supernet and buddy', () => {
    assert.equal(P('10.1.0.0/16').supernet().toString(), '10.0.0.0/15')
    assert.equal(P('10.1.0.0/16').supernet(8).toString(), '10.0.0.0/8')
    assert.equal(P('10.1.0.0/16').supernet(16).toString(), '10.1.0.0/16')
    throwsCode(() => P('10.1.0.0/16').supernet(17), 'CASM_ERR_PREFIX_LENGTH')
    throwsCode(() => P('0.0.0.0/0').supernet(), 'CASM_ERR_PREFIX_LENGTH')
    assert.equal(P('10.1.0.0/16').buddy().toString(), '10.0.0.0/16')
    assert.equal(P('10.0.0.0/16').buddy().toString(), '10.1.0.0/16')
    assert.equal(P('2001:db8::/33').buddy().toString(), '2001:db8:8000::/33')
    throwsCode(() => P('::/0').buddy(), 'CASM_ERR_PREFIX_LENGTH', /no buddy/)
  })

  it('buddy and supernet agree for every length', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }),
        fc.integer({ min: 1, max: 128 }),
        (v, len) => {
          const p = Prefix.of('ipv6', v, len, true)
          const b = p.buddy()
          assert.ok(!p.overlaps(b))
          assert.ok(p.supernet().equals(b.supernet()))
          assert.ok(b.buddy().equals(p))
          assert.equal(p.supernet().size, p.size * 2n)
        },
      ),
    )
  })

  it('splits into sub-prefixes', () => {
    assert.deepEqual(P('100.64.0.0/10').split(12).map(String), [
      '100.64.0.0/12',
      '100.80.0.0/12',
      '100.96.0.0/12',
      '100.112.0.0/12',
    ])
    assert.deepEqual(P('10.0.0.0/24').split(24).map(String), ['10.0.0.0/24'])
    throwsCode(() => P('10.0.0.0/24').split(23), 'CASM_ERR_PREFIX_LENGTH')
    throwsCode(() => P('10.0.0.0/24').split(33), 'CASM_ERR_PREFIX_LENGTH')
    throwsCode(() => P('10.0.0.0/8').split(32), 'CASM_ERR_LIMIT', new RegExp(String(SPLIT_LIMIT)))
    const lazy = P('2001:db8::/32').subnets(64)
    assert.equal(lazy.next().value?.toString(), '2001:db8::/64')
    assert.equal(lazy.next().value?.toString(), '2001:db8:0:1::/64')
  })

  it('split pieces tile the prefix exactly', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 0xffffffffn }),
        fc.integer({ min: 0, max: 32 }),
        fc.integer({ min: 0, max: 10 }),
        (v, len, extra) => {
          const p = Prefix.of('ipv4', v, len, true)
          const n = Math.min(32, len + extra)
          const pieces = p.split(n)
          assert.equal(BigInt(pieces.length) * (pieces[0]?.size ?? 0n), p.size)
          assert.equal(pieces[0]?.first, p.first)
          assert.equal(pieces.at(-1)?.last, p.last)
          for (let i = 1; i < pieces.length; i++) {
            assert.equal((pieces[i] as Prefix).first, (pieces[i - 1] as Prefix).last + 1n)
          }
        },
      ),
    )
  })

  it('serialises as text and is frozen', () => {
    const p = P('2001:db8::/48')
    assert.equal(JSON.stringify([p]), '["2001:db8::/48"]')
    assert.ok(Object.isFrozen(p))
    assert.equal(Prefix.all('ipv6').toString(), '::/0')
    assert.equal(Prefix.fromAddress(Address.parse('10.0.0.1')).toString(), '10.0.0.1/32')
    assert.equal(familyInfo('mac').width, 48)
  })
})
