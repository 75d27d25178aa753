/**
 * The SQLite driver: better-sqlite3 12 on a file in WAL mode. Two connections: one writer (every
 * write transaction is `BEGIN IMMEDIATE`, so another process writing the same file waits on the
 * busy timeout instead of interleaving) and one reader, which sees committed data only. The WAL
 * is checkpointed on a worker thread, never inside a commit.
 *
 * @module
 */

import Database from 'better-sqlite3'
import { AsyncMutex } from '../async-mutex.js'
import { WalCheckpointer } from './wal-checkpointer.js'
import type { SqlDriver, SqlExecutor, SqlRow, SqlValue } from '../sql-driver.js'

type Db = Database.Database

/** Log frames (pages) after which the driver lets the log start over: about 32 MB at 4 KiB. */
export const WAL_RESET_FRAMES = 8192

/** Options of {@link SqliteDriver}. */
export interface SqliteDriverOptions {
  /** Database file path. */
  readonly file: string
  /**
   * `NORMAL` (default): a commit is durable once it returns against a crash or kill of the process
   * (the WAL is written before the commit returns); a power loss may lose the last commits.
   * `FULL`: every commit also waits for fsync, surviving power loss, at a large cost in throughput
   * because better-sqlite3 waits for it on the main thread.
   */
  readonly synchronous?: 'FULL' | 'NORMAL'
  /** How often the WAL is checkpointed on a worker thread (default 250 ms). */
  readonly checkpointIntervalMs?: number
  /** Log frames after which writes wait for one checkpoint so the log starts over (default 8192). */
  readonly walResetFrames?: number
}

function bind(params: readonly SqlValue[]): unknown[] {
  return params.map((p) => (typeof p === 'boolean' ? (p ? 1 : 0) : p))
}

class Connection implements SqlExecutor {
  readonly db: Db
  readonly #statements = new Map<string, Database.Statement>()

  constructor(db: Db) {
    this.db = db
  }

  #prepare(sql: string): Database.Statement {
    let st = this.#statements.get(sql)
    if (st === undefined) {
      st = this.db.prepare(sql)
      this.#statements.set(sql, st)
    }
    return st
  }

  all(sql: string, params: readonly SqlValue[] = []): Promise<SqlRow[]> {
    return Promise.resolve(this.#prepare(sql).all(...bind(params)) as SqlRow[])
  }

  get(sql: string, params: readonly SqlValue[] = []): Promise<SqlRow | undefined> {
    return Promise.resolve(this.#prepare(sql).get(...bind(params)) as SqlRow | undefined)
  }

  run(sql: string, params: readonly SqlValue[] = []): Promise<number> {
    return Promise.resolve(this.#prepare(sql).run(...bind(params)).changes)
  }

  exec(sql: string): Promise<void> {
    this.db.exec(sql)
    return Promise.resolve()
  }
}

function open(file: string, synchronous: string, readonly: boolean, resetFrames: number): Db {
  const db = new Database(file, { readonly: false, fileMustExist: readonly })
  db.pragma('journal_mode = WAL')
  db.pragma(`synchronous = ${synchronous}`)
  db.pragma('foreign_keys = ON')
  db.pragma('busy_timeout = 10000')
  // Checkpoints run on a worker thread (WalCheckpointer), not inside commits; this only bounds the
  // log should the worker stop.
  db.pragma(`wal_autocheckpoint = ${4 * resetFrames}`)
  return db
}

/** SQLite through better-sqlite3. */
export class SqliteDriver implements SqlDriver {
  readonly dialect = 'sqlite' as const
  readonly #writer: Connection
  #reader: Connection | undefined
  readonly #file: string
  readonly #synchronous: string
  readonly #mutex = new AsyncMutex()
  readonly #checkpointer: WalCheckpointer
  #resetting = false
  readonly #resetFrames: number

  constructor(options: SqliteDriverOptions) {
    this.#file = options.file
    this.#synchronous = options.synchronous ?? 'NORMAL'
    this.#resetFrames = options.walResetFrames ?? WAL_RESET_FRAMES
    this.#writer = new Connection(open(this.#file, this.#synchronous, false, this.#resetFrames))
    // A log left large (a crash, a bulk load) slows every read until it starts over: copy it
    // back now, before anything else uses the file.
    this.#writer.db.pragma('wal_checkpoint(TRUNCATE)')
    this.#checkpointer = new WalCheckpointer(
      this.#file,
      options.checkpointIntervalMs ?? 250,
      (s) => {
        if (s.log >= this.#resetFrames && !this.#resetting) this.#resetLog()
      },
    )
  }

  /**
   * Holds writes for one checkpoint, so that it copies the whole log and the next write starts
   * the log over. Reads and everything else go on meanwhile.
   */
  #resetLog(): void {
    this.#resetting = true
    void this.#mutex
      .run(() => this.#checkpointer.now())
      .finally(() => {
        this.#resetting = false
      })
  }

  /** What the WAL checkpointer has done (for tests and metrics). */
  get checkpoints(): WalCheckpointer {
    return this.#checkpointer
  }

  /** The reader opens lazily: after migrations created the file's tables. */
  #read(): Connection {
    this.#reader ??= new Connection(open(this.#file, this.#synchronous, true, this.#resetFrames))
    return this.#reader
  }

  all(sql: string, params?: readonly SqlValue[]): Promise<SqlRow[]> {
    return this.#read().all(sql, params)
  }

  get(sql: string, params?: readonly SqlValue[]): Promise<SqlRow | undefined> {
    return this.#read().get(sql, params)
  }

  run(sql: string, params?: readonly SqlValue[]): Promise<number> {
    return this.#mutex.run(() => this.#writer.run(sql, params))
  }

  exec(sql: string): Promise<void> {
    return this.#mutex.run(() => {
      this.#writer.db.exec(sql)
      return Promise.resolve()
    })
  }

  writeTransaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return this.#mutex.run(async () => {
      this.#writer.db.exec('BEGIN IMMEDIATE')
      try {
        const result = await fn(this.#writer)
        this.#writer.db.exec('COMMIT')
        return result
      } catch (error) {
        if (this.#writer.db.inTransaction) this.#writer.db.exec('ROLLBACK')
        throw error
      }
    })
  }

  async close(): Promise<void> {
    await this.#checkpointer.stop()
    this.#reader?.db.close()
    this.#writer.db.close()
  }
}
