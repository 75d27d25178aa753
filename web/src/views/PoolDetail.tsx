import { useQuery, useQueryClient } from '@tanstack/react-query'
import { useMemo, useState } from 'react'
import { api, call } from '../api/client'
import { Loading } from '../components/Loading'
import { Meter } from '../components/Meter'
import { Toolbar } from '../components/Toolbar'
import { count, dateTime, duration } from '../format'
import { navigate } from '../router'
import { useSession } from '../session'
import { FORECAST_WINDOW_MS, usePoolHistory } from '../usage/history'
import { forecast, mergeSamples, useSeries } from '../usage/samples'
import { UsageChart } from '../usage/LazyUsageChart'
import { GrantTable } from './GrantTable'
import { PoolDialog } from './PoolForm'

/** How often the pool's usage is read while its page is open. */
const REFRESH_MS = 5000

/** Props of {@link PoolDetail}. */
export interface PoolDetailProps {
  /** The pool's name (or id). */
  readonly name: string
}

/** One pool: policy, usage now and over time, its grants; operators edit the policy. */
export function PoolDetail({ name }: PoolDetailProps) {
  const s = useSession()
  const client = useQueryClient()
  const [editing, setEditing] = useState(false)
  const pool = useQuery({
    queryKey: ['pool', name],
    queryFn: () => call(api.GET('/api/v1/pools/{pool}', { params: { path: { pool: name } } })),
  })
  const usage = useQuery({
    queryKey: ['usage', 'pool', name],
    refetchInterval: REFRESH_MS,
    queryFn: () =>
      call(api.GET('/api/v1/pools/{pool}/usage', { params: { path: { pool: name } } })),
  })
  const live = useSeries(
    `pool:${usage.data?.pool ?? name}`,
    usage.data?.utilisation,
    usage.dataUpdatedAt,
  )
  const history = usePoolHistory(name)
  const samples = useMemo(() => mergeSamples(history, live), [history, live])
  // With the coordinator's history the trend is taken over 6 hours, else over what was sampled.
  const f = history.length > 0 ? forecast(samples, FORECAST_WINDOW_MS) : forecast(samples)
  const p = pool.data
  return (
    <section>
      <h1>Pool {p?.name ?? name}</h1>
      <Loading error={pool.error} pending={pool.isPending} what="the pool" />
      {p === undefined ? null : (
        <>
          {s.canEdit ? (
            <Toolbar
              actions={[
                {
                  label: 'Edit policy',
                  onClick: () => {
                    setEditing(true)
                  },
                },
              ]}
            />
          ) : null}
          <div className="grid-2">
            <div className="card">
              <h2>Policy</h2>
              <dl className="facts">
                <dt>Kind</dt>
                <dd>{p.kind}</dd>
                <dt>Family</dt>
                <dd>{p.family}</dd>
                <dt>Space</dt>
                <dd>
                  <code>{p.space.join(', ')}</code>
                </dd>
                <dt>Unit</dt>
                <dd>
                  /{p.policy.unit.default} (from /{p.policy.unit.min} to /{p.policy.unit.max})
                </dd>
                <dt>Strategy</dt>
                <dd>{p.policy.strategy}</dd>
                <dt>Watermarks</dt>
                <dd>
                  low {p.policy.lowWatermark}, high {p.policy.highWatermark}
                </dd>
                <dt>Hold-down</dt>
                <dd>{p.policy.holdDown} s</dd>
                <dt>Lifetime</dt>
                <dd>{p.policy.lifetime === 0 ? 'none' : `${p.policy.lifetime} s`}</dd>
                <dt>Quarantine</dt>
                <dd>{p.policy.quarantine} s</dd>
                <dt>Lead time</dt>
                <dd>{p.policy.leadTime} s</dd>
                <dt>Drain</dt>
                <dd>{p.policy.drain}</dd>
                <dt>Updated</dt>
                <dd>{dateTime(p.updatedAt)}</dd>
              </dl>
            </div>
            <div className="card">
              <h2>Usage</h2>
              <Loading error={usage.error} pending={usage.isPending} what="usage" />
              {usage.data === undefined ? null : (
                <dl className="facts">
                  <dt>Utilisation</dt>
                  <dd>
                    <Meter value={usage.data.utilisation} label={`pool ${p.name}`} />
                  </dd>
                  <dt>Total</dt>
                  <dd>{count(usage.data.total)}</dd>
                  <dt>Allocated</dt>
                  <dd>{count(usage.data.allocated)}</dd>
                  <dt>Reserved</dt>
                  <dd>{count(usage.data.reserved)}</dd>
                  <dt>Free</dt>
                  <dd>{count(usage.data.free)}</dd>
                  <dt>Largest free</dt>
                  <dd>{usage.data.largestFree ?? '—'}</dd>
                  <dt>Forecast</dt>
                  <dd>
                    {f === null
                      ? 'not enough samples yet'
                      : f.fullAt === null
                        ? 'not growing'
                        : `full in ${duration(f.fullAt - Date.now())} (${dateTime(f.fullAt)})`}
                  </dd>
                </dl>
              )}
            </div>
          </div>
          <UsageChart title={`Utilisation of ${p.name}`} samples={samples} />
          <h2>Grants</h2>
          <GrantTable filter={{ pool: p.id }} caption={`Grants of ${p.name}`} />
        </>
      )}
      {editing && p !== undefined ? (
        <PoolDialog
          pool={p}
          onClose={() => {
            setEditing(false)
          }}
          onSaved={async (saved) => {
            await client.invalidateQueries({ queryKey: ['pool'] })
            await client.invalidateQueries({ queryKey: ['pools'] })
            if (saved.name !== name)
              navigate(`/pools/${encodeURIComponent(saved.name)}`, { replace: true })
          }}
        />
      ) : null}
    </section>
  )
}
