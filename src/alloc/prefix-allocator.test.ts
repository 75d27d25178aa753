import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isCasmError } from '../errors/casm-error.js'
import { AddressRange, Prefix } from '../ip/index.js'
import { PrefixAllocator, UNIT_LIMIT, defaultStrategy } from './prefix-allocator.js'

const P = (t: string): Prefix => Prefix.parse(t)
const R = (t: string): AddressRange => AddressRange.parse(t)
const strs = (xs: readonly { toString(): string }[]): string[] => xs.map(String)

/** Everything observable about an allocator, to prove a failed call changed nothing. */
function snapshot(a: PrefixAllocator): string {
  const s = a.statistics()
  return JSON.stringify(
    {
      free: strs(a.freeBlocks()),
      units: [...a.units()].map((u) => `${u.prefix.toString()}:${u.kind}`),
      space: strs(a.space),
      stats: { ...s, largestFree: s.largestFree?.toString() },
    },
    (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v),
  )
}

/** Asserts `fn` throws a CasmError with `code` and leaves `a` unchanged. */
function refuses(a: PrefixAllocator, fn: () => unknown, code: string, message?: RegExp): void {
  const before = snapshot(a)
  assert.throws(fn, (e: unknown) => {
    assert.ok(isCasmError(e), `expected a CasmError, got ${String(e)}`)
    assert.equal(e.code, code, e.message)
    if (message !== undefined) assert.match(e.message, message)
    return true
  })
  assert.equal(snapshot(a), before, 'a refused call changed the allocator')
}

describe('PrefixAllocator: creation and statistics', () => {
  it('accepts fragmented, unaligned space and merges touching pieces', () => {
    const a = PrefixAllocator.create('ipv4', [
      R('10.0.0.5-10.0.0.20'),
      P('10.0.1.0/24'),
      R('10.0.0.21-10.0.0.30'),
    ])
    assert.deepEqual(strs(a.space), ['10.0.0.5-10.0.0.30', '10.0.1.0-10.0.1.255'])
    assert.deepEqual(strs(a.freeBlocks()), [
      '10.0.0.5/32',
      '10.0.0.6/31',
      '10.0.0.8/29',
      '10.0.0.16/29',
      '10.0.0.24/30',
      '10.0.0.28/31',
      '10.0.0.30/32',
      '10.0.1.0/24',
    ])
    const s = a.statistics()
    assert.equal(s.total, 26n + 256n)
    assert.equal(s.free, s.total)
    assert.equal(s.used, 0n)
    assert.equal(s.largestFree?.toString(), '10.0.1.0/24')
    assert.deepEqual(s.freeBlocksByLength, { 24: 1, 29: 2, 30: 1, 31: 2, 32: 2 })
    assert.equal(s.freeBlocks, 8)
  })

  it('refuses space of another family', () => {
    assert.throws(
      () => PrefixAllocator.create('ipv4', [P('2001:db8::/32')]),
      (e: unknown) => isCasmError(e, 'CASM_ERR_FAMILY_MISMATCH'),
    )
  })

  it('defaults: dense for IPv4 and MAC, sparse for IPv6', () => {
    assert.equal(defaultStrategy('ipv4'), 'dense')
    assert.equal(defaultStrategy('mac'), 'dense')
    assert.equal(defaultStrategy('ipv6'), 'sparse')
  })
})

describe('PrefixAllocator: strategies', () => {
  it('dense takes the best fit, lowest address first', () => {
    const a = PrefixAllocator.create('ipv4', [P('10.0.0.0/24'), P('10.0.2.0/28'), P('10.0.3.0/27')])
    assert.equal(a.allocate(28).toString(), '10.0.2.0/28', 'the /28 block fits exactly')
    assert.equal(a.allocate(28).toString(), '10.0.3.0/28', 'then the /27, the smallest that fits')
    assert.equal(a.allocate(30).toString(), '10.0.3.16/30')
    assert.equal(a.allocate(25).toString(), '10.0.0.0/25')
  })

  it('sparse bisects: each grant lands in the largest free block', () => {
    const a = PrefixAllocator.create('ipv6', [P('2001:db8::/32')])
    const got = Array.from({ length: 7 }, () => a.allocate(48).toString())
    assert.deepEqual(got, [
      '2001:db8::/48',
      '2001:db8:8000::/48',
      '2001:db8:4000::/48',
      '2001:db8:c000::/48',
      '2001:db8:2000::/48',
      '2001:db8:6000::/48',
      '2001:db8:a000::/48',
    ])
    assert.equal(a.allocate(48, { strategy: 'dense' }).toString(), '2001:db8:1::/48')
  })

  it('adjacent takes the buddy, then the closest subtree', () => {
    const a = PrefixAllocator.create('ipv4', [P('10.0.0.0/16')])
    const first = a.allocate(24, { strategy: 'sparse' }) // 10.0.0.0/24
    a.allocatePrefix(P('10.0.128.0/24'))
    const other = a.allocatePrefix(P('10.0.64.0/24'))
    assert.equal(a.allocate(24, { strategy: 'adjacent', near: other }).toString(), '10.0.65.0/24')
    assert.equal(a.allocate(24, { strategy: 'adjacent', near: first }).toString(), '10.0.1.0/24')
    const third = a.allocate(24, { strategy: 'adjacent', near: [first, P('10.0.1.0/24')] })
    assert.equal(third.toString(), '10.0.2.0/24', 'next to the aggregate 10.0.0.0/23')
    // A block below the near prefix is taken from its high end, nearest the prefix.
    const high = a.allocatePrefix(P('10.0.255.0/24'))
    assert.equal(a.allocate(26, { strategy: 'adjacent', near: high }).toString(), '10.0.254.192/26')
  })

  it('adjacent with no near prefix, or none with room, acts as dense', () => {
    const a = PrefixAllocator.create('ipv4', [P('10.0.0.0/24'), P('10.9.0.0/30')])
    assert.equal(a.allocate(30, { strategy: 'adjacent' }).toString(), '10.9.0.0/30')
    assert.equal(a.allocate(30, { strategy: 'adjacent', near: [] }).toString(), '10.0.0.0/30')
  })

  it('adjacent can reach space in another region when nothing is near', () => {
    const a = PrefixAllocator.create('ipv4', [P('10.0.0.0/30'), P('192.0.2.0/30')])
    const g = a.allocatePrefix(P('10.0.0.0/30'))
    assert.equal(a.allocate(31, { strategy: 'adjacent', near: g }).toString(), '192.0.2.0/31')
  })

  it('refuses unknown strategies and bad lengths without change', () => {
    const a = PrefixAllocator.create('ipv4', [P('10.0.0.0/24')])
    refuses(
      a,
      () => a.allocate(24, { strategy: 'random' as never }),
      'CASM_ERR_INVALID_ARGUMENT',
      /unknown allocation strategy/,
    )
    refuses(a, () => a.allocate(33), 'CASM_ERR_PREFIX_LENGTH')
    refuses(a, () => a.allocate(-1), 'CASM_ERR_PREFIX_LENGTH')
    refuses(a, () => a.allocate(24.5), 'CASM_ERR_PREFIX_LENGTH')
    refuses(
      a,
      () => a.allocate(24, { strategy: 'adjacent', near: P('2001:db8::/64') }),
      'CASM_ERR_FAMILY_MISMATCH',
    )
  })

  it('says what is left when exhausted', () => {
    const a = PrefixAllocator.create('ipv4', [P('10.0.0.0/29')])
    a.allocate(30)
    a.allocate(31)
    refuses(
      a,
      () => a.allocate(30),
      'CASM_ERR_POOL_EXHAUSTED',
      /largest free block is 10\.0\.0\.6\/31/,
    )
    a.allocate(31)
    refuses(a, () => a.allocate(32), 'CASM_ERR_POOL_EXHAUSTED', /nothing is free/)
  })
})

describe('PrefixAllocator: exact allocation, release', () => {
  it('allocates a given prefix and releases with buddy coalescing', () => {
    const a = PrefixAllocator.create('ipv4', [P('10.0.0.0/24')])
    a.allocatePrefix(P('10.0.0.77/32'))
    assert.equal(a.statistics().freeBlocks, 8)
    a.release(P('10.0.0.77/32'))
    assert.deepEqual(strs(a.freeBlocks()), ['10.0.0.0/24'])
  })

  it('names what an exact prefix overlaps, or says it is outside', () => {
    const a = PrefixAllocator.create('ipv4', [P('10.0.0.0/24')])
    a.allocatePrefix(P('10.0.0.64/26'))
    refuses(
      a,
      () => a.allocatePrefix(P('10.0.0.64/27')),
      'CASM_ERR_OVERLAP',
      /10\.0\.0\.64\/26, which is allocated/,
    )
    refuses(a, () => a.allocatePrefix(P('10.0.0.0/25')), 'CASM_ERR_OVERLAP', /10\.0\.0\.64\/26/)
    refuses(a, () => a.allocatePrefix(P('10.0.1.0/24')), 'CASM_ERR_OUT_OF_POOL', /10\.0\.0\.0\/24/)
    refuses(a, () => a.allocatePrefix(P('10.0.0.0/23')), 'CASM_ERR_OUT_OF_POOL')
    refuses(a, () => a.allocatePrefix(P('2001:db8::/64')), 'CASM_ERR_FAMILY_MISMATCH')
  })

  it('refuses to release anything but an allocated unit', () => {
    const a = PrefixAllocator.create('ipv4', [P('10.0.0.0/24')])
    const g = a.allocate(26)
    a.reserve(P('10.0.0.255/32'))
    refuses(
      a,
      () => a.release(P('10.0.0.0/27')),
      'CASM_ERR_NOT_ALLOCATED',
      /part of the allocated unit 10\.0\.0\.0\/26/,
    )
    refuses(a, () => a.release(P('10.0.0.0/25')), 'CASM_ERR_NOT_ALLOCATED', /only part/)
    refuses(
      a,
      () => a.release(P('10.0.0.128/26')),
      'CASM_ERR_NOT_ALLOCATED',
      /nothing in it is allocated/,
    )
    refuses(
      a,
      () => a.release(P('10.0.0.255/32')),
      'CASM_ERR_NOT_ALLOCATED',
      /reserved, not allocated/,
    )
    refuses(a, () => a.release(P('10.0.9.0/26')), 'CASM_ERR_NOT_ALLOCATED')
    a.release(g)
    refuses(a, () => a.release(g), 'CASM_ERR_NOT_ALLOCATED')
  })
})

describe('PrefixAllocator: reservations and exclusions', () => {
  it('reserves prefixes and ranges; unreserves them exactly', () => {
    const a = PrefixAllocator.create('ipv4', [P('10.0.0.0/24')])
    assert.deepEqual(strs(a.reserve(P('10.0.0.1/32'))), ['10.0.0.1/32'])
    assert.deepEqual(strs(a.reserve(R('10.0.0.10-10.0.0.13'))), ['10.0.0.10/31', '10.0.0.12/31'])
    const s = a.statistics()
    assert.equal(s.reserved, 5n)
    assert.equal(s.reservations, 3)
    assert.equal(s.total, 256n)
    refuses(
      a,
      () => a.reserve(P('10.0.0.0/30')),
      'CASM_ERR_OVERLAP',
      /10\.0\.0\.1\/32, which is reserved/,
    )
    refuses(a, () => a.reserve(R('10.0.0.200-10.0.1.3')), 'CASM_ERR_OUT_OF_POOL')
    refuses(a, () => a.unreserve(P('10.0.0.10/31').supernet(29)), 'CASM_ERR_NOT_ALLOCATED')
    a.unreserve(R('10.0.0.10-10.0.0.13'))
    a.unreserve(P('10.0.0.1/32'))
    assert.deepEqual(strs(a.freeBlocks()), ['10.0.0.0/24'])
  })

  it('a refused range reservation reserves nothing', () => {
    const a = PrefixAllocator.create('ipv4', [P('10.0.0.0/24')])
    a.allocatePrefix(P('10.0.0.20/32'))
    refuses(a, () => a.reserve(R('10.0.0.10-10.0.0.30')), 'CASM_ERR_OVERLAP', /10\.0\.0\.20\/32/)
  })

  it('reserves .0 and .255 in every /24 of fragmented space', () => {
    const a = PrefixAllocator.create('ipv4', [P('10.0.0.0/23'), R('10.0.4.0-10.0.4.254')])
    const got = a.reservePattern({ every: 24, offsets: [0n, -1n] })
    assert.deepEqual(strs(got), [
      '10.0.0.0/32',
      '10.0.0.255/32',
      '10.0.1.0/32',
      '10.0.1.255/32',
      '10.0.4.0/32',
    ])
    refuses(a, () => a.allocatePrefix(P('10.0.1.255/32')), 'CASM_ERR_OVERLAP')
    refuses(
      a,
      () => a.allocate(24),
      'CASM_ERR_POOL_EXHAUSTED',
      /largest free block is 10\.0\.0\.64\/26/,
    )
    refuses(a, () => a.allocate(25), 'CASM_ERR_POOL_EXHAUSTED')
    assert.equal(a.allocate(26).toString(), '10.0.0.64/26')
  })

  it('reserves a gateway /30 per /26 inside a sub-prefix only', () => {
    const a = PrefixAllocator.create('ipv4', [P('10.0.0.0/22')])
    const got = a.reservePattern({ every: 26, offsets: [0], length: 30, within: P('10.0.1.0/24') })
    assert.deepEqual(strs(got), ['10.0.1.0/30', '10.0.1.64/30', '10.0.1.128/30', '10.0.1.192/30'])
  })

  it('refuses malformed, oversized or conflicting patterns without change', () => {
    const a = PrefixAllocator.create('ipv4', [P('10.0.0.0/8')])
    a.allocatePrefix(P('10.0.3.255/32'))
    refuses(a, () => a.reservePattern({ every: 33, offsets: [0] }), 'CASM_ERR_INVALID_ARGUMENT')
    refuses(
      a,
      () => a.reservePattern({ every: 24, offsets: [] }),
      'CASM_ERR_INVALID_ARGUMENT',
      /empty/,
    )
    refuses(
      a,
      () => a.reservePattern({ every: 24, offsets: [256] }),
      'CASM_ERR_INVALID_ARGUMENT',
      /outside/,
    )
    refuses(
      a,
      () => a.reservePattern({ every: 24, offsets: [-257] }),
      'CASM_ERR_INVALID_ARGUMENT',
      /outside/,
    )
    refuses(
      a,
      () => a.reservePattern({ every: 24, offsets: [2], length: 30 }),
      'CASM_ERR_INVALID_ARGUMENT',
      /aligned/,
    )
    refuses(
      a,
      () => a.reservePattern({ every: 24, offsets: [0], length: 20 }),
      'CASM_ERR_INVALID_ARGUMENT',
    )
    refuses(
      a,
      () => a.reservePattern({ every: 24, offsets: [1.5] }),
      'CASM_ERR_INVALID_ARGUMENT',
      /not an integer/,
    )
    refuses(
      a,
      () => a.reservePattern({ every: 30, offsets: [0] }),
      'CASM_ERR_LIMIT',
      new RegExp(String(UNIT_LIMIT)),
    )
    refuses(
      a,
      () => a.reservePattern({ every: 24, offsets: [0, 255], within: P('10.0.0.0/16') }),
      'CASM_ERR_OVERLAP',
      /10\.0\.3\.255\/32 \(allocated\)/,
    )
    refuses(
      a,
      () => a.reservePattern({ every: 24, offsets: [0], within: P('::/0') }),
      'CASM_ERR_FAMILY_MISMATCH',
    )
  })

  it('excludes space from the total and includes it back', () => {
    const a = PrefixAllocator.create('ipv4', [P('10.0.0.0/24')])
    a.allocatePrefix(P('10.0.0.0/30'))
    assert.deepEqual(strs(a.exclude(P('10.0.0.128/25'))), ['10.0.0.128/25'])
    let s = a.statistics()
    assert.equal(s.total, 128n)
    assert.equal(s.excluded, 128n)
    assert.equal(s.free, 124n)
    // Excluding what is partly excluded already excludes only the rest; parts outside the pool are skipped.
    assert.deepEqual(strs(a.exclude(R('10.0.0.64-10.0.1.10'))), ['10.0.0.64/26'])
    refuses(
      a,
      () => a.exclude(P('10.0.0.0/29')),
      'CASM_ERR_OVERLAP',
      /10\.0\.0\.0\/30, which is allocated/,
    )
    refuses(a, () => a.exclude(P('192.0.2.0/24')), 'CASM_ERR_OUT_OF_POOL')
    refuses(a, () => a.allocatePrefix(P('10.0.0.200/32')), 'CASM_ERR_OVERLAP', /excluded/)
    refuses(
      a,
      () => a.include(P('10.0.0.0/25')),
      'CASM_ERR_NOT_ALLOCATED',
      /allocated, not excluded/,
    )
    a.include(R('10.0.0.64-10.0.0.255'))
    s = a.statistics()
    assert.equal(s.total, 256n)
    assert.equal(s.excluded, 0n)
    assert.equal(s.exclusions, 0)
  })
})

describe('PrefixAllocator: space changes', () => {
  it('adds space that merges with free neighbours', () => {
    const a = PrefixAllocator.create('ipv4', [P('10.0.0.0/25')])
    a.addSpace(P('10.0.0.128/25'))
    assert.deepEqual(strs(a.freeBlocks()), ['10.0.0.0/24'])
    assert.deepEqual(strs(a.space), ['10.0.0.0-10.0.0.255'])
    refuses(a, () => a.addSpace(P('10.0.0.0/26')), 'CASM_ERR_OVERLAP')
  })

  it('removes free space only', () => {
    const a = PrefixAllocator.create('ipv4', [P('10.0.0.0/24')])
    a.allocatePrefix(P('10.0.0.0/26'))
    a.exclude(P('10.0.0.192/27'))
    refuses(a, () => a.removeSpace(P('10.0.0.0/25')), 'CASM_ERR_OVERLAP', /allocated/)
    refuses(a, () => a.removeSpace(P('10.0.1.0/25')), 'CASM_ERR_OUT_OF_POOL')
    refuses(a, () => a.removeSpace(P('10.0.0.192/28')), 'CASM_ERR_OVERLAP', /include it first/)
    a.removeSpace(P('10.0.0.128/25'))
    assert.deepEqual(strs(a.space), ['10.0.0.0-10.0.0.127'])
    assert.deepEqual(strs(a.freeBlocks()), ['10.0.0.64/26'])
    assert.equal(a.statistics().exclusions, 0)
    a.removeSpace(P('10.0.0.96/27'))
    assert.deepEqual(strs(a.freeBlocks()), ['10.0.0.64/27'])
    assert.equal(a.statistics().total, 96n)
  })
})

describe('PrefixAllocator: lookup, fragmentation, units', () => {
  it('tells what holds a prefix', () => {
    const a = PrefixAllocator.create('ipv4', [P('10.0.0.0/24')])
    a.allocatePrefix(P('10.0.0.0/26'))
    assert.deepEqual(a.lookup(P('10.0.0.5/32')), {
      state: 'used',
      unit: { prefix: P('10.0.0.0/26'), kind: 'allocated' },
    })
    const free = a.lookup(P('10.0.0.130/32'))
    assert.equal(free.state === 'free' ? free.block.toString() : '', '10.0.0.128/25')
    assert.equal(a.lookup(P('10.0.0.0/25')).state, 'mixed')
    assert.equal(a.lookup(P('10.0.1.0/24')).state, 'outside')
    assert.equal(a.lookup(P('10.0.0.0/23')).state, 'mixed')
  })

  it('measures fragmentation', () => {
    const a = PrefixAllocator.create('ipv4', [P('10.0.0.0/24')])
    assert.deepEqual(a.fragmentation(26), { length: 26, possible: 4n, ideal: 4n, ratio: 1 })
    a.reservePattern({ every: 26, offsets: [0] })
    const f = a.fragmentation(27)
    assert.equal(f.possible, 4n, 'one /27 per /26 survives')
    assert.equal(f.ideal, 7n)
    assert.ok(Math.abs(f.ratio - 4 / 7) < 1e-6)
    const empty = PrefixAllocator.create('ipv4', [])
    assert.equal(empty.fragmentation(24).ratio, 1)
    assert.throws(
      () => a.fragmentation(40),
      (e: unknown) => isCasmError(e, 'CASM_ERR_PREFIX_LENGTH'),
    )
  })

  it('iterates units by kind in address order', () => {
    const a = PrefixAllocator.create('ipv4', [P('10.0.0.0/24')])
    a.allocatePrefix(P('10.0.0.64/26'))
    a.reserve(P('10.0.0.0/32'))
    a.exclude(P('10.0.0.255/32'))
    assert.deepEqual(
      [...a.units()].map((u) => `${u.prefix.toString()} ${u.kind}`),
      ['10.0.0.0/32 reserved', '10.0.0.64/26 allocated', '10.0.0.255/32 excluded'],
    )
    assert.deepEqual(strs([...a.units('allocated')].map((u) => u.prefix)), ['10.0.0.64/26'])
    assert.equal(a.unitCount, 3)
  })
})

describe('PrefixAllocator: rebuild', () => {
  it('rebuilds the same free set from stored units', () => {
    const a = PrefixAllocator.create('ipv6', [P('2001:db8::/40'), P('2001:db8:1000::/36')])
    a.exclude(P('2001:db8:1000::/40'))
    a.reserve(P('2001:db8:ff::/48'))
    for (let i = 0; i < 50; i++) a.allocate(56)
    for (let i = 0; i < 50; i++) a.allocate(60, { strategy: 'dense' })
    const b = PrefixAllocator.rebuild({
      family: 'ipv6',
      space: a.space,
      units: [...a.units()].reverse(),
    })
    assert.equal(snapshot(b), snapshot(a))
  })

  it('refuses overlapping, stray or foreign units', () => {
    const space = [P('10.0.0.0/24')]
    const bad = (units: { prefix: Prefix; kind: 'allocated' }[], code: string): void => {
      assert.throws(
        () => PrefixAllocator.rebuild({ family: 'ipv4', space, units }),
        (e: unknown) => isCasmError(e, code as never),
      )
    }
    bad(
      [
        { prefix: P('10.0.0.0/25'), kind: 'allocated' },
        { prefix: P('10.0.0.64/26'), kind: 'allocated' },
      ],
      'CASM_ERR_OVERLAP',
    )
    bad([{ prefix: P('10.0.1.0/25'), kind: 'allocated' }], 'CASM_ERR_OUT_OF_POOL')
    bad([{ prefix: P('9.0.0.0/25'), kind: 'allocated' }], 'CASM_ERR_OUT_OF_POOL')
    bad([{ prefix: P('10.0.0.0/23'), kind: 'allocated' }], 'CASM_ERR_OUT_OF_POOL')
    bad([{ prefix: P('::/64'), kind: 'allocated' }], 'CASM_ERR_FAMILY_MISMATCH')
    assert.throws(
      () =>
        PrefixAllocator.rebuild({
          family: 'ipv4',
          space,
          units: [{ prefix: P('10.0.0.0/25'), kind: 'lent' as never }],
        }),
      (e: unknown) => isCasmError(e, 'CASM_ERR_INVALID_ARGUMENT'),
    )
  })
})

describe('PrefixAllocator: MAC pools', () => {
  it('hands out EUI-48 blocks', () => {
    const a = PrefixAllocator.create('mac', [P('02:00:5e:00:00:00/24')])
    assert.equal(a.allocate(40).toString(), '02:00:5e:00:00:00/40')
    assert.equal(a.allocate(48).toString(), '02:00:5e:00:01:00/48')
    assert.equal(a.statistics().total, 1n << 24n)
  })
})

describe('PrefixAllocator: release is per unit', () => {
  it('refuses to release two allocations through their supernet', () => {
    const a = PrefixAllocator.create('ipv4', [P('10.0.0.0/22')])
    a.allocatePrefix(P('10.0.0.0/23'))
    a.allocatePrefix(P('10.0.2.0/23'))
    refuses(
      a,
      () => a.release(P('10.0.0.0/22')),
      'CASM_ERR_NOT_ALLOCATED',
      /holds 10\.0\.0\.0\/23, 10\.0\.2\.0\/23; release each/,
    )
  })
})
