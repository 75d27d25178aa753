/**
 * A fresh PostgreSQL database per test file, on the local server (or TEST_DATABASE_URL).
 *
 * When PostgreSQL cannot be reached the suite is skipped with the reason — except under
 * `CI=true`, where that is a failure: CI must prove the PostgreSQL store.
 *
 * @module
 */
import { randomBytes } from 'node:crypto'
import pg from 'pg'

/** The server tests connect to; its database is only used to create and drop test databases. */
export const ADMIN_URL =
  process.env['TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test'

/** A database created for one test file. */
export interface TestDatabase {
  readonly url: string
  drop(): Promise<void>
}

/**
 * Creates a new empty database. Returns a string (the reason) instead when PostgreSQL is not
 * reachable and CI is not set, so the caller can skip; throws under CI.
 */
export async function createTestDatabase(): Promise<TestDatabase | string> {
  const admin = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 3000 })
  try {
    await admin.connect()
  } catch (e) {
    const reason = `PostgreSQL at ${ADMIN_URL} is unreachable: ${e instanceof Error ? e.message : String(e)}`
    if (process.env['CI'] === 'true')
      throw new Error(`${reason} (CI=true: the PostgreSQL suite must run)`, { cause: e })
    return reason
  }
  const name = `casm_t_${randomBytes(6).toString('hex')}`
  await admin.query(`CREATE DATABASE ${name}`)
  await admin.end()
  const url = new URL(ADMIN_URL)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: ADMIN_URL })
      await c.connect()
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      await c.end()
    },
  }
}
