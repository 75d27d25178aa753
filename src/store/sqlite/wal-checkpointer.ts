/**
 * Checkpoints the SQLite write-ahead log on a worker thread. better-sqlite3 is synchronous: a
 * checkpoint that runs inside a commit (SQLite's automatic checkpoint) stops the whole event loop
 * for as long as it copies pages back into the database — hundreds of milliseconds once the log
 * is large. Here a second connection on a worker thread runs `PRAGMA wal_checkpoint(PASSIVE)`
 * every `intervalMs`: passive checkpoints never wait for or block the writer, and the writer
 * starts the log over once everything in it is copied.
 *
 * @module
 */

import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'

/** What the worker has done so far. */
export interface CheckpointStats {
  /** Checkpoints run. */
  readonly runs: number
  /** Log frames copied back into the database in total. */
  readonly frames: number
  /** The last error, if the last checkpoint failed. */
  readonly lastError: string | null
}

// The worker's code: CommonJS, given the better-sqlite3 path by the parent.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads')
const Database = require(workerData.module)
const db = new Database(workerData.file, { fileMustExist: true })
db.pragma('busy_timeout = 0')
let runs = 0
let frames = 0
const tick = () => {
  let lastError = null
  try {
    const r = db.pragma('wal_checkpoint(PASSIVE)')[0]
    runs++
    frames += r && r.checkpointed > 0 ? r.checkpointed : 0
  } catch (e) {
    lastError = String(e && e.message ? e.message : e)
  }
  parentPort.postMessage({ runs, frames, lastError })
}
const timer = setInterval(tick, workerData.intervalMs)
parentPort.on('message', (m) => {
  if (m === 'now') tick()
  if (m === 'stop') {
    clearInterval(timer)
    try { tick() } finally { db.close(); parentPort.close() }
  }
})
`

/** A worker thread checkpointing one database file. */
export class WalCheckpointer {
  readonly #worker: Worker
  #stats: CheckpointStats = { runs: 0, frames: 0, lastError: null }
  readonly #exited: Promise<void>
  #waiters: (() => void)[] = []

  /** Starts checkpointing `file` (which must exist, in WAL mode) every `intervalMs`. */
  constructor(file: string, intervalMs = 500) {
    const module = createRequire(import.meta.url).resolve('better-sqlite3')
    this.#worker = new Worker(WORKER, { eval: true, workerData: { file, module, intervalMs } })
    this.#worker.unref()
    this.#worker.on('message', (s: CheckpointStats) => {
      this.#stats = s
      for (const w of this.#waiters.splice(0)) w()
    })
    this.#exited = new Promise((resolve) => {
      this.#worker.once('exit', () => {
        resolve()
      })
      this.#worker.once('error', (e) => {
        this.#stats = { ...this.#stats, lastError: e.message }
      })
    })
  }

  /** What the worker has done so far. */
  get stats(): CheckpointStats {
    return this.#stats
  }

  /** Runs a checkpoint now and resolves with the stats after it. */
  now(): Promise<CheckpointStats> {
    return new Promise((resolve) => {
      this.#waiters.push(() => {
        resolve(this.#stats)
      })
      this.#worker.postMessage('now')
    })
  }

  /** Runs a last checkpoint and stops the worker. */
  async stop(): Promise<void> {
    this.#worker.postMessage('stop')
    const timeout = setTimeout(() => void this.#worker.terminate(), 5000)
    await this.#exited
    clearTimeout(timeout)
  }
}
