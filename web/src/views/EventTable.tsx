import { keepPreviousData, useQuery } from '@tanstack/react-query'
import { api, call } from '../api/client'
import { DataTable } from '../components/DataTable'
import { Loading } from '../components/Loading'
import { Pager, useCursorPager } from '../components/Pager'
import { dateTime } from '../format'
import { Link } from '../router'

/** Events per page. */
export const EVENT_PAGE = 50

/** Filters of {@link EventTable}, as the API takes them (exact matches). */
export interface EventFilter {
  readonly object?: string
  readonly action?: string
  readonly actor?: string
  readonly type?: string
}

/** Props of {@link EventTable}. */
export interface EventTableProps {
  readonly filter: EventFilter
  readonly caption: string
}

/** Where an event's object lives in the console, when it has a page. */
function objectHref(type: string, id: string | null): string | null {
  if (id === null) return null
  if (type === 'grant') return `/grants/${encodeURIComponent(id)}`
  if (type === 'pool') return `/pools/${encodeURIComponent(id)}`
  if (type === 'device') return `/devices/${encodeURIComponent(id)}`
  return null
}

/** A page of the event log, oldest first, with Previous / Next. */
export function EventTable({ filter, caption }: EventTableProps) {
  const pager = useCursorPager(JSON.stringify(filter))
  const events = useQuery({
    queryKey: ['events', filter, pager.after],
    placeholderData: keepPreviousData,
    queryFn: () =>
      call(
        api.GET('/api/v1/events', {
          params: {
            query: {
              ...filter,
              limit: EVENT_PAGE,
              ...(pager.after === undefined ? {} : { after: pager.after }),
            },
          },
        }),
      ),
  })
  const items = events.data?.items ?? []
  return (
    <div>
      <Loading error={events.error} pending={events.isPending} what="events" />
      {events.isSuccess && items.length === 0 && pager.page === 1 ? (
        <p className="empty">No event.</p>
      ) : null}
      {items.length > 0 ? (
        <DataTable
          columns={['Seq', 'When', 'Actor', 'Action', 'Object', 'Reason']}
          caption={caption}
        >
          {items.map((e) => {
            const href = objectHref(e.objectType, e.objectId)
            const label = `${e.objectType} ${e.objectId ?? ''}`
            return (
              <tr key={e.seq}>
                <td>{e.seq}</td>
                <td>{dateTime(e.at)}</td>
                <td>
                  <code>{e.actor}</code>
                </td>
                <td>
                  <code>{e.action}</code>
                </td>
                <td>{href === null ? label : <Link href={href}>{label}</Link>}</td>
                <td>{e.reason ?? '—'}</td>
              </tr>
            )
          })}
        </DataTable>
      ) : null}
      {events.isSuccess && (items.length > 0 || pager.page > 1) ? (
        <Pager pager={pager} next={events.data.next} count={items.length} noun="events" />
      ) : null}
    </div>
  )
}
