import { useQueries, useQuery, useQueryClient } from '@tanstack/react-query'
import { useState } from 'react'
import { api, call } from '../api/client'
import { DataTable } from '../components/DataTable'
import { Loading } from '../components/Loading'
import { Meter } from '../components/Meter'
import { Toolbar } from '../components/Toolbar'
import { Link } from '../router'
import { useSession } from '../session'
import { PoolDialog } from './PoolForm'

/** The pools of the tenant with their policy and usage; operators create them. */
export function Pools() {
  const s = useSession()
  const client = useQueryClient()
  const [creating, setCreating] = useState(false)
  const pools = useQuery({ queryKey: ['pools'], queryFn: () => call(api.GET('/api/v1/pools')) })
  const domains = useQuery({
    queryKey: ['domains'],
    queryFn: () => call(api.GET('/api/v1/domains')),
  })
  const usage = useQueries({
    queries: (domains.data?.items ?? []).map((d) => ({
      queryKey: ['usage', 'domain', d.id],
      queryFn: () =>
        call(api.GET('/api/v1/domains/{domain}/usage', { params: { path: { domain: d.id } } })),
    })),
  })
  const byPool = new Map(
    usage.flatMap((q) => q.data?.pools ?? []).map((u) => [u.pool, u.utilisation]),
  )
  const names = new Map((domains.data?.items ?? []).map((d) => [d.id, d.name]))
  return (
    <section>
      <h1>Pools</h1>
      {s.canEdit ? (
        <Toolbar
          actions={[
            {
              label: 'New pool',
              onClick: () => {
                setCreating(true)
              },
            },
          ]}
        />
      ) : null}
      <Loading error={pools.error} pending={pools.isPending} what="pools" />
      {pools.isSuccess && pools.data.items.length === 0 ? (
        <p className="empty">No pool yet.</p>
      ) : null}
      {pools.isSuccess && pools.data.items.length > 0 ? (
        <DataTable
          columns={['Name', 'Domain', 'Kind', 'Space', 'Unit', 'Watermarks', 'Utilisation']}
        >
          {pools.data.items.map((p) => {
            const u = byPool.get(p.name)
            return (
              <tr key={p.id}>
                <td>
                  <Link href={`/pools/${encodeURIComponent(p.name)}`}>{p.name}</Link>
                </td>
                <td>{names.get(p.domain) ?? p.domain}</td>
                <td>{p.kind}</td>
                <td>
                  <code>{p.space.slice(0, 3).join(', ')}</code>
                  {p.space.length > 3 ? ` and ${p.space.length - 3} more` : ''}
                </td>
                <td>/{p.policy.unit.default}</td>
                <td>
                  {p.policy.lowWatermark} – {p.policy.highWatermark}
                </td>
                <td>{u === undefined ? '…' : <Meter value={u} label={`pool ${p.name}`} />}</td>
              </tr>
            )
          })}
        </DataTable>
      ) : null}
      {creating ? (
        <PoolDialog
          onClose={() => {
            setCreating(false)
          }}
          onSaved={async () => {
            await client.invalidateQueries({ queryKey: ['pools'] })
            await client.invalidateQueries({ queryKey: ['usage'] })
          }}
        />
      ) : null}
    </section>
  )
}
