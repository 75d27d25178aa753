import { useQuery, useQueryClient } from '@tanstack/react-query'
import { useState } from 'react'
import { api, call } from '../api/client'
import { FormDialog } from '../components/FormDialog'
import { TextField } from '../components/Inputs'
import { Loading } from '../components/Loading'
import { dateTime } from '../format'
import { Link } from '../router'
import { useSession } from '../session'
import { EventTable } from './EventTable'
import { useNames } from './GrantTable'

/** Props of {@link GrantDetail}. */
export interface GrantDetailProps {
  readonly id: string
}

type Action = 'drain' | 'undrain' | 'pin' | 'unpin' | 'move' | 'release'

const TITLES: Readonly<Record<Action, string>> = {
  drain: 'Drain this grant?',
  undrain: 'End the drain?',
  pin: 'Pin this grant?',
  unpin: 'Unpin this grant?',
  move: 'Move this grant?',
  release: 'Release this grant?',
}

const EXPLAIN: Readonly<Record<Action, string>> = {
  drain:
    'Its device hands out no new address from it; once the device reports it empty it is released.',
  undrain: 'The grant serves new addresses again.',
  pin: 'A pinned grant is never reclaimed by the policy, nor withdrawn when its lifetime ends.',
  unpin: 'The policy may reclaim it again.',
  move: 'It drains on its device; once reported empty, the same prefix is granted to the target device.',
  release:
    "The space goes into the pool's quarantine (or back to the pool at once). The device loses it.",
}

/** A grant's life: its facts, its events, and what operators may do to it. */
export function GrantDetail({ id }: GrantDetailProps) {
  const s = useSession()
  const client = useQueryClient()
  const names = useNames()
  const [action, setAction] = useState<Action | null>(null)
  const [target, setTarget] = useState('')
  const grant = useQuery({
    queryKey: ['grant', id],
    queryFn: () => call(api.GET('/api/v1/grants/{id}/detail', { params: { path: { id } } })),
  })
  const g = grant.data
  const live = g !== undefined && (g.state === 'active' || g.state === 'draining')
  const run = async (a: Action): Promise<void> => {
    const path = { params: { path: { id } } }
    switch (a) {
      case 'drain':
        await call(api.POST('/api/v1/grants/{id}/drain', { ...path, body: {} }))
        break
      case 'undrain':
        await call(api.POST('/api/v1/grants/{id}/undrain', path))
        break
      case 'pin':
      case 'unpin':
        await call(api.POST('/api/v1/grants/{id}/pin', { ...path, body: { pinned: a === 'pin' } }))
        break
      case 'move':
        await call(
          api.POST('/api/v1/grants/{id}/move', { ...path, body: { device: target.trim() } }),
        )
        break
      case 'release':
        await call(api.POST('/api/v1/grants/{id}/release', path))
        break
    }
    await client.invalidateQueries({ queryKey: ['grant', id] })
    await client.invalidateQueries({ queryKey: ['events'] })
    await client.invalidateQueries({ queryKey: ['grants'] })
  }
  const button = (a: Action, label: string, danger = false) => (
    <button
      type="button"
      className={danger ? 'danger' : undefined}
      onClick={() => {
        setTarget('')
        setAction(a)
      }}
    >
      {label}
    </button>
  )
  return (
    <section>
      <h1>Grant {g?.prefix ?? id}</h1>
      <Loading error={grant.error} pending={grant.isPending} what="the grant" />
      {g === undefined ? null : (
        <>
          {s.canEdit && live ? (
            <div className="toolbar" role="group" aria-label="Grant actions">
              {g.state === 'active' ? button('drain', 'Drain') : button('undrain', 'Undrain')}
              {g.pinned ? button('unpin', 'Unpin') : button('pin', 'Pin')}
              {button('move', 'Move')}
              {button('release', 'Release', true)}
            </div>
          ) : null}
          <div className="card">
            <dl className="facts">
              <dt>State</dt>
              <dd>
                <span className={`badge state-${g.state}`}>{g.state}</span>
                {g.pinned ? <span className="badge">pinned</span> : null}
              </dd>
              <dt>Prefix</dt>
              <dd>
                <code>{g.prefix}</code>
              </dd>
              <dt>Pool</dt>
              <dd>
                <Link href={`/pools/${encodeURIComponent(names.pools.get(g.pool) ?? g.pool)}`}>
                  {names.pools.get(g.pool) ?? g.pool}
                </Link>
              </dd>
              <dt>Device</dt>
              <dd>
                <Link
                  href={`/devices/${encodeURIComponent(names.devices.get(g.device) ?? g.device)}`}
                >
                  {names.devices.get(g.device) ?? g.device}
                </Link>
              </dd>
              <dt>Drain cause</dt>
              <dd>{g.drainCause ?? '—'}</dd>
              <dt>Moving to</dt>
              <dd>{g.movingTo === null ? '—' : (names.devices.get(g.movingTo) ?? g.movingTo)}</dd>
              <dt>Last usage</dt>
              <dd>
                {g.usage === null
                  ? 'no report yet'
                  : `${g.usage.used} used, peak ${g.usage.peak}, average ${g.usage.average} (${dateTime(g.usage.reportedAt)})`}
              </dd>
              <dt>Created</dt>
              <dd>{dateTime(g.createdAt)}</dd>
              <dt>Confirmed</dt>
              <dd>{dateTime(g.confirmedAt)}</dd>
              <dt>Expires</dt>
              <dd>{dateTime(g.expiresAt)}</dd>
              <dt>Released</dt>
              <dd>{dateTime(g.releasedAt)}</dd>
              <dt>Quarantine until</dt>
              <dd>{dateTime(g.quarantineUntil)}</dd>
              <dt>Id</dt>
              <dd>
                <code>{g.id}</code>
              </dd>
            </dl>
          </div>
          <h2>Events</h2>
          <EventTable filter={{ object: g.id }} caption={`Events of grant ${g.prefix}`} />
        </>
      )}
      {action === null || g === undefined ? null : (
        <FormDialog
          title={TITLES[action]}
          submitLabel="Confirm"
          danger={action === 'release'}
          onClose={() => {
            setAction(null)
          }}
          onSubmit={() => run(action)}
        >
          <p>
            <code>{g.prefix}</code> of {names.devices.get(g.device) ?? g.device}. {EXPLAIN[action]}
          </p>
          {action === 'move' ? (
            <TextField
              label="Target device"
              help="The name or id of the device to receive it."
              value={target}
              onValue={setTarget}
              required
            />
          ) : null}
        </FormDialog>
      )}
    </section>
  )
}
