import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { BigIntSortedMap } from './bigint-sorted-map.js'

type Op = { op: 'set' | 'delete' | 'probe'; key: bigint }

/** Runs `ops` on a map and on a plain sorted-array model, comparing every answer. */
function runAgainstModel(
  ops: readonly Op[],
  initial: readonly bigint[],
  withValues: boolean,
): void {
  const sorted = [...new Set(initial)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  const map = withValues
    ? BigIntSortedMap.fromSorted(
        sorted,
        sorted.map((k) => `v${k}`),
      )
    : BigIntSortedMap.fromSorted(sorted)
  const model = new Map<bigint, string>(sorted.map((k) => [k, `v${k}`]))
  const keys = (): bigint[] => [...model.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  for (const { op, key } of ops) {
    if (op === 'set') {
      assert.equal(map.set(key, `v${key}` as never), !model.has(key))
      model.set(key, `v${key}`)
    } else if (op === 'delete') {
      assert.equal(map.delete(key), model.delete(key))
    } else {
      const ks = keys()
      assert.equal(map.has(key), model.has(key))
      if (withValues) assert.equal(map.get(key), model.get(key))
      assert.equal(
        map.ceiling(key),
        ks.find((k) => k >= key),
      )
      assert.equal(
        map.floor(key),
        ks.findLast((k) => k <= key),
      )
    }
    assert.equal(map.size, model.size)
  }
  const ks = keys()
  assert.deepEqual([...map], ks)
  assert.equal(map.min(), ks[0])
  assert.equal(map.max(), ks.at(-1))
}

const key = fc.bigInt({ min: 0n, max: 3000n })
const opArb: fc.Arbitrary<Op> = fc.record({
  op: fc.constantFrom('set', 'set', 'delete', 'probe'),
  key,
})

describe('BigIntSortedMap', () => {
  it('behaves like a sorted set under random operations (many splits and merges)', () => {
    fc.assert(
      fc.property(
        fc.array(opArb, { minLength: 200, maxLength: 3000, size: 'max' }),
        fc.array(key, { maxLength: 2000, size: 'max' }),
        (ops, initial) => {
          runAgainstModel(ops, initial, false)
        },
      ),
      { numRuns: 60 },
    )
  })

  it('behaves like a sorted map under random operations', () => {
    fc.assert(
      fc.property(
        fc.array(opArb, { minLength: 200, maxLength: 3000, size: 'max' }),
        fc.array(key, { maxLength: 2000, size: 'max' }),
        (ops, initial) => {
          runAgainstModel(ops, initial, true)
        },
      ),
      { numRuns: 60 },
    )
  })

  it('drains completely in any order and stays usable', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(key, { minLength: 1, maxLength: 3000, size: 'max' }),
        fc.boolean(),
        (keys, bulk) => {
          const sorted = [...keys].sort((a, b) => (a < b ? -1 : 1))
          const set = bulk ? BigIntSortedMap.fromSorted(sorted) : BigIntSortedMap.set()
          if (!bulk) for (const k of keys) assert.ok(set.set(k))
          for (const k of keys) assert.ok(set.delete(k))
          assert.equal(set.size, 0)
          assert.equal(set.min(), undefined)
          assert.equal(set.max(), undefined)
          assert.equal(set.floor(10n), undefined)
          assert.equal(set.ceiling(0n), undefined)
          assert.ok(set.set(7n))
          assert.deepEqual([...set], [7n])
        },
      ),
      { numRuns: 40 },
    )
  })

  it('handles 128-bit keys', () => {
    const big = (i: bigint): bigint => (0x20010db8n << 96n) | (i << 72n)
    const set = BigIntSortedMap.set()
    for (let i = 0n; i < 5000n; i++) set.set(big(i))
    assert.equal(set.ceiling(big(10n) + 1n), big(11n))
    assert.equal(set.floor(big(10n) - 1n), big(9n))
    assert.equal(set.max(), big(4999n))
  })

  it('replaces values and refuses bad bulk input', () => {
    const m = new BigIntSortedMap<string>()
    assert.ok(m.set(1n, 'a'))
    assert.ok(!m.set(1n, 'b'))
    assert.equal(m.get(1n), 'b')
    assert.equal(m.get(2n), undefined)
    assert.throws(() => BigIntSortedMap.fromSorted([2n, 1n]), RangeError)
    assert.throws(() => BigIntSortedMap.fromSorted([1n, 1n]), RangeError)
    assert.throws(() => BigIntSortedMap.fromSorted([1n, 2n], ['a']), RangeError)
  })
})
