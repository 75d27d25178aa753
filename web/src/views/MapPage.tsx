import { useQuery } from '@tanstack/react-query'
import { useEffect, useRef, useState } from 'react'
import { api, call } from '../api/client'
import { SelectField } from '../components/Inputs'
import { Loading } from '../components/Loading'
import { AddressMap } from '../map/AddressMap'
import { navigate, usePath } from '../router'

/** The block chosen in the query string (`/map?block=<id>`). */
function chosenBlock(): string | null {
  return new URLSearchParams(window.location.search).get('block')
}

/** Redraws of the map follow new events, at most once per this many milliseconds. */
const REDRAW_MS = 5000

/**
 * A counter that follows `seq` (the live poller's last event), at most once per `ms`: the map
 * redraws when the policy engine or an operator changed something, without redrawing a large
 * block every two seconds on a busy system.
 */
function useThrottledKey(seq: number | null, ms: number): number {
  const [key, setKey] = useState(0)
  const last = useRef(0)
  const seen = useRef(seq)
  useEffect(() => {
    if (seq === seen.current) return
    const wait = Math.max(0, last.current + ms - Date.now())
    const timer = setTimeout(() => {
      seen.current = seq
      last.current = Date.now()
      setKey((k) => k + 1)
    }, wait)
    return () => {
      clearTimeout(timer)
    }
  }, [seq, ms])
  return key
}

/** The address map of one block, chosen with the `Block` selector; redrawn as events arrive. */
export function MapPage({ liveSeq }: { readonly liveSeq: number | null }) {
  usePath()
  const refreshKey = useThrottledKey(liveSeq, REDRAW_MS)
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
            <SelectField
              label="Block"
              value={block.id}
              onValue={(id) => {
                navigate(`/map?block=${encodeURIComponent(id)}`, { replace: true })
              }}
              options={items.map((b) => ({ value: b.id, label: b.space }))}
            />
          </div>
          <AddressMap
            key={block.id}
            blockId={block.id}
            refreshKey={refreshKey}
            onSelectGrant={(grant) => {
              navigate(`/grants/${encodeURIComponent(grant)}`)
            }}
          />
        </>
      )}
    </section>
  )
}
