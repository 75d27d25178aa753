/**
 * `npm run bench -- alloc`: the prefix allocator at operator scale, against baselines run in the
 * same process.
 *
 * Cases (issue "Foundation"):
 * - v4-32-in-8: an IPv4 /8 filled with 1,000,000 /32 grants, then 200,000 random
 *   release/allocate pairs with 1M grants live.
 * - v6-56-in-32: an IPv6 /32 filled with 1,000,000 /56 grants (sparse), then the same churn.
 * - v4-mixed-fragmented: 300 non-contiguous IPv4 blocks of /24 to /16; grants of /20 to /30
 *   until 85% full, then 200,000 release/allocate pairs.
 *
 * Baselines: ip-num's `Pool` for the fill phases it can express; for churn, a first-fit scan over
 * the sorted allocation list (what general IPAMs do), because ip-num's Pool cannot take a
 * released block back once the pool is fragmented (its `aggregate()` throws "Given size can't be
 * created via cidr prefix"). Each baseline runs at the largest size it finishes within the budget
 * (60 s by default, BENCH_BASELINE_BUDGET_S).
 *
 * @module
 */

import { IPv4CidrRange, IPv4Prefix, IPv6CidrRange, IPv6Prefix, Pool } from 'ip-num'
import { PrefixAllocator } from '../src/alloc/prefix-allocator.js'
import { AddressRange, type Family, Prefix, familyInfo } from '../src/ip/index.js'
import { FirstFitList } from './baselines/first-fit-list.js'
import { type BenchResult, LatencyRecorder, now, progress, rng, round, rssMb } from './measure.js'

/** What a workload needs from an allocator. */
interface Adapter {
  allocate(length: number): bigint | undefined
  release(network: bigint, length: number): void
}

interface Workload {
  readonly family: Family
  /** The pool's space as [first, last] ranges, sorted and disjoint. */
  readonly space: readonly (readonly [bigint, bigint])[]
  /** Number of grants to fill in, or a fill ratio of the space for mixed lengths. */
  readonly fill: number
  readonly fillRatio?: number
  readonly churnPairs: number
  readonly lengths: readonly [number, number]
  readonly seed: number
}

interface WorkloadResult {
  readonly finished: boolean
  readonly live: number
  readonly fill: LatencyRecorder
  readonly churn: LatencyRecorder
  readonly rssAfterFillMb: number
  readonly elapsedS: number
}

const BUDGET_S = Number(process.env['BENCH_BASELINE_BUDGET_S'] ?? '60')

/**
 * Fills then churns. Stops early (finished = false) once `deadlineS` seconds have passed, checked
 * every 256 operations.
 */
function runWorkload(
  make: () => Adapter,
  w: Workload,
  deadlineS = Number.POSITIVE_INFINITY,
  measureRss = false,
): WorkloadResult {
  const random = rng(w.seed)
  const [minLen, maxLen] = w.lengths
  const pickLen = (): number => minLen + Math.floor(random() * (maxLen - minLen + 1))
  const width = familyInfo(w.family).width
  const total = w.space.reduce((s, [a, b]) => s + (b - a + 1n), 0n)
  const start = now()
  const overdue = (): boolean => Number(now() - start) / 1e9 > deadlineS
  const adapter = make()
  const nets: bigint[] = []
  const lens: number[] = []
  const fill = new LatencyRecorder(Math.max(w.fill, 1_000_000))
  let used = 0n
  const targetUsed =
    w.fillRatio === undefined ? undefined : (total * BigInt(Math.round(w.fillRatio * 1000))) / 1000n
  for (let i = 0; targetUsed === undefined ? i < w.fill : used < targetUsed && i < w.fill; i++) {
    if ((i & 255) === 0 && overdue())
      return {
        finished: false,
        live: nets.length,
        fill,
        churn: new LatencyRecorder(1),
        rssAfterFillMb: 0,
        elapsedS: deadlineS,
      }
    const len = pickLen()
    const t0 = now()
    const net = adapter.allocate(len)
    fill.add(now() - t0)
    if (net === undefined) continue
    nets.push(net)
    lens.push(len)
    used += 1n << BigInt(width - len)
  }
  const rssAfterFillMb = measureRss ? rssMb() : 0
  const churn = new LatencyRecorder(w.churnPairs * 2)
  for (let i = 0; i < w.churnPairs; i++) {
    if ((i & 255) === 0 && overdue())
      return {
        finished: false,
        live: nets.length,
        fill,
        churn,
        rssAfterFillMb,
        elapsedS: deadlineS,
      }
    const k = Math.floor(random() * nets.length)
    const t0 = now()
    adapter.release(nets[k] as bigint, lens[k] as number)
    const t1 = now()
    churn.add(t1 - t0)
    const len = pickLen()
    const t2 = now()
    const net = adapter.allocate(len)
    churn.add(now() - t2)
    if (net === undefined) {
      // Full at this length: keep the slot with what was released, re-taken at its length.
      const again = adapter.allocate(lens[k] as number)
      if (again === undefined) throw new Error('the released block could not be taken back')
      nets[k] = again
    } else {
      nets[k] = net
      lens[k] = len
    }
  }
  return {
    finished: true,
    live: nets.length,
    fill,
    churn,
    rssAfterFillMb,
    elapsedS: Number(now() - start) / 1e9,
  }
}

function casmAdapter(w: Workload): () => Adapter {
  return () => {
    const pool = PrefixAllocator.create(
      w.family,
      w.space.map(([a, b]) => AddressRange.of(w.family, a, b)),
    )
    return {
      allocate: (len) => {
        try {
          return pool.allocate(len).network
        } catch {
          return undefined
        }
      },
      release: (net, len) => {
        pool.release(Prefix.of(w.family, net, len))
      },
    }
  }
}

function firstFitAdapter(w: Workload): () => Adapter {
  return () => {
    const list = new FirstFitList(familyInfo(w.family).width, w.space)
    return { allocate: (len) => list.allocate(len), release: (net) => list.release(net) }
  }
}

/** ip-num's Pool; it can allocate but not take blocks back once fragmented. */
function ipNumAdapter(w: Workload): () => Adapter {
  return () => {
    const cidrs = w.space.map(([a, b]) => {
      const r = AddressRange.of(w.family, a, b).toPrefix()
      if (r === undefined) throw new Error('ip-num baseline needs CIDR-aligned space')
      return r.toString()
    })
    const v4 = w.family === 'ipv4'
    const pool = v4
      ? Pool.fromCidrRanges(cidrs.map((c) => IPv4CidrRange.fromCidr(c)))
      : Pool.fromCidrRanges(cidrs.map((c) => IPv6CidrRange.fromCidr(c)))
    const prefixes = new Map<number, IPv4Prefix | IPv6Prefix>()
    return {
      allocate: (len) => {
        let p = prefixes.get(len)
        if (p === undefined) {
          p = v4 ? IPv4Prefix.fromNumber(BigInt(len)) : IPv6Prefix.fromNumber(BigInt(len))
          prefixes.set(len, p)
        }
        try {
          return pool.getCidrRange(p).getFirst().getValue()
        } catch {
          return undefined
        }
      },
      release: () => {
        throw new Error('ip-num Pool cannot release into a fragmented pool')
      },
    }
  }
}

/** Runs `make` at doubling sizes until a run passes a quarter of the budget; returns the largest finished. */
function largestWithinBudget(
  name: string,
  make: (w: Workload) => () => Adapter,
  w: Workload,
  phase: 'fill' | 'churn',
): { size: number; result: WorkloadResult } | undefined {
  let best: { size: number; result: WorkloadResult } | undefined
  const sizes: number[] = []
  for (let size = 1000; size < w.fill; size *= 2) sizes.push(size)
  sizes.push(w.fill)
  for (const size of sizes) {
    const scaled: Workload = {
      ...w,
      fill: size,
      churnPairs: phase === 'fill' ? 0 : Math.max(1, Math.round((size * w.churnPairs) / w.fill)),
    }
    const result = runWorkload(make(scaled), scaled, BUDGET_S)
    if (!result.finished) {
      progress(`${name}: size ${size} did not finish within ${BUDGET_S} s`)
      break
    }
    best = { size, result }
    progress(`${name}: size ${size} took ${result.elapsedS.toFixed(1)} s`)
    // Doubling the size at least doubles the time (fourfold for the quadratic baselines).
    if (result.elapsedS > BUDGET_S / 4) break
  }
  return best
}

function churnLine(
  bench: string,
  w: Workload,
  casm: WorkloadResult,
  baseline: ReturnType<typeof largestWithinBudget>,
  baselineName: string,
): BenchResult {
  const base = baseline?.result.churn.opsPerSecond()
  let sameSize: number | undefined
  if (baseline !== undefined) {
    const scaled: Workload = {
      ...w,
      fill: baseline.size,
      churnPairs: Math.max(1, Math.round((baseline.size * w.churnPairs) / w.fill)),
    }
    sameSize = runWorkload(casmAdapter(scaled), scaled).churn.opsPerSecond()
  }
  const ops = casm.churn.opsPerSecond()
  return {
    bench,
    ops_per_s: round(ops),
    p50_us: round(casm.churn.quantileUs(0.5)),
    p99_us: round(casm.churn.quantileUs(0.99)),
    rss_mb: round(casm.rssAfterFillMb),
    live_grants: casm.live,
    churn_ops: casm.churn.count,
    fill_ops_per_s: round(casm.fill.opsPerSecond()),
    baseline: baselineName,
    baseline_size: baseline?.size ?? 0,
    baseline_ops_per_s: base === undefined ? 0 : round(base),
    ratio: base === undefined || base === 0 ? 0 : round(ops / base),
    ...(sameSize === undefined || base === undefined
      ? {}
      : { ops_per_s_at_baseline_size: round(sameSize), ratio_same_size: round(sameSize / base) }),
  }
}

function fillLine(bench: string, w: Workload, casm: WorkloadResult): BenchResult {
  const baseline = largestWithinBudget(`${bench} ip-num`, ipNumAdapter, w, 'fill')
  const base = baseline?.result.fill.opsPerSecond()
  const ops = casm.fill.opsPerSecond()
  return {
    bench,
    ops_per_s: round(ops),
    p50_us: round(casm.fill.quantileUs(0.5)),
    p99_us: round(casm.fill.quantileUs(0.99)),
    rss_mb: round(casm.rssAfterFillMb),
    live_grants: casm.live,
    baseline: 'ip-num Pool',
    baseline_size: baseline?.size ?? 0,
    baseline_ops_per_s: base === undefined ? 0 : round(base),
    ratio: base === undefined || base === 0 ? 0 : round(ops / base),
  }
}

const V4_32_IN_8: Workload = {
  family: 'ipv4',
  space: [[0x0a000000n, 0x0affffffn]],
  fill: 1_000_000,
  churnPairs: 200_000,
  lengths: [32, 32],
  seed: 1,
}

const V6_56_IN_32: Workload = {
  family: 'ipv6',
  space: [[0x20010db8n << 96n, (0x20010db8n << 96n) | ((1n << 96n) - 1n)]],
  fill: 1_000_000,
  churnPairs: 200_000,
  lengths: [56, 56],
  seed: 2,
}

/** 300 non-overlapping IPv4 blocks of /24 to /16 scattered over 16.0.0.0/4, deterministic. */
function fragmentedSpace(): [bigint, bigint][] {
  const random = rng(3)
  const placed: [bigint, bigint][] = []
  while (placed.length < 300) {
    const len = 16 + Math.floor(random() * 9)
    const size = 1n << BigInt(32 - len)
    const first = (0x10000000n + BigInt(Math.floor(random() * 2 ** 28))) & ~(size - 1n)
    const last = first + size - 1n
    if (placed.some(([a, b]) => first <= b + 1n && last + 1n >= a)) continue // keep them apart
    placed.push([first, last])
  }
  return placed.sort((x, y) => (x[0] < y[0] ? -1 : 1))
}

const V4_MIXED: Workload = {
  family: 'ipv4',
  space: fragmentedSpace(),
  fill: 10_000_000,
  fillRatio: 0.85,
  churnPairs: 200_000,
  lengths: [20, 30],
  seed: 4,
}

/** One churn case: casm, then the ip-num fill baseline (where given) and the first-fit baseline. */
function churnCase(
  name: string,
  w: Workload,
  description: string,
  withFill: boolean,
): () => BenchResult[] {
  return () => {
    progress(`alloc ${name}: ${description}`)
    const casm = runWorkload(casmAdapter(w), w, Number.POSITIVE_INFINITY, true)
    // Mixed lengths fill by ratio: the baselines replay the same number of grants.
    const sized: Workload = { ...w, fill: casm.live }
    const lines = withFill ? [fillLine(`alloc.${name}.fill`, sized, casm)] : []
    const baseline = largestWithinBudget(`alloc.${name} first-fit`, firstFitAdapter, sized, 'churn')
    return [churnLine(`alloc.${name}`, sized, casm, baseline, 'first-fit list scan'), ...lines]
  }
}

/** The cases of this benchmark, each run in its own process by bench/run.ts. */
export const cases: Record<string, () => BenchResult[]> = {
  'v4-32-in-8': churnCase(
    'v4-32-in-8',
    V4_32_IN_8,
    'fill 1,000,000 /32 into 10.0.0.0/8, then 200,000 release/allocate pairs',
    true,
  ),
  'v6-56-in-32': churnCase(
    'v6-56-in-32',
    V6_56_IN_32,
    'fill 1,000,000 /56 into 2001:db8::/32 (sparse), then 200,000 pairs',
    true,
  ),
  'v4-mixed-fragmented': churnCase(
    'v4-mixed-fragmented',
    V4_MIXED,
    '300 blocks /24-/16, grants /20-/30 to 85% full, then 200,000 pairs',
    false,
  ),
}
