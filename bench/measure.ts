/**
 * Small helpers shared by the benchmarks: timing, percentiles, memory, JSON-line output.
 *
 * @module
 */

/** One JSON line of `npm run bench` (design.md, "Benchmarks"). */
export interface BenchResult {
  readonly bench: string
  readonly ops_per_s: number
  readonly p50_us?: number
  readonly p99_us?: number
  readonly rss_mb?: number
  readonly baseline?: string
  readonly baseline_ops_per_s?: number
  readonly ratio?: number
  readonly [extra: string]: unknown
}

/** Nanoseconds from a monotonic clock. */
export function now(): bigint {
  return process.hrtime.bigint()
}

/** Collects per-operation latencies and reports throughput and percentiles. */
export class LatencyRecorder {
  readonly #samples: Float64Array
  #count = 0
  #totalNs = 0n

  constructor(capacity: number) {
    this.#samples = new Float64Array(capacity)
  }

  /** Records one operation that took `ns` nanoseconds. */
  add(ns: bigint): void {
    if (this.#count < this.#samples.length) this.#samples[this.#count] = Number(ns)
    this.#count++
    this.#totalNs += ns
  }

  get count(): number {
    return this.#count
  }

  /** Operations per second over the summed operation time. */
  opsPerSecond(): number {
    return this.#totalNs === 0n ? 0 : (this.#count * 1e9) / Number(this.#totalNs)
  }

  /** The `q` quantile (0..1) in microseconds. */
  quantileUs(q: number): number {
    const n = Math.min(this.#count, this.#samples.length)
    if (n === 0) return 0
    const sorted = this.#samples.slice(0, n).sort()
    return (sorted[Math.min(n - 1, Math.floor(q * n))] ?? 0) / 1000
  }
}

/** Resident set size in MB, after a full GC when node runs with --expose-gc. */
export function rssMb(): number {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc !== undefined) gc()
  return process.memoryUsage().rss / 1024 / 1024
}

/** Rounds for output: 3 significant decimals below 10, integers above. */
export function round(x: number): number {
  return x >= 100 ? Math.round(x) : Math.round(x * 1000) / 1000
}

/** A deterministic pseudo-random generator (mulberry32) so runs are repeatable. */
export function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Writes a progress line to stderr (stdout carries only the JSON lines). */
export function progress(message: string): void {
  process.stderr.write(`[bench] ${message}\n`)
}
