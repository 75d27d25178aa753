/**
 * Serves the web console (built by `npm run build` into `dist/web`) at `/`: its files, with a
 * long cache for the hashed ones under `assets/`, and `index.html` for every client-side route.
 * Paths of the API (`/api`, `/docs`, `/openapi.json`, `/metrics`, `/healthz`) are never the
 * console's: unknown ones answer the API's 404.
 *
 * @module
 */

import { existsSync, statSync } from 'node:fs'
import { join, normalize, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import fastifyStatic from '@fastify/static'
import type { FastifyInstance } from 'fastify'
import { CasmError } from '../errors/casm-error.js'

/** Where `npm run build` puts the console: `dist/web` of the package, wherever casm runs from. */
export const DEFAULT_CONSOLE_DIR = fileURLToPath(new URL('../../dist/web', import.meta.url))

/** Options of {@link consolePlugin}. */
export interface ConsoleOptions {
  /** The built console (default {@link DEFAULT_CONSOLE_DIR}). */
  readonly dir?: string
}

/** Paths that belong to the API, not to the console. */
const RESERVED = /^\/(?:api|docs|openapi\.json|metrics|healthz)(?:[/?]|$)/

/** The page `/` answers while the console has not been built. */
export const NOT_BUILT_PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>casm</title></head>
<body>
<h1>casm</h1>
<p>The web console is not built. Run <code>npm run build</code> and reload this page.</p>
<p>The API answers at <a href="/docs">/docs</a> meanwhile.</p>
</body>
</html>
`

/** True when `file` is a regular file. */
function isFile(file: string): boolean {
  try {
    return statSync(file).isFile()
  } catch {
    return false
  }
}

/** Registers the console's routes; `GET /*` answers what no other route does. */
export async function consolePlugin(app: FastifyInstance, options: ConsoleOptions): Promise<void> {
  const dir = options.dir ?? DEFAULT_CONSOLE_DIR
  await app.register(fastifyStatic, { root: dir, serve: false })

  app.get('/*', { schema: { hide: true } }, (req, reply) => {
    const raw = req.url.split('?')[0] ?? '/'
    let path: string
    try {
      path = decodeURIComponent(raw)
    } catch {
      throw new CasmError('CASM_ERR_NOT_FOUND', `no file ${raw} in the console`)
    }
    if (RESERVED.test(path)) {
      throw new CasmError('CASM_ERR_NOT_FOUND', `no route GET ${path}; see /openapi.json`)
    }
    const index = join(dir, 'index.html')
    if (!existsSync(index)) {
      return reply
        .type('text/html; charset=utf-8')
        .header('cache-control', 'no-store')
        .send(NOT_BUILT_PAGE)
    }
    const rel = normalize(path).replace(/^[/\\]+/, '')
    const file = join(dir, rel)
    if (rel !== '' && !rel.startsWith('..') && file.startsWith(dir + sep) && isFile(file)) {
      const hashed = rel.startsWith(`assets${sep}`)
      return reply.sendFile(rel, {
        cacheControl: true,
        maxAge: hashed ? '365d' : 0,
        immutable: hashed,
      })
    }
    // A missing file (a name with an extension) is a 404; anything else is a route of the app.
    if (/\.[A-Za-z0-9]+$/.test(rel)) {
      throw new CasmError('CASM_ERR_NOT_FOUND', `no file ${path} in the console`)
    }
    reply.header('cache-control', 'no-cache')
    return reply.sendFile('index.html', { cacheControl: false })
  })
}
