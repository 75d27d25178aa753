import { createTestDatabase } from '../../test/support/postgres.js'
import { openStore } from '../store/open-store.js'
import { runApiSuite } from './api.case.js'

runApiSuite('postgres', async () => {
  const db = await createTestDatabase()
  if (typeof db === 'string') return db
  return {
    store: openStore({ dataDir: '.', databaseUrl: db.url }),
    cleanup: () => db.drop(),
    databaseUrl: db.url,
  }
})
