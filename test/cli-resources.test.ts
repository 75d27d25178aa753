/**
 * The real `casm` command against a real `casm serve`: every REST subcommand at least once,
 * every exit code (bad input, not found, conflict, unreachable), `--json` parsed, tables with a
 * header and a row, and `casm login` writing a 0600 file that is then used without flags.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { EXIT } from '../src/cli/exit-codes.js'
import { type CasmServer, startServer } from './support/casm-server.js'

const root = fileURLToPath(new URL('..', import.meta.url))

interface Run {
  code: number
  stdout: string
  stderr: string
}

/** Runs the real `casm` from source with `env` (no CASM_* from the caller's environment). */
function casm(env: NodeJS.ProcessEnv, args: string[], stdin?: string): Promise<Run> {
  const drop = new Set(['CASM_URL', 'CASM_TOKEN', 'CASM_CONFIG', 'DATABASE_URL', 'NO_COLOR'])
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !drop.has(k)))
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
      cwd: root,
      env: { ...base, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.once('error', reject)
    child.once('close', (code) => resolve({ code: code ?? -1, stdout, stderr }))
    child.stdin.end(stdin ?? '')
  })
}

// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- a typed parse
function json<T>(r: Run): T {
  assert.equal(r.code, EXIT.OK, `exit ${r.code}: ${r.stderr}`)
  return JSON.parse(r.stdout) as T
}

function ok(r: Run): Run {
  assert.equal(r.code, EXIT.OK, `exit ${r.code}: ${r.stderr}`)
  return r
}

/** A table: a header line naming `header` and a line holding `row`. */
function table(r: Run, header: readonly string[], row: string): void {
  ok(r)
  assert.match(r.stdout, new RegExp(header.map((h) => `\\b${h}\\b`).join('.*')), r.stdout)
  assert.ok(
    r.stdout.split('\n').some((l) => l.includes(row)),
    `no row with ${row}:\n${r.stdout}`,
  )
  assert.ok(!r.stdout.includes('\u001b['), 'no colour when stdout is not a terminal')
}

function failed(r: Run, exit: number, code: string): void {
  assert.equal(r.code, exit, `expected exit ${exit}, got ${r.code}: ${r.stdout}${r.stderr}`)
  assert.match(r.stderr, new RegExp(`${code}: `))
  assert.match(r.stderr, /what to do: /)
}

describe('casm resource subcommands against casm serve', () => {
  let dir: string
  let server: CasmServer
  let env: NodeJS.ProcessEnv
  const c = (...args: string[]): Promise<Run> => casm(env, args)

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'casm-cli-res-'))
    server = await startServer({ dataDir: join(dir, 'data') })
    env = {
      CASM_URL: server.url,
      CASM_TOKEN: server.token,
      CASM_CONFIG: join(dir, 'none', 'config.json'),
    }
  })
  after(async () => {
    await server.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('creates, lists, shows, changes and deletes inventory', async () => {
    json(await c('domains', 'create', '--name', 'internet', '--json'))
    writeFileSync(join(dir, 'lab.json'), JSON.stringify({ name: 'lab', description: 'from json' }))
    const [lab, block] = await Promise.all([
      c('domains', 'create', '--from-json', join(dir, 'lab.json'), '--json'),
      c(
        'blocks',
        'create',
        '--domain',
        'internet',
        '--space',
        '100.64.0.0/10',
        '--rir',
        'private',
        '--json',
      ),
    ])
    assert.equal(json<{ description: string }>(lab).description, 'from json')
    const blk = json<{ id: string; space: string }>(block)
    assert.equal(blk.space, '100.64.0.0/10')
    ok(
      await c(
        'pools',
        'create',
        '--name',
        'bng-east',
        '--domain',
        'internet',
        '--kind',
        'subscriber',
        '--space',
        '100.64.0.0/16',
        '--unit',
        '27',
      ),
    )
    const fromStdin = await casm(
      env,
      ['devices', 'create', '--from-json', '-', '--json'],
      JSON.stringify({ name: 'bng-01', attributes: { function: 'bng' } }),
    )
    assert.equal(json<{ name: string }>(fromStdin).name, 'bng-01')

    const [domains, blocks, pools, devices, shown, changed, blockShown] = await Promise.all([
      c('domains', 'list'),
      c('blocks', 'list', '--domain', 'internet', '--json'),
      c('pools', 'list'),
      c('devices', 'list', '--json'),
      c('pools', 'show', 'bng-east', '--json'),
      c('devices', 'change', 'bng-01', '--description', 'east BNG', '--json'),
      c('blocks', 'show', blk.id),
    ])
    table(domains, ['name', 'id', 'description'], 'internet')
    assert.deepEqual(
      json<{ items: { space: string }[] }>(blocks).items.map((b) => b.space),
      ['100.64.0.0/10'],
    )
    table(pools, ['name', 'domain', 'kind'], 'bng-east')
    // Tables name the domain, where the API gives its id.
    assert.match(pools.stdout, /bng-east\s*│\s*internet\s*│/)
    assert.equal(json<{ items: unknown[] }>(devices).items.length, 1)
    assert.equal(json<{ policy: { unit: { default: number } } }>(shown).policy.unit.default, 27)
    assert.equal(json<{ description: string }>(changed).description, 'east BNG')
    table(blockShown, ['field', 'value'], '100.64.0.0/10')

    ok(await c('blocks', 'change', blk.id, '--description', 'CGN space'))
    ok(await c('domains', 'change', 'lab', '--description', 'changed'))
    ok(await c('pools', 'change', 'bng-east', '--priority', '5'))
    const del = ok(await c('domains', 'delete', 'lab'))
    assert.match(del.stdout, /deleted domain lab/)
  })

  it('grants, reservations and assignments; find, usage, events', async () => {
    const g = json<{ id: string; prefix: string }>(
      await c('grants', 'create', '--pool', 'bng-east', '--device', 'bng-01', '--json'),
    )
    assert.equal(g.prefix, '100.64.0.0/27')
    ok(await c('devices', 'create', '--name', 'bng-02'))
    const r = json<{ id: string }>(
      await c(
        'reservations',
        'create',
        '--pool',
        'bng-east',
        '--prefix',
        '100.64.255.0/24',
        '--json',
      ),
    )
    ok(await c('pools', 'change', 'bng-east', '--description', 'east'))
    ok(
      await c(
        'pools',
        'create',
        '--name',
        'servers',
        '--domain',
        'internet',
        '--kind',
        'static',
        '--space',
        '100.65.0.0/24',
      ),
    )

    const [list, page, show, drained, pinned, found, usage, events, resList, resShow] =
      await Promise.all([
        c('grants', 'list', '--pool', 'bng-east'),
        c('grants', 'list', '--limit', '1', '--all', '--json'),
        c('grants', 'show', g.id, '--json'),
        c('grants', 'drain', g.id, '--reason', 'test', '--json'),
        c('grants', 'pin', g.id, '--json'),
        c('find', '100.64.0.9'),
        c('usage', 'pool', 'bng-east', '--json'),
        c('events', 'list', '--action', 'grant.create', '--json'),
        c('reservations', 'list', '--pool', 'bng-east'),
        c('reservations', 'show', r.id, '--json'),
      ])
    table(list, ['id', 'prefix', 'state'], '100.64.0.0/27')
    assert.equal(json<{ items: unknown[] }>(page).items.length, 1)
    assert.equal(json<{ id: string }>(show).id, g.id)
    assert.ok(json<object>(drained))
    assert.ok(json<object>(pinned))
    table(found, ['domain', 'what', 'space'], 'bng-01')
    assert.match(found.stdout, /block/)
    assert.equal(json<{ total: string }>(usage).total, '65536')
    const ev = json<{ items: { action: string }[]; next: string | null }>(events)
    assert.ok(ev.items.length >= 1 && ev.items.every((e) => e.action === 'grant.create'))
    table(resList, ['id', 'pool', 'kind'], r.id)
    assert.equal(json<{ id: string }>(resShow).id, r.id)

    const [undrain, moved, usageBlock, usageDomain, eventsTable, findJson] = await Promise.all([
      c('grants', 'undrain', g.id),
      c('grants', 'move', g.id, '--to', 'bng-02', '--json'),
      c('usage', 'domain', 'internet'),
      c('usage', 'domain', 'internet', '--json'),
      c('events', 'list', '--limit', '2'),
      c('find', '100.64.0.0/24', '--json'),
    ])
    ok(undrain)
    assert.ok(json<object>(moved))
    table(usageBlock, ['field', 'value'], 'internet')
    assert.ok(json<object>(usageDomain))
    table(eventsTable, ['seq', 'at', 'actor', 'action'], 'tenant.create')
    assert.match(eventsTable.stderr, /more: --after/)
    assert.equal(json<{ query: string }>(findJson).query, '100.64.0.0/24')

    const g2 = json<{ id: string }>(
      await c(
        'grants',
        'create',
        '--pool',
        'bng-east',
        '--device',
        'bng-01',
        '--length',
        '28',
        '--json',
      ),
    )
    ok(await c('grants', 'release', g2.id))
    const a = json<{ assignment: { id: string; prefix: string } }>(
      await c(
        'assignments',
        'create',
        '--pool',
        'servers',
        '--length',
        '30',
        '--hostname',
        'web-1',
        '--json',
      ),
    )
    assert.match(a.assignment.prefix, /^100\.65\.0\./)
    const [aList, aShow] = await Promise.all([
      c('assignments', 'list'),
      c('assignments', 'show', a.assignment.id, '--json'),
    ])
    table(aList, ['id', 'prefix', 'state'], 'web-1')
    assert.equal(json<{ hostname: string }>(aShow).hostname, 'web-1')
    ok(await c('assignments', 'release', a.assignment.id))
    ok(await c('reservations', 'delete', r.id))
    const blocks = json<{ items: { id: string }[] }>(await c('blocks', 'list', '--json'))
    ok(
      await c(
        'pools',
        'create',
        '--name',
        'spare',
        '--domain',
        'internet',
        '--kind',
        'static',
        '--space',
        '100.66.0.0/24',
      ),
    )
    ok(await c('pools', 'delete', 'spare'))
    assert.ok(blocks.items.length >= 1)
  })

  it('tokens over the API; casm token still works over --url', async () => {
    const created = json<{ token: { id: string }; secret: string }>(
      await c('tokens', 'create', '--name', 'noc', '--role', 'viewer', '--json'),
    )
    table(await c('tokens', 'list'), ['id', 'name', 'role'], 'noc')
    const viewer = await casm({ ...env, CASM_TOKEN: created.secret }, [
      'domains',
      'create',
      '--name',
      'x',
    ])
    failed(viewer, EXIT.BAD_INPUT, 'CASM_ERR_FORBIDDEN')
    ok(await c('tokens', 'revoke', created.token.id))
    table(
      await c('token', 'list', '--url', server.url, '--token', server.token),
      ['id', 'name'],
      'noc',
    )
  })

  it('exits 2, 3, 4 and 5 with the code and what to do', async () => {
    const [bad, badFlag, notFound, conflict, exists, unreachable, noUrl, badJson] =
      await Promise.all([
        c('blocks', 'create', '--domain', 'internet', '--space', '100.64.0.1/10'),
        c('grants', 'list', '--limit', 'many'),
        c('pools', 'show', 'nope'),
        c('blocks', 'create', '--domain', 'internet', '--space', '100.64.0.0/16'),
        c('domains', 'create', '--name', 'internet'),
        casm({ CASM_URL: 'http://127.0.0.1:1', CASM_TOKEN: 'x' }, ['domains', 'list']),
        casm({ CASM_CONFIG: join(dir, 'none', 'config.json') }, ['pools', 'list']),
        casm(env, ['domains', 'create', '--from-json', '-'], '{not json'),
      ])
    failed(bad, EXIT.BAD_INPUT, 'CASM_ERR_HOST_BITS')
    failed(badFlag, EXIT.BAD_INPUT, 'CASM_ERR_INVALID_ARGUMENT')
    failed(notFound, EXIT.NOT_FOUND, 'CASM_ERR_NOT_FOUND')
    failed(conflict, EXIT.CONFLICT, 'CASM_ERR_OVERLAP')
    failed(exists, EXIT.CONFLICT, 'CASM_ERR_ALREADY_EXISTS')
    failed(unreachable, EXIT.UNREACHABLE, 'CASM_ERR_UNAVAILABLE')
    failed(noUrl, EXIT.BAD_INPUT, 'CASM_ERR_INVALID_ARGUMENT')
    assert.match(noUrl.stderr, /--url.*casm login/)
    failed(badJson, EXIT.BAD_INPUT, 'CASM_ERR_MALFORMED_JSON')
  })

  it('login writes a 0600 file that later commands use; logout removes it', async () => {
    const cfg = join(dir, 'home', 'casm', 'config.json')
    const only = { CASM_CONFIG: cfg }
    const wrong = await casm(only, ['login', '--url', server.url, '--token', 'casm_wrong'])
    failed(wrong, EXIT.BAD_INPUT, 'CASM_ERR_UNAUTHENTICATED')
    ok(await casm(only, ['login', '--url', server.url, '--token', server.token]))
    assert.equal(statSync(cfg).mode & 0o777, 0o600)
    assert.equal(statSync(join(dir, 'home', 'casm')).mode & 0o777, 0o700)
    table(await casm(only, ['domains', 'list']), ['name'], 'internet')
    const out = ok(await casm(only, ['logout']))
    assert.match(out.stdout, /removed/)
    failed(await casm(only, ['domains', 'list']), EXIT.BAD_INPUT, 'CASM_ERR_INVALID_ARGUMENT')
  })

  it('has --help with an example on every command', async () => {
    const helps = await Promise.all(
      [['domains'], ['grants', 'move'], ['usage', 'pool'], ['events', 'list']].map((args) =>
        c(...args, '--help'),
      ),
    )
    for (const h of helps) {
      ok(h)
      assert.match(h.stdout, /Example:\n {2}casm /)
    }
  })
})
