/**
 * The SQLite driver's write-ahead log is checkpointed by its worker thread, not inside commits:
 * the log is copied back while the writer goes on, and the log file starts over instead of
 * growing without end.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { SqliteDriver } from './sqlite-driver.js'

describe('sqlite driver: WAL checkpoints on a worker thread', () => {
  const dir = mkdtempSync(join(tmpdir(), 'casm-wal-'))
  after(() => rmSync(dir, { recursive: true, force: true }))

  it('commits never checkpoint; the worker does, and the log stays bounded', async () => {
    const file = join(dir, 'wal.db')
    const d = new SqliteDriver({ file, checkpointIntervalMs: 60_000 })
    try {
      const auto = await d.writeTransaction((tx) => tx.all('PRAGMA wal_autocheckpoint'))
      assert.deepEqual(auto, [{ wal_autocheckpoint: 0 }], 'no checkpoint inside a commit')
      await d.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB)')
      const blob = Buffer.alloc(8192, 7)
      const write = async (n: number) => {
        for (let i = 0; i < n; i++)
          await d.writeTransaction((tx) => tx.run('INSERT INTO t (b) VALUES (?)', [blob]))
      }
      await write(200)
      const before = d.checkpoints.stats.frames
      const s = await d.checkpoints.now()
      assert.equal(s.lastError, null)
      assert.ok(s.frames > before, `the worker copied the log back (${s.frames} frames)`)
      const size = statSync(`${file}-wal`).size
      // Everything is copied: the next writes start the log over instead of appending.
      for (let round = 0; round < 5; round++) {
        await write(200)
        await d.checkpoints.now()
      }
      assert.ok(
        statSync(`${file}-wal`).size <= size * 1.5,
        `the log stays bounded (${statSync(`${file}-wal`).size} vs ${size})`,
      )
      const rows = await d.all('SELECT count(*) AS n FROM t')
      assert.deepEqual(rows, [{ n: 1200 }])
    } finally {
      await d.close()
    }
  })
})
