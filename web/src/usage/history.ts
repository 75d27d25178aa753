/**
 * The coordinator's usage history (a sample of every pool and device every 5 minutes, kept 7
 * days), read for the charts and the forecasts and merged with what the page samples live
 * (`mergeSamples` in `./samples.ts`).
 *
 * @module
 */

import { useQuery } from '@tanstack/react-query'
import { useMemo } from 'react'
import { api, call } from '../api/client'
import { type Sample, fromHistory } from './series'

/** How far back the charts look by default. */
export const HISTORY_SINCE_MS = 24 * 3_600_000
/** The window of a forecast over the history (its trend over the last 6 hours). */
export const FORECAST_WINDOW_MS = 6 * 3_600_000
/** The history is read again this often while a page is open (it grows every 5 minutes). */
export const HISTORY_REFRESH_MS = 60_000

/** `since` of a history request: `ms` before now, rounded to the minute. */
export function sinceOf(ms: number): string {
  return new Date(Math.floor((Date.now() - ms) / 60_000) * 60_000).toISOString()
}

/** The usage history of a pool, as chart samples (empty while it loads or when it fails). */
export function usePoolHistory(pool: string, sinceMs = HISTORY_SINCE_MS): readonly Sample[] {
  const since = sinceOf(sinceMs)
  const q = useQuery({
    queryKey: ['usage-history', 'pool', pool, sinceMs],
    refetchInterval: HISTORY_REFRESH_MS,
    queryFn: () =>
      call(
        api.GET('/api/v1/pools/{pool}/usage/history', {
          params: { path: { pool }, query: { since } },
        }),
      ),
  })
  return useMemo(() => fromHistory(q.data?.items ?? []), [q.data])
}

/** The usage history of a device in one family, as chart samples. */
export function useDeviceHistory(device: string, family: string): readonly Sample[] {
  const since = sinceOf(HISTORY_SINCE_MS)
  const q = useQuery({
    queryKey: ['usage-history', 'device', device, family],
    refetchInterval: HISTORY_REFRESH_MS,
    queryFn: () =>
      call(
        api.GET('/api/v1/devices/{device}/usage/history', {
          params: {
            path: { device },
            query: { since, family: family as 'ipv4' | 'ipv6' | 'mac' },
          },
        }),
      ),
  })
  return useMemo(() => fromHistory(q.data?.items ?? [], family), [q.data, family])
}
