import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { type CasmServer, api, startServer } from '../../test/support/casm-server.js'

const MAIN = join(import.meta.dirname, 'main.ts')

const DOC = {
  version: 1,
  domains: [{ name: 'inet' }],
  blocks: [{ domain: 'inet', space: '10.0.0.0/16' }],
  pools: [{ name: 'p1', domain: 'inet', kind: 'dhcp', space: ['10.0.0.0/24'] }],
  reservations: [{ pool: 'p1', prefix: '10.0.0.0/28', description: 'gw' }],
}

describe('casm import / export against casm serve', () => {
  let dir: string
  let server: CasmServer
  const casm = (...args: string[]) =>
    spawnSync(
      process.execPath,
      ['--import', 'tsx', MAIN, ...args, '--url', server.url, '--token', server.token],
      {
        encoding: 'utf8',
        env: { ...process.env, CASM_CONFIG: join(dir, 'none.json') },
      },
    )
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'casm-cli-import-'))
    server = await startServer({ dataDir: join(dir, 'data') })
  })
  after(async () => {
    await server.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('reports a bad file with its refs and exits 2; dry run; import; round trip', async () => {
    const bad = join(dir, 'bad.json')
    writeFileSync(
      bad,
      JSON.stringify({
        ...DOC,
        blocks: [...DOC.blocks, { domain: 'inet', space: '10.0.1.0/24', ref: 'bad.json:7' }],
      }),
    )
    const r1 = casm('import', 'casm', bad)
    assert.equal(r1.status, 2, r1.stderr)
    assert.match(r1.stdout, /^bad\.json:7 CASM_ERR_OVERLAP /m)

    const good = join(dir, 'good.json')
    writeFileSync(good, JSON.stringify(DOC))
    const dry = casm('import', 'casm', good, '--dry-run', '--json')
    assert.equal(dry.status, 0, dry.stderr)
    assert.equal((JSON.parse(dry.stdout) as { applied: boolean }).applied, false)
    assert.deepEqual((await api(server, 'GET', '/api/v1/domains')).body, { items: [] })

    const done = casm('import', 'casm', good)
    assert.equal(done.status, 0, done.stderr)
    assert.match(done.stdout, /pools\s+1/)

    const out = join(dir, 'export.json')
    assert.equal(casm('export', '--output', out).status, 0)
    const exported = readFileSync(out, 'utf8')
    await api(server, 'POST', '/api/v1/tenants', { name: 'copy' })
    const again = casm('import', 'casm', out, '--tenant', 'copy')
    assert.equal(again.status, 0, again.stderr)
    const copy = casm('export', '--tenant', 'copy')
    assert.equal(copy.stdout, exported)
  })

  it('imports the NetBox and phpIPAM samples, each into its own tenant, and reports bad rows by line', async () => {
    const fixtures = join(import.meta.dirname, '../../test/fixtures/import')
    for (const [format, files, bad] of [
      [
        'netbox',
        ['aggregates.csv', 'prefixes.csv', 'ip-ranges.csv', 'ip-addresses.json'].map((f) =>
          join(fixtures, 'netbox', f),
        ),
        [join(fixtures, 'netbox', 'bad', 'bad-prefixes.csv')],
      ],
      [
        'phpipam',
        ['sections.csv', 'subnets.csv', 'addresses.csv'].map((f) => join(fixtures, 'phpipam', f)),
        [join(fixtures, 'phpipam', 'subnets.csv'), join(fixtures, 'phpipam', 'bad-subnets.csv')],
      ],
    ] as const) {
      await api(server, 'POST', '/api/v1/tenants', { name: `t-${format}` })
      const tenant = ['--tenant', `t-${format}`]
      const refused = casm('import', format, ...bad, ...tenant)
      assert.equal(refused.status, 2, `${refused.stdout}${refused.stderr}`)
      assert.match(refused.stdout, /bad-[a-z]+\.csv:\d+ CASM_ERR_[A-Z_]+ /)
      const dry = casm('import', format, ...files, '--dry-run', '--json', ...tenant)
      assert.equal(dry.status, 0, dry.stderr)
      const plan = JSON.parse(dry.stdout) as { applied: boolean; counts: Record<string, number> }
      assert.equal(plan.applied, false)
      assert.ok((plan.counts['domains'] ?? 0) >= 2 && (plan.counts['pools'] ?? 0) >= 3, dry.stdout)
      const done = casm('import', format, ...files, ...tenant)
      assert.equal(done.status, 0, done.stderr)
      assert.match(done.stdout, /^created/m)
      // Progress went to stderr, one line per step (not a TTY here).
      assert.match(done.stderr, /^\[1\/\d+\] reading /m)
      const exported = JSON.parse(casm('export', ...tenant).stdout) as {
        pools: unknown[]
        domains: { name: string }[]
      }
      assert.equal(exported.pools.length, plan.counts['pools'])
      // The same private space in two VRFs is two domains.
      assert.ok(exported.domains.length >= 2)
    }
  })
})
