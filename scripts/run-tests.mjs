#!/usr/bin/env node
// Runs every *.test.ts under src/ and test/ with node's test runner through tsx.
// Node 20 cannot expand globs itself, so the files are listed here.
// Usage: npm test [-- PATH...]   (only test files under the given paths)
import { readdirSync, statSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'
import { spawnSync } from 'node:child_process'

const root = resolve(import.meta.dirname, '..')
const wanted = process.argv.slice(2).map((p) => resolve(p))
const roots = wanted.length > 0 ? wanted : ['src', 'test'].map((d) => join(root, d))

function collect(path, out) {
  let st
  try {
    st = statSync(path)
  } catch {
    return
  }
  if (st.isFile()) {
    if (path.endsWith('.test.ts')) out.push(path)
    return
  }
  for (const name of readdirSync(path)) {
    if (name === 'node_modules' || name.startsWith('.')) continue
    collect(join(path, name), out)
  }
}

const files = []
for (const r of roots) collect(r, files)
files.sort()
if (files.length === 0) {
  console.error(`no *.test.ts files under ${roots.map((r) => relative(root, r)).join(', ')}`)
  process.exit(1)
}
const args = [
  '--import',
  'tsx',
  '--test',
  '--test-reporter=spec',
  ...files.map((f) => relative(root, f)),
]
const result = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' })
process.exit(result.status ?? 1)
