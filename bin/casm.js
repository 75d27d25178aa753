#!/usr/bin/env node
// The casm command: runs the compiled CLI (npm run build makes dist/).
import('../dist/cli/main.js').catch((error) => {
  if (error?.code === 'ERR_MODULE_NOT_FOUND') {
    console.error(
      'casm: dist/ is missing; run `npm run build` (or `npm start -- ...` to run from source)',
    )
    process.exit(70)
  }
  throw error
})
