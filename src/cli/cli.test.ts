import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { EXIT } from './exit-codes.js'

const root = fileURLToPath(new URL('../..', import.meta.url))

/** Runs the real `casm` command from source and returns its exit code and output. */
function casm(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: root,
    encoding: 'utf8',
  })
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr }
}

describe('casm command', () => {
  it('prints help with no arguments and with --help', () => {
    for (const args of [[], ['--help']]) {
      const r = casm(...args)
      assert.equal(r.code, EXIT.OK)
      assert.match(r.stdout, /Coordinated Address Space Management/)
      assert.match(r.stdout, /ip\s+address and prefix arithmetic/)
    }
  })

  it('prints its version', () => {
    const r = casm('--version')
    assert.equal(r.code, EXIT.OK)
    assert.match(r.stdout, /^\d+\.\d+\.\d+\n$/)
  })

  it('describes prefixes, addresses and ranges', () => {
    const r = casm('ip', 'info', '100.64.0.0/10', '192.0.2.5-192.0.2.8')
    assert.equal(r.code, EXIT.OK, r.stderr)
    assert.match(
      r.stdout,
      /100\.64\.0\.0\/10\s+100\.64\.0\.0\s+100\.127\.255\.255\s+4194304\s+Shared address space \(CGN\) \(RFC 6598\)/,
    )
    assert.match(r.stdout, /192\.0\.2\.8\/32/)
    const j = casm('ip', 'info', '--json', '2001:db8::/32')
    const parsed = JSON.parse(j.stdout) as {
      prefix: string
      size: string
      special: { rfc: string }[]
    }[]
    const first = parsed[0]
    assert.ok(first)
    assert.equal(first.size, (1n << 96n).toString())
    assert.equal(first.special[0]?.rfc, 'RFC 3849')
  })

  it('aggregates and splits', () => {
    const agg = casm('ip', 'aggregate', '--json', '10.0.0.0/25', '10.0.0.128/25', '10.0.2.0/24')
    assert.deepEqual(JSON.parse(agg.stdout), ['10.0.0.0/24', '10.0.2.0/24'])
    assert.equal(casm('ip', 'aggregate', '--lenient', '10.0.0.1/24').stdout, '10.0.0.0/24\n')
    assert.equal(
      casm('ip', 'split', '10.0.0.0/24', '26').stdout.split('\n').filter(Boolean).length,
      4,
    )
  })

  it('reports bad input with the error code, a hint and exit code 2', () => {
    const r = casm('ip', 'info', '10.0.0.1/8')
    assert.equal(r.code, EXIT.BAD_INPUT)
    assert.match(
      r.stderr,
      /CASM_ERR_HOST_BITS: '10\.0\.0\.1\/8' has host bits set; the network is 10\.0\.0\.0\/8/,
    )
    assert.match(r.stderr, /what to do: /)
    assert.equal(r.stdout, '')
    assert.equal(casm('ip', 'split', '10.0.0.0/8', '32').code, EXIT.BAD_INPUT)
    assert.equal(casm('ip', 'split', '10.0.0.0/8', 'x').code, EXIT.BAD_INPUT)
    assert.equal(casm('nonsense').code, EXIT.BAD_INPUT)
    assert.equal(casm('ip', 'info').code, EXIT.BAD_INPUT)
  })
})
