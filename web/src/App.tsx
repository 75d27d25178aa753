/**
 * The console: sign-in, then the shell (header, main navigation) around the view of the path.
 *
 * @module
 */

import { useQuery, useQueryClient } from '@tanstack/react-query'
import { type SubmitEvent, useMemo, useState } from 'react'
import {
  ApiError,
  api,
  call,
  storeTenant,
  storeToken,
  storedTenant,
  storedToken,
  toApiError,
} from './api/client'
import type { Tenant } from './api/types'
import { ErrorAlert } from './components/ErrorAlert'
import { Field } from './components/Field'
import { useLiveUpdates } from './live'
import { Link, match, usePath } from './router'
import { SessionContext, sessionOf, useSession } from './session'
import { ViewBoundary } from './ViewBoundary'
import { Blocks } from './views/Blocks'
import { DeviceDetail } from './views/DeviceDetail'
import { Devices } from './views/Devices'
import { Events } from './views/Events'
import { GrantDetail } from './views/GrantDetail'
import { Grants } from './views/Grants'
import { MapPage } from './views/MapPage'
import { NotFound } from './views/NotFound'
import { Overview } from './views/Overview'
import { PoolDetail } from './views/PoolDetail'
import { Pools } from './views/Pools'
import { Tenants } from './views/Tenants'
import { Tokens } from './views/Tokens'

/** The console, signed in or not. */
export function App() {
  const [token, setToken] = useState(storedToken)
  const [tenant, setTenant] = useState(storedTenant)
  const client = useQueryClient()
  const me = useQuery({
    queryKey: ['whoami', token, tenant],
    enabled: token !== null,
    retry: false,
    queryFn: () => call(api.GET('/api/v1/whoami')),
  })
  const signOut = () => {
    storeToken(null)
    storeTenant(null)
    client.clear()
    setToken(null)
    setTenant(null)
  }
  const switchTenant = (name: string | null) => {
    storeTenant(name)
    client.clear()
    setTenant(name)
  }
  if (token === null) {
    return (
      <SignIn
        onSignedIn={(t) => {
          setToken(t)
        }}
      />
    )
  }
  if (me.isPending) return <p className="loading">Signing in…</p>
  if (me.isError) {
    return (
      <SignIn
        error={me.error}
        onSignedIn={(t) => {
          setToken(t)
          void me.refetch()
        }}
      />
    )
  }
  return (
    <SessionContext.Provider value={sessionOf(me.data, signOut, switchTenant)}>
      <Shell />
    </SessionContext.Provider>
  )
}

/** Props of {@link SignIn}. */
interface SignInProps {
  readonly onSignedIn: (token: string) => void
  readonly error?: unknown
}

/** The sign-in form: a bearer token, checked against `GET /api/v1/whoami`. */
function SignIn({ onSignedIn, error }: SignInProps) {
  const [value, setValue] = useState('')
  const [failure, setFailure] = useState<unknown>(error ?? null)
  const [busy, setBusy] = useState(false)
  const submit = (e: SubmitEvent<HTMLFormElement>) => {
    e.preventDefault()
    const secret = value.trim()
    if (secret === '') {
      setFailure(new ApiError(0, 'CASM_ERR_UNAUTHENTICATED', 'enter a bearer token'))
      return
    }
    setBusy(true)
    fetch('/api/v1/whoami', { headers: { Authorization: `Bearer ${secret}` } })
      .then(async (res) => {
        if (!res.ok) throw toApiError(res.status, await res.json().catch(() => null))
        storeToken(secret)
        storeTenant(null)
        onSignedIn(secret)
      })
      .catch((err: unknown) => {
        setBusy(false)
        setFailure(
          err instanceof ApiError
            ? err
            : new ApiError(0, 'CASM_ERR_UNAVAILABLE', 'the coordinator does not answer'),
        )
      })
  }
  return (
    <main className="signin">
      <form onSubmit={submit} className="signin-card" noValidate>
        <h1>Sign in to casm</h1>
        <p>
          Paste a bearer token. The first one is in <code>data/admin-token</code> of the
          coordinator.
        </p>
        <Field label="Token">
          {(id) => (
            <input
              id={id}
              type="password"
              autoComplete="current-password"
              value={value}
              onChange={(e) => {
                setValue(e.target.value)
              }}
              required
            />
          )}
        </Field>
        <ErrorAlert error={failure} />
        <button type="submit" className="primary" disabled={busy}>
          Sign in
        </button>
      </form>
    </main>
  )
}

/** One entry of the main navigation. */
interface NavItem {
  readonly href: string
  readonly label: string
  /** Paths that count as this entry. */
  readonly prefix: string
}

/** Header, navigation and the view of the current path. */
function Shell() {
  const s = useSession()
  const path = usePath()
  const live = useLiveUpdates(s.me.tenantId)
  const items = useMemo(() => {
    const list: NavItem[] = [
      { href: '/', label: 'Overview', prefix: '/' },
      { href: '/map', label: 'Address map', prefix: '/map' },
      { href: '/blocks', label: 'Blocks', prefix: '/blocks' },
      { href: '/pools', label: 'Pools', prefix: '/pools' },
      { href: '/devices', label: 'Devices', prefix: '/devices' },
      { href: '/grants', label: 'Grants', prefix: '/grants' },
      { href: '/events', label: 'Events', prefix: '/events' },
    ]
    if (s.isAdmin) list.push({ href: '/tokens', label: 'Tokens', prefix: '/tokens' })
    if (s.isRoot) list.push({ href: '/tenants', label: 'Tenants', prefix: '/tenants' })
    return list
  }, [s.isAdmin, s.isRoot])
  const current = (i: NavItem) =>
    i.prefix === '/' ? path === '/' : path === i.prefix || path.startsWith(`${i.prefix}/`)
  return (
    <div className="shell">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <Link href="/" className="brand">
          casm
        </Link>
        <div className="who">
          <span className="role" title={`token ${s.me.name}`}>
            {s.me.name} · <strong>{s.me.root ? `root ${s.me.role}` : s.me.role}</strong>
          </span>
          {s.isRoot ? <TenantSwitch /> : <span className="tenant">tenant {s.me.tenant}</span>}
          <span
            className={live.failing ? 'live live-off' : 'live'}
            title={live.seq === null ? 'connecting' : `event ${live.seq}`}
          >
            {live.failing ? 'offline' : 'live'}
          </span>
          <button type="button" onClick={s.signOut}>
            Sign out
          </button>
        </div>
      </header>
      <nav aria-label="Main" className="nav">
        <ul>
          {items.map((i) => (
            <li key={i.href}>
              <Link href={i.href} aria-current={current(i) ? 'page' : undefined}>
                {i.label}
              </Link>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main" className="main" tabIndex={-1}>
        <ViewBoundary key={path}>
          <View path={path} liveSeq={live.seq} />
        </ViewBoundary>
      </main>
    </div>
  )
}

/** A root admin's choice of tenant (`X-Casm-Tenant`). */
function TenantSwitch() {
  const s = useSession()
  const tenants = useQuery({
    queryKey: ['tenants'],
    queryFn: () => call(api.GET('/api/v1/tenants')),
  })
  const list: readonly Tenant[] = tenants.data?.items ?? []
  return (
    <label className="tenant">
      tenant{' '}
      <select
        value={s.me.tenant}
        onChange={(e) => {
          s.switchTenant(e.target.value === 'default' ? null : e.target.value)
        }}
      >
        {list.length === 0 ? <option value={s.me.tenant}>{s.me.tenant}</option> : null}
        {list.map((t) => (
          <option key={t.id} value={t.name}>
            {t.name}
          </option>
        ))}
      </select>
    </label>
  )
}

/** The view of a path. */
function View({ path, liveSeq }: { readonly path: string; readonly liveSeq: number | null }) {
  const s = useSession()
  let m: Record<string, string> | null
  if (path === '/') return <Overview />
  if (path === '/map') return <MapPage liveSeq={liveSeq} />
  if (path === '/blocks') return <Blocks />
  if (path === '/pools') return <Pools />
  if ((m = match('/pools/:name', path)) !== null) return <PoolDetail name={m['name'] ?? ''} />
  if (path === '/devices') return <Devices />
  if ((m = match('/devices/:name', path)) !== null) return <DeviceDetail name={m['name'] ?? ''} />
  if (path === '/grants') return <Grants />
  if ((m = match('/grants/:id', path)) !== null) return <GrantDetail id={m['id'] ?? ''} />
  if (path === '/events') return <Events />
  if (path === '/tokens' && s.isAdmin) return <Tokens />
  if (path === '/tenants' && s.isRoot) return <Tenants />
  return <NotFound path={path} />
}
