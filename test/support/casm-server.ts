/**
 * Runs a real `casm serve` process for a test: on a free port, with its own data directory or a
 * PostgreSQL URL, and a small JSON client for it.
 *
 * @module
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

/** A running server. */
export interface CasmServer {
  readonly url: string
  readonly token: string
  readonly process: ChildProcess
  /** Everything the process printed so far. */
  output(): string
  /** Sends SIGKILL and waits for the exit. */
  kill9(): Promise<void>
  /** Sends SIGTERM and waits for the exit. */
  stop(): Promise<void>
}

/** Starts `casm serve`; resolves once it listens. */
export async function startServer(options: {
  dataDir: string
  databaseUrl?: string
  token?: string
}): Promise<CasmServer> {
  const env: NodeJS.ProcessEnv = { ...process.env, CASM_DATA: options.dataDir }
  if (options.databaseUrl === undefined) delete env['DATABASE_URL']
  else env['DATABASE_URL'] = options.databaseUrl
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(ROOT, 'src/cli/main.ts'),
      'serve',
      '--listen',
      '127.0.0.1:0',
      '--data',
      options.dataDir,
    ],
    {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  let out = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr.on('data', (d: Buffer) => (out += d.toString()))
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`casm serve did not start in 30 s:\n${out}`)),
      30_000,
    )
    const check = (): void => {
      const m = /serving on http:\/\/127\.0\.0\.1:(\d+)/.exec(out)
      if (m !== null) {
        clearTimeout(timer)
        resolve(Number(m[1]))
      }
    }
    child.stdout.on('data', check)
    child.once('exit', (code) =>
      reject(new Error(`casm serve exited with ${String(code)}:\n${out}`)),
    )
  })
  const token = options.token ?? readFileSync(join(options.dataDir, 'admin-token'), 'utf8').trim()
  return {
    url: `http://127.0.0.1:${port}`,
    token,
    process: child,
    output: () => out,
    async kill9() {
      child.kill('SIGKILL')
      await exited
    },
    async stop() {
      child.kill('SIGTERM')
      await exited
    },
  }
}

/** A JSON request to the server; returns status and parsed body. */
export async function api(
  server: { url: string; token: string },
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${server.token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  const text = await res.text()
  return { status: res.status, body: text === '' ? null : (JSON.parse(text) as unknown) }
}
