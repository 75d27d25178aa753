import assert from 'node:assert/strict'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { STATE_FILE, StateStore } from './state-store.js'

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'casm-state-'))
  try {
    await fn(dir)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

describe('agent state store', () => {
  it('starts fresh, then reloads exactly what it saved', () =>
    withDir(async (dir) => {
      const store = new StateStore(join(dir, 'nested', 'state'))
      const first = await store.load()
      assert.equal(first.source, 'new')
      assert.match(first.state.instance, /^[0-9a-f]{12}$/)
      const s = first.state
      s.lastEventId = 42
      s.grants.push({
        grant: 'gr_1',
        prefix: '100.64.8.0/27',
        pool: 'bng',
        family: 'ipv4',
        state: 'draining',
        expiresAt: null,
        pinned: false,
      })
      s.outbox.push({
        txn: `${s.instance}-1`,
        message: { v: 1, type: 'pool-request', txn: `${s.instance}-1` },
        queuedAt: 5,
      })
      await store.save(s)
      const again = await new StateStore(join(dir, 'nested', 'state')).load()
      assert.equal(again.source, 'loaded')
      assert.deepEqual(again.state, s)
    }))

  it('replaces the file atomically and leaves no temporary file', () =>
    withDir(async (dir) => {
      const store = new StateStore(dir)
      const { state } = await store.load()
      await Promise.all(
        Array.from({ length: 25 }, (_, i) => {
          state.lastEventId = i
          return store.save(structuredClone(state))
        }),
      )
      assert.deepEqual(await readdir(dir), [STATE_FILE])
      const saved = JSON.parse(await readFile(join(dir, STATE_FILE), 'utf8')) as {
        lastEventId: number
      }
      assert.equal(saved.lastEventId, 24, 'saves land in the order they were made')
    }))

  it('moves an unreadable file aside and starts fresh', () =>
    withDir(async (dir) => {
      await writeFile(join(dir, STATE_FILE), '{"version": 1, "instance": ')
      const loaded = await new StateStore(dir).load()
      assert.equal(loaded.source, 'unreadable')
      assert.equal(loaded.state.lastEventId, 0)
      assert.ok(loaded.movedTo?.includes('unreadable'))
      assert.deepEqual((await readdir(dir)).length, 1)
      await writeFile(join(dir, STATE_FILE), '{"version": 2}')
      assert.equal((await new StateStore(dir).load()).source, 'unreadable')
    }))
})
