/**
 * The life of a grant (and of an assignment, which follows the same path without draining):
 *
 * ```
 *   active ──► draining ──► released ──► quarantined ──► free
 *     │  ▲         │            ▲  │                        ▲
 *     │  └─────────┘ (undrain)  │  └────────────────────────┘ (no quarantine)
 *     ├─────────────────────────┘ (release)
 *     └──► expired ──► quarantined / free    (lifetime ran out; draining grants expire too)
 * ```
 *
 * The space stays held in every state but `free`. {@link transition} is the only way the
 * coordinator computes a new state, so a move the table does not list cannot happen.
 *
 * @module
 */

import { CasmError } from '../errors/casm-error.js'

/** Every state of a grant. */
export type GrantState = 'active' | 'draining' | 'released' | 'quarantined' | 'expired' | 'free'

/** Every state, in lifecycle order. */
export const GRANT_STATES: readonly GrantState[] = [
  'active',
  'draining',
  'released',
  'quarantined',
  'expired',
  'free',
]

/** States in which the grant's space is still held (everything but `free`). */
export type LiveState = Exclude<GrantState, 'free'>

/** True when the space of a grant in `state` is held. */
export function isLive(state: GrantState): state is LiveState {
  return state !== 'free'
}

/** What moves a grant from one state to another. */
export type GrantEvent = 'drain' | 'undrain' | 'release' | 'expire' | 'quarantine' | 'free'

/** The allowed moves: from state, by event, to state. Everything absent here is illegal. */
export const TRANSITIONS: Readonly<Record<GrantState, Partial<Record<GrantEvent, GrantState>>>> = {
  active: { drain: 'draining', release: 'released', expire: 'expired' },
  draining: { undrain: 'active', release: 'released', expire: 'expired' },
  released: { quarantine: 'quarantined', free: 'free' },
  expired: { quarantine: 'quarantined', free: 'free' },
  quarantined: { free: 'free' },
  free: {},
}

/**
 * The state `event` leads to from `from`.
 *
 * @throws CasmError `CASM_ERR_ILLEGAL_TRANSITION` when the lifecycle does not allow it.
 */
export function transition(from: GrantState, event: GrantEvent): GrantState {
  const to = TRANSITIONS[from][event]
  if (to === undefined) {
    const allowed = Object.keys(TRANSITIONS[from])
    throw new CasmError(
      'CASM_ERR_ILLEGAL_TRANSITION',
      `a ${from} grant cannot ${event}${allowed.length > 0 ? `; from ${from} it can ${allowed.join(', ')}` : '; it is finished'}`,
      { from, event, allowed },
    )
  }
  return to
}

/**
 * Where a released or expired grant goes next: quarantined until `now + quarantineMs` when the
 * pool quarantines, free at once otherwise.
 */
export function afterRelease(
  quarantineMs: number,
  now: number,
): { state: 'quarantined'; quarantineUntil: number } | { state: 'free'; quarantineUntil: null } {
  return quarantineMs > 0
    ? { state: 'quarantined', quarantineUntil: now + quarantineMs }
    : { state: 'free', quarantineUntil: null }
}
