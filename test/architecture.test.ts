/**
 * Layering rules of design.md, checked on the import statements of src/: arrows point one way
 * (api → coordinator → domain → alloc → ip), and the pure layers do no I/O.
 */
import assert from 'node:assert/strict'
import { readFileSync, readdirSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'

const SRC = fileURLToPath(new URL('../src', import.meta.url))

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
  cli: [
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

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name)
    return statSync(p).isDirectory()
      ? files(p)
      : p.endsWith('.ts') && !p.endsWith('.test.ts')
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
})
