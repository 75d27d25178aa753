/**
 * `npm run bench -- NAME [CASE...]`: runs benchmark NAME and prints one JSON line per result on
 * stdout (progress goes to stderr). Each case runs in a child process of its own so that its
 * memory figures are its own; a case's baseline runs in that same child.
 *
 * @module
 */

import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { BenchResult } from './measure.js'

type Suite = Record<string, () => BenchResult[] | Promise<BenchResult[]>>

const SUITES: Record<string, () => Promise<Suite>> = {
  alloc: async () => (await import('./alloc.bench.js')).cases,
  api: async () => (await import('./api.bench.js')).cases,
  loop: async () => (await import('./loop.bench.js')).cases,
  kea: async () => (await import('./kea.bench.js')).cases,
  map: async () => (await import('./map.bench.js')).cases,
  sim: async () => (await import('./sim.bench.js')).cases,
}

async function main(argv: readonly string[]): Promise<number> {
  if (argv[0] === '--child') {
    const [, name = '', caseName = ''] = argv
    const suite = await (SUITES[name] as () => Promise<Suite>)()
    const run = suite[caseName]
    if (run === undefined) throw new Error(`unknown case ${caseName}`)
    for (const line of await run()) process.stdout.write(`${JSON.stringify(line)}\n`)
    return 0
  }
  const [name, ...only] = argv
  const load = name === undefined ? undefined : SUITES[name]
  if (name === undefined || load === undefined) {
    process.stderr.write(
      `usage: npm run bench -- NAME [CASE...]\nbenchmarks: ${Object.keys(SUITES).join(', ')}\n`,
    )
    return 2
  }
  const suite = await load()
  const names = only.length > 0 ? only : Object.keys(suite)
  const unknown = names.filter((n) => !(n in suite))
  if (unknown.length > 0) {
    process.stderr.write(
      `unknown case(s) ${unknown.join(', ')}; ${name} has: ${Object.keys(suite).join(', ')}\n`,
    )
    return 2
  }
  let failed = 0
  for (const caseName of names) {
    const child = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        '--expose-gc',
        '--max-old-space-size=4096',
        fileURLToPath(import.meta.url),
        '--child',
        name,
        caseName,
      ],
      {
        stdio: ['ignore', 'inherit', 'inherit'],
      },
    )
    if (child.status !== 0) {
      process.stderr.write(
        `[bench] case ${caseName} failed (exit ${child.status ?? child.signal})\n`,
      )
      failed++
    }
  }
  return failed === 0 ? 0 : 1
}

process.exitCode = await main(process.argv.slice(2))
