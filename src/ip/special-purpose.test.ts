import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Address } from './address.js'
import { Prefix } from './prefix.js'
import { SPECIAL_PURPOSE, classifyAddress, specialPurposeOf } from './special-purpose.js'

describe('special-purpose registry', () => {
  it('cites an RFC on every entry and holds canonical, unique prefixes', () => {
    const seen = new Set<string>()
    for (const e of SPECIAL_PURPOSE) {
      assert.match(e.rfc, /^RFC \d+/, `${e.prefix.toString()} lacks an RFC`)
      assert.ok(e.name.length > 0)
      assert.ok(!seen.has(e.prefix.toString()), `duplicate ${e.prefix.toString()}`)
      seen.add(e.prefix.toString())
      assert.ok(Object.isFrozen(e))
    }
    for (let i = 1; i < SPECIAL_PURPOSE.length; i++) {
      assert.ok(
        (SPECIAL_PURPOSE[i - 1]?.prefix as Prefix).compare(SPECIAL_PURPOSE[i]?.prefix as Prefix) <
          0,
      )
    }
  })

  it('has the blocks operators meet every day', () => {
    const expect: [string, string, string][] = [
      ['10.0.0.0/8', 'private', 'RFC 1918'],
      ['172.16.0.0/12', 'private', 'RFC 1918'],
      ['192.168.0.0/16', 'private', 'RFC 1918'],
      ['100.64.0.0/10', 'shared', 'RFC 6598'],
      ['127.0.0.0/8', 'loopback', 'RFC 1122'],
      ['169.254.0.0/16', 'link-local', 'RFC 3927'],
      ['192.0.2.0/24', 'documentation', 'RFC 5737'],
      ['198.51.100.0/24', 'documentation', 'RFC 5737'],
      ['203.0.113.0/24', 'documentation', 'RFC 5737'],
      ['224.0.0.0/4', 'multicast', 'RFC 5771'],
      ['fc00::/7', 'unique-local', 'RFC 4193'],
      ['fe80::/10', 'link-local', 'RFC 4291'],
      ['2001:db8::/32', 'documentation', 'RFC 3849'],
      ['ff00::/8', 'multicast', 'RFC 4291'],
      ['::1/128', 'loopback', 'RFC 4291'],
    ]
    for (const [text, kind, rfc] of expect) {
      const e = SPECIAL_PURPOSE.find((x) => x.prefix.toString() === text)
      assert.ok(e, `missing ${text}`)
      assert.equal(e.kind, kind)
      assert.ok(e.rfc.startsWith(rfc), `${text}: ${e.rfc}`)
    }
  })

  it('looks up overlapping entries, most specific first', () => {
    assert.deepEqual(
      specialPurposeOf(Prefix.parse('192.0.0.8/32')).map((e) => e.rfc),
      ['RFC 7600', 'RFC 6890 §2.1'],
    )
    assert.deepEqual(
      specialPurposeOf(Prefix.parse('100.0.0.0/8')).map((e) => e.prefix.toString()),
      ['100.64.0.0/10'],
      'a prefix that covers an entry overlaps it',
    )
    assert.deepEqual(specialPurposeOf(Prefix.parse('8.8.8.0/24')), [])
    assert.equal(classifyAddress(Address.parse('fe80::1'))?.kind, 'link-local')
    assert.equal(classifyAddress(Address.parse('100.64.1.1'))?.rfc, 'RFC 6598')
    assert.equal(classifyAddress(Address.parse('2a00::1')), undefined)
    assert.equal(classifyAddress(Address.parse('02:00:5e:00:00:01')), undefined)
  })
})
