/**
 * Bit helpers on non-negative bigints used by prefix math.
 *
 * @module
 */

/** Number of bits needed to write `n` (0 for 0). `n` must be non-negative. */
export function bitLength(n: bigint): number {
  if (n === 0n) return 0
  // toString(16) is native and much faster than shifting a bigint bit by bit.
  const hex = n.toString(16)
  const top = Number.parseInt(hex[0] ?? '0', 16)
  return (hex.length - 1) * 4 + (32 - Math.clz32(top))
}

/**
 * Number of trailing zero bits of `n`, at most `cap` (the answer for 0 is `cap`).
 * Used to find how large an aligned block can start at an address.
 */
export function trailingZeros(n: bigint, cap: number): number {
  if (n === 0n) return cap
  // n & -n isolates the lowest set bit; its bit length minus one is the count.
  return Math.min(cap, bitLength(n & -n) - 1)
}
