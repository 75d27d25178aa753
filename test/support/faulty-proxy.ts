/**
 * An HTTP proxy between a `casm agent` and its coordinator that loses and duplicates messages,
 * for the end-to-end tests of the device protocol's delivery guarantees (docs/protocol.md:
 * "a message sent again with the same txn gets the first answer and changes nothing").
 *
 * Each `POST /api/v1/agent/messages` meets one fate, by a seeded random choice (or by a script
 * for the first messages of a type):
 *
 * - `drop-request`: never forwarded and never answered; the agent times out and resends;
 * - `drop-response`: forwarded, answered by the coordinator, then the connection to the agent
 *   is cut: the coordinator acted, the agent never heard and must resend the same txn;
 * - `duplicate`: sent twice to the coordinator at once; the agent gets the first answer;
 * - `pass`: forwarded as is.
 *
 * `GET /api/v1/agent/stream` is forwarded as a stream; a share of the streams are cut after a
 * while, and the test can hold what they carry for a while ({@link FaultyProxy.holdStreams}). Everything the coordinator answered is recorded, with its `idempotent-replayed` header.
 *
 * @module
 */
import {
  Agent,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type Server,
  type ServerResponse,
  createServer,
  request,
} from 'node:http'

/** What happens to one message. */
export type Fate = 'pass' | 'drop-request' | 'drop-response' | 'duplicate'

/** How a {@link FaultyProxy} misbehaves. */
export interface FaultyProxyOptions {
  /** The coordinator (`http://127.0.0.1:8470`). */
  readonly target: string
  /** Seed of the random choices (default 1). */
  readonly seed?: number
  /** Share of messages dropped before they are forwarded. */
  readonly dropRequest?: number
  /** Share of messages whose answer is dropped. */
  readonly dropResponse?: number
  /** Share of messages sent twice. */
  readonly duplicate?: number
  /** Share of streams cut... */
  readonly cutStream?: number
  /** ...after a random time in this range, ms (default 500 to 3000). */
  readonly cutAfterMs?: readonly [number, number]
  /** Whether each of the first streams is cut, whatever `cutStream` says. */
  readonly streamScript?: readonly boolean[]
  /** Fates of the first messages of a type, in the order they arrive (resends included). */
  readonly script?: Readonly<Partial<Record<string, readonly Fate[]>>>
}

/** One answer of the coordinator. */
export interface Answer {
  readonly status: number
  /** The coordinator's `idempotent-replayed: true`: it answered this txn before. */
  readonly replayed: boolean
  readonly body: string
}

/** One message as the proxy saw it, with what the coordinator answered (none if dropped). */
export interface Exchange {
  readonly type: string
  readonly txn: string
  readonly fate: Fate
  readonly answers: Answer[]
}

const MESSAGES = '/api/v1/agent/messages'
const STREAM = '/api/v1/agent/stream'

/** sfc32-like small seeded generator: [0, 1). */
function seeded(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function readAll(stream: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    stream.on('data', (c: Buffer) => chunks.push(c))
    stream.on('end', () => resolve(Buffer.concat(chunks)))
    stream.on('error', reject)
  })
}

const HOP_BY_HOP = new Set([
  'host',
  'connection',
  'keep-alive',
  'content-length',
  'transfer-encoding',
])

/** Headers to pass on (hop-by-hop ones left out). */
function passHeaders(h: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {}
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined || HOP_BY_HOP.has(k)) continue
    out[k] = v
  }
  return out
}

/** A running proxy; see the module doc. */
export class FaultyProxy {
  /** Every message, in the order it arrived. */
  readonly exchanges: Exchange[] = []
  /** While true every message is dropped before it is forwarded: the device is cut off. */
  partitioned = false
  /** Streams opened through the proxy, and how many it cut. */
  streams = 0
  cutStreams = 0
  private readonly random: () => number
  private readonly seen = new Map<string, number>()
  private readonly upstream = new Agent({ keepAlive: true })
  private readonly timers = new Set<NodeJS.Timeout>()
  private held = false
  private readonly waiting = new Set<() => void>()
  private readonly target: URL
  private server!: Server
  private port = 0

  private constructor(private readonly o: FaultyProxyOptions) {
    this.random = seeded(o.seed ?? 1)
    this.target = new URL(o.target)
  }

  /** Starts a proxy on a free port of 127.0.0.1. */
  static async start(options: FaultyProxyOptions): Promise<FaultyProxy> {
    const p = new FaultyProxy(options)
    p.server = createServer((req, res) => {
      p.handle(req, res).catch(() => res.destroy())
    })
    await new Promise<void>((resolve) => p.server.listen(0, '127.0.0.1', resolve))
    p.port = (p.server.address() as { port: number }).port
    return p
  }

  /** Where the agent should connect. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`
  }

  /** Messages that met `fate`. */
  count(fate: Fate): number {
    return this.exchanges.filter((e) => e.fate === fate).length
  }

  /** Answers the coordinator marked `idempotent-replayed: true`. */
  replays(): number {
    return this.exchanges.reduce((n, e) => n + e.answers.filter((a) => a.replayed).length, 0)
  }

  /**
   * Holds what the coordinator sends on the open and future streams (they stay open, nothing
   * arrives) until {@link FaultyProxy.letGo}: a stream delayed in the network.
   */
  holdStreams(): void {
    this.held = true
  }

  /** Sends on what the streams held, and passes the rest on as it comes. */
  letGo(): void {
    this.held = false
    for (const flush of this.waiting) flush()
    this.waiting.clear()
  }

  /** Stops listening and cuts every connection. */
  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
    this.server.closeAllConnections()
    await new Promise((resolve) => this.server.close(resolve))
    this.upstream.destroy()
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t)
      fn()
    }, ms)
    this.timers.add(t)
  }

  private fateOf(type: string): Fate {
    if (this.partitioned) return 'drop-request'
    const n = this.seen.get(type) ?? 0
    this.seen.set(type, n + 1)
    const scripted = this.o.script?.[type]?.[n]
    if (scripted !== undefined) return scripted
    const r = this.random()
    const dropRequest = this.o.dropRequest ?? 0
    const dropResponse = dropRequest + (this.o.dropResponse ?? 0)
    const duplicate = dropResponse + (this.o.duplicate ?? 0)
    return r < dropRequest
      ? 'drop-request'
      : r < dropResponse
        ? 'drop-response'
        : r < duplicate
          ? 'duplicate'
          : 'pass'
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = req.url ?? '/'
    if (req.method === 'GET' && path.startsWith(STREAM)) {
      this.stream(req, res, path)
      return
    }
    const body = await readAll(req)
    if (req.method !== 'POST' || !path.startsWith(MESSAGES)) {
      this.relay(res, await this.forward(req, path, body))
      return
    }
    let message: { type?: unknown; txn?: unknown } = {}
    try {
      message = JSON.parse(body.toString()) as typeof message
    } catch {
      // Not JSON: forwarded as any other message, the coordinator refuses it.
    }
    const type = typeof message.type === 'string' ? message.type : '?'
    const txn = typeof message.txn === 'string' ? message.txn : '?'
    const fate = this.fateOf(type)
    const exchange: Exchange = { type, txn, fate, answers: [] }
    this.exchanges.push(exchange)
    const record = (a: Awaited<ReturnType<FaultyProxy['forward']>>): void => {
      if (a !== undefined)
        exchange.answers.push({
          status: a.status,
          replayed: a.headers['idempotent-replayed'] === 'true',
          body: a.body.toString(),
        })
    }
    switch (fate) {
      case 'drop-request':
        // Never answered: the agent gives up after its request timeout (then the socket closes).
        this.later(30_000, () => res.destroy())
        return
      case 'drop-response': {
        record(await this.forward(req, path, body))
        res.destroy()
        return
      }
      case 'duplicate': {
        const [first, second] = await Promise.all([
          this.forward(req, path, body),
          this.forward(req, path, body),
        ])
        record(first)
        record(second)
        this.relay(res, first)
        return
      }
      case 'pass': {
        const answer = await this.forward(req, path, body)
        record(answer)
        this.relay(res, answer)
        return
      }
    }
  }

  /** Sends one request to the coordinator; undefined when it cannot be reached. */
  private forward(
    req: IncomingMessage,
    path: string,
    body: Buffer,
  ): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer } | undefined> {
    return new Promise((resolve) => {
      const up = request(
        {
          host: this.target.hostname,
          port: this.target.port,
          method: req.method,
          path,
          agent: this.upstream,
          headers: { ...passHeaders(req.headers), 'content-length': body.length },
        },
        (r) => {
          readAll(r).then(
            (b) => resolve({ status: r.statusCode ?? 502, headers: r.headers, body: b }),
            () => resolve(undefined),
          )
        },
      )
      up.on('error', () => resolve(undefined))
      up.end(body)
    })
  }

  private relay(
    res: ServerResponse,
    answer: Awaited<ReturnType<FaultyProxy['forward']>> | undefined,
  ): void {
    if (answer === undefined) {
      // The coordinator is unreachable: so is the proxy.
      res.destroy()
      return
    }
    const headers: OutgoingHttpHeaders = { 'content-length': answer.body.length }
    for (const k of ['content-type', 'idempotent-replayed', 'x-request-id'])
      if (answer.headers[k] !== undefined) headers[k] = answer.headers[k]
    res.writeHead(answer.status, headers)
    res.end(answer.body)
  }

  private stream(req: IncomingMessage, res: ServerResponse, path: string): void {
    const cut = this.o.streamScript?.[this.streams] ?? this.random() < (this.o.cutStream ?? 0)
    this.streams++
    const up = request(
      {
        host: this.target.hostname,
        port: this.target.port,
        method: 'GET',
        path,
        headers: passHeaders(req.headers),
      },
      (r) => {
        res.writeHead(r.statusCode ?? 502, passHeaders(r.headers))
        res.flushHeaders()
        // Passed on as it comes, unless streams are held: then kept until they are let go.
        const queue: Buffer[] = []
        const flush = (): void => {
          for (const chunk of queue.splice(0)) if (!res.destroyed) res.write(chunk)
        }
        r.on('data', (chunk: Buffer) => {
          queue.push(chunk)
          if (this.held) this.waiting.add(flush)
          else flush()
        })
        r.on('end', () => {
          const finish = (): void => {
            flush()
            res.end()
          }
          if (this.held) this.waiting.add(finish)
          else finish()
        })
        r.on('error', () => res.destroy())
        if (r.statusCode === 200 && cut) {
          const [lo, hi] = this.o.cutAfterMs ?? [500, 3000]
          this.later(lo + this.random() * (hi - lo), () => {
            if (res.destroyed) return
            this.cutStreams++
            r.destroy()
            res.destroy()
          })
        }
      },
    )
    up.on('error', () => res.destroy())
    res.on('close', () => up.destroy())
    up.end()
  }
}
