/**
 * The store conformance suite on PostgreSQL, in a new database per store. Skipped with the reason
 * when PostgreSQL is unreachable; under CI=true that fails instead (see test/support/postgres.ts).
 */
import { createTestDatabase } from '../../../test/support/postgres.js'
import { openStore } from '../open-store.js'
import { runStoreSuite } from '../store.case.js'

runStoreSuite('postgres', async () => {
  const db = await createTestDatabase()
  if (typeof db === 'string') return db
  const store = openStore({ dataDir: '', databaseUrl: db.url })
  return {
    store,
    cleanup: async () => {
      await store.close()
      await db.drop()
    },
  }
})
