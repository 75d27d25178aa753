import { useQuery } from '@tanstack/react-query'
import { api, call } from '../api/client'
import { Field } from '../components/Field'
import { Loading } from '../components/Loading'
import { AddressMap } from '../map/AddressMap'
import { navigate, usePath } from '../router'

/** The block chosen in the query string (`/map?block=<id>`). */
function chosenBlock(): string | null {
  return new URLSearchParams(window.location.search).get('block')
}

/** The address map of one block, chosen with the `Block` selector. */
export function MapPage() {
  usePath()
  const blocks = useQuery({
    queryKey: ['blocks'],
    queryFn: () => call(api.GET('/api/v1/blocks')),
  })
  const items = blocks.data?.items ?? []
  const wanted = chosenBlock()
  const block = items.find((b) => b.id === wanted) ?? items[0]
  return (
    <section>
      <h1>Address map</h1>
      <Loading error={blocks.error} pending={blocks.isPending} what="blocks" />
      {blocks.isSuccess && items.length === 0 ? (
        <p className="empty">No block yet: create one on the Blocks page.</p>
      ) : null}
      {block === undefined ? null : (
        <>
          <div className="toolbar">
            <Field label="Block">
              {(id) => (
                <select
                  id={id}
                  value={block.id}
                  onChange={(e) => {
                    navigate(`/map?block=${encodeURIComponent(e.target.value)}`, { replace: true })
                  }}
                >
                  {items.map((b) => (
                    <option key={b.id} value={b.id}>
                      {b.space}
                    </option>
                  ))}
                </select>
              )}
            </Field>
          </div>
          <AddressMap
            key={block.id}
            blockId={block.id}
            onSelectGrant={(grant) => {
              navigate(`/grants/${encodeURIComponent(grant)}`)
            }}
          />
        </>
      )}
    </section>
  )
}
