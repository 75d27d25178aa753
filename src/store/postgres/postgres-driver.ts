/**
 * The PostgreSQL driver: node-postgres with a connection pool. A write transaction takes a
 * transaction-scoped advisory lock first, so writers of every coordinator sharing the database
 * run one at a time; reads use any pooled connection.
 *
 * @module
 */

import pg from 'pg'
import type { SqlDriver, SqlExecutor, SqlRow, SqlValue } from '../sql-driver.js'

/** Advisory lock key of casm's writer ("casm" in ASCII). */
export const WRITER_LOCK_KEY = 0x6361736d

/** Options of {@link PostgresDriver}. */
export interface PostgresDriverOptions {
  /** `postgres://user@host:port/database`. */
  readonly url: string
  /** Pool size (default 8). */
  readonly max?: number
}

/** Numbers `?` placeholders as `$1, $2, ...` (our SQL has no `?` inside literals). */
function number(sql: string): string {
  let n = 0
  return sql.replace(/\?/g, () => `$${++n}`)
}

/** A named prepared statement per SQL text: PostgreSQL parses and plans it once per connection. */
const cache = new Map<string, { name: string; text: string }>()
function numbered(sql: string): { name: string; text: string } {
  let out = cache.get(sql)
  if (out === undefined) {
    out = { name: `casm_${cache.size}`, text: number(sql) }
    cache.set(sql, out)
  }
  return out
}

/** Reads BIGINT as a JS number: casm stores epoch milliseconds and counters there. */
const types = {
  getTypeParser(oid: number, format?: string): (value: string) => unknown {
    if (oid === 20) return (v: string) => Number(v)
    const parser = pg.types.getTypeParser as (
      oid: number,
      format: string,
    ) => (value: string) => unknown
    return parser(oid, format ?? 'text')
  },
}

class Executor implements SqlExecutor {
  readonly #q: pg.Pool | pg.PoolClient

  constructor(q: pg.Pool | pg.PoolClient) {
    this.#q = q
  }

  async all(sql: string, params: readonly SqlValue[] = []): Promise<SqlRow[]> {
    const r = await this.#q.query({ ...numbered(sql), values: params as unknown[] })
    return r.rows as SqlRow[]
  }

  async get(sql: string, params: readonly SqlValue[] = []): Promise<SqlRow | undefined> {
    const rows = await this.all(sql, params)
    return rows[0]
  }

  async run(sql: string, params: readonly SqlValue[] = []): Promise<number> {
    const statement = params.length === 0 ? { text: sql } : numbered(sql)
    const r = await this.#q.query({ ...statement, values: params as unknown[] })
    return r.rowCount ?? 0
  }

  async exec(sql: string): Promise<void> {
    await this.#q.query(sql)
  }
}

/** PostgreSQL through node-postgres. */
export class PostgresDriver implements SqlDriver {
  readonly dialect = 'postgres' as const
  readonly #pool: pg.Pool
  readonly #executor: Executor

  constructor(options: PostgresDriverOptions) {
    this.#pool = new pg.Pool({ connectionString: options.url, max: options.max ?? 8, types })
    // An idle client's error (the server went away) must not crash the process.
    this.#pool.on('error', () => undefined)
    this.#executor = new Executor(this.#pool)
  }

  all(sql: string, params?: readonly SqlValue[]): Promise<SqlRow[]> {
    return this.#executor.all(sql, params)
  }

  get(sql: string, params?: readonly SqlValue[]): Promise<SqlRow | undefined> {
    return this.#executor.get(sql, params)
  }

  run(sql: string, params?: readonly SqlValue[]): Promise<number> {
    return this.#executor.run(sql, params)
  }

  async exec(sql: string): Promise<void> {
    await this.#pool.query(sql)
  }

  async writeTransaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    const client = await this.#pool.connect()
    try {
      // One round trip for both (a simple query may hold several statements).
      await client.query(`BEGIN; SELECT pg_advisory_xact_lock(${WRITER_LOCK_KEY})`)
      const result = await fn(new Executor(client))
      await client.query('COMMIT')
      return result
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined)
      throw error
    } finally {
      client.release()
    }
  }

  #closed = false

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.#pool.end()
  }
}
