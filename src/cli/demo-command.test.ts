import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { throwsCode } from '../../test/support/throws-code.js'
import { keaSkipReason } from '../kea/kea-process.js'
import { parseKeaDemoOptions } from './demo-command.js'

const root = fileURLToPath(new URL('../..', import.meta.url))

describe('casm demo kea', () => {
  it('checks its options', () => {
    assert.deepEqual(parseKeaDemoOptions({}), {
      family: 'ipv4',
      servers: 2,
      rate: 10,
      clients: 300,
      seconds: 30,
      lifetime: 20,
      json: false,
    })
    throwsCode(() => parseKeaDemoOptions({ family: 'mac' }), 'CASM_ERR_VALIDATION', /ipv4 or ipv6/)
    throwsCode(
      () => parseKeaDemoOptions({ servers: '9' }),
      'CASM_ERR_VALIDATION',
      /--servers '9' is not a whole number 1\.\.8/,
    )
    throwsCode(() => parseKeaDemoOptions({ lifetime: '1' }), 'CASM_ERR_VALIDATION', /--lifetime/)
  })

  it(
    'runs from the command line: grants flow in and back out',
    { skip: keaSkipReason() },
    async () => {
      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          'src/cli/main.ts',
          'demo',
          'kea',
          '--servers',
          '1',
          '--rate',
          '10',
          '--clients',
          '80',
          '--seconds',
          '6',
          '--lifetime',
          '6',
          '--json',
        ],
        { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
      )
      let out = ''
      child.stdout.on('data', (d: Buffer) => (out += d.toString()))
      child.stderr.on('data', (d: Buffer) => (out += d.toString()))
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
      assert.equal(code, 0, out)
      const lines = out
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>)
      assert.ok(
        lines.some((l) => l['phase'] === 'arrive'),
        out,
      )
      const summary = lines.at(-1) as {
        event: string
        devices: { granted: number; released: number; successPercent: number }[]
      }
      assert.equal(summary.event, 'summary')
      const [device] = summary.devices
      assert.ok(device !== undefined && device.granted >= 2, out)
      assert.equal(device.released, device.granted - 1, 'all but the last grant went back')
      assert.ok(device.successPercent >= 95, out)
    },
  )
})
