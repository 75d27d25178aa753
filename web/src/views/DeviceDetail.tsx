import { useMutation, useQuery } from '@tanstack/react-query'
import { useMemo } from 'react'
import { api, call } from '../api/client'
import type { DeviceLoop } from '../api/types'
import { DataTable } from '../components/DataTable'
import { ErrorAlert } from '../components/ErrorAlert'
import { Loading } from '../components/Loading'
import { Meter } from '../components/Meter'
import { dateTime } from '../format'
import { Link } from '../router'
import { useSession } from '../session'
import { useDeviceHistory } from '../usage/history'
import { mergeSamples, useSeries } from '../usage/samples'
import { UsageChart } from '../usage/LazyUsageChart'
import { useNames } from './GrantTable'

/** How often the device's loop status is read while its page is open. */
const REFRESH_MS = 5000

/** Props of {@link DeviceDetail}. */
export interface DeviceDetailProps {
  /** The device's name (or id). */
  readonly name: string
}

/** One device: attributes, agent status, last report, route count, grants, usage, the plan. */
export function DeviceDetail({ name }: DeviceDetailProps) {
  const s = useSession()
  const loop = useQuery({
    queryKey: ['device-loop', name],
    refetchInterval: REFRESH_MS,
    queryFn: () =>
      call(api.GET('/api/v1/devices/{device}/loop', { params: { path: { device: name } } })),
  })
  const ask = useMutation({
    mutationFn: () =>
      call(
        api.POST('/api/v1/devices/{device}/status-query', { params: { path: { device: name } } }),
      ),
  })
  const l = loop.data
  return (
    <section>
      <h1>Device {l?.device.name ?? name}</h1>
      <Loading error={loop.error} pending={loop.isPending} what="the device" />
      {l === undefined ? null : (
        <>
          {s.canEdit ? (
            <div className="toolbar">
              <button
                type="button"
                onClick={() => {
                  ask.mutate()
                }}
                disabled={ask.isPending}
              >
                Ask for a report
              </button>
              {ask.isSuccess ? (
                <span aria-live="polite">Asked (event {ask.data.eventId}).</span>
              ) : null}
            </div>
          ) : null}
          {ask.isError ? <ErrorAlert error={ask.error} /> : null}
          <div className="grid-2">
            <Status loop={l} />
            <Attributes loop={l} />
          </div>
          <Utilisation loop={l} at={loop.dataUpdatedAt} />
          <Grants loop={l} />
          <Plan loop={l} />
        </>
      )}
    </section>
  )
}

function Status({ loop: l }: { readonly loop: DeviceLoop }) {
  return (
    <div className="card">
      <h2>Status</h2>
      <dl className="facts">
        <dt>Agent</dt>
        <dd>{l.agent === null ? 'never connected' : `${l.agent.backend} ${l.agent.version}`}</dd>
        <dt>Status</dt>
        <dd>
          {l.agent === null ? (
            <span className="badge">no agent</span>
          ) : l.silent ? (
            <span className="badge badge-warn">silent</span>
          ) : (
            <span className="badge state-active">reporting</span>
          )}
        </dd>
        <dt>Connected</dt>
        <dd>{dateTime(l.connectedAt)}</dd>
        <dt>Last report</dt>
        <dd>{dateTime(l.lastReportAt)}</dd>
        <dt>Route count</dt>
        <dd>{l.routes}</dd>
        <dt>Stream</dt>
        <dd>
          event {l.streamEventId}, acknowledged {l.ackedEventId}
        </dd>
      </dl>
    </div>
  )
}

function Attributes({ loop: l }: { readonly loop: DeviceLoop }) {
  const a = l.device.attributes
  const rows: [string, string | undefined][] = [
    ['Function', a.function],
    ['Form factor', a.formFactor],
    ['Plane', a.plane],
    ['Segment', a.segmentId],
    ['Segment type', a.segmentType],
    ['Scope', a.scope],
    ...Object.entries(a.custom ?? {}).map(([k, v]): [string, string] => [`custom.${k}`, v]),
  ]
  return (
    <div className="card">
      <h2>Attributes</h2>
      <dl className="facts">
        {rows.map(([k, v]) => (
          <div key={k} className="fact">
            <dt>{k}</dt>
            <dd>{v ?? '—'}</dd>
          </div>
        ))}
        <div className="fact">
          <dt>Description</dt>
          <dd>{l.device.description === '' ? '—' : l.device.description}</dd>
        </div>
      </dl>
    </div>
  )
}

function FamilyChart({
  device,
  family,
  value,
  at,
}: {
  readonly device: string
  readonly family: string
  readonly value: number
  readonly at: number
}) {
  const live = useSeries(`device:${device}:${family}`, value, at)
  const history = useDeviceHistory(device, family)
  const samples = useMemo(() => mergeSamples(history, live), [history, live])
  return <UsageChart title={`Utilisation of ${device} (${family})`} samples={samples} />
}

function Utilisation({ loop: l, at }: { readonly loop: DeviceLoop; readonly at: number }) {
  const families = Object.entries(l.utilisation)
  return (
    <>
      <h2>Usage</h2>
      {families.length === 0 ? (
        <p className="empty">No usage reported yet.</p>
      ) : (
        families.map(([family, v]) => (
          <div key={family}>
            <p>
              {family}: <Meter value={v} label={`${l.device.name} ${family}`} />
            </p>
            <FamilyChart device={l.device.name} family={family} value={v} at={at} />
          </div>
        ))
      )}
    </>
  )
}

function Grants({ loop: l }: { readonly loop: DeviceLoop }) {
  const names = useNames()
  return (
    <>
      <h2>Grants</h2>
      {l.grants.length === 0 ? (
        <p className="empty">The device holds no grant.</p>
      ) : (
        <DataTable
          columns={['Prefix', 'Pool', 'State', 'Used', 'Peak', 'Reported']}
          caption={<>Grants of {l.device.name}</>}
        >
          {l.grants.map((g) => (
            <tr key={g.id}>
              <td>
                <Link href={`/grants/${encodeURIComponent(g.id)}`}>{g.prefix}</Link>
              </td>
              <td>{names.pools.get(g.pool) ?? g.pool}</td>
              <td>
                <span className={`badge state-${g.state}`}>{g.state}</span>
                {g.pinned ? <span className="badge">pinned</span> : null}
              </td>
              <td>{g.usage?.used ?? '—'}</td>
              <td>{g.usage?.peak ?? '—'}</td>
              <td>{dateTime(g.usage?.reportedAt)}</td>
            </tr>
          ))}
        </DataTable>
      )}
    </>
  )
}

function Plan({ loop: l }: { readonly loop: DeviceLoop }) {
  return (
    <>
      <h2>What the policy engine would do now</h2>
      {l.plan.length === 0 ? (
        <p className="empty">Nothing: the device is within its watermarks.</p>
      ) : (
        <ul className="plan">
          {l.plan.map((d, i) => (
            <li key={i}>
              <strong>{d.kind}</strong>
              {d.family === undefined ? '' : ` (${d.family})`}: {d.reason}
            </li>
          ))}
        </ul>
      )}
      {l.alerts.length > 0 ? (
        <>
          <h2>Alerts</h2>
          <ul className="alerts">
            {l.alerts.map((a) => (
              <li key={a.id}>
                <span className="badge badge-warn">{a.kind}</span> {a.message}
              </li>
            ))}
          </ul>
        </>
      ) : null}
    </>
  )
}
