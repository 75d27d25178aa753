/**
 * Pool kinds and the policy of a pool: unit lengths, strategy, watermarks and timers. Pure
 * validation with clear errors; defaults per family.
 *
 * @module
 */

import {
  type AllocationStrategy,
  ALLOCATION_STRATEGIES,
  defaultStrategy,
} from '../alloc/prefix-allocator.js'
import { CasmError } from '../errors/casm-error.js'
import { type Family, familyWidth } from '../ip/index.js'

/** What a pool serves (RF-4.3.1, design.md vocabulary). */
export type PoolKind =
  | 'subscriber'
  | 'cgn'
  | 'ds-lite'
  | 'lw4o6'
  | 'map'
  | 'dhcp'
  | 'pd'
  | 'static'
  | 'multicast'
  | 'custom'

/** Every pool kind. */
export const POOL_KINDS: readonly PoolKind[] = [
  'subscriber',
  'cgn',
  'ds-lite',
  'lw4o6',
  'map',
  'dhcp',
  'pd',
  'static',
  'multicast',
  'custom',
]

/** The unit lengths of a pool: the drafts' "addressing unit", with bounds. */
export interface UnitLengths {
  /** The shortest (largest) prefix a device may get. */
  readonly min: number
  /** What a device gets when it does not ask for a size. */
  readonly default: number
  /** The longest (smallest) prefix a device may get. */
  readonly max: number
}

/** The policy of a pool. Times are in seconds. */
export interface PoolPolicy {
  readonly unit: UnitLengths
  readonly strategy: AllocationStrategy
  /** Usage ratio (0..1] at or above which a device gets another unit (issue "device loop"). */
  readonly highWatermark: number
  /** Usage ratio [0..1) under which, held for `holdDown`, a device gives a unit back. */
  readonly lowWatermark: number
  /** Seconds the low watermark must hold before reclaiming. */
  readonly holdDown: number
  /** Lifetime of a grant in seconds; 0 means grants do not expire. */
  readonly lifetime: number
  /** Seconds released space waits before reuse; 0 frees it at once. */
  readonly quarantine: number
}

/** A partial policy as a request gives it; missing fields take defaults. */
export type PoolPolicyInput = Partial<Omit<PoolPolicy, 'unit'>> & {
  readonly unit?: Partial<UnitLengths>
}

/** Default unit lengths by family: /27 of IPv4 (32 subscribers), /56 of IPv6, /40 of MAC. */
const DEFAULT_UNIT: Readonly<Record<Family, UnitLengths>> = {
  ipv4: { min: 20, default: 27, max: 32 },
  ipv6: { min: 40, default: 56, max: 64 },
  mac: { min: 24, default: 40, max: 48 },
}

/** Defaults of a pool of `family`. */
export function defaultPolicy(family: Family): PoolPolicy {
  return {
    unit: DEFAULT_UNIT[family],
    strategy: defaultStrategy(family),
    highWatermark: 0.8,
    lowWatermark: 0.2,
    holdDown: 3600,
    lifetime: 0,
    quarantine: 300,
  }
}

function bad(field: string, why: string, value: unknown): CasmError {
  return new CasmError('CASM_ERR_VALIDATION', `policy.${field} ${why}`, {
    errors: [{ path: `/policy/${field.replace(/\./g, '/')}`, message: why, value }],
  })
}

/**
 * Merges `input` over `base` (the defaults, or the current policy on change) and checks the
 * result: lengths inside the family, min ≤ default ≤ max, 0 ≤ low < high ≤ 1, non-negative times.
 *
 * @throws CasmError `CASM_ERR_VALIDATION` naming the field.
 */
export function resolvePolicy(
  family: Family,
  input: PoolPolicyInput | undefined,
  base = defaultPolicy(family),
): PoolPolicy {
  const width = familyWidth(family)
  const unit = { ...base.unit, ...(input?.unit ?? {}) }
  const policy: PoolPolicy = { ...base, ...(input ?? {}), unit }
  for (const key of ['min', 'default', 'max'] as const) {
    const v = unit[key]
    if (!Number.isInteger(v) || v < 0 || v > width) {
      throw bad(`unit.${key}`, `must be a prefix length 0-${width} for ${family}`, v)
    }
  }
  if (!(unit.min <= unit.default && unit.default <= unit.max)) {
    throw bad(
      'unit',
      `needs min <= default <= max (shorter prefixes are larger): got /${unit.min}, /${unit.default}, /${unit.max}`,
      unit,
    )
  }
  if (!ALLOCATION_STRATEGIES.includes(policy.strategy)) {
    throw bad('strategy', `must be one of ${ALLOCATION_STRATEGIES.join(', ')}`, policy.strategy)
  }
  if (!(policy.highWatermark > 0 && policy.highWatermark <= 1)) {
    throw bad('highWatermark', 'must be in (0, 1]', policy.highWatermark)
  }
  if (!(policy.lowWatermark >= 0 && policy.lowWatermark < policy.highWatermark)) {
    throw bad(
      'lowWatermark',
      `must be in [0, highWatermark=${policy.highWatermark})`,
      policy.lowWatermark,
    )
  }
  for (const key of ['holdDown', 'lifetime', 'quarantine'] as const) {
    const v = policy[key]
    if (!Number.isInteger(v) || v < 0 || v > 10 * 365 * 86400) {
      throw bad(key, 'must be a whole number of seconds between 0 and ten years', v)
    }
  }
  return policy
}

/**
 * The prefix length a request gets: the hint when given (checked against the unit bounds), the
 * default unit otherwise.
 *
 * @throws CasmError `CASM_ERR_VALIDATION` when the hint is outside [min, max].
 */
export function unitLength(policy: PoolPolicy, hint: number | undefined): number {
  if (hint === undefined) return policy.unit.default
  if (!Number.isInteger(hint) || hint < policy.unit.min || hint > policy.unit.max) {
    throw new CasmError(
      'CASM_ERR_VALIDATION',
      `length /${hint} is outside this pool's unit bounds /${policy.unit.min} to /${policy.unit.max}`,
      {
        errors: [
          {
            path: '/length',
            message: `must be between ${policy.unit.min} and ${policy.unit.max}`,
            value: hint,
          },
        ],
      },
    )
  }
  return hint
}
