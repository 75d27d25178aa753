/**
 * Live updates: the console polls the event log (`GET /api/v1/events?after=<last seq>`) every
 * two seconds and, when something happened — the policy engine granted or drained, someone
 * changed a pool — refetches what the open views show. No reload needed.
 *
 * @module
 */

import { useQueryClient } from '@tanstack/react-query'
import { useEffect, useState } from 'react'
import { api, call } from './api/client'
import type { CasmEvent, EventPage } from './api/types'

/** How often the event log is polled. */
export const POLL_MS = 2000

/** What the live poller knows. */
export interface LiveState {
  /** Sequence number of the last event seen (null before the first poll). */
  readonly seq: number | null
  /** When the last poll answered (epoch ms), null before. */
  readonly at: number | null
  /** The last events seen (newest last, at most 50). */
  readonly recent: readonly CasmEvent[]
  /** The poll failed last time. */
  readonly failing: boolean
}

/** Where the log ends now: the event count of `/healthz` (every event has a sequence number). */
async function head(): Promise<number> {
  const res = await fetch('/healthz')
  const body = (await res.json()) as { events?: unknown }
  return typeof body.events === 'number' ? body.events : 0
}

/**
 * Polls the event log while mounted and invalidates the cached queries (except `keep`) when new
 * events arrive; `tenant` restarts it when a root admin switches tenant.
 */
export function useLiveUpdates(tenant: string): LiveState {
  const client = useQueryClient()
  const [state, setState] = useState<LiveState>({
    seq: null,
    at: null,
    recent: [],
    failing: false,
  })
  useEffect(() => {
    let stopped = false
    let after: number | null = null
    let timer: ReturnType<typeof setTimeout> | undefined
    const tick = async (): Promise<void> => {
      try {
        after ??= await head()
        let got: CasmEvent[] = []
        for (let i = 0; i < 10; i++) {
          const page: EventPage = await call(
            api.GET('/api/v1/events', {
              params: { query: { after: String(after), limit: 1000 } },
            }),
          )
          got = [...got, ...page.items]
          const lastSeq: number | undefined = page.items[page.items.length - 1]?.seq
          if (lastSeq !== undefined) after = lastSeq
          if (page.next === null) break
        }
        if (stopped) return
        if (got.length > 0) {
          await client.invalidateQueries({
            predicate: (q) => q.queryKey[0] !== 'whoami' && q.queryKey[0] !== 'events-verify',
          })
        }
        setState((s) => ({
          seq: after,
          at: Date.now(),
          recent: got.length === 0 ? s.recent : [...s.recent, ...got].slice(-50),
          failing: false,
        }))
      } catch {
        if (!stopped) setState((s) => ({ ...s, failing: true }))
      } finally {
        if (!stopped) timer = setTimeout(() => void tick(), POLL_MS)
      }
    }
    void tick()
    return () => {
      stopped = true
      if (timer !== undefined) clearTimeout(timer)
    }
  }, [client, tenant])
  return state
}
