import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { throwsCode } from '../../test/support/throws-code.js'
import { MultiPlaneBackend } from '../agent/backends/multi-plane-backend.js'
import { SimBackend } from '../agent/backends/sim-backend.js'
import { type AgentCommandInput, buildBackend, parseAgentOptions } from './agent-command.js'
import type { CasmError } from '../errors/casm-error.js'
import { EXIT } from './exit-codes.js'

const root = fileURLToPath(new URL('../..', import.meta.url))

const input = (extra: Partial<AgentCommandInput> = {}): AgentCommandInput => ({
  coordinator: 'http://127.0.0.1:8470',
  token: 't',
  backend: 'sim',
  state: '/tmp/agent-state',
  scriptTimeout: '10',
  simSubscribers: '100',
  simCurve: 'constant',
  simSession: '3600',
  simRetry: '30',
  simSeed: '1',
  speed: '1',
  keaV6: 'pd',
  keaDelegatedLength: '56',
  keaSharedNetwork: 'casm',
  keaOwner: 'casm',
  keaSubnetIdBase: '1000000',
  leaseUpload: '60',
  leaseReplay: 'auto',
  requestTimeout: '10',
  tick: '1',
  ...extra,
})

describe('casm agent options', () => {
  it('builds a kea backend from sockets or the Control Agent, and checks its options', () => {
    const o = parseAgentOptions(
      input({
        backend: 'kea',
        keaSocket4: '/run/kea4.sock',
        keaSocket6: '/run/kea6.sock',
        keaRelay4: '192.0.2.1, 192.0.2.2',
      }),
    )
    assert.deepEqual(o.kea.dhcp4, { socket: '/run/kea4.sock' })
    assert.deepEqual(o.kea.relay4, ['192.0.2.1', '192.0.2.2'])
    assert.equal(buildBackend(o).name, 'kea')
    const http = parseAgentOptions(
      input({ backend: 'kea', keaHttp: 'http://127.0.0.1:8000/', keaService: 'dhcp6' }),
    )
    assert.deepEqual(http.kea.dhcp6, { http: 'http://127.0.0.1:8000/' })
    assert.equal(http.kea.dhcp4, undefined)
    for (const [extra, option] of [
      [{ backend: 'kea' }, '--kea-socket4'],
      [{ keaSocket4: '/x' }, '--backend'],
      [{ backend: 'kea', keaHttp: 'http://h/', keaService: 'dhcp5' }, '--kea-service'],
      [
        { backend: 'kea', keaHttp: 'http://h/', keaService: 'dhcp4', keaSocket4: '/x' },
        '--kea-http',
      ],
      [{ backend: 'kea', keaSocket4: '/x', keaV6: 'ta' }, '--kea-v6'],
      [{ backend: 'kea', keaSocket4: '/x', keaDelegatedLength: '129' }, '--kea-delegated-length'],
      [{ backend: 'kea', keaSocket4: '/x', keaRelay4: '2001:db8::1' }, '--kea-relay4'],
      [{ backend: 'kea', keaSocket4: '/x', keaSubnetIdBase: '0' }, '--kea-subnet-id-base'],
      [{ backend: 'kea', keaSocket4: '/x', leaseUpload: '-1' }, '--lease-upload'],
      [{ backend: 'kea', keaSocket4: '/x', leaseReplay: 'sometimes' }, '--lease-replay'],
      [{ backend: 'kea', keaSocket4: '/x', planes: 'up1,up2' }, '--planes'],
      [{ watch: '0.5' }, '--watch'],
    ] as const)
      assert.throws(
        () => parseAgentOptions(input(extra)),
        (e: CasmError) => e.code === 'CASM_ERR_VALIDATION' && e.details?.['option'] === option,
        option,
      )
  })

  it('builds a sim, an exec or a multi-plane backend', () => {
    const o = parseAgentOptions(input({ simCurve: 'sine,period=600', speed: '60' }))
    assert.deepEqual(o.sim.curve, { kind: 'sine', peak: 100, trough: 0, period: 600, phase: 0 })
    assert.equal(o.sim.speed, 60)
    assert.ok(buildBackend(o) instanceof SimBackend)
    const planes = buildBackend(parseAgentOptions(input({ planes: 'up1, up2' })))
    assert.ok(planes instanceof MultiPlaneBackend)
    assert.deepEqual(planes.planes, ['up1', 'up2'])
    const exec = buildBackend(parseAgentOptions(input({ backend: 'exec', script: '/bin/true' })))
    assert.equal(exec.name, 'exec')
  })

  it('refuses bad options with CASM_ERR_VALIDATION and what to write instead', () => {
    const bad = (extra: Partial<AgentCommandInput>, message: RegExp) =>
      throwsCode(() => parseAgentOptions(input(extra)), 'CASM_ERR_VALIDATION', message)
    bad({ coordinator: undefined }, /--coordinator http:\/\/HOST:8470 or set CASM_URL/)
    bad({ coordinator: 'ftp://x' }, /http:\/\/ or https:\/\//)
    bad({ coordinator: 'not a url' }, /not a URL/)
    bad({ token: '' }, /CASM_TOKEN/)
    bad({ backend: 'dhcpd' }, /use sim, exec or kea/)
    bad({ backend: 'exec' }, /needs --script PATH/)
    bad({ script: 'x.sh' }, /goes with --backend exec/)
    bad({ planes: 'up1,up 2' }, /not a plane name/)
    bad({ planes: 'a,a' }, /twice/)
    bad({ family: 'mac' }, /ipv4 or ipv6/)
    bad({ simSubscribers: '-3' }, /whole number/)
    bad({ simSeed: 'x' }, /--sim-seed/)
    bad({ speed: '0' }, /--speed '0' is not a number above 0/)
    bad({ simCurve: 'zigzag' }, /unknown curve/)
  })

  it('exits 2 on bad options, naming the code and what to do', () => {
    const r = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli/main.ts',
        'agent',
        '--coordinator',
        'http://x',
        '--token',
        't',
        '--backend',
        'exec',
        '--script',
        '/nonexistent',
      ],
      { cwd: root, encoding: 'utf8', env: { ...process.env, CASM_URL: '', CASM_TOKEN: '' } },
    )
    assert.equal(r.status, EXIT.BAD_INPUT, r.stderr)
    assert.match(
      r.stderr,
      /CASM_ERR_VALIDATION: --script '\/nonexistent' is not an executable file/,
    )
    assert.match(r.stderr, /what to do: /)
  })

  it('runs until SIGTERM, retrying an unreachable coordinator, and saves its state', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'casm-agent-cli-'))
    try {
      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          'src/cli/main.ts',
          'agent',
          '--state',
          dir,
          '--json',
          '--request-timeout',
          '1',
        ],
        {
          cwd: root,
          env: { ...process.env, CASM_URL: 'http://127.0.0.1:9', CASM_TOKEN: 'device-token' },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      )
      let out = ''
      child.stdout.on('data', (d: Buffer) => (out += d.toString()))
      child.stderr.on('data', (d: Buffer) => (out += d.toString()))
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
      const until = Date.now() + 20_000
      while (!out.includes('"action":"retry"') && Date.now() < until)
        await new Promise((r) => setTimeout(r, 50))
      child.kill('SIGTERM')
      assert.equal(await exited, 0, out)
      const lines = out
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { action: string; type?: string })
      assert.deepEqual(
        [...new Set(lines.map((l) => l.action))],
        ['start', 'hello', 'send', 'retry', 'signal', 'stop'],
      )
      assert.ok(existsSync(join(dir, 'agent-state.json')))
      assert.ok(existsSync(join(dir, 'sim-backend.json')))
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
