/**
 * The real `casm` command: token create/list/revoke and events verify, on the store directly
 * and over the API of a running server; `serve` refusing bad flags.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'
import { startServer } from '../../test/support/casm-server.js'
import { EXIT } from './exit-codes.js'

const root = fileURLToPath(new URL('../..', import.meta.url))

function casm(
  env: NodeJS.ProcessEnv,
  ...args: string[]
): { code: number; stdout: string; stderr: string } {
  const base = { ...process.env }
  delete base['DATABASE_URL']
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { ...base, ...env },
  })
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr }
}

describe('casm token and casm events, on the store', () => {
  let dir: string
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'casm-cli-'))
  })
  after(() => {
    rmSync(dir, { recursive: true, force: true })
  })

  it('creates, lists and revokes tokens; a fresh store saves its admin token', () => {
    const created = casm(
      {},
      'token',
      'create',
      '--data',
      dir,
      '--name',
      'ops',
      '--role',
      'operator',
      '--json',
    )
    assert.equal(created.code, EXIT.OK, created.stderr)
    assert.match(created.stderr, /first start/, 'the first start says where the admin token went')
    assert.equal(statSync(join(dir, 'admin-token')).mode & 0o777, 0o600)
    const { token, secret } = JSON.parse(created.stdout) as {
      token: { id: string; role: string }
      secret: string
    }
    assert.equal(token.role, 'operator')
    assert.match(secret, /^casm_[A-Za-z0-9_-]{43}$/)

    const listed = casm({}, 'token', 'list', '--data', dir, '--json')
    assert.equal(listed.code, EXIT.OK, listed.stderr)
    const tokens = JSON.parse(listed.stdout) as {
      id: string
      name: string
      revokedAt: number | null
    }[]
    assert.deepEqual(tokens.map((t) => t.name).sort(), ['bootstrap-admin', 'ops'])
    assert.ok(!listed.stdout.includes(secret), 'secrets are never listed')

    const table = casm({}, 'token', 'list', '--data', dir)
    assert.match(table.stdout, /^id\s+name\s+role\s+tenant\s+status/m)

    const revoked = casm({}, 'token', 'revoke', token.id, '--data', dir)
    assert.equal(revoked.code, EXIT.OK, revoked.stderr)
    assert.match(revoked.stdout, new RegExp(`revoked ${token.id}`))
    const after = JSON.parse(
      casm({}, 'token', 'list', '--data', dir, '--json').stdout,
    ) as typeof tokens
    assert.notEqual(after.find((t) => t.id === token.id)?.revokedAt, null)
  })

  it('refuses bad input with exit 2 and unknown ids with exit 3', () => {
    const bad = casm({}, 'token', 'create', '--data', dir, '--name', 'x y', '--role', 'operator')
    assert.equal(bad.code, EXIT.BAD_INPUT)
    assert.match(bad.stderr, /CASM_ERR_VALIDATION/)
    const role = casm({}, 'token', 'create', '--data', dir, '--name', 'x', '--role', 'wizard')
    assert.equal(role.code, EXIT.BAD_INPUT)
    const missing = casm({}, 'token', 'revoke', 'tok_0000000000000000000', '--data', dir)
    assert.equal(missing.code, EXIT.NOT_FOUND)
    assert.match(missing.stderr, /CASM_ERR_NOT_FOUND/)
  })

  it('verifies the event chain and exits 4 once an event was edited', () => {
    const ok = casm({}, 'events', 'verify', '--data', dir)
    assert.equal(ok.code, EXIT.OK, ok.stderr)
    assert.match(ok.stdout, /^ok: \d+ events, chain intact; head \d+ [0-9a-f]{64}$/m)
    const db = new Database(join(dir, 'casm.db'))
    db.prepare("UPDATE event SET actor = 'someone-else' WHERE seq = 2").run()
    db.close()
    const broken = casm({}, 'events', 'verify', '--data', dir, '--json')
    assert.equal(broken.code, EXIT.CONFLICT)
    const result = JSON.parse(broken.stdout) as {
      ok: boolean
      broken: { seq: number; reason: string }
    }
    assert.equal(result.ok, false)
    assert.equal(result.broken.seq, 2)
    assert.match(result.broken.reason, /edited/)
  })
})

describe('casm token and casm events, over the API', () => {
  it('lists and creates tokens and verifies events through a running server', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'casm-cli-remote-'))
    const server = await startServer({ dataDir: dir })
    try {
      const env = { CASM_URL: server.url, CASM_TOKEN: server.token }
      const created = casm(env, 'token', 'create', '--name', 'noc', '--role', 'viewer', '--json')
      assert.equal(created.code, EXIT.OK, created.stderr)
      const listed = JSON.parse(casm(env, 'token', 'list', '--json').stdout) as { name: string }[]
      assert.ok(listed.some((t) => t.name === 'noc'))
      const verify = casm(env, 'events', 'verify', '--json')
      assert.equal(verify.code, EXIT.OK, verify.stderr)
      assert.equal((JSON.parse(verify.stdout) as { ok: boolean }).ok, true)
      const denied = casm({ CASM_URL: server.url, CASM_TOKEN: 'casm_wrong' }, 'token', 'list')
      assert.equal(denied.code, EXIT.BAD_INPUT)
      assert.match(denied.stderr, /CASM_ERR_UNAUTHENTICATED/)
    } finally {
      await server.stop()
      rmSync(dir, { recursive: true, force: true })
    }
    const unreachable = casm({ CASM_URL: 'http://127.0.0.1:9', CASM_TOKEN: 'x' }, 'token', 'list')
    assert.equal(unreachable.code, EXIT.UNREACHABLE)
    assert.match(unreachable.stderr, /CASM_ERR_UNAVAILABLE: cannot reach/)
  })
})

describe('casm serve', () => {
  it('refuses a bad --listen and a bad DATABASE_URL without starting', () => {
    const dir = mkdtempSync(join(tmpdir(), 'casm-cli-serve-'))
    try {
      const listen = casm({}, 'serve', '--listen', 'nowhere', '--data', dir)
      assert.equal(listen.code, EXIT.BAD_INPUT)
      assert.match(listen.stderr, /--listen 'nowhere' is not host:port/)
      const url = casm({ DATABASE_URL: 'mysql://x' }, 'serve', '--data', dir)
      assert.equal(url.code, EXIT.BAD_INPUT)
      assert.match(url.stderr, /DATABASE_URL must start with postgres:\/\//)
      assert.throws(() => readFileSync(join(dir, 'admin-token')), 'nothing was created')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
