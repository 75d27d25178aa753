import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openStore } from '../store/open-store.js'
import { runApiSuite } from './api.case.js'

runApiSuite('sqlite', () => {
  const dir = mkdtempSync(join(tmpdir(), 'casm-api-'))
  return Promise.resolve({
    store: openStore({ dataDir: dir }),
    cleanup: () => {
      rmSync(dir, { recursive: true, force: true })
      return Promise.resolve()
    },
  })
})
