import { useQueries, useQuery } from '@tanstack/react-query'
import { useEffect } from 'react'
import { api, call } from '../api/client'
import type { BlockUsage, CasmEvent, DomainUsage, PoolUsage } from '../api/types'
import { DataTable } from '../components/DataTable'
import { Loading } from '../components/Loading'
import { Meter } from '../components/Meter'
import { count, dateTime, duration, percent } from '../format'
import { Link } from '../router'
import { FORECAST_WINDOW_MS, HISTORY_REFRESH_MS, sinceOf } from '../usage/history'
import {
  type Forecast,
  forecast,
  fromHistory,
  mergeSamples,
  record,
  samplesOf,
  useSamplesVersion,
} from '../usage/samples'

/** Usage is read again this often while the overview is open (also on every new event). */
const USAGE_REFRESH_MS = 5000
/** Blocks whose usage the overview reads at most (the Blocks page lists them all). */
const MAX_BLOCKS = 50
/** Pools whose usage history the overview reads for its forecasts, at most. */
const MAX_HISTORY_POOLS = 50
/** How far back in the log the overview looks for the policy engine's decisions. */
const DECISION_WINDOW = 1000

/** The actor of the policy engine's own actions in the event log. */
const POLICY_ACTOR = 'system:policy'

/** True for events the policy engine caused (its own actor, or a `policy:` reason). */
function isDecision(e: CasmEvent): boolean {
  return e.actor === POLICY_ACTOR || (e.reason ?? '').startsWith('policy')
}

/** The prefix of a grant event (from its after or before image), if it has one. */
function prefixOf(e: CasmEvent): string | undefined {
  for (const image of [e.after, e.before]) {
    const p = (image as { prefix?: unknown } | null)?.prefix
    if (typeof p === 'string') return p
  }
  return undefined
}

/** The overview: utilisation per domain, block and pool, forecasts, alerts, decisions. */
export function Overview() {
  const domains = useQuery({
    queryKey: ['domains'],
    queryFn: () => call(api.GET('/api/v1/domains')),
  })
  const blocks = useQuery({
    queryKey: ['blocks'],
    queryFn: () => call(api.GET('/api/v1/blocks')),
  })
  const domainUsage = useQueries({
    queries: (domains.data?.items ?? []).map((d) => ({
      queryKey: ['usage', 'domain', d.id],
      refetchInterval: USAGE_REFRESH_MS,
      queryFn: () =>
        call(api.GET('/api/v1/domains/{domain}/usage', { params: { path: { domain: d.id } } })),
    })),
  })
  const shownBlocks = (blocks.data?.items ?? []).slice(0, MAX_BLOCKS)
  const blockUsage = useQueries({
    queries: shownBlocks.map((b) => ({
      queryKey: ['usage', 'block', b.id],
      refetchInterval: USAGE_REFRESH_MS,
      queryFn: () => call(api.GET('/api/v1/blocks/{id}/usage', { params: { path: { id: b.id } } })),
    })),
  })
  const usages = domainUsage.flatMap((q) => (q.data === undefined ? [] : [q.data]))
  const pools = usages.flatMap((u) => u.pools.map((p) => ({ domain: u.domain, usage: p })))
  const stamp = domainUsage.map((q) => q.dataUpdatedAt).join(',')
  useEffect(() => {
    for (const p of pools) record(`pool:${p.usage.pool}`, p.usage.utilisation)
    // `stamp` changes with every answer; `pools` comes from the same answers.
  }, [stamp])
  useSamplesVersion()
  const historyPools = pools.slice(0, MAX_HISTORY_POOLS).map((p) => p.usage.pool)
  const histories = useQueries({
    queries: historyPools.map((pool) => ({
      queryKey: ['usage-history', 'pool', pool, FORECAST_WINDOW_MS],
      refetchInterval: HISTORY_REFRESH_MS,
      queryFn: () =>
        call(
          api.GET('/api/v1/pools/{pool}/usage/history', {
            params: { path: { pool }, query: { since: sinceOf(FORECAST_WINDOW_MS) } },
          }),
        ),
    })),
  })
  const historyOf = new Map(
    historyPools.map((pool, i) => [pool, fromHistory(histories[i]?.data?.items ?? [])]),
  )
  /** The coordinator's history then the live samples, over 6 hours; live samples alone without. */
  const forecastOf = (pool: string): Forecast | null => {
    const history = historyOf.get(pool) ?? []
    const live = samplesOf(`pool:${pool}`)
    return history.length > 0
      ? forecast(mergeSamples(history, live), FORECAST_WINDOW_MS)
      : forecast(live)
  }
  const forecasts = pools
    .map((p) => ({ ...p, f: forecastOf(p.usage.pool) }))
    .filter(
      (p): p is typeof p & { f: Forecast & { fullAt: number } } =>
        p.f !== null && p.f.fullAt !== null,
    )
    .sort((a, b) => a.f.fullAt - b.f.fullAt)
  const domainName = new Map((domains.data?.items ?? []).map((d) => [d.id, d.name]))

  return (
    <section>
      <h1>Overview</h1>
      <Loading error={domains.error} pending={domains.isPending} what="domains" />
      <div className="grid-2">
        <DomainsCard usages={usages} names={domainName} />
        <AlertsCard />
      </div>

      <h2>Pools</h2>
      {pools.length === 0 && !domains.isPending ? (
        <p className="empty">
          No pool yet. <Link href="/pools">Create one</Link> on the Pools page.
        </p>
      ) : (
        <PoolsTable pools={pools.map((p) => p.usage)} />
      )}

      <h2>Pools forecast to run out</h2>
      <p className="help">
        From the trend of each pool&apos;s utilisation over the last 6 hours: the samples the
        coordinator keeps (one every 5 minutes, for 7 days), then those this browser reads every{' '}
        {USAGE_REFRESH_MS / 1000} s while a page is open.
      </p>
      {forecasts.length === 0 ? (
        <p className="empty">No pool is growing towards full right now.</p>
      ) : (
        <DataTable columns={['Pool', 'Utilisation', 'Trend', 'Full in', 'Full at']}>
          {forecasts.map((p) => (
            <tr key={p.usage.pool}>
              <td>
                <Link href={`/pools/${encodeURIComponent(p.usage.pool)}`}>{p.usage.pool}</Link>
              </td>
              <td>{percent(p.usage.utilisation)}</td>
              <td>+{percent(p.f.perHour)} / h</td>
              <td>{duration(p.f.fullAt - Date.now())}</td>
              <td>{dateTime(p.f.fullAt)}</td>
            </tr>
          ))}
        </DataTable>
      )}

      <h2>Blocks</h2>
      <Loading error={blocks.error} pending={blocks.isPending} what="blocks" />
      <BlocksTable
        usages={blockUsage.flatMap((q) => (q.data === undefined ? [] : [q.data]))}
        names={domainName}
        blocks={shownBlocks}
      />
      {(blocks.data?.items.length ?? 0) > MAX_BLOCKS ? (
        <p className="help">
          The first {MAX_BLOCKS} blocks; <Link href="/blocks">all blocks</Link>.
        </p>
      ) : null}

      <Decisions />
    </section>
  )
}

/** Utilisation per domain and family. */
function DomainsCard({
  usages,
  names,
}: {
  readonly usages: readonly DomainUsage[]
  readonly names: ReadonlyMap<string, string>
}) {
  return (
    <div className="card">
      <h2>Domains</h2>
      {usages.length === 0 ? (
        <p className="empty">No domain yet.</p>
      ) : (
        <DataTable columns={['Domain', 'Family', 'Pooled', 'Allocated', 'Utilisation']}>
          {usages.flatMap((u) =>
            u.families.map((f) => (
              <tr key={`${u.domain}-${f.family}`}>
                <td>{names.get(u.domain) ?? u.domain}</td>
                <td>{f.family}</td>
                <td>{count(f.pooled)}</td>
                <td>{count(f.allocated)}</td>
                <td>
                  <Meter
                    value={f.utilisation}
                    label={`${names.get(u.domain) ?? u.domain} ${f.family}`}
                  />
                </td>
              </tr>
            )),
          )}
        </DataTable>
      )}
    </div>
  )
}

/** Open alerts of the device loop. */
function AlertsCard() {
  const alerts = useQuery({
    queryKey: ['alerts'],
    queryFn: () => call(api.GET('/api/v1/alerts', { params: { query: { limit: 50 } } })),
  })
  const items = alerts.data?.items ?? []
  return (
    <div className="card">
      <h2>Alerts</h2>
      <Loading error={alerts.error} pending={alerts.isPending} what="alerts" />
      {alerts.isSuccess && items.length === 0 ? <p className="empty">No open alert.</p> : null}
      {items.length > 0 ? (
        <ul className="alerts">
          {items.map((a) => (
            <li key={a.id}>
              <span className="badge badge-warn">{a.kind}</span> {a.message}{' '}
              <small>{dateTime(a.raisedAt)}</small>
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  )
}

/** Pools with their usage now. */
function PoolsTable({ pools }: { readonly pools: readonly PoolUsage[] }) {
  return (
    <DataTable
      columns={['Pool', 'Family', 'Total', 'Allocated', 'Free', 'Largest free', 'Utilisation']}
    >
      {pools.map((p) => (
        <tr key={p.pool}>
          <td>
            <Link href={`/pools/${encodeURIComponent(p.pool)}`}>{p.pool}</Link>
          </td>
          <td>{p.family}</td>
          <td>{count(p.total)}</td>
          <td>{count(p.allocated)}</td>
          <td>{count(p.free)}</td>
          <td>{p.largestFree ?? '—'}</td>
          <td>
            <Meter value={p.utilisation} label={`pool ${p.pool}`} />
          </td>
        </tr>
      ))}
    </DataTable>
  )
}

/** Blocks with their usage now. */
function BlocksTable({
  blocks,
  usages,
  names,
}: {
  readonly blocks: readonly { id: string; domain: string; space: string; family: string }[]
  readonly usages: readonly BlockUsage[]
  readonly names: ReadonlyMap<string, string>
}) {
  if (blocks.length === 0) return <p className="empty">No block yet.</p>
  const byBlock = new Map(usages.map((u) => [u.block, u]))
  return (
    <DataTable columns={['Block', 'Domain', 'Pooled', 'Allocated', 'Utilisation']}>
      {blocks.map((b) => {
        const u = byBlock.get(b.space) ?? byBlock.get(b.id)
        return (
          <tr key={b.id}>
            <td>
              <code>{b.space}</code>
            </td>
            <td>{names.get(b.domain) ?? b.domain}</td>
            <td>{u === undefined ? '…' : count(u.pooled)}</td>
            <td>{u === undefined ? '…' : count(u.allocated)}</td>
            <td>
              {u === undefined ? '…' : <Meter value={u.utilisation} label={`block ${b.space}`} />}
            </td>
          </tr>
        )
      })}
    </DataTable>
  )
}

/** The policy engine's recent decisions, newest first, from the tail of the event log. */
function Decisions() {
  const recent = useQuery({
    queryKey: ['events', 'decisions'],
    queryFn: async () => {
      const res = await fetch('/healthz')
      const head = ((await res.json()) as { events?: number }).events ?? 0
      const page = await call(
        api.GET('/api/v1/events', {
          params: {
            query: { after: String(Math.max(0, head - DECISION_WINDOW)), limit: DECISION_WINDOW },
          },
        }),
      )
      return page.items.filter(isDecision).reverse().slice(0, 20)
    },
  })
  const items = recent.data ?? []
  return (
    <>
      <h2>Recent decisions of the policy engine</h2>
      <Loading error={recent.error} pending={recent.isPending} what="decisions" />
      {recent.isSuccess && items.length === 0 ? (
        <p className="empty">No decision among the last {DECISION_WINDOW} events.</p>
      ) : null}
      {items.length > 0 ? (
        <DataTable columns={['When', 'Action', 'Object', 'Why']}>
          {items.map((e) => (
            <tr key={e.seq}>
              <td>{dateTime(e.at)}</td>
              <td>
                <code>{e.action}</code>
              </td>
              <td>
                {e.objectType === 'grant' && e.objectId !== null ? (
                  <Link href={`/grants/${encodeURIComponent(e.objectId)}`}>
                    {prefixOf(e) ?? e.objectId}
                  </Link>
                ) : (
                  `${e.objectType} ${e.objectId ?? ''}`
                )}
              </td>
              <td>{e.reason ?? '—'}</td>
            </tr>
          ))}
        </DataTable>
      ) : null}
    </>
  )
}
