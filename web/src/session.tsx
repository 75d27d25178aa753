/**
 * The signed-in session: who the token is (`GET /api/v1/whoami`), what its role allows, signing
 * out, and — for root tokens — the tenant to act in.
 *
 * @module
 */

import { createContext, useContext } from 'react'
import type { Whoami } from './api/types'

/** What the views know about the signed-in token. */
export interface Session {
  /** The token as the API sees it. */
  readonly me: Whoami
  /** Operators and admins may change things; viewers only read. */
  readonly canEdit: boolean
  /** Admins manage tokens. */
  readonly isAdmin: boolean
  /** Root admins manage tenants and act in any of them. */
  readonly isRoot: boolean
  /** Forgets the token and shows the sign-in form. */
  readonly signOut: () => void
  /** Root admins: act in another tenant (null: the default one). */
  readonly switchTenant: (tenant: string | null) => void
}

/** The session of the signed-in console; null before sign-in. */
export const SessionContext = createContext<Session | null>(null)

/** The session; only inside the signed-in part of the console. */
export function useSession(): Session {
  const s = useContext(SessionContext)
  if (s === null) throw new Error('useSession outside of a signed-in console')
  return s
}

/** Builds the session of a token. */
export function sessionOf(
  me: Whoami,
  signOut: () => void,
  switchTenant: (tenant: string | null) => void,
): Session {
  const edit = me.role === 'operator' || me.role === 'admin'
  return {
    me,
    canEdit: edit,
    isAdmin: me.role === 'admin',
    isRoot: me.role === 'admin' && me.root,
    signOut,
    switchTenant,
  }
}
