/**
 * A whole casm-and-Kea setup in one process, for the demo (`casm demo kea`) and the benchmark
 * (`npm run bench -- kea`): a coordinator on SQLite in a temporary directory, listening on
 * loopback; a pool; and per device a real Kea server that starts with no pool and an agent
 * (`Agent` with the Kea backend, as `casm agent --backend kea` runs it) feeding it over the
 * device protocol. perfdhcp plays the subscribers. The end-to-end tests run the same pieces as
 * separate processes (src/agent/kea.e2e.test.ts).
 *
 * @module
 */

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Agent } from '../agent/agent.js'
import { type AgentLogger } from '../agent/agent-logger.js'
import { KeaBackend } from '../agent/backends/kea-backend.js'
import { CoordinatorClient } from '../agent/coordinator-client.js'
import { StateStore } from '../agent/state-store.js'
import { buildServer } from '../api/server.js'
import { CasmApiClient } from '../client/casm-api-client.js'
import { Coordinator } from '../coordinator/coordinator.js'
import { CasmError } from '../errors/casm-error.js'
import { openStore } from '../store/open-store.js'
import { type KeaProcess, startKea } from '../kea/kea-process.js'
import { type PerfdhcpOptions, type PerfdhcpRun, startPerfdhcp } from '../kea/perfdhcp.js'

/** A coordinator the lab talks to with an admin token. */
export interface LabCoordinator {
  readonly url: string
  readonly token: string
  close(): Promise<void>
}

/** Starts a coordinator on SQLite in `dir`, on a free loopback port. */
export async function startLabCoordinator(dir: string): Promise<LabCoordinator> {
  const store = openStore({ dataDir: dir })
  const { coordinator, bootstrapToken } = await Coordinator.open(store)
  if (bootstrapToken === undefined)
    throw new CasmError('CASM_ERR_INTERNAL', `the data directory ${dir} was not new`)
  const app = await buildServer(coordinator, { logger: false })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  return {
    url: `http://127.0.0.1:${port}`,
    token: bootstrapToken.secret,
    async close() {
      await app.close()
      await coordinator.close()
    },
  }
}

/** The pool policy fields the lab sets (see docs/api.md, pool policy). */
export interface LabPolicy {
  readonly unit: { readonly min: number; readonly default: number; readonly max: number }
  readonly highWatermark: number
  readonly lowWatermark: number
  readonly reportInterval: number
  readonly holdDown: number
  readonly leadTime: number
  readonly quarantine: number
  readonly minUnits: number
}

/** What the lab sets up. */
export interface KeaLabOptions {
  readonly family: 'ipv4' | 'ipv6'
  /** Kea servers (one device and agent each). */
  readonly servers: number
  /** The operator's block and the pool's space inside it. */
  readonly block: string
  readonly space: readonly string[]
  readonly policy: LabPolicy
  /** Lease lifetime in Kea, seconds. */
  readonly validLifetime: number
  /** The agents' `--watch`, ms (default 100). */
  readonly watchMs?: number
  /** Each agent's log lines go here (default: nowhere). */
  readonly log?: (
    device: string,
    level: 'info' | 'warn' | 'error',
    action: string,
    fields: Readonly<Record<string, unknown>>,
  ) => void
  /** Where everything lives (default: a new temporary directory, removed by `stop`). */
  readonly dir?: string
  /** A coordinator to use (default: one started in the lab's directory). */
  readonly coordinator?: LabCoordinator
}

/** One device of the lab: its Kea and its agent. */
export interface LabDevice {
  readonly name: string
  readonly kea: KeaProcess
  readonly backend: KeaBackend
  readonly agent: Agent
}

/** A grant as `GET /api/v1/grants` lists it. */
export interface LabGrant {
  readonly id: string
  readonly device: string
  readonly prefix: string
  readonly state: string
}

/**
 * The lab.
 *
 * @example
 * ```ts
 * const lab = await KeaLab.start({ family: 'ipv4', servers: 2, block: '100.64.0.0/16',
 *   space: ['100.64.0.0/20'], policy, validLifetime: 120 })
 * const run = lab.subscribers(lab.devices[0], { rate: 20, clients: 500, duration: 30 })
 * await run.result
 * await lab.stop()
 * ```
 */
export class KeaLab {
  /** The coordinator's REST API, as the admin. */
  readonly api: CasmApiClient

  private constructor(
    readonly coordinator: LabCoordinator,
    readonly devices: readonly LabDevice[],
    private readonly dir: string,
    private readonly ownsDir: boolean,
    private readonly ownsCoordinator: boolean,
  ) {
    this.api = new CasmApiClient({ url: coordinator.url, token: coordinator.token })
  }

  /** Sets up the coordinator, the inventory, the Kea servers and their agents. */
  static async start(o: KeaLabOptions): Promise<KeaLab> {
    const dir = o.dir ?? (await mkdtemp(join(tmpdir(), 'casm-kea-lab-')))
    const coordinator = o.coordinator ?? (await startLabCoordinator(join(dir, 'coordinator')))
    const devices: LabDevice[] = []
    const lab = new KeaLab(
      coordinator,
      devices,
      dir,
      o.dir === undefined,
      o.coordinator === undefined,
    )
    try {
      const api = lab.api
      await api.post('/api/v1/domains', { body: { name: 'lab' } })
      await api.post('/api/v1/blocks', { body: { domain: 'lab', space: o.block } })
      await api.post('/api/v1/pools', {
        body: { name: 'dhcp', domain: 'lab', kind: 'subscriber', space: o.space, policy: o.policy },
      })
      const v6 = o.family === 'ipv6'
      const keas = await Promise.all(
        Array.from({ length: o.servers }, (_, i) =>
          startKea({
            service: v6 ? 'dhcp6' : 'dhcp4',
            dir: join(dir, `kea-${i + 1}`),
            validLifetime: o.validLifetime,
            logSeverity: 'WARN',
          }),
        ),
      )
      for (const [i, kea] of keas.entries()) {
        const name = `kea-${i + 1}`
        await api.post('/api/v1/devices', { body: { name } })
        const { secret: token } = await api.post<{ secret: string }>('/api/v1/tokens', {
          body: { name: `${name}-agent`, role: 'device', device: name },
        })
        const backend = new KeaBackend({
          ...(v6 ? { dhcp6: { socket: kea.socketPath } } : { dhcp4: { socket: kea.socketPath } }),
          stateFile: join(dir, `agent-${name}`, 'kea-backend.json'),
        })
        const client = new CoordinatorClient({
          url: coordinator.url,
          token,
          requestTimeoutMs: 10_000,
        })
        const agent = new Agent({
          client,
          backend,
          store: new StateStore(join(dir, `agent-${name}`)),
          log: labLogger(name, o.log),
          version: 'lab',
          tickMs: 50,
          watchMs: o.watchMs ?? 100,
          family: o.family,
        })
        devices.push({ name, kea, backend, agent })
      }
      await Promise.all(devices.map((d) => d.agent.start()))
      return lab
    } catch (error) {
      await lab.stop()
      throw error
    }
  }

  /** perfdhcp against one device's Kea (DHCPv6: prefix delegation). */
  subscribers(
    device: LabDevice,
    o: Omit<PerfdhcpOptions, 'service' | 'serverPort' | 'clientPort'>,
  ): PerfdhcpRun {
    const v6 = device.kea.service === 'dhcp6'
    return startPerfdhcp({
      service: device.kea.service,
      serverPort: device.kea.serverPort,
      clientPort: device.kea.clientPort,
      ...(v6 ? { leaseType: 'prefix-only' as const } : {}),
      dropTime: 2,
      exitWaitMs: 2_000,
      ...o,
    })
  }

  /** The device's grants as the coordinator has them (every state). */
  async grants(device: LabDevice): Promise<LabGrant[]> {
    const page = await this.api.get<{ items: LabGrant[] }>('/api/v1/grants', {
      query: { device: device.name, limit: 1000 },
    })
    return page.items
  }

  /** Stops the agents, Kea servers and the coordinator; removes the directory if the lab made it. */
  async stop(): Promise<void> {
    await Promise.all(this.devices.map((d) => d.agent.stop().catch(() => undefined)))
    await Promise.all(this.devices.map((d) => d.kea.dispose().catch(() => undefined)))
    if (this.ownsCoordinator) await this.coordinator.close().catch(() => undefined)
    if (this.ownsDir) await rm(this.dir, { recursive: true, force: true })
  }
}

function labLogger(device: string, sink: KeaLabOptions['log']): AgentLogger {
  const to =
    (level: 'info' | 'warn' | 'error') =>
    (action: string, fields: Readonly<Record<string, unknown>> = {}) =>
      sink?.(device, level, action, fields)
  return { info: to('info'), warn: to('warn'), error: to('error') }
}
