import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { LeaseInput, StoredLease } from '../domain/device-lease.js'
import type { AgentLogger } from './agent-logger.js'
import type { Backend, LeaseReplayResult } from './backends/backend.js'
import { type LeaseArchiveClient, LeaseSync } from './lease-sync.js'

const lease = (grant: string, n: number): StoredLease => ({
  grant,
  kind: 'v4',
  address: `100.64.0.${n}`,
  hwAddress: '02:00:00:00:00:01',
  validLifetime: 600,
  cltt: 1_800_000_000,
})

/** A backend whose server lost its leases until replay runs; counts its calls. */
function backend(held: StoredLease[]) {
  let pending = true
  const replays: number[] = []
  const b = {
    name: 'test',
    leases: () => Promise.resolve(held),
    needsReplay: () => Promise.resolve(pending),
    replay: (leases: readonly StoredLease[]): Promise<LeaseReplayResult> => {
      replays.push(leases.length)
      pending = false
      return Promise.resolve({
        added: leases.length,
        present: 0,
        skipped: 0,
        failed: 0,
        errors: [],
      })
    },
  } as unknown as Backend
  return { b, replays }
}

function client(stored: StoredLease[], failFetches = 0) {
  const uploads: { grant: string; leases: readonly LeaseInput[] }[][] = []
  let fetches = 0
  const c: LeaseArchiveClient = {
    uploadLeases: (body) => {
      uploads.push([...body.grants])
      return Promise.resolve({})
    },
    fetchLeases: () => {
      fetches++
      return fetches <= failFetches
        ? Promise.reject(new Error('coordinator unreachable'))
        : Promise.resolve({ leases: stored })
    },
  }
  return { c, uploads }
}

const log: AgentLogger = { info: () => undefined, warn: () => undefined, error: () => undefined }
const serial = <T>(fn: () => Promise<T>): Promise<T> => fn()

/** A lease sync of `b` and `c` holding `held`, uploading every second. */
const syncOf = (b: Backend, c: LeaseArchiveClient, held: string[], replay: 'auto' | 'never') =>
  new LeaseSync({
    backend: b,
    client: c,
    log,
    serial,
    heldGrants: () => held,
    intervalMs: 1000,
    replay,
  })

describe('lease sync', () => {
  it('holds uploads while a replay is pending, and tries the replay again after a failure', async () => {
    const { b, replays } = backend([lease('gr_1', 5)])
    const { c, uploads } = client([lease('gr_1', 9)], 1)
    const sync = syncOf(b, c, ['gr_1'], 'auto')
    await sync.replayIfNeeded('start')
    assert.deepEqual(replays, [], 'the coordinator was away: nothing replayed')
    await sync.upload()
    assert.equal(uploads.length, 0, 'no upload may overwrite the archive before the replay')
    await sync.replayIfNeeded('again')
    assert.deepEqual(replays, [1])
    await sync.upload()
    assert.equal(uploads.length, 1)
    assert.deepEqual(
      uploads[0]?.map((g) => [g.grant, g.leases.length]),
      [['gr_1', 1]],
    )
  })

  it('sends a snapshot of every held grant, empty ones too, in uploads under the limit', async () => {
    const big = Array.from({ length: 60_000 }, (_, i) => lease('gr_a', i))
    const more = Array.from({ length: 60_000 }, (_, i) => lease('gr_b', i))
    const { b } = backend([...big, ...more])
    const { c, uploads } = client([])
    const sync = syncOf(b, c, ['gr_a', 'gr_b', 'gr_c'], 'auto')
    await sync.replayIfNeeded('start')
    await sync.upload()
    assert.deepEqual(
      uploads.map((u) => u.map((g) => [g.grant, g.leases.length])),
      [
        [['gr_a', 60_000]],
        [
          ['gr_b', 60_000],
          ['gr_c', 0],
        ],
      ],
    )
  })

  it('uploads without waiting when replay is off', async () => {
    const { b, replays } = backend([lease('gr_1', 5)])
    const { c, uploads } = client([])
    const sync = syncOf(b, c, ['gr_1'], 'never')
    await sync.replayIfNeeded('start')
    await sync.upload()
    assert.deepEqual(replays, [])
    assert.equal(uploads.length, 1)
  })
})
