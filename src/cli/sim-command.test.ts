/**
 * `casm sim` from the command line: a run writes its report, series and result; a sweep its
 * table and plot; bad scenarios and options exit with a code and say what is wrong.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { throwsCode } from '../../test/support/throws-code.js'
import { numberList } from './sim-command.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const tiny = join(root, 'test/fixtures/sim/tiny.yaml')
const out = mkdtempSync(join(tmpdir(), 'casm-sim-cli-'))
after(() => rmSync(out, { recursive: true, force: true }))

function casm(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
  })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

describe('casm sim', () => {
  it('runs a scenario file and writes the report, the series and the result', () => {
    const r = casm('sim', tiny, '--days', '0.2', '--out', out)
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stdout, /casm ÷ pooled bound\s+\d\.\d{3}/)
    assert.match(r.stdout, /invariants\s+held/)
    assert.match(
      r.stderr,
      /\[1\/2\] day 0\.20: demand [\d,]+, held [\d,]+, rejected 0/,
      'progress, one line a quarter day off a terminal',
    )
    const dir = join(out, 'tiny')
    const html = readFileSync(join(dir, 'report.html'), 'utf8')
    assert.ok(
      html.startsWith('<!doctype html>') && html.includes('<svg') && !html.includes('<script'),
    )
    const series = readFileSync(join(dir, 'series.csv'), 'utf8').trim().split('\n')
    assert.ok(series[0]?.startsWith('t_seconds,time,subscribers,demand,used,active,draining'))
    assert.ok(series.length > 5)
    assert.ok(readFileSync(join(dir, 'devices.csv'), 'utf8').includes(',home-001,'))
    const result = JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8')) as {
      space: { casm: number; staticPlan: number; pooledBound: number }
      series?: unknown
    }
    assert.ok(result.space.casm > 0 && result.space.pooledBound <= result.space.staticPlan)
    assert.equal(result.series, undefined)
  })

  it('--json prints the result; --list the shipped scenarios', () => {
    const r = casm('sim', tiny, '--days', '0.1', '--seed', '3', '--out', out, '--json')
    assert.equal(r.status, 0, r.stderr)
    const j = JSON.parse(r.stdout) as { seed: number; violations: unknown[]; files: string[] }
    assert.equal(j.seed, 3)
    assert.deepEqual(j.violations, [])
    assert.equal(j.files.length, 4)
    assert.equal(r.stderr, '', 'no progress with --json')
    const list = JSON.parse(casm('sim', '--list', '--json').stdout) as { name: string }[]
    assert.deepEqual(
      list.map((s) => s.name),
      ['metro-100', 'cgn', 'v6-pd', 'failover'],
    )
  })

  it('refuses a bad scenario, naming the problem and its place, and writes nothing', () => {
    const bad = join(out, 'bad.yaml')
    writeFileSync(bad, readFileSync(tiny, 'utf8').replace('highWatermark: 0.9', 'highWatermark: 9'))
    const r = casm('sim', bad, '--out', join(out, 'never'))
    assert.equal(r.status, 2)
    assert.match(
      r.stderr,
      /CASM_ERR_VALIDATION: .*bad\.yaml: \/policy needs 0 ≤ lowWatermark < highWatermark ≤ 1\n {2}what to do: fix the scenario file/,
    )
    assert.ok(!existsSync(join(out, 'never')))
    const missing = casm('sim', 'metro-1000')
    assert.equal(missing.status, 3)
    assert.match(missing.stderr, /CASM_ERR_NOT_FOUND: .*metro-100, cgn, v6-pd, failover/)
    assert.equal(casm('sim', tiny, '--days', 'two').status, 2)
  })

  it('sweep: one run per combination, a table, a CSV and a plot', () => {
    const r = casm(
      'sim',
      'sweep',
      tiny,
      '--high',
      '0.8,0.95',
      '--unit',
      '26,27',
      '--days',
      '0.1',
      '--out',
      out,
    )
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stdout, /high 0\.95 \/27/)
    const csv = readFileSync(join(out, 'tiny-sweep', 'sweep.csv'), 'utf8')
      .trim()
      .split('\n')
    assert.equal(csv.length, 5, 'a header and four runs')
    assert.ok(readFileSync(join(out, 'tiny-sweep', 'sweep.html'), 'utf8').includes('<circle'))
    const bad = casm('sim', 'sweep', tiny, '--high', '0.5', '--low', '0.6', '--out', out)
    assert.equal(bad.status, 2)
    assert.match(bad.stderr, /low watermark 0\.6 is not under high watermark 0\.5/)
    assert.equal(casm('sim', 'sweep', tiny).status, 2, 'nothing to sweep')
  })

  it('parses lists of values', () => {
    assert.deepEqual(numberList('0.8, 0.9', '--high', 0, 1), [0.8, 0.9])
    assert.equal(numberList(undefined, '--high', 0, 1), undefined)
    throwsCode(() => numberList('0.8,,0.9', '--high', 0, 1), 'CASM_ERR_VALIDATION', /empty value/)
    throwsCode(() => numberList('2', '--high', 0, 1), 'CASM_ERR_VALIDATION', /--high '2'/)
  })
})
