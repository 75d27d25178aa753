/**
 * The built casm (`node bin/casm.js serve`, the console from `dist/web`) for the console's
 * browser tests, and a store preloaded with many grants for the tests of big inventories.
 *
 * @module
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

/**
 * Fails with what to do when the build the browser tests need is missing: the CLI (`dist/cli`)
 * and the console (`dist/web/index.html`), both made by `npm run build`.
 */
export function assertBuilt(): void {
  for (const file of ['dist/cli/main.js', 'dist/web/index.html']) {
    if (!existsSync(join(ROOT, file)))
      throw new Error(
        `${file} is missing: run \`npm run build\` before the console's browser tests`,
      )
  }
}

/** A running `node bin/casm.js serve`. */
export interface ConsoleServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string
  /** The admin token of the data directory. */
  readonly token: string
  /** Everything the process printed so far. */
  output(): string
  /** SIGTERM, SIGKILL after 5 s; resolves once the process is gone. */
  stop(): Promise<void>
}

/** Starts the built `casm serve` on a free port of 127.0.0.1; resolves once it listens. */
export async function startConsoleServer(dataDir: string): Promise<ConsoleServer> {
  assertBuilt()
  const env: NodeJS.ProcessEnv = { ...process.env, CASM_DATA: dataDir }
  delete env['DATABASE_URL']
  const child: ChildProcess = spawn(
    process.execPath,
    [join(ROOT, 'bin/casm.js'), 'serve', '--listen', '127.0.0.1:0', '--data', dataDir],
    { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let out = ''
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()))
  let gone = false
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      gone = true
      resolve()
    }),
  )
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`casm serve did not start in 60 s:\n${out}`))
    }, 60_000)
    const check = (): void => {
      const m = /serving on http:\/\/127\.0\.0\.1:(\d+)/.exec(out)
      if (m === null) return
      clearTimeout(timer)
      resolve(Number(m[1]))
    }
    child.stdout?.on('data', check)
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`casm serve exited with ${String(code)}:\n${out}`))
    })
  })
  return {
    url: `http://127.0.0.1:${port}`,
    token: readFileSync(join(dataDir, 'admin-token'), 'utf8').trim(),
    output: () => out,
    async stop() {
      if (gone) return
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
      await exited
      clearTimeout(timer)
    },
  }
}

export { type GrantFixture, preloadGrants } from './grant-fixture.js'
