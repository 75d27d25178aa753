/**
 * A real ISC Kea DHCP server (`kea-dhcp4` or `kea-dhcp6`, Debian's Kea 2.2) run unprivileged on
 * loopback, for the tests, `casm demo kea` and the benchmarks.
 *
 * Kea listens on non-standard ports of `127.0.0.1` or `::1` and serves relayed traffic only
 * (perfdhcp and the DHCPv4 probe act as relay agents), selected by the relay address of its one
 * shared network. That network starts empty: the server has no pool until an agent adds subnets
 * through the control socket (`config-set`). Everything Kea writes stays in one directory:
 *
 * ```
 *   dir/kea4.json    the configuration (config-write rewrites it; restart() reads it again)
 *   dir/kea4.sock    the control socket (unix)          dir/leases4.csv  the memfile leases
 *   dir/kea4.log     Kea's log                          dir/*.pid, *.lock  pid and lock files
 *
 *   perfdhcp, probe ──relayed, giaddr 127.0.0.1 (link ::1)──► 127.0.0.1:serverPort ──► kea-dhcp4
 *                   ◄──────────────────────────────────────── 127.0.0.1:clientPort ◄──
 * ```
 *
 * @module
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { createSocket } from 'node:dgram'
import {
  closeSync,
  existsSync,
  fstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { CasmError } from '../errors/casm-error.js'
import { type KeaAnswer, KeaControl, type KeaService } from './kea-control.js'

export type { KeaAnswer, KeaService } from './kea-control.js'

/** A Kea configuration document: `{ "Dhcp4": { ... } }` or `{ "Dhcp6": { ... } }`. */
export type KeaConfig = Record<string, unknown>

/**
 * Changes to the generated configuration: an object deep-merged into the `Dhcp4`/`Dhcp6` map
 * (objects merge key by key; arrays and other values replace), or a function that returns the
 * whole document to use.
 */
export type KeaConfigPatch = Readonly<Record<string, unknown>> | ((config: KeaConfig) => KeaConfig)

/** The UDP ports of one server: Kea listens on `serverPort` and answers relays on `clientPort`. */
export interface DhcpPorts {
  /** Kea's `-p`: where it receives. */
  readonly serverPort: number
  /** Kea's `-P`: where relayed answers go (perfdhcp's `-L`). */
  readonly clientPort: number
}

/** The ports a {@link KeaProcess} uses when none are given. */
export const DEFAULT_DHCP_PORTS: Readonly<Record<KeaService, DhcpPorts>> = {
  dhcp4: { serverPort: 10067, clientPort: 10068 },
  dhcp6: { serverPort: 10547, clientPort: 10546 },
}

/** How to run one Kea server. */
export interface KeaProcessOptions {
  readonly service: KeaService
  /** Where Kea keeps its files (created if missing; default: a new temporary directory). */
  readonly dir?: string
  /** Default 10067 (v4) / 10547 (v6); see {@link freeDhcpPorts}. */
  readonly serverPort?: number
  /** Default 10068 (v4) / 10546 (v6). */
  readonly clientPort?: number
  /** Lease lifetime in seconds (default 600). */
  readonly validLifetime?: number
  /** T1 in seconds (default a quarter of the valid lifetime). */
  readonly renewTimer?: number
  /** T2 in seconds (default half the valid lifetime). */
  readonly rebindTimer?: number
  /** DHCPv6 preferred lifetime in seconds (default the valid lifetime). */
  readonly preferredLifetime?: number
  /** Relay addresses that select the shared network (default `127.0.0.1` / `::1`). */
  readonly relay?: readonly string[]
  /** Name of the shared network, created without subnets (default `casm`). */
  readonly sharedNetwork?: string
  /**
   * Seconds between runs of expired-lease reclamation (default 1). Reclaimed leases are deleted
   * at once (`hold-reclaimed-time` 0): lease4/6-get-all lists live leases only.
   */
  readonly reclaimInterval?: number
  /** Where Kea's hooks are (default Debian's multiarch directory). */
  readonly hooksDir?: string
  /** Severity of Kea's log (default `INFO`, which logs every lease: use `WARN` under load). */
  readonly logSeverity?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR'
  /** Applied last to the generated configuration. */
  readonly extraConfig?: KeaConfigPatch
}

/** Whether Kea can run here, from {@link keaAvailable}. */
export type KeaAvailability =
  | { readonly available: true; readonly version: string }
  | { readonly available: false; readonly reason: string }

const PROGRAMS = ['kea-dhcp4', 'kea-dhcp6', 'perfdhcp', 'kea-ctrl-agent'] as const
const HOOKS = ['libdhcp_lease_cmds.so', 'libdhcp_stat_cmds.so'] as const
const LOOPBACK: Readonly<Record<KeaService, string>> = { dhcp4: '127.0.0.1', dhcp6: '::1' }
const START_TIMEOUT_MS = 15_000
const STOP_TIMEOUT_MS = 10_000
/** Longest unix socket path Linux takes (`sun_path` is 108 bytes with the NUL). */
const MAX_SOCKET_PATH = 107

/** Debian's hooks directory for this machine's architecture. */
function defaultHooksDir(): string {
  const triplet = process.arch === 'arm64' ? 'aarch64-linux-gnu' : 'x86_64-linux-gnu'
  return `/usr/lib/${triplet}/kea/hooks`
}

/**
 * Whether `kea-dhcp4`, `kea-dhcp6`, `perfdhcp` and the lease_cmds and stat_cmds hooks are
 * installed (Debian `kea-dhcp4-server kea-dhcp6-server kea-admin`).
 *
 * @example
 * ```ts
 * const kea = keaAvailable()
 * if (!kea.available) console.log(kea.reason)
 * ```
 */
export function keaAvailable(hooksDir = defaultHooksDir()): KeaAvailability {
  let version = ''
  for (const program of PROGRAMS) {
    const run = spawnSync(program, [program === 'perfdhcp' ? '-v' : '-V'], { encoding: 'utf8' })
    if (run.error !== undefined || run.status !== 0)
      return { available: false, reason: `${program} does not run (${notRunning(run)})` }
    if (program === 'kea-dhcp4') version = run.stdout.split('\n')[0]?.trim() ?? ''
  }
  const missing = HOOKS.filter((h) => !existsSync(join(hooksDir, h)))
  if (missing.length > 0)
    return { available: false, reason: `Kea hooks missing in ${hooksDir}: ${missing.join(', ')}` }
  return { available: true, version }
}

function notRunning(run: ReturnType<typeof spawnSync>): string {
  if (run.error !== undefined) return run.error.message
  return `exit ${String(run.status)}: ${String(run.stderr).trim().slice(0, 200)}`
}

/**
 * For test files that need Kea: `undefined` when it is installed, else the reason to skip —
 * except under `CI=true`, where a missing Kea throws: CI must prove the Kea integration.
 *
 * @example
 * ```ts
 * describe('kea', { skip: keaSkipReason() }, () => { ... })
 * ```
 */
export function keaSkipReason(): string | undefined {
  const kea = keaAvailable()
  if (kea.available) return undefined
  const reason = `Kea is not installed: ${kea.reason} (apt-get install kea-dhcp4-server kea-dhcp6-server kea-admin kea-ctrl-agent)`
  if (process.env['CI'] === 'true')
    throw new CasmError('CASM_ERR_BACKEND', `${reason}; CI=true: the Kea tests must run`)
  return reason
}

/** True when nothing holds UDP `host:port`. */
function udpPortFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4')
    socket.once('error', () => {
      socket.close()
      resolve(false)
    })
    socket.bind({ port, address: host, exclusive: true }, () => {
      socket.close(() => {
        resolve(true)
      })
    })
  })
}

/**
 * Picks two adjacent free UDP ports on the service's loopback address, outside the kernel's
 * ephemeral range, for one Kea server and its clients (several Kea may run at once). Another
 * process can still take them before Kea binds: {@link startKea} then tries other ports.
 */
export async function freeDhcpPorts(service: KeaService): Promise<DhcpPorts> {
  const host = LOOPBACK[service]
  for (let attempt = 0; attempt < 100; attempt++) {
    const low = 20_000 + 2 * Math.floor(Math.random() * 5_000)
    if ((await udpPortFree(host, low)) && (await udpPortFree(host, low + 1)))
      return service === 'dhcp4'
        ? { serverPort: low, clientPort: low + 1 }
        : { serverPort: low + 1, clientPort: low }
  }
  throw new CasmError('CASM_ERR_BACKEND', `no two free UDP ports on ${host} in 20000-29999`)
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function deepMerge(
  base: Record<string, unknown>,
  patch: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const out = { ...base }
  for (const [key, value] of Object.entries(patch)) {
    const current = out[key]
    out[key] = isRecord(current) && isRecord(value) ? deepMerge(current, value) : value
  }
  return out
}

/** Kill any Kea still running when this process exits, so a failed test leaves none behind. */
const running = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL')
})

/**
 * One Kea server. The constructor writes the configuration file; {@link KeaProcess.start}
 * runs Kea on it and {@link KeaProcess.restart} runs it again on the same file, so a restart
 * after `config-write` serves what was written. Leases are kept in a memfile with
 * `persist: true` — `config-set` reopens the lease database, and without persistence every
 * lease would be lost on each configuration change.
 *
 * @example
 * ```ts
 * const kea = new KeaProcess({ service: 'dhcp4', ...(await freeDhcpPorts('dhcp4')) })
 * await kea.start()
 * await kea.command('version-get')    // → { result: 0, text: '2.2.0', ... }
 * await kea.stop()
 * await kea.dispose()
 * ```
 */
export class KeaProcess {
  readonly service: KeaService
  readonly dir: string
  readonly serverPort: number
  readonly clientPort: number
  /** The configuration file Kea runs on. */
  readonly configPath: string
  /** The control socket (unix). */
  readonly socketPath: string
  /** Kea's log file. */
  readonly logPath: string
  /** The memfile lease database (CSV). */
  readonly leaseFile: string
  /** The configuration as generated (the file may since have been rewritten by config-write). */
  readonly config: KeaConfig
  /** The shared network that relayed traffic selects. */
  readonly sharedNetwork: string
  private readonly ownsDir: boolean
  private child: ChildProcess | undefined
  private exited: Promise<void> = Promise.resolve()
  private output = ''

  constructor(options: KeaProcessOptions) {
    this.service = options.service
    const v = options.service === 'dhcp4' ? '4' : '6'
    this.ownsDir = options.dir === undefined
    this.dir = options.dir ?? mkdtempSync(join(tmpdir(), `casm-kea${v}-`))
    mkdirSync(this.dir, { recursive: true })
    const ports = DEFAULT_DHCP_PORTS[options.service]
    this.serverPort = options.serverPort ?? ports.serverPort
    this.clientPort = options.clientPort ?? ports.clientPort
    this.configPath = join(this.dir, `kea${v}.json`)
    this.socketPath = join(this.dir, `kea${v}.sock`)
    this.logPath = join(this.dir, `kea${v}.log`)
    this.leaseFile = join(this.dir, `leases${v}.csv`)
    if (this.socketPath.length > MAX_SOCKET_PATH)
      throw new CasmError(
        'CASM_ERR_INVALID_ARGUMENT',
        `the control socket path ${this.socketPath} is longer than ${MAX_SOCKET_PATH} bytes`,
        { dir: this.dir },
      )
    this.sharedNetwork = options.sharedNetwork ?? 'casm'
    this.config = this.generate(options)
    writeFileSync(this.configPath, `${JSON.stringify(this.config, null, 2)}\n`)
  }

  private generate(o: KeaProcessOptions): KeaConfig {
    const v4 = o.service === 'dhcp4'
    const valid = o.validLifetime ?? 600
    const hooks = o.hooksDir ?? defaultHooksDir()
    const body: Record<string, unknown> = {
      'interfaces-config': {
        interfaces: [v4 ? 'lo/127.0.0.1' : 'lo/::1'],
        ...(v4 ? { 'dhcp-socket-type': 'udp' } : {}),
        're-detect': false,
        // Without it Kea runs on without sockets when its port is taken; with it, Kea exits.
        'service-sockets-require-all': true,
      },
      ...(v4 ? {} : { 'data-directory': this.dir, 'server-id': { type: 'LLT', persist: false } }),
      'lease-database': { type: 'memfile', persist: true, name: this.leaseFile, 'lfc-interval': 0 },
      'valid-lifetime': valid,
      'renew-timer': o.renewTimer ?? Math.floor(valid / 4),
      'rebind-timer': o.rebindTimer ?? Math.floor(valid / 2),
      ...(v4 ? {} : { 'preferred-lifetime': o.preferredLifetime ?? valid }),
      'expired-leases-processing': {
        'reclaim-timer-wait-time': o.reclaimInterval ?? 1,
        'flush-reclaimed-timer-wait-time': o.reclaimInterval ?? 1,
        'hold-reclaimed-time': 0,
      },
      'control-socket': { 'socket-type': 'unix', 'socket-name': this.socketPath },
      'hooks-libraries': HOOKS.map((h) => ({ library: join(hooks, h) })),
      'shared-networks': [
        {
          name: this.sharedNetwork,
          relay: { 'ip-addresses': o.relay ?? [LOOPBACK[o.service]] },
          [v4 ? 'subnet4' : 'subnet6']: [],
        },
      ],
      loggers: [
        {
          name: `kea-${o.service}`,
          output_options: [{ output: this.logPath }],
          severity: o.logSeverity ?? 'INFO',
        },
      ],
    }
    const root = v4 ? 'Dhcp4' : 'Dhcp6'
    const patch = o.extraConfig
    if (typeof patch === 'function') return patch({ [root]: body })
    return { [root]: patch === undefined ? body : deepMerge(body, patch) }
  }

  /** The program: `kea-dhcp4` or `kea-dhcp6`. */
  get program(): string {
    return `kea-${this.service}`
  }

  /** Both ports, to spread into perfdhcp's or a probe's options. */
  get ports(): DhcpPorts {
    return { serverPort: this.serverPort, clientPort: this.clientPort }
  }

  /** The server's process id while it runs. */
  get pid(): number | undefined {
    return this.child?.pid
  }

  /**
   * Starts Kea on {@link KeaProcess.configPath} and resolves once its control socket answers
   * `version-get` and it holds its DHCP port. Rejects with `CASM_ERR_BACKEND`, carrying the end
   * of Kea's log and output, when Kea exits first (a bad configuration, a port in use).
   */
  async start(): Promise<void> {
    if (this.child !== undefined) return
    // A pid file left by a killed Kea names a pid that may have been reused: Kea would refuse.
    rmSync(this.configPath.replace(/\.json$/, `.${this.program}.pid`), { force: true })
    this.output = ''
    const child = spawn(
      this.program,
      ['-c', this.configPath, '-p', String(this.serverPort), '-P', String(this.clientPort)],
      {
        cwd: this.dir,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, KEA_PIDFILE_DIR: this.dir, KEA_LOCKFILE_DIR: this.dir },
      },
    )
    const keep = (d: Buffer): void => {
      this.output = (this.output + d.toString()).slice(-8_000)
    }
    child.stdout.on('data', keep)
    child.stderr.on('data', keep)
    let gone: string | undefined
    this.child = child
    running.add(child)
    this.exited = new Promise((resolve) => {
      child.once('error', (e) => {
        gone = e.message
      })
      child.once('close', (code, signal) => {
        gone ??= signal === null ? `exit code ${String(code)}` : `signal ${signal}`
        running.delete(child)
        if (this.child === child) this.child = undefined
        resolve()
      })
    })
    const deadline = Date.now() + START_TIMEOUT_MS
    while (gone === undefined) {
      if (Date.now() > deadline) {
        await this.kill()
        throw this.failure(`did not answer within ${START_TIMEOUT_MS / 1000} s`)
      }
      if (await this.ready()) return
      await sleep(50)
    }
    throw this.failure(`exited (${gone}) before it was ready`)
  }

  private async ready(): Promise<boolean> {
    try {
      const answer = await this.command('version-get', undefined, 1_000)
      if (answer.result !== 0) return false
    } catch {
      return false
    }
    return !(await udpPortFree(LOOPBACK[this.service], this.serverPort))
  }

  private failure(what: string): CasmError {
    return new CasmError(
      'CASM_ERR_BACKEND',
      `${this.program} on ${this.configPath} ${what}:\n${this.logTail()}\n${this.output.trim()}`,
      { configPath: this.configPath, logPath: this.logPath },
    )
  }

  /**
   * How many times Kea logged that a client found no free address or prefix
   * (`ALLOC_ENGINE_V4_ALLOC_FAIL` / `ALLOC_ENGINE_V6_ALLOC_FAIL`, logged at WARN): the space ran
   * out, as opposed to a packet that never reached Kea.
   */
  allocationFailures(): number {
    let text: string
    try {
      text = readFileSync(this.logPath, 'utf8')
    } catch {
      return 0
    }
    return text.split('\n').filter((l) => / ALLOC_ENGINE_V[46]_ALLOC_FAIL /.test(l)).length
  }

  /** The last `lines` lines of Kea's log file ('' when there is none yet). */
  logTail(lines = 20): string {
    let fd: number
    try {
      fd = openSync(this.logPath, 'r')
    } catch {
      return ''
    }
    try {
      const size = fstatSync(fd).size
      const tail = Buffer.alloc(Math.min(size, 16_384))
      readSync(fd, tail, 0, tail.length, size - tail.length)
      return tail.toString().trimEnd().split('\n').slice(-lines).join('\n')
    } finally {
      closeSync(fd)
    }
  }

  /** Stops Kea with SIGTERM and waits for it (SIGKILL after 10 s). */
  async stop(): Promise<void> {
    const child = this.child
    if (child === undefined) return
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS)
    await this.exited
    clearTimeout(timer)
  }

  /** Kills Kea with SIGKILL (a crash: no clean shutdown) and waits for it. */
  async kill(): Promise<void> {
    this.child?.kill('SIGKILL')
    await this.exited
  }

  /** Stops Kea and starts it again on the same configuration file. */
  async restart(): Promise<void> {
    await this.stop()
    await this.start()
  }

  /** Kills Kea if it runs and removes the directory if this instance created it. */
  async dispose(): Promise<void> {
    await this.kill()
    if (this.ownsDir) rmSync(this.dir, { recursive: true, force: true })
  }

  /**
   * Replaces the subnets of the shared network (by `config-get` and `config-set`) and throws
   * `CASM_ERR_BACKEND` with Kea's text when Kea refuses. For tests and demos, which write the
   * subnets themselves.
   *
   * @example
   * ```ts
   * await kea.setSubnets([{ id: 1, subnet: '10.0.0.0/24', pools: [{ pool: '10.0.0.0/24' }] }])
   * ```
   */
  async setSubnets(subnets: readonly Readonly<Record<string, unknown>>[]): Promise<void> {
    const root = this.service === 'dhcp4' ? 'Dhcp4' : 'Dhcp6'
    const got = await this.command<Record<string, Record<string, unknown>>>('config-get')
    const config = got.arguments?.[root]
    const networks = config?.['shared-networks']
    if (got.result !== 0 || config === undefined || !Array.isArray(networks))
      throw new CasmError('CASM_ERR_BACKEND', `config-get: ${got.text ?? 'no configuration'}`)
    const network = (networks as Record<string, unknown>[]).find(
      (n) => n['name'] === this.sharedNetwork,
    )
    if (network === undefined)
      throw new CasmError('CASM_ERR_BACKEND', `no shared network ${this.sharedNetwork} in Kea`)
    network[this.service === 'dhcp4' ? 'subnet4' : 'subnet6'] = subnets
    const set = await this.command('config-set', { [root]: config })
    if (set.result !== 0) throw new CasmError('CASM_ERR_BACKEND', `config-set: ${set.text ?? ''}`)
  }

  /**
   * Sends one command on the control socket and returns Kea's parsed answer, whatever its
   * `result`. For tests and tools; the agent's Kea backend has its own client.
   *
   * @example
   * ```ts
   * const { arguments: a } = await kea.command<{ leases: unknown[] }>('lease4-get-all')
   * ```
   */
  command<A = Record<string, unknown>>(
    command: string,
    args?: Readonly<Record<string, unknown>>,
    timeoutMs = 10_000,
  ): Promise<KeaAnswer<A>> {
    return new KeaControl({
      endpoint: { socket: this.socketPath },
      service: this.service,
      timeoutMs,
    }).send<A>(command, args)
  }
}

/**
 * Creates and starts a {@link KeaProcess}. Without ports in `options` it picks free ones with
 * {@link freeDhcpPorts}, and tries other ports (three times in all) when another process takes
 * them before Kea binds.
 *
 * @example
 * ```ts
 * const kea = await startKea({ service: 'dhcp6', validLifetime: 30 })
 * ```
 */
export async function startKea(options: KeaProcessOptions): Promise<KeaProcess> {
  const fixed = options.serverPort !== undefined || options.clientPort !== undefined
  for (let attempt = 1; ; attempt++) {
    const kea = new KeaProcess(
      fixed ? options : { ...options, ...(await freeDhcpPorts(options.service)) },
    )
    try {
      await kea.start()
      return kea
    } catch (e) {
      const clash = /DHCPSRV_OPEN_SOCKET_FAIL/.test(kea.logTail())
      if (fixed || attempt >= 3 || !clash) {
        await kea.dispose()
        throw e
      }
      await kea.dispose()
    }
  }
}
