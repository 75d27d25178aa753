/**
 * `casm agent`: runs the device agent (docs/agent.md) for one device against a coordinator,
 * with a simulated subscriber population or a user script as its backend, and one backend per
 * user plane for CUPS.
 *
 * @module
 */

import { constants, readFileSync } from 'node:fs'
import { access, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { Command } from 'commander'
import { Agent } from '../agent/agent.js'
import { createAgentLogger } from '../agent/agent-logger.js'
import type { Backend } from '../agent/backends/backend.js'
import { parseDemandCurve } from '../agent/backends/demand-curve.js'
import { ExecBackend } from '../agent/backends/exec-backend.js'
import { KeaBackend, type KeaBackendOptions } from '../agent/backends/kea-backend.js'
import { MultiPlaneBackend } from '../agent/backends/multi-plane-backend.js'
import { SimBackend, type SimBackendOptions } from '../agent/backends/sim-backend.js'
import { CoordinatorClient } from '../agent/coordinator-client.js'
import { StateStore } from '../agent/state-store.js'
import { CasmError } from '../errors/casm-error.js'
import { Address, type Family } from '../ip/index.js'
import type { KeaEndpoint } from '../kea/kea-control.js'

/** Where the agent keeps its state unless told otherwise. */
export const DEFAULT_AGENT_STATE = './agent-state'

/** The options as commander hands them over (strings). */
export interface AgentCommandInput {
  coordinator?: string | undefined
  token?: string | undefined
  backend: string
  state: string
  script?: string | undefined
  scriptTimeout: string
  planes?: string | undefined
  family?: string | undefined
  simSubscribers: string
  simCurve: string
  simSession: string
  simRetry: string
  simSeed: string
  simFastDrain?: boolean | undefined
  keaSocket4?: string | undefined
  keaSocket6?: string | undefined
  keaHttp?: string | undefined
  keaService?: string | undefined
  keaV6: string
  keaDelegatedLength: string
  keaSharedNetwork: string
  keaRelay4?: string | undefined
  keaRelay6?: string | undefined
  keaInterface4?: string | undefined
  keaInterface6?: string | undefined
  keaGateway?: boolean | undefined
  keaOwner: string
  keaSubnetIdBase: string
  leaseUpload: string
  leaseReplay: string
  watch?: string | undefined
  speed: string
  requestTimeout: string
  tick: string
  json?: boolean | undefined
}

/** Checked options of `casm agent`. */
export interface AgentCommandOptions {
  readonly coordinator: string
  readonly token: string
  readonly backend: 'sim' | 'exec' | 'kea'
  readonly state: string
  readonly script: string | undefined
  readonly scriptTimeoutMs: number
  readonly planes: readonly string[] | undefined
  readonly family: Family | undefined
  readonly sim: Omit<SimBackendOptions, 'snapshotFile' | 'clock'> & { readonly seed: number }
  /** `--backend kea`: the servers and layout (the state file is added per plane). */
  readonly kea: Omit<KeaBackendOptions, 'stateFile' | 'now'>
  /** Seconds between lease uploads (0: none), and whether to replay into an emptied server. */
  readonly leaseUploadSeconds: number
  readonly leaseReplay: 'auto' | 'never'
  /** Milliseconds between looks at usage for an early report (kea only; undefined: off). */
  readonly watchMs: number | undefined
  readonly requestTimeoutMs: number
  readonly tickMs: number
  readonly json: boolean
}

const bad = (message: string, option: string): CasmError =>
  new CasmError('CASM_ERR_VALIDATION', message, { option })

function positive(text: string, option: string, integer = false): number {
  const n = Number(text)
  if (text.trim() === '' || !Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n)))
    throw bad(
      `${option} '${text}' is not a ${integer ? 'whole ' : ''}number above 0; e.g. ${option} ${integer ? '100' : '2.5'}`,
      option,
    )
  return n
}

/**
 * Checks the raw options of `casm agent`.
 *
 * @throws CasmError `CASM_ERR_VALIDATION` naming the option and what to write instead.
 *
 * @example
 * ```ts
 * parseAgentOptions({ coordinator: 'http://127.0.0.1:8470', token: 't', backend: 'sim', ... })
 * ```
 */
export function parseAgentOptions(o: AgentCommandInput): AgentCommandOptions {
  if (o.coordinator === undefined || o.coordinator === '')
    throw bad(
      'no coordinator: give --coordinator http://HOST:8470 or set CASM_URL',
      '--coordinator',
    )
  let url: URL
  try {
    url = new URL(o.coordinator)
  } catch {
    throw bad(
      `--coordinator '${o.coordinator}' is not a URL; write http://HOST:PORT`,
      '--coordinator',
    )
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw bad(
      `--coordinator '${o.coordinator}' must be an http:// or https:// URL`,
      '--coordinator',
    )
  if (o.token === undefined || o.token === '')
    throw bad(
      'no token: give --token or set CASM_TOKEN to a device token (casm token create --role device --device NAME)',
      '--token',
    )
  if (o.backend !== 'sim' && o.backend !== 'exec' && o.backend !== 'kea')
    throw bad(`--backend '${o.backend}' is unknown; use sim, exec or kea`, '--backend')
  if (o.backend === 'exec' && (o.script === undefined || o.script === ''))
    throw bad('--backend exec needs --script PATH (an executable; see docs/agent.md)', '--script')
  if (o.backend === 'sim' && o.script !== undefined)
    throw bad('--script goes with --backend exec', '--script')
  let planes: string[] | undefined
  if (o.planes !== undefined) {
    planes = o.planes.split(',').map((p) => p.trim())
    for (const p of planes)
      if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(p))
        throw bad(
          `--planes '${o.planes}': '${p}' is not a plane name (a letter or digit, then letters, digits, . _ -; 63 at most); e.g. --planes up1,up2`,
          '--planes',
        )
    if (new Set(planes).size !== planes.length)
      throw bad(`--planes '${o.planes}' names a plane twice`, '--planes')
  }
  if (planes !== undefined && o.backend === 'kea')
    throw bad(
      '--planes goes with --backend sim or exec; for several Kea servers run one agent each (a device per server)',
      '--planes',
    )
  if (o.family !== undefined && o.family !== 'ipv4' && o.family !== 'ipv6')
    throw bad(`--family '${o.family}' is unknown; use ipv4 or ipv6`, '--family')
  const subscribers = Number(o.simSubscribers)
  if (!Number.isInteger(subscribers) || subscribers < 0)
    throw bad(
      `--sim-subscribers '${o.simSubscribers}' is not a whole number >= 0`,
      '--sim-subscribers',
    )
  const kea = parseKeaOptions(o)
  const leaseUploadSeconds = Number(o.leaseUpload)
  if (!Number.isFinite(leaseUploadSeconds) || leaseUploadSeconds < 0)
    throw bad(
      `--lease-upload '${o.leaseUpload}' is not a number of seconds >= 0 (0 turns uploads off)`,
      '--lease-upload',
    )
  if (o.leaseReplay !== 'auto' && o.leaseReplay !== 'never')
    throw bad(`--lease-replay '${o.leaseReplay}' is unknown; use auto or never`, '--lease-replay')
  if (o.watch !== undefined && o.backend !== 'kea')
    throw bad(
      '--watch goes with --backend kea (the sim and exec backends report on their timer)',
      '--watch',
    )
  const watch = o.watch === undefined ? 0.1 : Number(o.watch)
  if (!Number.isFinite(watch) || watch < 0)
    throw bad(
      `--watch '${o.watch ?? ''}' is not a number of seconds >= 0 (0 turns it off)`,
      '--watch',
    )
  const seed = Number(o.simSeed)
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff)
    throw bad(`--sim-seed '${o.simSeed}' is not a whole number 0..4294967295`, '--sim-seed')
  return {
    coordinator: o.coordinator,
    token: o.token,
    backend: o.backend,
    state: o.state,
    script: o.script,
    scriptTimeoutMs: positive(o.scriptTimeout, '--script-timeout') * 1000,
    planes,
    family: o.family,
    sim: {
      seed,
      curve: parseDemandCurve(o.simCurve, subscribers),
      sessionSeconds: positive(o.simSession, '--sim-session'),
      retrySeconds: positive(o.simRetry, '--sim-retry'),
      fastDrain: o.simFastDrain === true,
      speed: positive(o.speed, '--speed'),
    },
    kea,
    leaseUploadSeconds,
    leaseReplay: o.leaseReplay,
    watchMs: o.backend === 'kea' && watch > 0 ? watch * 1000 : undefined,
    requestTimeoutMs: positive(o.requestTimeout, '--request-timeout') * 1000,
    tickMs: positive(o.tick, '--tick') * 1000,
    json: o.json === true,
  }
}

const list = (text: string | undefined): string[] | undefined =>
  text === undefined
    ? undefined
    : text
        .split(',')
        .map((t) => t.trim())
        .filter((t) => t !== '')

/** Checks the `--kea-*` options (all of them, whatever the backend, so a typo is never silent). */
function parseKeaOptions(o: AgentCommandInput): AgentCommandOptions['kea'] {
  const given = [o.keaSocket4, o.keaSocket6, o.keaHttp].some((x) => x !== undefined)
  if (o.backend === 'kea' && !given)
    throw bad(
      '--backend kea needs a Kea server: --kea-socket4 PATH and/or --kea-socket6 PATH (control sockets), or --kea-http URL --kea-service dhcp4,dhcp6',
      '--kea-socket4',
    )
  if (o.backend !== 'kea' && given) throw bad('--kea-* options go with --backend kea', '--backend')
  if (o.keaHttp !== undefined && (o.keaSocket4 !== undefined || o.keaSocket6 !== undefined))
    throw bad('give either --kea-http or --kea-socket4/--kea-socket6, not both', '--kea-http')
  let dhcp4: KeaEndpoint | undefined =
    o.keaSocket4 === undefined ? undefined : { socket: o.keaSocket4 }
  let dhcp6: KeaEndpoint | undefined =
    o.keaSocket6 === undefined ? undefined : { socket: o.keaSocket6 }
  if (o.keaHttp !== undefined) {
    try {
      new URL(o.keaHttp)
    } catch {
      throw bad(`--kea-http '${o.keaHttp}' is not a URL; e.g. http://127.0.0.1:8000/`, '--kea-http')
    }
    const services = list(o.keaService) ?? []
    if (services.length === 0 || services.some((x) => x !== 'dhcp4' && x !== 'dhcp6'))
      throw bad('--kea-http needs --kea-service dhcp4, dhcp6 or dhcp4,dhcp6', '--kea-service')
    if (services.includes('dhcp4')) dhcp4 = { http: o.keaHttp }
    if (services.includes('dhcp6')) dhcp6 = { http: o.keaHttp }
  }
  if (o.keaV6 !== 'pd' && o.keaV6 !== 'na')
    throw bad(
      `--kea-v6 '${o.keaV6}' is unknown; use pd (prefix delegation) or na (addresses)`,
      '--kea-v6',
    )
  const delegatedLength = Number(o.keaDelegatedLength)
  if (!Number.isInteger(delegatedLength) || delegatedLength < 1 || delegatedLength > 128)
    throw bad(
      `--kea-delegated-length '${o.keaDelegatedLength}' is not a prefix length 1..128; e.g. 56`,
      '--kea-delegated-length',
    )
  const base = Number(o.keaSubnetIdBase)
  if (!Number.isInteger(base) || base < 1 || base > 0xffffffff)
    throw bad(
      `--kea-subnet-id-base '${o.keaSubnetIdBase}' is not a subnet id 1..4294967295`,
      '--kea-subnet-id-base',
    )
  const addresses = (
    text: string | undefined,
    family: Family,
    option: string,
  ): string[] | undefined => {
    const items = list(text)
    for (const a of items ?? [])
      try {
        Address.parse(a, family)
      } catch {
        throw bad(
          `${option} '${a}' is not an ${family === 'ipv4' ? 'IPv4' : 'IPv6'} address`,
          option,
        )
      }
    return items
  }
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(o.keaSharedNetwork))
    throw bad(
      `--kea-shared-network '${o.keaSharedNetwork}' is not a name (letters, digits, . _ -)`,
      '--kea-shared-network',
    )
  return {
    dhcp4,
    dhcp6,
    v6Mode: o.keaV6,
    delegatedLength,
    sharedNetwork: o.keaSharedNetwork,
    relay4: addresses(o.keaRelay4, 'ipv4', '--kea-relay4'),
    relay6: addresses(o.keaRelay6, 'ipv6', '--kea-relay6'),
    interface4: o.keaInterface4,
    interface6: o.keaInterface6,
    gateway: o.keaGateway === true,
    owner: o.keaOwner,
    subnetIdBase: base,
  }
}

/** The backend the options ask for: one per user plane, behind one interface. */
export function buildBackend(o: AgentCommandOptions): Backend {
  const one = (plane: string | undefined, index: number): Backend => {
    const suffix = plane === undefined ? '' : `-${plane}`
    if (o.backend === 'kea')
      return new KeaBackend({ ...o.kea, stateFile: join(o.state, `kea-backend${suffix}.json`) })
    if (o.backend === 'exec')
      return new ExecBackend({
        script: o.script ?? '',
        timeoutMs: o.scriptTimeoutMs,
        recordFile: join(o.state, `exec-backend${suffix}.json`),
        ...(plane === undefined ? {} : { plane }),
      })
    return new SimBackend({
      ...o.sim,
      seed: (o.sim.seed + index) >>> 0,
      snapshotFile: join(o.state, `sim-backend${suffix}.json`),
    })
  }
  if (o.planes === undefined) return one(undefined, 0)
  return new MultiPlaneBackend(o.planes.map((name, i) => ({ name, backend: one(name, i) })))
}

async function checkScript(script: string): Promise<void> {
  try {
    const s = await stat(script)
    if (!s.isFile()) throw new Error('not a file')
    await access(script, constants.X_OK)
  } catch {
    throw bad(
      `--script '${script}' is not an executable file; check the path and chmod +x it`,
      '--script',
    )
  }
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string
  }
  return pkg.version
}

/** Builds the `agent` command. */
export function agentCommand(): Command {
  return new Command('agent')
    .description(
      "run a device's agent: get pools from the coordinator, serve them through a backend, report usage, give them back",
    )
    .option('--coordinator <url>', 'the coordinator (env CASM_URL)', process.env['CASM_URL'])
    .option('--token <token>', "the device's token (env CASM_TOKEN)", process.env['CASM_TOKEN'])
    .option(
      '--backend <name>',
      'sim (simulated subscribers), exec (a script) or kea (ISC Kea DHCP servers)',
      'sim',
    )
    .option(
      '--state <dir>',
      'state directory: outbox, grants, stream position (env CASM_AGENT_STATE)',
      process.env['CASM_AGENT_STATE'] ?? DEFAULT_AGENT_STATE,
    )
    .option('--script <path>', 'exec: the executable called as SCRIPT ACTION')
    .option('--script-timeout <s>', 'exec: seconds one call may take', '10')
    .option('--planes <names>', 'CUPS: user planes, comma-separated (one backend each)')
    .option('--family <family>', 'ipv4 or ipv6: what to ask for when holding nothing')
    .option(
      '--sim-subscribers <n>',
      'sim: subscribers wanted (the default level of the curve)',
      '100',
    )
    .option(
      '--sim-curve <spec>',
      'sim: demand over time: constant | ramp,to=N,seconds=S | sine,peak=N,trough=N,period=S,phase=S | steps,AT=N,...',
      'constant',
    )
    .option('--sim-session <s>', 'sim: mean session length, simulated seconds', '3600')
    .option('--sim-retry <s>', 'sim: mean wait before a rejected subscriber tries again', '30')
    .option('--sim-seed <n>', 'sim: random seed (same seed, same run)', '1')
    .option(
      '--sim-fast-drain',
      'sim: move subscribers out of every draining grant at once (fast drains always do)',
    )
    .option('--speed <n>', 'sim: simulated seconds per real second', '1')
    .option('--kea-socket4 <path>', "kea: the DHCPv4 server's control socket")
    .option('--kea-socket6 <path>', "kea: the DHCPv6 server's control socket")
    .option(
      '--kea-http <url>',
      "kea: the Control Agent's URL instead of sockets (with --kea-service)",
    )
    .option('--kea-service <list>', 'kea: servers behind --kea-http: dhcp4, dhcp6 or dhcp4,dhcp6')
    .option(
      '--kea-v6 <mode>',
      'kea: DHCPv6 hands out pd (delegated prefixes) or na (addresses)',
      'pd',
    )
    .option('--kea-delegated-length <n>', 'kea: length of each delegated prefix', '56')
    .option('--kea-shared-network <name>', "kea: the shared network holding casm's subnets", 'casm')
    .option('--kea-relay4 <ips>', 'kea: relay addresses of a shared network casm creates (IPv4)')
    .option('--kea-relay6 <ips>', 'kea: relay addresses of a shared network casm creates (IPv6)')
    .option('--kea-interface4 <name>', 'kea: interface of a shared network casm creates (IPv4)')
    .option('--kea-interface6 <name>', 'kea: interface of a shared network casm creates (IPv6)')
    .option('--kea-gateway', "kea: each IPv4 grant's first address is its router (option 3)")
    .option(
      '--kea-owner <tag>',
      "kea: tag of this agent's subnets (one per agent sharing a Kea)",
      'casm',
    )
    .option('--kea-subnet-id-base <n>', 'kea: lowest subnet id casm gives its subnets', '1000000')
    .option(
      '--lease-upload <s>',
      'kea: seconds between lease uploads to the coordinator (0: never)',
      '60',
    )
    .option(
      '--watch <s>',
      'kea: seconds between looks at usage; crossing the high watermark is reported at once (0: off)',
    )
    .option(
      '--lease-replay <mode>',
      'kea: auto (replay stored leases into a server that lost them) or never',
      'auto',
    )
    .option('--request-timeout <s>', 'seconds to wait for the coordinator', '10')
    .option('--tick <s>', 'seconds between checks of the timers (reports, renewals)', '1')
    .option('--json', 'log JSON lines')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  casm agent --coordinator http://127.0.0.1:8470 --token $DEVICE_TOKEN --state /var/lib/casm-agent\n' +
        '  casm agent --backend sim --sim-curve sine,peak=500,period=86400 --speed 60 --json\n' +
        '  casm agent --backend exec --script ./examples/exec-backend/demo-backend.sh --planes up1,up2\n' +
        '  casm agent --backend kea --kea-socket4 /run/kea/kea4-ctrl.sock --kea-relay4 192.0.2.1\n' +
        '\nStops cleanly on SIGTERM or SIGINT. docs/agent.md describes backends, the script contract and the logs.',
    )
    .action(async (raw: AgentCommandInput) => {
      const o = parseAgentOptions(raw)
      if (o.script !== undefined) await checkScript(o.script)
      const log = createAgentLogger({ json: o.json })
      const client = new CoordinatorClient({
        url: o.coordinator,
        token: o.token,
        requestTimeoutMs: o.requestTimeoutMs,
      })
      const agent = new Agent({
        client,
        backend: buildBackend(o),
        store: new StateStore(o.state),
        log,
        version: version(),
        tickMs: o.tickMs,
        ...(o.backend === 'kea' && (o.leaseUploadSeconds > 0 || o.leaseReplay === 'auto')
          ? { leases: { client, intervalMs: o.leaseUploadSeconds * 1000, replay: o.leaseReplay } }
          : {}),
        ...(o.watchMs === undefined ? {} : { watchMs: o.watchMs }),
        ...(o.family === undefined ? {} : { family: o.family }),
      })
      const onSignal = (signal: NodeJS.Signals): void => {
        log.info('signal', { signal })
        void agent.stop()
      }
      process.on('SIGINT', onSignal)
      process.on('SIGTERM', onSignal)
      try {
        await agent.start()
        await agent.done
      } finally {
        process.off('SIGINT', onSignal)
        process.off('SIGTERM', onSignal)
        await agent.stop()
      }
    })
}
