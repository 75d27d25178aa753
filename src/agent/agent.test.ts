/**
 * The agent against a scripted coordinator on a real HTTP port: the protocol's sequences, resends
 * with the same txn, stream reconnection and restarts. (agent.e2e.test.ts runs the real thing.)
 */
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { createServer, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, it } from 'node:test'
import type {
  CoordinatorMessage,
  DeviceMessage,
  GrantInfo,
  StatusReportMessage,
  StreamMessage,
} from '../domain/device-protocol.js'
import { isCasmError } from '../errors/casm-error.js'
import { Agent } from './agent.js'
import { createAgentLogger } from './agent-logger.js'
import type { Backend, BackendGrant, BackendUsage, HeldGrant } from './backends/backend.js'
import { CoordinatorClient } from './coordinator-client.js'
import { STATE_FILE, StateStore } from './state-store.js'

const TOKEN = 'device-token'

/** A stream message without its envelope. */
type EventBody = StreamMessage extends infer M
  ? M extends StreamMessage
    ? Omit<M, 'v' | 'txn'>
    : never
  : never

/** A coordinator that follows docs/protocol.md with canned policy, for one device. */
class FakeCoordinator {
  url = ''
  readonly received: DeviceMessage[] = []
  readonly answers = new Map<string, CoordinatorMessage>()
  grants: GrantInfo[] = []
  readonly events: { id: number; message: StreamMessage }[] = []
  readonly streamHeaders: string[] = []
  /** Answer the next N posts with 503; `refuse` answers matching messages with 503 until cleared. */
  failNext = 0
  refuse: ((m: DeviceMessage) => boolean) | undefined
  reportInterval = 0.2
  renewBefore = 60
  private nextPrefix = 0
  private readonly streams = new Set<ServerResponse>()
  private server: Server | undefined

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      if (req.headers.authorization !== `Bearer ${TOKEN}`) {
        res.writeHead(401, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ error: { code: 'CASM_ERR_UNAUTHENTICATED', message: 'no' } }))
        return
      }
      if (req.method === 'GET' && req.url === '/api/v1/agent/stream') {
        const after = Number(req.headers['last-event-id'] ?? 0)
        this.streamHeaders.push(String(req.headers['last-event-id']))
        res.writeHead(200, { 'content-type': 'text/event-stream' })
        res.write(': keep-alive\n\n')
        for (const e of this.events) if (e.id > after) this.write(res, e)
        this.streams.add(res)
        res.on('close', () => this.streams.delete(res))
        return
      }
      let body = ''
      req.on('data', (d: Buffer) => (body += d.toString()))
      req.on('end', () => {
        const m = JSON.parse(body) as DeviceMessage
        this.received.push(m)
        if (this.failNext > 0 || this.refuse?.(m) === true) {
          this.failNext = Math.max(0, this.failNext - 1)
          res.writeHead(503, { 'content-type': 'application/json' })
          res.end(JSON.stringify({ error: { code: 'CASM_ERR_UNAVAILABLE', message: 'busy' } }))
          return
        }
        const answer = this.answers.get(m.txn) ?? this.answer(m)
        this.answers.set(m.txn, answer)
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(JSON.stringify(answer))
      })
    })
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve))
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections()
    await new Promise((resolve) => this.server?.close(resolve))
  }

  grant(prefix: string, extra: Partial<GrantInfo> = {}): GrantInfo {
    return {
      grant: `gr_${prefix.split('.')[2] ?? 'x'}`,
      prefix,
      pool: 'bng',
      family: 'ipv4',
      state: 'active',
      expiresAt: null,
      pinned: false,
      ...extra,
    }
  }

  private answer(m: DeviceMessage): CoordinatorMessage {
    const head = { v: 1, txn: m.txn } as const
    switch (m.type) {
      case 'hello':
        return {
          ...head,
          type: 'sync',
          device: { id: 'dev_1', name: 'bng-01' },
          grants: this.grants,
          remove: [],
          reportInterval: this.reportInterval,
          renewBefore: this.renewBefore,
          lastEventId: this.events.length,
        }
      case 'pool-request': {
        const g = this.grant(`100.64.${++this.nextPrefix}.0/28`)
        this.grants.push(g)
        return { ...head, type: 'pool-reply', grants: [g], reason: 'asked' }
      }
      case 'renew':
        return {
          ...head,
          type: 'renew-reply',
          grants: m.grants.map((grant) => ({ grant, expiresAt: '2099-01-01T00:00:00.000Z' })),
        }
      case 'status-report':
        return { ...head, type: 'report-confirm', received: m.grants.length, decisions: [] }
      case 'status-query':
        return { ...head, type: 'status', grants: this.grants, lastEventId: this.events.length }
      case 'release-request':
        return { ...head, type: 'release-notification', grants: [], reason: 'asked' }
      case 'release-confirm':
      case 'ack':
        return { ...head, type: 'ok' }
    }
  }

  /** Stores an event and sends it to the connected streams. */
  push(message: EventBody): void {
    const id = this.events.length + 1
    const e = { id, message: { v: 1, txn: `s-${id}`, ...message } as StreamMessage }
    this.events.push(e)
    for (const res of this.streams) this.write(res, e)
  }

  closeStreams(): void {
    for (const res of this.streams) res.end()
  }

  sent<T extends DeviceMessage['type']>(type: T): Extract<DeviceMessage, { type: T }>[] {
    return this.received.filter((m): m is Extract<DeviceMessage, { type: T }> => m.type === type)
  }

  reports(): StatusReportMessage[] {
    return this.sent('status-report')
  }

  private write(res: ServerResponse, e: { id: number; message: StreamMessage }): void {
    res.write(`id: ${e.id}\nevent: ${e.message.type}\ndata: ${JSON.stringify(e.message)}\n\n`)
  }
}

/** A backend in memory whose usage the test sets. */
class MemoryBackend implements Backend {
  readonly name = 'memory'
  readonly held = new Map<string, { grant?: string; state: 'active' | 'draining'; used: number }>()
  readonly calls: string[] = []

  start(): Promise<void> {
    return Promise.resolve()
  }
  install(g: BackendGrant): Promise<void> {
    this.calls.push(`install ${g.prefix}`)
    const h = this.held.get(g.prefix)
    if (h === undefined)
      this.held.set(g.prefix, {
        ...(g.grant === undefined ? {} : { grant: g.grant }),
        state: g.state,
        used: 0,
      })
    else if (h.grant === undefined && g.grant !== undefined) h.grant = g.grant
    return Promise.resolve()
  }
  drain(g: BackendGrant): Promise<void> {
    this.calls.push(`drain ${g.prefix}${g.drainMode === undefined ? '' : ` ${g.drainMode}`}`)
    const h = this.held.get(g.prefix)
    if (h !== undefined) h.state = 'draining'
    return Promise.resolve()
  }
  undrain(g: BackendGrant): Promise<void> {
    this.calls.push(`undrain ${g.prefix}`)
    const h = this.held.get(g.prefix)
    if (h !== undefined) h.state = 'active'
    return Promise.resolve()
  }
  remove(g: BackendGrant): Promise<void> {
    this.calls.push(`remove ${g.prefix}`)
    this.held.delete(g.prefix)
    return Promise.resolve()
  }
  usage(): Promise<readonly BackendUsage[]> {
    return Promise.resolve(
      [...this.held].map(([prefix, h]) => ({
        ...(h.grant === undefined ? {} : { grant: h.grant }),
        prefix,
        used: h.used,
      })),
    )
  }
  holds(): Promise<readonly HeldGrant[]> {
    return Promise.resolve(
      [...this.held].map(([prefix, h]) => ({
        ...(h.grant === undefined ? {} : { grant: h.grant }),
        prefix,
        state: h.state,
      })),
    )
  }
  stop(): Promise<void> {
    return Promise.resolve()
  }
  setUsed(prefix: string, used: number): void {
    const h = this.held.get(prefix)
    if (h !== undefined) h.used = used
  }
}

async function waitFor(what: string, check: () => boolean, ms = 5000): Promise<void> {
  const until = Date.now() + ms
  while (!check()) {
    if (Date.now() > until) assert.fail(`timed out waiting for: ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

let fake: FakeCoordinator
let dir: string
const running: Agent[] = []

function startAgent(
  backend: Backend,
  token = TOKEN,
): { agent: Agent; log: Record<string, unknown>[] } {
  const log: Record<string, unknown>[] = []
  const agent = new Agent({
    client: new CoordinatorClient({ url: fake.url, token, requestTimeoutMs: 2000 }),
    backend,
    store: new StateStore(dir),
    log: createAgentLogger({
      json: true,
      write: (line) => log.push(JSON.parse(line) as Record<string, unknown>),
    }),
    version: 'test',
    tickMs: 20,
    retry: { initialMs: 20, maxMs: 100 },
    reconnect: { initialMs: 20, maxMs: 100 },
    backendRetry: { initialMs: 20, maxMs: 100 },
    ackDelayMs: 50,
  })
  running.push(agent)
  return { agent, log }
}

const actions = (log: readonly Record<string, unknown>[]) => log.map((l) => l['action'])

describe('agent', () => {
  beforeEach(async () => {
    fake = new FakeCoordinator()
    await fake.start()
    dir = await mkdtemp(join(tmpdir(), 'casm-agent-'))
  })
  afterEach(async () => {
    await Promise.all(running.splice(0).map((a) => a.stop()))
    await fake.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('asks for space when it holds none, installs it and reports its usage', async () => {
    const backend = new MemoryBackend()
    const { agent, log } = startAgent(backend)
    await agent.start()
    await waitFor('a grant installed', () => backend.held.has('100.64.1.0/28'))
    backend.setUsed('100.64.1.0/28', 5)
    await waitFor('a report of 5', () =>
      fake.reports().some((r) => r.grants.some((g) => g.grant === 'gr_1' && g.used === 5)),
    )
    const [hello] = fake.sent('hello')
    assert.deepEqual(hello?.holds, [])
    assert.deepEqual(hello.agent, { version: 'test', backend: 'memory' })
    assert.equal(new Set(fake.sent('pool-request').map((m) => m.txn)).size, 1)
    const txns = fake.received.map((m) => m.txn)
    assert.ok(txns.every((t) => t.length <= 100 && t.startsWith(agent.snapshot().instance)))
    assert.ok(actions(log).includes('sync') && actions(log).includes('install'))
  })

  it('drains on request, reports the grant empty, removes it on release and confirms', async () => {
    fake.grants = [fake.grant('100.64.7.0/28')]
    const backend = new MemoryBackend()
    const { agent } = startAgent(backend)
    await agent.start()
    await waitFor('installed', () => backend.held.get('100.64.7.0/28')?.state === 'active')
    backend.setUsed('100.64.7.0/28', 3)
    fake.push({
      type: 'drain',
      grant: 'gr_7',
      prefix: '100.64.7.0/28',
      cause: 'policy',
      mode: 'fast',
      reason: 'low use',
    })
    await waitFor('draining', () => backend.held.get('100.64.7.0/28')?.state === 'draining')
    assert.ok(backend.calls.includes('drain 100.64.7.0/28 fast'), backend.calls.join(', '))
    backend.setUsed('100.64.7.0/28', 0)
    await waitFor('an empty report', () =>
      fake.reports().some((r) => r.grants.some((g) => g.grant === 'gr_7' && g.used === 0)),
    )
    fake.grants = []
    fake.push({
      type: 'release-notification',
      grants: [{ grant: 'gr_7', prefix: '100.64.7.0/28', state: 'released' }],
      reason: 'reclaimed',
    })
    await waitFor('release-confirm', () =>
      fake.sent('release-confirm').some((m) => m.grants.includes('gr_7')),
    )
    assert.equal(backend.held.has('100.64.7.0/28'), false)
    await waitFor('ack of both events', () => fake.sent('ack').some((m) => m.upTo === 2))
    assert.equal(agent.snapshot().lastEventId, 2)
  })

  it('undrains, and answers a status-query event with a report at once', async () => {
    fake.grants = [fake.grant('100.64.7.0/28', { state: 'draining' })]
    const backend = new MemoryBackend()
    const { agent } = startAgent(backend)
    await agent.start()
    await waitFor(
      'installed draining',
      () => backend.held.get('100.64.7.0/28')?.state === 'draining',
    )
    fake.reportInterval = 3600
    fake.push({ type: 'undrain', grant: 'gr_7', prefix: '100.64.7.0/28', reason: 'busy again' })
    await waitFor('active', () => backend.held.get('100.64.7.0/28')?.state === 'active')
    const before = fake.reports().length
    fake.push({ type: 'status-query' })
    await waitFor('a report after the query', () => fake.reports().length > before)
  })

  it('resends with the same txn until the coordinator answers', async () => {
    fake.failNext = 3
    const backend = new MemoryBackend()
    const { agent, log } = startAgent(backend)
    await agent.start()
    await waitFor('a grant installed', () => backend.held.size === 1)
    const hellos = fake.sent('hello')
    assert.equal(hellos.length, 4)
    assert.equal(new Set(hellos.map((h) => h.txn)).size, 1)
    assert.equal(log.filter((l) => l['action'] === 'retry').length, 3)
  })

  it('keeps an unanswered request across its own restart and resends it with the same txn', async () => {
    fake.refuse = (m) => m.type === 'pool-request'
    const first = new MemoryBackend()
    const a = startAgent(first).agent
    await a.start()
    await waitFor('pool-request tried', () => fake.sent('pool-request').length >= 2)
    await a.stop()
    const saved = JSON.parse(await readFile(join(dir, STATE_FILE), 'utf8')) as {
      outbox: { txn: string; message: DeviceMessage }[]
    }
    const pending = saved.outbox.find((e) => e.message.type === 'pool-request')
    assert.ok(pending !== undefined, JSON.stringify(saved.outbox))
    fake.refuse = undefined
    const second = new MemoryBackend()
    const b = startAgent(second).agent
    await b.start()
    await waitFor('the grant', () => second.held.size === 1)
    const txns = new Set(fake.sent('pool-request').map((m) => m.txn))
    assert.deepEqual([...txns], [pending.txn], 'one request, one txn, however often sent')
    assert.equal(fake.grants.length, 1)
  })

  it('resumes the stream after its last event when it restarts', async () => {
    fake.grants = [fake.grant('100.64.7.0/28'), fake.grant('100.64.8.0/28')]
    const backend = new MemoryBackend()
    const a = startAgent(backend).agent
    await a.start()
    fake.push({ type: 'status-query' })
    await waitFor('event 1 processed', () => a.snapshot().lastEventId === 1)
    await a.stop()
    fake.grants = [fake.grant('100.64.7.0/28'), fake.grant('100.64.8.0/28', { state: 'draining' })]
    fake.push({
      type: 'drain',
      grant: 'gr_8',
      prefix: '100.64.8.0/28',
      cause: 'operator',
      mode: 'natural',
      reason: 'maintenance',
    })
    const b = startAgent(backend).agent
    await b.start()
    await waitFor('draining', () => backend.held.get('100.64.8.0/28')?.state === 'draining')
    await waitFor('stream reopened', () => fake.streamHeaders.length === 2)
    assert.deepEqual(fake.streamHeaders, ['0', '1'])
    const hellos = fake.sent('hello')
    assert.deepEqual(hellos[1]?.holds.map((h) => h.prefix).sort(), [
      '100.64.7.0/28',
      '100.64.8.0/28',
    ])
    assert.equal(backend.calls.filter((c) => c.startsWith('install')).length, 2)
  })

  it('reconnects a lost stream and says hello again', async () => {
    const backend = new MemoryBackend()
    const { agent, log } = startAgent(backend)
    await agent.start()
    await waitFor('stream open', () => fake.streamHeaders.length === 1)
    fake.push({ type: 'status-query' })
    await waitFor('event processed', () => agent.snapshot().lastEventId === 1)
    fake.closeStreams()
    await waitFor('stream reopened', () => fake.streamHeaders.length === 2)
    assert.equal(fake.streamHeaders[1], '1')
    assert.equal(fake.sent('hello').length, 2)
    assert.ok(actions(log).includes('stream-closed'))
  })

  it('does not replay what the sync already covers, but confirms releases', async () => {
    fake.push({ type: 'pool-reply', grants: [fake.grant('100.64.5.0/28')], reason: 'grown' })
    fake.push({
      type: 'release-notification',
      grants: [{ grant: 'gr_5', prefix: '100.64.5.0/28', state: 'released' }],
      reason: 'reclaimed',
    })
    fake.grants = [fake.grant('100.64.6.0/28')]
    const backend = new MemoryBackend()
    const { agent } = startAgent(backend)
    await agent.start()
    await waitFor('release-confirm', () => fake.sent('release-confirm').length === 1)
    assert.deepEqual(backend.calls, ['install 100.64.6.0/28'])
    assert.equal(agent.snapshot().lastEventId, 2)
  })

  it('renews grants renewBefore seconds ahead of their expiry', async () => {
    const soon = new Date(Date.now() + 30_000).toISOString()
    fake.grants = [fake.grant('100.64.7.0/28', { expiresAt: soon })]
    const { agent } = startAgent(new MemoryBackend())
    await agent.start()
    await waitFor('renew', () => fake.sent('renew').length === 1)
    await waitFor('new expiry', () =>
      agent.snapshot().grants.every((g) => g.expiresAt === '2099-01-01T00:00:00.000Z'),
    )
    assert.deepEqual(fake.sent('renew')[0]?.grants, ['gr_7'])
  })

  it('drains a prefix the coordinator did not grant and removes it once empty', async () => {
    fake.grants = [fake.grant('100.64.7.0/28')]
    const backend = new MemoryBackend()
    backend.held.set('198.51.100.0/28', { state: 'active', used: 2 })
    const { agent } = startAgent(backend)
    await agent.start()
    await waitFor('drained', () => backend.held.get('198.51.100.0/28')?.state === 'draining')
    assert.deepEqual(fake.sent('hello')[0]?.holds, [{ prefix: '198.51.100.0/28' }])
    await new Promise((r) => setTimeout(r, 300))
    assert.ok(backend.held.has('198.51.100.0/28'), 'kept while in use')
    backend.setUsed('198.51.100.0/28', 0)
    await waitFor('removed', () => !backend.held.has('198.51.100.0/28'))
    assert.ok(
      fake.reports().every((r) => r.grants.every((g) => g.grant === 'gr_7')),
      'foreign prefixes are not reported',
    )
  })

  it('stops when the coordinator refuses its token', async () => {
    const { agent, log } = startAgent(new MemoryBackend(), 'wrong')
    await agent.start()
    await assert.rejects(agent.done, (e: unknown) => isCasmError(e, 'CASM_ERR_UNAUTHENTICATED'))
    assert.ok(actions(log).includes('fatal'))
  })
})
