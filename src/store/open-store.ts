/**
 * Opens the store a configuration names: PostgreSQL when a `postgres://` URL is given, otherwise
 * SQLite in the data directory.
 *
 * @module
 */

import { mkdirSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { CasmError } from '../errors/casm-error.js'
import type { Store } from '../coordinator/store.js'
import { PostgresDriver } from './postgres/postgres-driver.js'
import { SqlStore } from './sql-store.js'
import { SqliteDriver } from './sqlite/sqlite-driver.js'

/** Where the data lives. */
export interface StoreConfig {
  /** `postgres://...`: use PostgreSQL. */
  readonly databaseUrl?: string | undefined
  /** Directory of the SQLite file (`casm.db`) and of the admin token. */
  readonly dataDir: string
}

/** The URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url)
    if (u.password !== '') u.password = '***'
    return u.toString()
  } catch {
    return 'postgres://(unparsable URL)'
  }
}

/** Opens (and creates) the store; does not migrate. */
export function openStore(config: StoreConfig): Store {
  const url = config.databaseUrl
  if (url !== undefined && url !== '') {
    if (!/^postgres(ql)?:\/\//.test(url)) {
      throw new CasmError(
        'CASM_ERR_VALIDATION',
        `DATABASE_URL must start with postgres:// (got ${redactUrl(url)})`,
      )
    }
    return new SqlStore(new PostgresDriver({ url }), redactUrl(url))
  }
  const dir = resolve(config.dataDir)
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const file = join(dir, 'casm.db')
  const sync = process.env['CASM_SQLITE_SYNC']?.toUpperCase()
  if (sync !== undefined && sync !== 'FULL' && sync !== 'NORMAL') {
    throw new CasmError(
      'CASM_ERR_VALIDATION',
      `CASM_SQLITE_SYNC must be FULL or NORMAL, not '${sync}'`,
    )
  }
  return new SqlStore(
    new SqliteDriver({ file, ...(sync === undefined ? {} : { synchronous: sync }) }),
    file,
  )
}
