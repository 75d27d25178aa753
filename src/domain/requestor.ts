/**
 * Requestor attributes (RF-4.2.2) and pool selectors: the metadata a device or an OSS request
 * carries, and how a pool says which requestors it serves (RF-4.2.1, RF-4.3.2.6).
 *
 * @module
 */

import { CasmError } from '../errors/casm-error.js'

/** The attributes of RF-4.2.2, (a) to (g). All optional. */
export interface RequestorAttributes {
  /** (a) switch, router, firewall, server, end-point, bng, cgn, dhcp-server, ... */
  readonly function?: string
  /** (b) physical or virtual. */
  readonly formFactor?: 'physical' | 'virtual'
  /** (c) management, control or data plane. */
  readonly plane?: 'management' | 'control' | 'data'
  /** (d) VLAN, VXLAN or user-defined segment identifier. */
  readonly segmentId?: string
  /** (e) point-to-point, multi-point or loopback. */
  readonly segmentType?: 'point-to-point' | 'multi-point' | 'loopback'
  /** (f) private, public, vpn, unicast or multicast. */
  readonly scope?: 'private' | 'public' | 'vpn' | 'unicast' | 'multicast'
  /** (g) user-defined key/values. */
  readonly custom?: Readonly<Record<string, string>>
}

/** The attribute names a selector may test; `custom.KEY` tests a custom attribute. */
export const SELECTOR_ATTRIBUTES = [
  'function',
  'formFactor',
  'plane',
  'segmentId',
  'segmentType',
  'scope',
] as const

/**
 * A pool's selectors: for each attribute, the values it serves. A requestor matches when, for
 * every attribute named, its value is one of those listed. No selectors: serves everyone.
 *
 * @example
 * ```ts
 * { function: ['bng'], scope: ['public'], 'custom.region': ['eu-west', 'eu-central'] }
 * ```
 */
export type Selectors = Readonly<Record<string, readonly string[]>>

/**
 * Checks selector keys and values.
 *
 * @throws CasmError `CASM_ERR_VALIDATION` for an unknown attribute or an empty value list.
 */
export function checkSelectors(selectors: Selectors): void {
  for (const [key, values] of Object.entries(selectors)) {
    const known =
      (SELECTOR_ATTRIBUTES as readonly string[]).includes(key) ||
      /^custom\.[A-Za-z0-9_.-]{1,64}$/.test(key)
    if (!known) {
      throw new CasmError(
        'CASM_ERR_VALIDATION',
        `selector '${key}' is not a requestor attribute; use one of ${SELECTOR_ATTRIBUTES.join(', ')} or custom.KEY`,
        { errors: [{ path: `/selectors/${key}`, message: 'unknown attribute', value: key }] },
      )
    }
    if (values.length === 0) {
      throw new CasmError('CASM_ERR_VALIDATION', `selector '${key}' lists no values`, {
        errors: [{ path: `/selectors/${key}`, message: 'needs at least one value', value: values }],
      })
    }
  }
}

/** The value of attribute `key` (or `custom.KEY`) of a requestor. */
function valueOf(attrs: RequestorAttributes, key: string): string | undefined {
  if (key.startsWith('custom.')) return attrs.custom?.[key.slice(7)]
  const v = (attrs as Record<string, unknown>)[key]
  return typeof v === 'string' ? v : undefined
}

/**
 * How well `attrs` matches `selectors`: `undefined` when it does not, otherwise the number of
 * attributes tested (more tested attributes = a more specific pool).
 */
export function matchSelectors(
  selectors: Selectors,
  attrs: RequestorAttributes,
): number | undefined {
  let score = 0
  for (const [key, values] of Object.entries(selectors)) {
    const v = valueOf(attrs, key)
    if (v === undefined || !values.includes(v)) return undefined
    score++
  }
  return score
}

/** A pool as far as selection needs it. */
export interface SelectablePool {
  readonly name: string
  readonly priority: number
  readonly selectors: Selectors
}

/**
 * Orders the pools that serve `attrs`: higher priority first, then more specific selectors, then
 * name. Pools whose selectors do not match are left out.
 */
export function rankPools<P extends SelectablePool>(
  pools: readonly P[],
  attrs: RequestorAttributes,
): { pool: P; matched: number }[] {
  const hits: { pool: P; matched: number }[] = []
  for (const pool of pools) {
    const matched = matchSelectors(pool.selectors, attrs)
    if (matched !== undefined) hits.push({ pool, matched })
  }
  return hits.sort(
    (a, b) =>
      b.pool.priority - a.pool.priority ||
      b.matched - a.matched ||
      a.pool.name.localeCompare(b.pool.name),
  )
}
