import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { ImportDocument, ImportProblem } from '../domain/import-document.js'
import { validateImportDocument } from '../domain/import-document.js'
import { openStore } from '../store/open-store.js'
import { createGrant } from './allocations.js'
import { type Caller, systemCaller } from './caller.js'
import { Coordinator } from './coordinator.js'
import { exportTenant, importDocument, importProblemsOf } from './import-export.js'
import { createTenant } from './tenancy.js'

const DOC: ImportDocument = {
  version: 1,
  domains: [{ name: 'internet' }, { name: 'lab', description: 'the lab' }],
  blocks: [
    { domain: 'internet', space: '100.64.0.0/10', source: { rir: 'private' }, ref: 'b.csv:2' },
    { domain: 'internet', space: '2001:db8::/32', ref: 'b.csv:3' },
    { domain: 'lab', space: '100.64.0.0/16', ref: 'b.csv:4' },
  ],
  pools: [
    {
      name: 'bng-east',
      domain: 'internet',
      kind: 'subscriber',
      space: ['100.64.0.0/16'],
      policy: { unit: { min: 24, default: 27, max: 28 }, quarantine: 0 },
    },
    { name: 'lab-dhcp', domain: 'lab', kind: 'dhcp', space: ['100.64.0.0/20'] },
    { name: 'pd', domain: 'internet', kind: 'pd', space: ['2001:db8::/40'] },
  ],
  devices: [{ name: 'bng-01', attributes: { function: 'bng' }, policy: { highWatermark: 0.9 } }],
  reservations: [
    { pool: 'bng-east', prefix: '100.64.0.0/24', description: 'infra' },
    { domain: 'lab', address: '100.64.0.1', hostname: 'gw.lab' },
  ],
  grants: [{ pool: 'bng-east', device: 'bng-01', prefix: '100.64.1.0/27' }],
  assignments: [{ pool: 'pd', prefix: '2001:db8::/56', hostname: 'cpe-1' }],
}

function codes(problems: readonly ImportProblem[]): string[] {
  return problems.map((p) => `${p.ref} ${p.code}`)
}

describe('validateImportDocument', () => {
  it('accepts a good document', () => {
    assert.deepEqual(validateImportDocument(DOC).problems, [])
  })
  it('reports every problem with its ref', () => {
    const bad = {
      ...DOC,
      blocks: [
        ...DOC.blocks,
        { domain: 'internet', space: '100.65.0.0/16', ref: 'b.csv:9' },
        { domain: 'internet', space: '10.0.0.1/8', ref: 'b.csv:10' },
        { domain: 'nowhere', space: '10.0.0.0/8', ref: 'b.csv:11' },
      ],
      pools: [...DOC.pools, { name: 'x', domain: 'lab', kind: 'dhcp', space: ['192.0.2.0/24'] }],
    }
    assert.deepEqual(codes(validateImportDocument(bad).problems).sort(), [
      '/pools/3 CASM_ERR_OUT_OF_POOL',
      'b.csv:10 CASM_ERR_HOST_BITS',
      'b.csv:11 CASM_ERR_NOT_FOUND',
      'b.csv:9 CASM_ERR_OVERLAP',
    ])
  })
})

describe('import and export', () => {
  let dir: string
  let co: Coordinator
  let c: Caller
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'casm-import-'))
    co = (await Coordinator.open(openStore({ dataDir: dir }), { sweepIntervalMs: 0 })).coordinator
    const t = await co.reader.getTenant('default')
    assert.ok(t)
    c = systemCaller(t.id)
  })
  after(async () => {
    await co.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('a dry run stores nothing; an import stores all; export → import → export is exact', async () => {
    const dry = await co.run(importDocument(c, DOC, { dryRun: true }))
    assert.equal(dry.applied, false)
    assert.equal(dry.counts.blocks, 3)
    assert.equal((await co.reader.listDomains(c.tenantId)).length, 0)
    const done = await co.run(importDocument(c, DOC))
    assert.equal(done.applied, true)
    await co.run(createGrant(c, 'bng-east', { device: 'bng-01' }))
    const first = await exportTenant(co.reader, c)
    assert.equal(first.grants?.length, 2)
    assert.equal(first.reservations?.[1]?.description, 'gw.lab')
    const other = await co.run(createTenant(c, { name: 'copy' }))
    const c2 = systemCaller(other.id)
    await co.run(importDocument(c2, first))
    assert.deepEqual(await exportTenant(co.reader, c2), first)
  })

  it('refuses a whole document for one bad row, and the same import twice', async () => {
    const other = await co.run(createTenant(c, { name: 'bad' }))
    const c2 = systemCaller(other.id)
    const bad = {
      ...DOC,
      reservations: [
        ...(DOC.reservations ?? []),
        { pool: 'bng-east', prefix: '10.0.0.0/24', ref: 'r.csv:7' },
      ],
    }
    await assert.rejects(co.run(importDocument(c2, bad)), (e) => {
      assert.deepEqual(codes(importProblemsOf(e) ?? []), ['r.csv:7 CASM_ERR_OUT_OF_POOL'])
      return true
    })
    assert.equal((await co.reader.listDomains(c2.tenantId)).length, 0)
    await co.run(importDocument(c2, DOC))
    await assert.rejects(co.run(importDocument(c2, DOC)), (e) => {
      assert.ok(
        (importProblemsOf(e) ?? []).every(
          (p) => p.code === 'CASM_ERR_ALREADY_EXISTS' || p.code === 'CASM_ERR_OVERLAP',
        ),
      )
      return true
    })
  })

  it('imports 100,000 prefixes quickly', async () => {
    const other = await co.run(createTenant(c, { name: 'big' }))
    const c2 = systemCaller(other.id)
    const doc = bigDocument(100_000)
    const t0 = performance.now()
    const res = await co.run(importDocument(c2, doc))
    const ms = performance.now() - t0
    console.log(
      `# import of ${res.created.length} objects (100,000 prefixes): ${Math.round(ms)} ms`,
    )
    assert.ok(ms < 60_000)
    assert.equal((await co.reader.listPools(c2.tenantId)).length, 25_000)
  })
})

/** About `n` prefixes: n/4 pools (/24) with 3 reservations (/28) each, in /16 blocks of one domain. */
export function bigDocument(n: number): ImportDocument {
  const blocks: { domain: string; space: string; ref: string }[] = []
  const pools: ImportDocument['pools'][number][] = []
  const reservations: { pool: string; prefix: string; ref: string }[] = []
  const nPools = Math.floor(n / 4)
  const nBlocks = Math.ceil(nPools / 256)
  for (let b = 0; b < nBlocks; b++)
    blocks.push({ domain: 'big', space: `10.${b}.0.0/16`, ref: `b:${b}` })
  for (let p = 0; p < nPools; p++) {
    const net = `10.${p >> 8}.${p & 255}`
    pools.push({
      name: `p${p}`,
      domain: 'big',
      kind: 'dhcp',
      space: [`${net}.0/24`],
      policy: { unit: { min: 24, default: 28, max: 32 } },
    })
    for (let r = 0; r < 3; r++)
      reservations.push({ pool: `p${p}`, prefix: `${net}.${r * 16}/28`, ref: `r:${p}:${r}` })
  }
  return { version: 1, domains: [{ name: 'big' }], blocks, pools, reservations }
}
