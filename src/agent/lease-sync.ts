/**
 * Lease replay on the agent's side (RF-4.3.3.4): keeps the coordinator's copy of the device's
 * leases current, and gives a replacement DHCP server its subscribers' leases back.
 *
 * - Every `intervalMs` it asks the backend for the live leases of the held grants and uploads
 *   one snapshot per grant (`PUT /api/v1/agent/leases`), grants without a lease included, so the
 *   coordinator's copy of a grant that emptied empties too.
 * - At start, and whenever the backend says its server came back without leases
 *   (`needsReplay`, e.g. Kea restarted on an empty lease database or a rebuilt box), it fetches
 *   the stored leases (`GET /api/v1/agent/leases`) and hands them to the backend's `replay`.
 *
 * Backend calls go through the agent's serial queue (the backend never sees two calls at
 * once); the HTTP calls do not, so a slow coordinator holds up nothing else.
 *
 * @module
 */

import { type LeaseInput, MAX_LEASES_PER_UPLOAD, type StoredLease } from '../domain/device-lease.js'
import type { AgentLogger } from './agent-logger.js'
import type { Backend } from './backends/backend.js'
import { sleep } from './backoff.js'

/** The coordinator calls lease sync needs (`CoordinatorClient` has them). */
export interface LeaseArchiveClient {
  uploadLeases(
    body: {
      readonly grants: readonly { readonly grant: string; readonly leases: readonly LeaseInput[] }[]
    },
    signal?: AbortSignal,
  ): Promise<unknown>
  fetchLeases(
    query?: { readonly grant?: string },
    signal?: AbortSignal,
  ): Promise<{ readonly leases: readonly StoredLease[] }>
}

/** Options of {@link LeaseSync}. */
export interface LeaseSyncOptions {
  readonly backend: Backend
  readonly client: LeaseArchiveClient
  readonly log: AgentLogger
  /** Runs a backend call when no other backend call runs (the agent's serial queue). */
  readonly serial: <T>(fn: () => Promise<T>) => Promise<T>
  /** The grant ids the device holds now (a snapshot per grant, empty ones too). */
  readonly heldGrants: () => readonly string[]
  /** Between uploads, ms (0: no uploads, replay only). */
  readonly intervalMs: number
  /** `auto`: replay into a server that came back empty; `never`: upload only. */
  readonly replay: 'auto' | 'never'
  /** How often to ask the backend whether its server came back empty, ms (default 5,000, or the upload interval if shorter). */
  readonly checkMs?: number
  readonly clock?: () => number
}

/** True when the backend can take part in lease replay. */
export function supportsLeases(
  backend: Backend,
): backend is Backend & Required<Pick<Backend, 'leases' | 'needsReplay' | 'replay'>> {
  return (
    backend.leases !== undefined &&
    backend.needsReplay !== undefined &&
    backend.replay !== undefined
  )
}

/**
 * Uploads leases on a timer and replays them when the server needs them.
 *
 * @example
 * ```ts
 * const sync = new LeaseSync({ backend, client, log, serial, heldGrants, intervalMs: 60_000, replay: 'auto' })
 * await sync.replayIfNeeded('start')
 * void sync.run(signal)
 * ```
 */
export class LeaseSync {
  readonly #o: LeaseSyncOptions
  #nextUploadAt = 0

  constructor(options: LeaseSyncOptions) {
    this.#o = options
  }

  /** Replays stored leases when the backend's server lost its own. Never throws. */
  async replayIfNeeded(reason: string, signal?: AbortSignal): Promise<void> {
    const { backend, client, log, serial } = this.#o
    if (this.#o.replay === 'never' || !supportsLeases(backend)) return
    try {
      if (!(await serial(() => backend.needsReplay()))) return
      const { leases } = await client.fetchLeases({}, signal)
      // Even with nothing stored: replaying ends the wait, and uploads start again.
      const result = await serial(() => backend.replay(leases))
      log.info('lease-replay', { reason, stored: leases.length, ...result })
    } catch (error) {
      log.warn('lease-replay-failed', { reason, error: (error as Error).message })
    }
  }

  /** Uploads the current leases of every held grant. Never throws. */
  async upload(signal?: AbortSignal): Promise<void> {
    const { backend, client, log, serial } = this.#o
    if (!supportsLeases(backend)) return
    try {
      const held = this.#o.heldGrants()
      if (held.length === 0) return
      // A server that came back without its leases would overwrite the archive with nothing.
      if (this.#o.replay === 'auto' && (await serial(() => backend.needsReplay()))) {
        log.warn('lease-upload-held', {
          reason: 'the server restarted and waits for its lease replay',
        })
        return
      }
      const leases = await serial(() => backend.leases())
      const byGrant = new Map<string, LeaseInput[]>(held.map((g) => [g, []]))
      for (const { grant, ...lease } of leases) byGrant.get(grant)?.push(lease)
      // Snapshots are per grant: as many uploads as it takes, each under the coordinator's limit.
      let batch: { grant: string; leases: LeaseInput[] }[] = []
      let size = 0
      for (const [grant, list] of byGrant) {
        if (size + list.length > MAX_LEASES_PER_UPLOAD && batch.length > 0) {
          await client.uploadLeases({ grants: batch }, signal)
          batch = []
          size = 0
        }
        batch.push({ grant, leases: list })
        size += list.length
      }
      if (batch.length > 0) await client.uploadLeases({ grants: batch }, signal)
      log.info('leases-uploaded', { grants: byGrant.size, leases: leases.length })
    } catch (error) {
      log.warn('lease-upload-failed', { error: (error as Error).message })
    }
  }

  /** Runs until `signal` aborts: replay checks every few seconds, uploads every interval. */
  async run(signal: AbortSignal): Promise<void> {
    const clock = this.#o.clock ?? Date.now
    const every = Math.min(
      this.#o.checkMs ?? 5_000,
      this.#o.intervalMs > 0 ? this.#o.intervalMs : Number.POSITIVE_INFINITY,
    )
    this.#nextUploadAt = clock() + every
    while (!signal.aborted) {
      await sleep(every, signal)
      if (signal.aborted as boolean) break
      await this.replayIfNeeded('server restarted', signal)
      if (this.#o.intervalMs > 0 && clock() >= this.#nextUploadAt) {
        this.#nextUploadAt = clock() + this.#o.intervalMs
        await this.upload(signal)
      }
    }
  }
}
