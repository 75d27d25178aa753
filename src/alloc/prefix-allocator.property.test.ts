/**
 * Property tests of the allocator over random operation sequences, with cidr-tools as an
 * independent oracle for the set algebra: after every step no two units overlap, every unit lies
 * in the pool, the free blocks are exactly the pool minus the units in minimal form (so no two
 * free buddies are left apart), the counters add up, every refused call changes nothing, each
 * strategy picks the block its definition says, and a rebuild from the units gives the same state.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { containsCidr, excludeCidr, mergeCidr, overlapCidr, parseCidr } from 'cidr-tools'
import { isCasmError } from '../errors/casm-error.js'
import { AddressRange, type Family, Prefix, familyInfo } from '../ip/index.js'
import { type AllocationStrategy, PrefixAllocator } from './prefix-allocator.js'

/** A small window of each family, so the oracle can enumerate candidates. */
const WINDOW_BITS = 12
const BASES: Record<Family, bigint> = {
  ipv4: 0x0a000000n, // 10.0.0.0
  ipv6: 0x20010db8n << 96n, // 2001:db8::
  mac: 0x02005e000000n, // 02:00:5e:00:00:00
}

/** cidr-tools text of a prefix; MAC prefixes are mapped onto ::/80 so the oracle can read them. */
function cidr(p: Prefix): string {
  return p.family === 'mac' ? Prefix.of('ipv6', p.network, p.length + 80).toString() : p.toString()
}

function spans(nets: readonly string[]): string[] {
  return nets.map((n) => {
    const c = parseCidr(n)
    return `${c.start}-${c.end}`
  })
}

type Op =
  | { t: 'alloc'; len: number; strategy: AllocationStrategy; near: number }
  | { t: 'exact'; offset: bigint; len: number }
  | { t: 'release'; pick: number }
  | { t: 'releaseWrong'; offset: bigint; len: number }
  | { t: 'reserve'; offset: bigint; len: number }
  | { t: 'reserveRange'; a: bigint; b: bigint }
  | { t: 'unreserve'; pick: number }
  | { t: 'exclude'; offset: bigint; len: number }
  | { t: 'include'; pick: number }
  | { t: 'pattern'; every: number; offsets: number[]; extra: number }
  | { t: 'roundtrip'; len: number; strategy: AllocationStrategy }

function opArb(width: number): fc.Arbitrary<Op> {
  const lo = width - WINDOW_BITS
  const len = fc.integer({ min: lo - 1, max: width })
  const offset = fc.bigInt({ min: 0n, max: (1n << BigInt(WINDOW_BITS)) - 1n })
  const strategy = fc.constantFrom<AllocationStrategy>('dense', 'sparse', 'adjacent')
  const pick = fc.nat()
  return fc.oneof(
    {
      weight: 6,
      arbitrary: fc.record({
        t: fc.constant('alloc' as const),
        len: fc.integer({ min: lo + 2, max: width }),
        strategy,
        near: pick,
      }),
    },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('exact' as const), offset, len }) },
    { weight: 3, arbitrary: fc.record({ t: fc.constant('release' as const), pick }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('releaseWrong' as const), offset, len }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('reserve' as const), offset, len }) },
    {
      weight: 1,
      arbitrary: fc.record({ t: fc.constant('reserveRange' as const), a: offset, b: offset }),
    },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('unreserve' as const), pick }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('exclude' as const), offset, len }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('include' as const), pick }) },
    {
      weight: 1,
      arbitrary: fc.record({
        t: fc.constant('pattern' as const),
        every: fc.integer({ min: lo + 3, max: width - 2 }),
        offsets: fc.array(fc.integer({ min: -4, max: 3 }), { minLength: 1, maxLength: 3 }),
        extra: fc.integer({ min: 0, max: 1 }),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        t: fc.constant('roundtrip' as const),
        len: fc.integer({ min: lo + 2, max: width }),
        strategy,
      }),
    },
  )
}

function spaceArb(): fc.Arbitrary<[bigint, bigint][]> {
  const off = fc.bigInt({ min: 0n, max: (1n << BigInt(WINDOW_BITS)) - 1n })
  return fc.array(fc.tuple(off, off), { minLength: 1, maxLength: 4, size: 'max' })
}

/** Common leading bits of two networks, looking at most at `max` bits of a `width`-bit space. */
function commonBits(a: bigint, b: bigint, width: number, max: number): number {
  let n = 0
  while (n < max && ((a >> BigInt(width - n - 1)) & 1n) === ((b >> BigInt(width - n - 1)) & 1n)) n++
  return n
}

function state(a: PrefixAllocator): string {
  const s = a.statistics()
  return JSON.stringify(
    {
      free: a.freeBlocks().map(String),
      units: [...a.units()].map((u) => `${u.prefix.toString()}:${u.kind}`),
      space: a.space.map(String),
      s: { ...s, largestFree: s.largestFree?.toString() },
    },
    (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v),
  )
}

function checkInvariants(a: PrefixAllocator, family: Family): void {
  const units = [...a.units()]
  const spaceCidrs = a.space.flatMap((r) => r.toPrefixes()).map(cidr)
  for (let i = 1; i < units.length; i++) {
    const prev = units[i - 1]?.prefix as Prefix
    const cur = units[i]?.prefix as Prefix
    assert.ok(
      prev.last < cur.first,
      `units ${prev.toString()} and ${cur.toString()} overlap or are out of order`,
    )
    assert.ok(!overlapCidr(cidr(prev), cidr(cur)), 'the oracle sees an overlap')
  }
  for (const u of units) {
    assert.ok(
      containsCidr(spaceCidrs, cidr(u.prefix)),
      `${u.prefix.toString()} lies outside the pool`,
    )
    assert.equal(
      u.prefix.network & (familyInfo(family).hostMask[u.prefix.length] as bigint),
      0n,
      'unaligned unit',
    )
  }
  const free = a.freeBlocks()
  const expected =
    spaceCidrs.length === 0
      ? []
      : units.length === 0
        ? mergeCidr(spaceCidrs)
        : excludeCidr(
            spaceCidrs,
            units.map((u) => cidr(u.prefix)),
          )
  assert.deepEqual(
    spans(free.map(cidr)),
    spans(expected),
    'free blocks differ from pool minus units',
  )
  const freeSet = new Set(free.map(String))
  for (const f of free) {
    if (f.length > 0)
      assert.ok(
        !freeSet.has(f.buddy().toString()),
        `free buddies ${f.toString()} and ${f.buddy().toString()} were not merged`,
      )
  }
  const s = a.statistics()
  const sum = (kind: string): bigint =>
    units.filter((u) => u.kind === kind).reduce((t, u) => t + u.prefix.size, 0n)
  const spaceSize = a.space.reduce((t, r) => t + r.size, 0n)
  assert.equal(s.allocated, sum('allocated'))
  assert.equal(s.reserved, sum('reserved'))
  assert.equal(s.excluded, sum('excluded'))
  assert.equal(s.total, spaceSize - s.excluded)
  assert.equal(s.used + s.free, s.total, 'used + free != total')
  assert.equal(
    s.free,
    free.reduce((t, f) => t + f.size, 0n),
  )
  assert.equal(s.freeBlocks, free.length)
  assert.equal(s.allocations + s.reservations + s.exclusions, units.length)
}

/** Asserts a refused call threw a CasmError of one of `codes` and left the state as it was. */
function expectRefusal(
  a: PrefixAllocator,
  before: string,
  error: unknown,
  codes: readonly string[],
): void {
  assert.ok(isCasmError(error), `unexpected error ${String(error)}`)
  assert.ok(codes.includes(error.code), `unexpected ${error.code}: ${error.message}`)
  assert.equal(state(a), before, `refused call (${error.code}) changed the state`)
}

function runOps(family: Family, spaceOffsets: [bigint, bigint][], ops: readonly Op[]): void {
  const info = familyInfo(family)
  const width = info.width
  const base = BASES[family]
  const at = (offset: bigint, len: number): Prefix => Prefix.of(family, base + offset, len, true)
  const space = spaceOffsets.map(([x, y]) =>
    AddressRange.of(family, base + (x < y ? x : y), base + (x < y ? y : x)),
  )
  const a = PrefixAllocator.create(family, space)
  checkInvariants(a, family)
  const unitsOf = (kind: string): Prefix[] =>
    [...a.units()].filter((u) => u.kind === kind).map((u) => u.prefix)
  for (const op of ops) {
    const before = state(a)
    const freeBefore = a.freeBlocks()
    try {
      switch (op.t) {
        case 'alloc': {
          const allocated = unitsOf('allocated')
          const near =
            op.strategy === 'adjacent' && allocated.length > 0
              ? allocated[op.near % allocated.length]
              : undefined
          const fits = freeBefore.filter((f) => f.length <= op.len)
          let got: Prefix
          try {
            got = a.allocate(op.len, {
              strategy: op.strategy,
              ...(near === undefined ? {} : { near }),
            })
          } catch (e) {
            assert.equal(
              fits.length,
              0,
              `refused /${op.len} though ${fits.map(String).join(' ')} fit`,
            )
            throw e
          }
          assert.equal(got.length, op.len)
          if (op.strategy === 'dense' || (op.strategy === 'adjacent' && near === undefined)) {
            const best = Math.max(...fits.map((f) => f.length))
            const from = fits
              .filter((f) => f.length === best)
              .sort((x, y) => x.compare(y))[0] as Prefix
            assert.equal(
              got.network,
              from.network,
              `dense took ${got.toString()}, best fit is ${from.toString()}`,
            )
          } else if (op.strategy === 'sparse') {
            const big = Math.min(...fits.map((f) => f.length))
            const from = fits
              .filter((f) => f.length === big)
              .sort((x, y) => x.compare(y))[0] as Prefix
            assert.equal(
              got.network,
              from.network,
              `sparse took ${got.toString()}, largest block is ${from.toString()}`,
            )
          } else if (near !== undefined) {
            // Brute force: the deepest common ancestor any free candidate could share with `near`.
            let bestDepth = -1
            const maxBits = Math.min(near.length, op.len)
            for (const f of fits) {
              for (const x of f.subnets(op.len))
                bestDepth = Math.max(bestDepth, commonBits(x.network, near.network, width, maxBits))
            }
            const depth = commonBits(got.network, near.network, width, maxBits)
            assert.equal(
              depth,
              bestDepth,
              `adjacent to ${near.toString()} took ${got.toString()} (depth ${depth}), best depth ${bestDepth}`,
            )
            if (op.len === near.length && freeBefore.some((f) => f.contains(near.buddy()))) {
              assert.ok(got.equals(near.buddy()), 'the free buddy was not taken')
            }
          }
          break
        }
        case 'exact': {
          const p = at(op.offset, op.len)
          const free = freeBefore.some((f) => f.contains(p))
          const freeByOracle = freeBefore.length > 0 && containsCidr(freeBefore.map(cidr), cidr(p))
          assert.equal(free, freeByOracle)
          try {
            a.allocatePrefix(p)
            assert.ok(free, `allocated ${p.toString()} which was not free`)
          } catch (e) {
            assert.ok(!free, `refused ${p.toString()} which was free`)
            const inSpace = a.space.some((r) => r.contains(p))
            assert.equal(
              isCasmError(e) ? e.code : '',
              inSpace ? 'CASM_ERR_OVERLAP' : 'CASM_ERR_OUT_OF_POOL',
            )
            throw e
          }
          break
        }
        case 'release': {
          const allocated = unitsOf('allocated')
          if (allocated.length === 0) break
          a.release(allocated[op.pick % allocated.length] as Prefix)
          break
        }
        case 'releaseWrong': {
          const p = at(op.offset, op.len)
          const isUnit = unitsOf('allocated').some((u) => u.equals(p))
          if (isUnit) break
          a.release(p)
          assert.fail(`released ${p.toString()}, which is not an allocated unit`)
          break
        }
        case 'reserve':
          a.reserve(at(op.offset, op.len))
          break
        case 'reserveRange': {
          const [x, y] = op.a <= op.b ? [op.a, op.b] : [op.b, op.a]
          a.reserve(AddressRange.of(family, base + x, base + y))
          break
        }
        case 'unreserve': {
          const reserved = unitsOf('reserved')
          if (reserved.length > 0) a.unreserve(reserved[op.pick % reserved.length] as Prefix)
          break
        }
        case 'exclude':
          a.exclude(at(op.offset, op.len))
          break
        case 'include': {
          const excluded = unitsOf('excluded')
          if (excluded.length > 0) a.include(excluded[op.pick % excluded.length] as Prefix)
          break
        }
        case 'pattern':
          a.reservePattern({ every: op.every, offsets: op.offsets, length: width - op.extra })
          break
        case 'roundtrip': {
          const got = a.allocate(op.len, { strategy: op.strategy })
          a.release(got)
          assert.equal(state(a), before, 'allocate then release did not restore the state')
          break
        }
      }
    } catch (e) {
      if (e instanceof assert.AssertionError) throw e
      expectRefusal(a, before, e, [
        'CASM_ERR_POOL_EXHAUSTED',
        'CASM_ERR_OVERLAP',
        'CASM_ERR_OUT_OF_POOL',
        'CASM_ERR_NOT_ALLOCATED',
        'CASM_ERR_INVALID_ARGUMENT',
        'CASM_ERR_PREFIX_LENGTH',
      ])
    }
    checkInvariants(a, family)
  }
  const rebuilt = PrefixAllocator.rebuild({ family, space: a.space, units: [...a.units()] })
  assert.equal(state(rebuilt), state(a), 'a rebuild from the units differs')
}

describe('PrefixAllocator properties (cidr-tools oracle)', () => {
  for (const family of ['ipv4', 'ipv6', 'mac'] as const) {
    it(`${family}: invariants hold over random operation sequences`, () => {
      const width = familyInfo(family).width
      fc.assert(
        fc.property(
          spaceArb(),
          fc.array(opArb(width), { minLength: 1, maxLength: 60, size: 'max' }),
          (space, ops) => {
            runOps(family, space, ops)
          },
        ),
        { numRuns: 150 },
      )
    })
  }

  it('release after allocate restores the free set exactly, at scale', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 20, max: 32 }), { minLength: 50, maxLength: 300, size: 'max' }),
        fc.integer({ min: 20, max: 32 }),
        (fill, len) => {
          const a = PrefixAllocator.create('ipv4', [
            Prefix.parse('10.0.0.0/16'),
            AddressRange.parse('10.9.0.3-10.9.7.200'),
          ])
          for (const l of fill) {
            try {
              a.allocate(l)
            } catch (e) {
              if (!isCasmError(e, 'CASM_ERR_POOL_EXHAUSTED')) throw e
            }
          }
          const before = a.freeBlocks().map(String)
          for (const strategy of ['dense', 'sparse', 'adjacent'] as const) {
            try {
              const g = a.allocate(len, { strategy, near: [...a.units()][0]?.prefix ?? [] })
              a.release(g)
            } catch (e) {
              if (!isCasmError(e, 'CASM_ERR_POOL_EXHAUSTED')) throw e
            }
            assert.deepEqual(a.freeBlocks().map(String), before)
          }
        },
      ),
      { numRuns: 50 },
    )
  })
})
