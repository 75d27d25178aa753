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
  /** Grow early when the growth forecast says the space runs out within this many seconds (0: off). */
  readonly leadTime: number
  /** Fewest active grants a device keeps; reclaim never goes below. */
  readonly minUnits: number
  /** The device reports every this many seconds (told to it on connect). */
  readonly reportInterval: number
  /** A device silent for this many seconds raises an alert (nothing of it is reclaimed). */
  readonly staleAfter: number
  /**
   * How a draining grant empties: `natural` lets its addresses leave as their leases end; `fast`
   * asks the device to refuse renewals in it so its users move to other space.
   */
  readonly drain: DrainMode
}

/** How a draining grant empties (see {@link PoolPolicy.drain}). */
export type DrainMode = 'natural' | 'fast'

/** Every drain mode. */
export const DRAIN_MODES: readonly DrainMode[] = ['natural', 'fast']

/** The fields of a policy a device may override for itself. */
export const DEVICE_OVERRIDABLE = [
  'highWatermark',
  'lowWatermark',
  'holdDown',
  'leadTime',
  'minUnits',
  'reportInterval',
  'staleAfter',
] as const

/** A device's overrides of its pools' policy. */
export type DevicePolicyOverrides = Partial<Pick<PoolPolicy, (typeof DEVICE_OVERRIDABLE)[number]>>

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
    leadTime: 600,
    minUnits: 1,
    reportInterval: 10,
    staleAfter: 60,
    drain: 'natural',
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
  checkLoopFields(policy)
  if (!(DRAIN_MODES as readonly unknown[]).includes(policy.drain)) {
    throw bad('drain', "must be 'natural' or 'fast'", policy.drain)
  }
  return policy
}

function checkLoopFields(policy: Partial<PoolPolicy>): void {
  for (const key of ['holdDown', 'lifetime', 'quarantine', 'leadTime'] as const) {
    const v = policy[key]
    if (v === undefined) continue
    if (!Number.isInteger(v) || v < 0 || v > 10 * 365 * 86400) {
      throw bad(key, 'must be a whole number of seconds between 0 and ten years', v)
    }
  }
  for (const key of ['reportInterval', 'staleAfter'] as const) {
    const v = policy[key]
    if (v === undefined) continue
    if (!Number.isInteger(v) || v < 1 || v > 86400) {
      throw bad(key, 'must be a whole number of seconds between 1 and 86400', v)
    }
  }
  const m = policy.minUnits
  if (m !== undefined && (!Number.isInteger(m) || m < 0 || m > 65536)) {
    throw bad('minUnits', 'must be a whole number between 0 and 65536', m)
  }
}

/**
 * Checks a device's overrides: only {@link DEVICE_OVERRIDABLE} fields, each valid, and the
 * watermarks still ordered when both are given.
 *
 * @throws CasmError `CASM_ERR_VALIDATION` naming the field.
 */
export function checkDeviceOverrides(input: Record<string, unknown>): DevicePolicyOverrides {
  for (const key of Object.keys(input)) {
    if (!(DEVICE_OVERRIDABLE as readonly string[]).includes(key)) {
      throw bad(
        key,
        `cannot be set per device; it may set ${DEVICE_OVERRIDABLE.join(', ')}`,
        input[key],
      )
    }
  }
  const o = input as DevicePolicyOverrides
  const high = o.highWatermark
  const low = o.lowWatermark
  if (high !== undefined && !(typeof high === 'number' && high > 0 && high <= 1))
    throw bad('highWatermark', 'must be in (0, 1]', high)
  if (low !== undefined && !(typeof low === 'number' && low >= 0 && low < 1))
    throw bad('lowWatermark', 'must be in [0, 1)', low)
  if (high !== undefined && low !== undefined && low >= high)
    throw bad('lowWatermark', `must be under highWatermark=${high}`, low)
  checkLoopFields(o)
  return o
}

/**
 * The policy in force for a device: its pool's, with the device's overrides. Overridden
 * watermarks that would cross the pool's are kept apart (low stays under high).
 */
export function effectivePolicy(pool: PoolPolicy, device: DevicePolicyOverrides): PoolPolicy {
  const p = { ...pool, ...device }
  if (p.lowWatermark >= p.highWatermark) {
    return { ...p, lowWatermark: Math.max(0, p.highWatermark / 4) }
  }
  return p
}

/** A stored policy written by an older casm, completed with today's defaults. */
export function completePolicy(family: Family, stored: Partial<PoolPolicy>): PoolPolicy {
  return { ...defaultPolicy(family), ...stored }
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
