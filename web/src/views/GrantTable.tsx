import { keepPreviousData, useQuery } from '@tanstack/react-query'
import { api, call } from '../api/client'
import type { Grant } from '../api/types'
import { DataTable } from '../components/DataTable'
import { Loading } from '../components/Loading'
import { Pager, useCursorPager } from '../components/Pager'
import { dateTime } from '../format'
import { Link } from '../router'

/** Grants per page: the API pages them with its cursor, so 100,000 grants cost one page. */
export const GRANT_PAGE = 50

/** Filters of {@link GrantTable}, as the API takes them. */
export interface GrantFilter {
  readonly pool?: string
  readonly device?: string
  readonly state?: Grant['state']
}

/** Props of {@link GrantTable}. */
export interface GrantTableProps {
  readonly filter: GrantFilter
  /** The caption of the table. */
  readonly caption: string
}

/** Names of pools and devices by id, to show names instead of ids. */
export function useNames(): { pools: Map<string, string>; devices: Map<string, string> } {
  const pools = useQuery({ queryKey: ['pools'], queryFn: () => call(api.GET('/api/v1/pools')) })
  const devices = useQuery({
    queryKey: ['devices'],
    queryFn: () => call(api.GET('/api/v1/devices')),
  })
  return {
    pools: new Map((pools.data?.items ?? []).map((p) => [p.id, p.name])),
    devices: new Map((devices.data?.items ?? []).map((d) => [d.id, d.name])),
  }
}

/** A page of grants from `GET /api/v1/grants` with Previous / Next. */
export function GrantTable({ filter, caption }: GrantTableProps) {
  const pager = useCursorPager(JSON.stringify(filter))
  const names = useNames()
  const grants = useQuery({
    queryKey: ['grants', filter, pager.after],
    placeholderData: keepPreviousData,
    queryFn: () =>
      call(
        api.GET('/api/v1/grants', {
          params: {
            query: {
              ...filter,
              limit: GRANT_PAGE,
              ...(pager.after === undefined ? {} : { after: pager.after }),
            },
          },
        }),
      ),
  })
  const items = grants.data?.items ?? []
  return (
    <div>
      <Loading error={grants.error} pending={grants.isPending} what="grants" />
      {grants.isSuccess && items.length === 0 && pager.page === 1 ? (
        <p className="empty">No grant.</p>
      ) : null}
      {items.length > 0 ? (
        <DataTable
          columns={['Prefix', 'State', 'Pool', 'Device', 'Created', 'Expires']}
          caption={caption}
        >
          {items.map((g) => (
            <tr key={g.id}>
              <td>
                <Link href={`/grants/${encodeURIComponent(g.id)}`}>{g.prefix}</Link>
              </td>
              <td>
                <span className={`badge state-${g.state}`}>{g.state}</span>
              </td>
              <td>
                <Link href={`/pools/${encodeURIComponent(names.pools.get(g.pool) ?? g.pool)}`}>
                  {names.pools.get(g.pool) ?? g.pool}
                </Link>
              </td>
              <td>
                <Link
                  href={`/devices/${encodeURIComponent(names.devices.get(g.device) ?? g.device)}`}
                >
                  {names.devices.get(g.device) ?? g.device}
                </Link>
              </td>
              <td>{dateTime(g.createdAt)}</td>
              <td>{dateTime(g.expiresAt)}</td>
            </tr>
          ))}
        </DataTable>
      ) : null}
      {grants.isSuccess && (items.length > 0 || pager.page > 1) ? (
        <Pager pager={pager} next={grants.data.next} count={items.length} noun="grants" />
      ) : null}
    </div>
  )
}
