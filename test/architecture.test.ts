/**
 * Layering rules of design.md, checked on the import statements of src/: arrows point one way
 * (api → coordinator → domain → alloc → ip), and the pure layers do no I/O.
 */
import assert from 'node:assert/strict'
import { readFileSync, readdirSync, statSync } from 'node:fs'
import { builtinModules } from 'node:module'
import { join, relative } from 'node:path'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'

const SRC = fileURLToPath(new URL('../src', import.meta.url))
const WEB = fileURLToPath(new URL('../web/src', import.meta.url))

/**
 * What the web console may import from src/: the generated API types, the error codes and the
 * address math (pure, no node built-ins: the PURE rule below checks it).
 */
const WEB_MAY_IMPORT = ['client', 'errors', 'ip']

/** For each top-level folder of src/, the folders it may import from (besides itself). */
const ALLOWED: Record<string, readonly string[]> = {
  errors: [],
  ip: ['errors'],
  alloc: ['errors', 'ip'],
  domain: ['errors', 'ip', 'alloc'],
  coordinator: ['errors', 'ip', 'alloc', 'domain'],
  // Stores implement the interface the coordinator declares (and read its entity types).
  store: ['errors', 'ip', 'alloc', 'domain', 'coordinator'],
  api: ['errors', 'ip', 'alloc', 'domain', 'coordinator', 'store'],
  // Kea's management API, lease and configuration forms: what the Kea backend of the agent uses.
  kea: ['errors', 'ip', 'domain'],
  // The device agent speaks the protocol; it never reaches into the coordinator or its store.
  agent: ['errors', 'ip', 'alloc', 'domain', 'kea'],
  // NetBox and phpIPAM files into casm's import document (pure parsing and mapping).
  import: ['errors', 'ip', 'domain'],
  // The typed REST client (types generated from the OpenAPI document): only HTTP, no server code.
  client: ['errors'],
  // The fleet simulator drives the coordinator in process, as devices would (with the agent's
  // seeded random source).
  sim: ['errors', 'ip', 'alloc', 'domain', 'coordinator', 'store', 'agent'],
  cli: [
    'sim',
    'errors',
    'ip',
    'alloc',
    'domain',
    'coordinator',
    'store',
    'api',
    'agent',
    'kea',
    'client',
    'import',
  ],
}

/** Layers that must stay pure: no node built-ins that do I/O. */
const PURE = new Set(['errors', 'ip', 'alloc', 'domain', 'import'])

function files(dir: string, suffix = /\.ts$/): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name)
    return statSync(p).isDirectory()
      ? files(p, suffix)
      : suffix.test(p) && !/\.test\.tsx?$/.test(p)
        ? [p]
        : []
  })
}

function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8')
  return [...text.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/gm)].map(
    (m) => m[1] as string,
  )
}

/** Every module a file names: `import … from`, `export … from`, `import '…'` and `import('…')`. */
function allImports(file: string): string[] {
  const text = readFileSync(file, 'utf8')
  return [
    ...imports(file),
    ...[...text.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm)].map((m) => m[1] as string),
    ...[...text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1] as string),
  ]
}

describe('architecture', () => {
  const all = files(SRC)

  it('every source folder has a declared layer', () => {
    const folders = new Set(all.map((f) => relative(SRC, f).split('/')[0] as string))
    for (const f of folders)
      assert.ok(f in ALLOWED, `src/${f} has no layer in test/architecture.test.ts`)
  })

  it('imports only point down the layers', () => {
    for (const file of all) {
      const rel = relative(SRC, file)
      const layer = rel.split('/')[0] as string
      for (const spec of imports(file)) {
        if (!spec.startsWith('.')) {
          if (PURE.has(layer)) {
            assert.ok(
              !spec.startsWith('node:'),
              `${rel} imports ${spec}; src/${layer} must stay free of I/O`,
            )
          }
          continue
        }
        const target = relative(SRC, join(file, '..', spec)).split('/')[0] as string
        assert.ok(!target.startsWith('..'), `${rel} imports ${spec} from outside src/`)
        if (target === layer || target.endsWith('.js')) continue
        assert.ok(
          ALLOWED[layer]?.includes(target),
          `${rel} (layer ${layer}) may not import from src/${target}`,
        )
      }
    }
  })

  it('relative imports carry the .js suffix that Node ESM needs', () => {
    for (const file of all) {
      for (const spec of imports(file)) {
        if (spec.startsWith('.')) assert.match(spec, /\.js$/, `${relative(SRC, file)}: ${spec}`)
      }
    }
  })

  it('the web console imports only the API types, error codes and address math of src/, and no node built-in', () => {
    const web = files(WEB, /\.tsx?$/)
    assert.ok(web.length > 0, 'web/src has files')
    const builtins = new Set(builtinModules)
    for (const file of web) {
      const rel = relative(WEB, file)
      for (const spec of allImports(file)) {
        assert.ok(
          !spec.startsWith('node:') && !builtins.has(spec.split('/')[0] as string),
          `web/src/${rel} imports the node built-in ${spec}; the console runs in a browser`,
        )
        if (!spec.startsWith('.')) continue
        const target = join(file, '..', spec)
        const inWeb = relative(WEB, target)
        if (!inWeb.startsWith('..')) continue
        const inSrc = relative(SRC, target)
        assert.ok(
          !inSrc.startsWith('..') && WEB_MAY_IMPORT.includes(inSrc.split('/')[0] as string),
          `web/src/${rel} imports ${spec}; from outside web/src it may import only src/${WEB_MAY_IMPORT.join('/ and src/')}/`,
        )
      }
    }
  })
})
