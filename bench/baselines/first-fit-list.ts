/**
 * Baseline allocator: what general IPAMs do for "next available prefix" — keep the list of
 * allocations sorted and scan it from the start of the pool for the first aligned gap. O(n) per
 * allocation in the number of allocations; no free-space index.
 *
 * @module
 */

/** A first-fit allocator over a sorted list of allocated [first, last] pairs. */
export class FirstFitList {
  readonly #width: number
  readonly #space: readonly (readonly [bigint, bigint])[]
  readonly #firsts: bigint[] = []
  readonly #lasts: bigint[] = []

  /** `space` as sorted, disjoint [first, last] ranges of a `width`-bit family. */
  constructor(width: number, space: readonly (readonly [bigint, bigint])[]) {
    this.#width = width
    this.#space = space
  }

  /** Allocates the first aligned free /length; returns its network or undefined when full. */
  allocate(length: number): bigint | undefined {
    const size = 1n << BigInt(this.#width - length)
    const alignUp = (v: bigint): bigint => (v + size - 1n) & ~(size - 1n)
    let i = 0
    for (const [first, last] of this.#space) {
      let cursor = alignUp(first)
      while (i < this.#firsts.length && (this.#lasts[i] as bigint) < first) i++
      for (; ; i++) {
        const nextFirst = i < this.#firsts.length ? (this.#firsts[i] as bigint) : last + 1n
        const gapEnd = nextFirst > last + 1n ? last + 1n : nextFirst
        if (cursor + size <= gapEnd) {
          this.#firsts.splice(i, 0, cursor)
          this.#lasts.splice(i, 0, cursor + size - 1n)
          return cursor
        }
        if (i >= this.#firsts.length || nextFirst > last) break
        cursor = alignUp((this.#lasts[i] as bigint) + 1n)
      }
    }
    return undefined
  }

  /** Releases the allocation starting at `network`. */
  release(network: bigint): void {
    let lo = 0
    let hi = this.#firsts.length - 1
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      const v = this.#firsts[mid] as bigint
      if (v === network) {
        this.#firsts.splice(mid, 1)
        this.#lasts.splice(mid, 1)
        return
      }
      if (v < network) lo = mid + 1
      else hi = mid - 1
    }
    throw new Error(`not allocated: ${network}`)
  }
}
