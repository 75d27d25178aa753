/**
 * The store conformance suite on SQLite, in a new temporary directory per store.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openStore } from '../open-store.js'
import { runStoreSuite } from '../store.case.js'

runStoreSuite('sqlite', () => {
  const dir = mkdtempSync(join(tmpdir(), 'casm-store-'))
  const store = openStore({ dataDir: dir })
  return Promise.resolve({
    store,
    cleanup: async () => {
      await store.close()
      rmSync(dir, { recursive: true, force: true })
    },
  })
})
