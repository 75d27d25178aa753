import assert from 'node:assert/strict'
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { isCasmError } from '../../errors/casm-error.js'
import { backendConformance } from './backend.case.js'
import { ExecBackend, type ExecBackendOptions } from './exec-backend.js'

const DEMO = fileURLToPath(
  new URL('../../../examples/exec-backend/demo-backend.sh', import.meta.url),
)

/** The demo script with its own state file in a fresh directory. */
async function demo(extra: Partial<ExecBackendOptions> = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'casm-exec-'))
  const options: ExecBackendOptions = {
    script: DEMO,
    env: { DEMO_BACKEND_STATE: join(dir, 'demo.state') },
    recordFile: join(dir, 'exec-backend.json'),
    ...extra,
  }
  return { dir, options, cleanup: () => rm(dir, { recursive: true, force: true }) }
}

backendConformance('exec (examples/exec-backend/demo-backend.sh)', async () => {
  const { options, cleanup } = await demo()
  return {
    backend: new ExecBackend(options),
    reopen: () => new ExecBackend(options),
    cleanup,
  }
})

/** A script in a temp directory with `body` as its bash source. */
async function script(dir: string, body: string): Promise<string> {
  const path = join(dir, 'backend.sh')
  await writeFile(path, `#!/usr/bin/env bash\n${body}\n`)
  await chmod(path, 0o755)
  return path
}

async function rejectsBackend(p: Promise<unknown>, message: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isCasmError(e, 'CASM_ERR_BACKEND'), String(e))
    assert.match(e.message, message)
    return true
  })
}

describe('exec backend', () => {
  it('passes the grant as JSON on stdin and as CASM_* variables', async () => {
    const { dir, cleanup } = await demo()
    try {
      const path = await script(
        dir,
        `{ echo "$1 $CASM_ACTION $CASM_GRANT $CASM_PREFIX $CASM_GRANT_STATE $CASM_POOL $CASM_PLANE"; cat; echo; } >>"${dir}/calls"`,
      )
      const b = new ExecBackend({ script: path, plane: 'up2' })
      await b.start()
      await b.install({ grant: 'gr_1', prefix: '100.64.8.0/27', pool: 'bng', state: 'active' })
      await b.drain({ grant: 'gr_1', prefix: '100.64.8.0/27', state: 'active' })
      const { readFile } = await import('node:fs/promises')
      const lines = (await readFile(join(dir, 'calls'), 'utf8')).trim().split('\n')
      assert.equal(lines[0], 'install install gr_1 100.64.8.0/27 active bng up2')
      assert.deepEqual(JSON.parse(lines[1] ?? ''), {
        grant: 'gr_1',
        prefix: '100.64.8.0/27',
        pool: 'bng',
        state: 'active',
        plane: 'up2',
      })
      assert.equal(lines[2], 'drain drain gr_1 100.64.8.0/27 draining  up2')
    } finally {
      await cleanup()
    }
  })

  it('reads usage from the script, matched by grant or prefix', async () => {
    const { options, cleanup } = await demo()
    try {
      const b = new ExecBackend(options)
      await b.start()
      await b.install({ grant: 'gr_1', prefix: '100.64.8.0/27', state: 'active' })
      await b.install({ prefix: '100.64.9.0/27', state: 'active' })
      const { execFileSync } = await import('node:child_process')
      execFileSync(DEMO, ['set-used', '100.64.8.0/27', '17'], {
        env: { ...process.env, ...options.env },
      })
      assert.deepEqual(await b.usage(), [
        { grant: 'gr_1', prefix: '100.64.8.0/27', used: 17 },
        { prefix: '100.64.9.0/27', used: 0 },
      ])
    } finally {
      await cleanup()
    }
  })

  it('answers holds from its own record when the script exits 64 for it', async () => {
    const { dir, cleanup } = await demo()
    try {
      const path = await script(dir, '[[ "$1" == holds ]] && exit 64; exit 0')
      const options = { script: path, recordFile: join(dir, 'record.json') }
      const b = new ExecBackend(options)
      await b.start()
      await b.install({ grant: 'gr_1', prefix: '100.64.8.0/27', state: 'active' })
      await b.drain({ grant: 'gr_1', prefix: '100.64.8.0/27', state: 'active' })
      assert.deepEqual(await b.holds(), [
        { grant: 'gr_1', prefix: '100.64.8.0/27', state: 'draining' },
      ])
      const again = new ExecBackend(options)
      await again.start()
      assert.equal((await again.holds()).length, 1)
    } finally {
      await cleanup()
    }
  })

  it('turns a failing script into CASM_ERR_BACKEND with its error output', async () => {
    const { dir, cleanup } = await demo()
    try {
      const failing = await script(dir, 'echo "kea: config-set refused" >&2; exit 3')
      await rejectsBackend(
        new ExecBackend({ script: failing }).install({ prefix: '10.0.0.0/24', state: 'active' }),
        /install' exited with status 3: kea: config-set refused/,
      )
      const slow = await script(dir, 'sleep 5')
      await rejectsBackend(
        new ExecBackend({ script: slow, timeoutMs: 200 }).remove({
          prefix: '10.0.0.0/24',
          state: 'active',
        }),
        /ran past its timeout of 0.2 s/,
      )
      const garbage = await script(dir, 'echo "not json"')
      await rejectsBackend(
        new ExecBackend({ script: garbage }).usage(),
        /must print a JSON array; it printed: not json/,
      )
      const negative = await script(
        dir,
        '[[ "$1" == holds ]] && echo \'[{"prefix":"10.0.0.0/24"}]\'; [[ "$1" == usage ]] && echo \'[{"prefix":"10.0.0.0/24","used":-1}]\'; exit 0',
      )
      await rejectsBackend(new ExecBackend({ script: negative }).usage(), /used -1/)
      await rejectsBackend(
        new ExecBackend({ script: join(dir, 'missing.sh') }).holds(),
        /cannot run/,
      )
    } finally {
      await cleanup()
    }
  })
})
