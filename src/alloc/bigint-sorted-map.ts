/**
 * An ordered map (or set) keyed by bigint, as a B+tree: O(log n) insert, delete, lookup, floor
 * and ceiling, and O(n) bulk load from sorted keys. The allocator keeps its free blocks (one set
 * per prefix length) and its used units (one map) in these.
 *
 * Why not a `Map<bigint, V>`: V8 hashes a bigint by its lowest 64 bits only, so IPv6 networks —
 * whose low 64 bits are all zero for any prefix up to /64 — all land in one hash bucket and every
 * lookup degrades to a scan. A tree compares whole values.
 *
 * Internal nodes store the smallest key of each child, so the successor of a subtree is read off
 * the parent without descending:
 *
 * ```
 *            [ 10 | 40 | 90 ]            ← smallest key of each child
 *           /      |       \
 *   [10 20 30]  [40 50]  [90 95]         ← leaves hold the keys (and values), sorted
 * ```
 *
 * @module
 */

/** Most keys a node holds before it splits. */
const MAX_KEYS = 64
/** Fewest keys a non-root node keeps before it borrows from or merges with a sibling. */
const MIN_KEYS = 16
/** How full bulk loading packs a node, leaving room to insert without splitting at once. */
const BULK_FILL = 48

interface Node<V> {
  /** Leaf: the keys. Internal: the smallest key of each child. */
  keys: bigint[]
  /** Leaf of a map: the value of each key. `undefined` for sets and internal nodes. */
  values: V[] | undefined
  /** Children of an internal node; `undefined` for a leaf. */
  children: Node<V>[] | undefined
}

/** Index of the last key ≤ k, or -1. */
function lastAtMost(keys: readonly bigint[], k: bigint): number {
  let lo = 0
  let hi = keys.length - 1
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1
    if ((keys[mid] as bigint) <= k) lo = mid + 1
    else hi = mid - 1
  }
  return hi
}

/** Index of the first key ≥ k (keys.length when none). */
function firstAtLeast(keys: readonly bigint[], k: bigint): number {
  let lo = 0
  let hi = keys.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if ((keys[mid] as bigint) < k) lo = mid + 1
    else hi = mid
  }
  return lo
}

/**
 * A sorted map from bigint to `V`; with `V = void` and {@link BigIntSortedMap.set} called without
 * values it is a sorted set that stores no values at all.
 *
 * @example
 * ```ts
 * const m = BigIntSortedMap.fromSorted([10n, 20n, 30n], ['a', 'b', 'c'])
 * m.ceiling(15n) // 20n
 * m.floor(15n) // 10n
 * m.get(20n) // 'b'
 * ```
 */
export class BigIntSortedMap<V = void> implements Iterable<bigint> {
  readonly #withValues: boolean
  #root: Node<V>
  #size = 0

  /** An empty map; `withValues: false` makes a set that keeps keys only. */
  constructor(options: { withValues?: boolean } = {}) {
    this.#withValues = options.withValues ?? true
    this.#root = this.#leaf([], [])
  }

  /** A set of bigints: a map that stores no values. */
  static set(): BigIntSortedMap {
    return new BigIntSortedMap<void>({ withValues: false })
  }

  /**
   * Builds a map from strictly increasing keys (and their values; omit them for a set) in O(n).
   */
  static fromSorted<V = void>(keys: readonly bigint[], values?: readonly V[]): BigIntSortedMap<V> {
    const map = new BigIntSortedMap<V>({ withValues: values !== undefined })
    if (values !== undefined && values.length !== keys.length) {
      throw new RangeError('BigIntSortedMap.fromSorted needs one value per key')
    }
    for (let i = 1; i < keys.length; i++) {
      if ((keys[i] as bigint) <= (keys[i - 1] as bigint)) {
        throw new RangeError('BigIntSortedMap.fromSorted needs strictly increasing keys')
      }
    }
    if (keys.length === 0) return map
    let level: Node<V>[] = chunkEvenly(keys.length).map(([from, to]) =>
      map.#leaf(keys.slice(from, to), values?.slice(from, to) ?? []),
    )
    while (level.length > 1) {
      const below = level
      level = chunkEvenly(below.length).map(([from, to]) => {
        const children = below.slice(from, to)
        return { keys: children.map((c) => c.keys[0] as bigint), values: undefined, children }
      })
    }
    map.#root = level[0] as Node<V>
    map.#size = keys.length
    return map
  }

  /** Number of keys. */
  get size(): number {
    return this.#size
  }

  /** True when `k` is present. */
  has(k: bigint): boolean {
    const leaf = this.#leafFor(k)
    if (leaf === undefined) return false
    const i = lastAtMost(leaf.keys, k)
    return i >= 0 && leaf.keys[i] === k
  }

  /** The value of `k`, or `undefined`. */
  get(k: bigint): V | undefined {
    const leaf = this.#leafFor(k)
    if (leaf === undefined) return undefined
    const i = lastAtMost(leaf.keys, k)
    return i >= 0 && leaf.keys[i] === k ? leaf.values?.[i] : undefined
  }

  /** Adds `k` (with `value`) or replaces its value; returns false when `k` was already present. */
  set(k: bigint, value?: V): boolean {
    const root = this.#root
    const result = this.#insert(root, k, value as V)
    if (result === false) return false
    this.#size++
    if (result !== true) {
      // The root split: grow the tree by one level.
      this.#root = {
        keys: [root.keys[0] as bigint, result.keys[0] as bigint],
        values: undefined,
        children: [root, result],
      }
    }
    return true
  }

  /** Removes `k`; returns false when it was absent. */
  delete(k: bigint): boolean {
    if (!this.#remove(this.#root, k)) return false
    this.#size--
    const root = this.#root
    if (root.children?.length === 1) this.#root = root.children[0] as Node<V>
    return true
  }

  /** Smallest key, or `undefined` when empty. */
  min(): bigint | undefined {
    return this.#root.keys[0]
  }

  /** Largest key, or `undefined` when empty. */
  max(): bigint | undefined {
    let node = this.#root
    while (node.children !== undefined) node = node.children[node.children.length - 1] as Node<V>
    return node.keys[node.keys.length - 1]
  }

  /** Smallest key ≥ `k`, or `undefined`. */
  ceiling(k: bigint): bigint | undefined {
    return ceilingIn(this.#root, k)
  }

  /** Largest key ≤ `k`, or `undefined`. */
  floor(k: bigint): bigint | undefined {
    const leaf = this.#leafFor(k)
    if (leaf === undefined) return undefined
    const i = lastAtMost(leaf.keys, k)
    return i < 0 ? undefined : leaf.keys[i]
  }

  /** Keys in increasing order. */
  *[Symbol.iterator](): Iterator<bigint> {
    yield* keysOf(this.#root)
  }

  #leaf(keys: bigint[], values: V[]): Node<V> {
    return { keys, values: this.#withValues ? values : undefined, children: undefined }
  }

  /** The leaf whose range holds `k`, or undefined when `k` is below every key. */
  #leafFor(k: bigint): Node<V> | undefined {
    let node = this.#root
    while (node.children !== undefined) {
      const i = lastAtMost(node.keys, k)
      if (i < 0) return undefined
      node = node.children[i] as Node<V>
    }
    return node
  }

  /** Returns true on a plain insert, false when `k` exists, or the new right sibling on split. */
  #insert(node: Node<V>, k: bigint, value: V): boolean | Node<V> {
    if (node.children === undefined) {
      const at = firstAtLeast(node.keys, k)
      if (node.keys[at] === k) {
        if (node.values !== undefined) node.values[at] = value
        return false
      }
      node.keys.splice(at, 0, k)
      node.values?.splice(at, 0, value)
      return node.keys.length > MAX_KEYS ? splitNode(node) : true
    }
    const i = Math.max(0, lastAtMost(node.keys, k))
    const child = node.children[i] as Node<V>
    const result = this.#insert(child, k, value)
    if (result === false) return false
    node.keys[i] = child.keys[0] as bigint
    if (result === true) return true
    node.keys.splice(i + 1, 0, result.keys[0] as bigint)
    node.children.splice(i + 1, 0, result)
    return node.keys.length > MAX_KEYS ? splitNode(node) : true
  }

  #remove(node: Node<V>, k: bigint): boolean {
    if (node.children === undefined) {
      const at = firstAtLeast(node.keys, k)
      if (node.keys[at] !== k) return false
      node.keys.splice(at, 1)
      node.values?.splice(at, 1)
      return true
    }
    const i = lastAtMost(node.keys, k)
    if (i < 0) return false
    const child = node.children[i] as Node<V>
    if (!this.#remove(child, k)) return false
    if (child.keys.length >= MIN_KEYS) {
      node.keys[i] = child.keys[0] as bigint
    } else {
      rebalance(node, i)
    }
    return true
  }
}

/**
 * Cuts `n` items into ceil(n / BULK_FILL) runs of nearly equal length, as [from, to) pairs, so
 * every node of a bulk-loaded tree but the root holds at least MIN_KEYS entries.
 */
function chunkEvenly(n: number): [number, number][] {
  const count = Math.ceil(n / BULK_FILL)
  const out: [number, number][] = []
  for (let c = 0; c < count; c++) {
    out.push([Math.floor((c * n) / count), Math.floor(((c + 1) * n) / count)])
  }
  return out
}

function splitNode<V>(node: Node<V>): Node<V> {
  const half = node.keys.length >>> 1
  return {
    keys: node.keys.splice(half),
    values: node.values?.splice(half),
    children: node.children?.splice(half),
  }
}

/** Child `i` of `parent` fell under MIN_KEYS: merge it with a sibling or borrow from one. */
function rebalance<V>(parent: Node<V>, i: number): void {
  const children = parent.children as Node<V>[]
  const child = children[i] as Node<V>
  if (children.length === 1) {
    // Only the root has a single child; delete() collapses it.
    if (child.keys.length > 0) parent.keys[i] = child.keys[0] as bigint
    return
  }
  // Pair the child with its right sibling, or its left one when it is the last.
  const left = i + 1 < children.length ? i : i - 1
  const a = children[left] as Node<V>
  const b = children[left + 1] as Node<V>
  if (a.keys.length + b.keys.length <= MAX_KEYS) {
    a.keys.push(...b.keys)
    if (a.values !== undefined) a.values.push(...(b.values as V[]))
    if (a.children !== undefined) a.children.push(...(b.children as Node<V>[]))
    children.splice(left + 1, 1)
    parent.keys.splice(left + 1, 1)
    parent.keys[left] = a.keys[0] as bigint
    return
  }
  // Redistribute evenly between the two.
  const cut = (a.keys.length + b.keys.length) >>> 1
  const keys = [...a.keys, ...b.keys]
  a.keys = keys.slice(0, cut)
  b.keys = keys.slice(cut)
  if (a.values !== undefined) {
    const values = [...a.values, ...(b.values as V[])]
    a.values = values.slice(0, cut)
    b.values = values.slice(cut)
  }
  if (a.children !== undefined) {
    const kids = [...a.children, ...(b.children as Node<V>[])]
    a.children = kids.slice(0, cut)
    b.children = kids.slice(cut)
  }
  parent.keys[left] = a.keys[0] as bigint
  parent.keys[left + 1] = b.keys[0] as bigint
}

function ceilingIn<V>(node: Node<V>, k: bigint): bigint | undefined {
  if (node.children === undefined) return node.keys[firstAtLeast(node.keys, k)]
  const i = Math.max(0, lastAtMost(node.keys, k))
  const found = ceilingIn(node.children[i] as Node<V>, k)
  if (found !== undefined) return found
  return node.keys[i + 1]
}

function* keysOf<V>(node: Node<V>): Generator<bigint> {
  if (node.children === undefined) {
    yield* node.keys
    return
  }
  for (const child of node.children) yield* keysOf(child)
}
