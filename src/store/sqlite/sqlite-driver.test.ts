/**
 * The SQLite driver's write-ahead log is checkpointed by its worker thread, not inside commits:
 * the log is copied back while the writer goes on, and under a writer that never stops the log
 * still starts over once it passes its size, instead of growing without end.
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

  it('the worker copies the log back while the writer goes on', async () => {
    const file = join(dir, 'wal.db')
    const d = new SqliteDriver({ file, checkpointIntervalMs: 60_000, walResetFrames: 100_000 })
    try {
      const auto = await d.writeTransaction((tx) => tx.all('PRAGMA wal_autocheckpoint'))
      assert.deepEqual(
        auto,
        [{ wal_autocheckpoint: 400_000 }],
        'commits checkpoint only as a backstop',
      )
      await d.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB)')
      const blob = Buffer.alloc(8192, 7)
      for (let i = 0; i < 200; i++)
        await d.writeTransaction((tx) => tx.run('INSERT INTO t (b) VALUES (?)', [blob]))
      const s = await d.checkpoints.now()
      assert.equal(s.lastError, null)
      assert.ok(s.frames >= 400, `the worker copied the log back (${s.frames} frames)`)
      assert.equal(s.checkpointed, s.log, 'all of it')
    } finally {
      await d.close()
    }
  })

  it('a writer that never pauses still lets the log start over', async () => {
    const file = join(dir, 'busy.db')
    // A small log limit (256 frames, 1 MiB) so the test writes little.
    const d = new SqliteDriver({ file, checkpointIntervalMs: 20, walResetFrames: 256 })
    try {
      await d.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB)')
      const blob = Buffer.alloc(2048, 7)
      let biggest = 0
      const until = Date.now() + 3000
      let rows = 0
      while (Date.now() < until) {
        await d.writeTransaction(async (tx) => {
          for (let i = 0; i < 20; i++) await tx.run('INSERT INTO t (b) VALUES (?)', [blob])
        })
        rows += 20
        biggest = Math.max(biggest, statSync(`${file}-wal`).size)
        // A server's event loop turns between requests; this loop must let it too.
        await new Promise((resolve) => setImmediate(resolve))
      }
      const written = rows * 2048
      assert.ok(written > 20 * 1024 * 1024, `wrote ${written} bytes`)
      // Without the reset the log holds everything written (every page, plus headers).
      assert.ok(
        biggest < written / 2,
        `the log started over (at most ${biggest} bytes) while ${written} bytes were written`,
      )
      const n = await d.all('SELECT count(*) AS n FROM t')
      assert.deepEqual(n, [{ n: rows }])
    } finally {
      await d.close()
    }
  })
})
