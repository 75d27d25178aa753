/**
 * Checkpoints the SQLite write-ahead log on a worker thread. better-sqlite3 is synchronous: a
 * checkpoint that runs inside a commit (SQLite's automatic checkpoint) stops the whole event loop
 * for as long as it copies pages back into the database — hundreds of milliseconds once the log
 * is large. Here a second connection on a worker thread runs `PRAGMA wal_checkpoint(PASSIVE)`
 * every `intervalMs`: passive checkpoints never wait for or block the writer. The log starts over
 * only when a writer begins after everything in it was copied, which a busy writer never lets
 * happen; so once the log passes a size, the driver holds its writes for one more checkpoint
 * (short: the worker has copied nearly everything already) and the next write starts it over.
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
  /** Frames in the log at the last checkpoint. */
  readonly log: number
  /** Of those, frames copied back into the database. */
  readonly checkpointed: number
}

// The worker's code: CommonJS, given the better-sqlite3 path by the parent.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads')
const Database = require(workerData.module)
const db = new Database(workerData.file, { fileMustExist: true })
db.pragma('busy_timeout = 0')
let runs = 0
let frames = 0
let done = 0
const tick = (request) => {
  let lastError = null
  let log = 0
  let checkpointed = 0
  try {
    const r = db.pragma('wal_checkpoint(PASSIVE)')[0]
    runs++
    log = r && r.log > 0 ? r.log : 0
    checkpointed = r && r.checkpointed > 0 ? r.checkpointed : 0
    // Frames copied by this run: the log starts over after a reset.
    frames += checkpointed >= done ? checkpointed - done : checkpointed
    done = checkpointed
  } catch (e) {
    lastError = String(e && e.message ? e.message : e)
  }
  parentPort.postMessage({ runs, frames, lastError, log, checkpointed, request })
}
const timer = setInterval(() => tick(null), workerData.intervalMs)
parentPort.on('message', (m) => {
  if (typeof m === 'number') tick(m)
  if (m === 'stop') {
    clearInterval(timer)
    try { tick(null) } finally { db.close(); parentPort.close() }
  }
})
`

/** A worker thread checkpointing one database file. */
export class WalCheckpointer {
  readonly #worker: Worker
  #stats: CheckpointStats = { runs: 0, frames: 0, lastError: null, log: 0, checkpointed: 0 }
  readonly #exited: Promise<void>
  readonly #waiters = new Map<number, () => void>()
  #requests = 0

  /**
   * Starts checkpointing `file` (which must exist, in WAL mode) every `intervalMs`; `onStats` hears
   * the outcome of every checkpoint.
   */
  constructor(file: string, intervalMs = 500, onStats?: (s: CheckpointStats) => void) {
    const module = createRequire(import.meta.url).resolve('better-sqlite3')
    this.#worker = new Worker(WORKER, { eval: true, workerData: { file, module, intervalMs } })
    this.#worker.unref()
    this.#worker.on('message', (m: CheckpointStats & { request: number | null }) => {
      const { request, ...stats } = m
      this.#stats = stats
      if (request !== null) {
        this.#waiters.get(request)?.()
        this.#waiters.delete(request)
      }
      onStats?.(stats)
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
    const id = ++this.#requests
    return new Promise((resolve) => {
      this.#waiters.set(id, () => {
        resolve(this.#stats)
      })
      this.#worker.postMessage(id)
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
