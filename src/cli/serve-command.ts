/**
 * `casm serve`: runs the coordinator and its HTTP API.
 *
 * @module
 */

import { writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { Command } from 'commander'
import { buildServer } from '../api/server.js'
import { Coordinator } from '../coordinator/coordinator.js'
import { CasmError } from '../errors/casm-error.js'
import { openStore } from '../store/open-store.js'

/** Where `casm serve` listens unless told otherwise. */
export const DEFAULT_LISTEN = '127.0.0.1:8470'
/** Where `casm serve` keeps its SQLite file and admin token unless told otherwise. */
export const DEFAULT_DATA = './data'

/** Parses `host:port`, `:port` or `port`. */
export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[?([^\]]*)\]?:)?(\d{1,5})$/.exec(text.trim())
  const port = m === null ? NaN : Number(m[2])
  if (m === null || port > 65535) {
    throw new CasmError(
      'CASM_ERR_VALIDATION',
      `--listen '${text}' is not host:port (e.g. 127.0.0.1:8470 or 0.0.0.0:8470)`,
    )
  }
  return { host: m[1] === undefined || m[1] === '' ? '127.0.0.1' : m[1], port }
}

/** The file the first start writes the root admin token to. */
export function adminTokenFile(dataDir: string): string {
  return join(resolve(dataDir), 'admin-token')
}

/**
 * Saves the root admin token of a first start in the data directory (mode 0600) and prints it
 * once. Returns the file's path.
 */
export function saveBootstrapToken(
  dataDir: string,
  secret: string,
  print: (text: string) => void,
): string {
  const file = adminTokenFile(dataDir)
  writeFileSync(file, `${secret}\n`, { mode: 0o600 })
  print(
    `casm: first start — created tenant 'default' and a root admin token (shown once):\n\n  ${secret}\n\n` +
      `casm: saved to ${file} (mode 0600). Use it as: Authorization: Bearer <token>\n`,
  )
  return file
}

/** Builds the `serve` command. */
export function serveCommand(): Command {
  return new Command('serve')
    .description(
      'run the coordinator: REST API under /api/v1, docs at /docs, /healthz and /metrics',
    )
    .option(
      '--listen <host:port>',
      'address to listen on (env CASM_LISTEN)',
      process.env['CASM_LISTEN'] ?? DEFAULT_LISTEN,
    )
    .option(
      '--data <dir>',
      'data directory: SQLite file and admin token (env CASM_DATA)',
      process.env['CASM_DATA'] ?? DEFAULT_DATA,
    )
    .option('--log', 'log every request as JSON lines')
    .addHelpText(
      'after',
      '\nStore: SQLite in the data directory, or PostgreSQL when DATABASE_URL=postgres://... is set.',
    )
    .action(async (opts: { listen: string; data: string; log?: boolean }) => {
      const { host, port } = parseListen(opts.listen)
      const store = openStore({ databaseUrl: process.env['DATABASE_URL'], dataDir: opts.data })
      const started = Date.now()
      const { coordinator, bootstrapToken } = await Coordinator.open(store)
      if (bootstrapToken !== undefined) {
        saveBootstrapToken(opts.data, bootstrapToken.secret, (t) => process.stdout.write(t))
      }
      const app = await buildServer(coordinator, { logger: opts.log === true })
      await app.listen({ host, port })
      const bound = app.server.address()
      const shown = typeof bound === 'object' && bound !== null ? bound.port : port
      process.stdout.write(
        `casm: serving on http://${host.includes(':') ? `[${host}]` : host}:${shown} (store: ${store.kind} ${store.location}; docs at /docs) in ${Date.now() - started} ms\n`,
      )
      const warmStart = Date.now()
      void coordinator.warm().then(
        (n) => process.stdout.write(`casm: ${n} pool(s) loaded in ${Date.now() - warmStart} ms\n`),
        (e: unknown) => process.stderr.write(`casm: loading pools failed: ${String(e)}\n`),
      )
      await new Promise<void>((done) => {
        const stop = (signal: string): void => {
          process.stdout.write(`casm: ${signal}: finishing writes and stopping\n`)
          void app
            .close()
            .then(() => coordinator.close())
            .finally(done)
        }
        process.once('SIGINT', () => {
          stop('SIGINT')
        })
        process.once('SIGTERM', () => {
          stop('SIGTERM')
        })
      })
    })
}
