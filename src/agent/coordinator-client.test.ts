import assert from 'node:assert/strict'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { isCasmError } from '../errors/casm-error.js'
import {
  CoordinatorClient,
  isRetryable,
  remoteCode,
  type StreamItem,
} from './coordinator-client.js'

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void

let server: Server
let url = ''
let handler: Handler = (_req, _body, res) => res.end()

before(async () => {
  server = createServer((req, res) => {
    let body = ''
    req.on('data', (d: Buffer) => (body += d.toString()))
    req.on('end', () => handler(req, body, res))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
})

after(async () => {
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
})

const json = (res: ServerResponse, status: number, value: unknown): void => {
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(JSON.stringify(value))
}

const hello = {
  v: 1,
  type: 'hello',
  txn: 'a-1',
  agent: { version: '0.1.0', backend: 'sim' },
  holds: [],
} as const

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const item of items) out.push(item)
  return out
}

async function refusedWith(p: Promise<unknown>): Promise<unknown> {
  try {
    await p
  } catch (e) {
    return e
  }
  assert.fail('expected a rejection')
}

describe('coordinator client: messages', () => {
  it('posts the message with the bearer token and returns the answer', async () => {
    let seen: { auth?: string | undefined; path?: string | undefined; body?: unknown } = {}
    handler = (req, body, res) => {
      seen = { auth: req.headers.authorization, path: req.url, body: JSON.parse(body) }
      json(res, 200, { v: 1, type: 'ok', txn: 'a-1' })
    }
    const client = new CoordinatorClient({ url, token: 'secret' })
    assert.equal(client.url, url.replace(/\/$/, ''))
    assert.deepEqual(await client.send(hello), { v: 1, type: 'ok', txn: 'a-1' })
    assert.deepEqual(seen, { auth: 'Bearer secret', path: '/api/v1/agent/messages', body: hello })
  })

  it('turns a refusal into its CasmError, final; an unknown code is kept', async () => {
    handler = (_req, _body, res) =>
      json(res, 404, { error: { code: 'CASM_ERR_NOT_FOUND', message: 'no grant gr_9' } })
    const client = new CoordinatorClient({ url, token: 't' })
    const e = await refusedWith(client.send(hello))
    assert.ok(isCasmError(e, 'CASM_ERR_NOT_FOUND'))
    assert.equal(e.message, 'no grant gr_9')
    assert.equal(isRetryable(e), false)

    handler = (_req, _body, res) =>
      json(res, 409, { error: { code: 'CASM_ERR_FROM_THE_FUTURE', message: 'later' } })
    const f = await refusedWith(client.send(hello))
    assert.equal(remoteCode(f), 'CASM_ERR_FROM_THE_FUTURE')
    assert.equal(isRetryable(f), false)
  })

  it('marks 5xx, 429, garbage answers, timeouts and network errors as worth a retry', async () => {
    const client = new CoordinatorClient({ url, token: 't', requestTimeoutMs: 300 })
    handler = (_req, _body, res) =>
      json(res, 503, { error: { code: 'CASM_ERR_UNAVAILABLE', message: 'store busy' } })
    assert.equal(isRetryable(await refusedWith(client.send(hello))), true)
    handler = (_req, _body, res) => json(res, 429, { error: { code: 'X', message: 'slow down' } })
    assert.equal(isRetryable(await refusedWith(client.send(hello))), true)
    handler = (_req, _body, res) => json(res, 200, ['not', 'a', 'message'])
    const garbage = await refusedWith(client.send(hello))
    assert.ok(isCasmError(garbage, 'CASM_ERR_UNAVAILABLE') && isRetryable(garbage))
    handler = () => undefined
    const slow = await refusedWith(client.send(hello))
    assert.ok(isCasmError(slow, 'CASM_ERR_UNAVAILABLE'))
    assert.match(slow.message, /no answer within 0.3 s/)
    const down = new CoordinatorClient({ url: 'http://127.0.0.1:9', token: 't' })
    const net = await refusedWith(down.send(hello))
    assert.ok(isCasmError(net, 'CASM_ERR_UNAVAILABLE') && isRetryable(net), String(net))
    assert.match(net.message, /cannot reach http:\/\/127\.0\.0\.1:9/)
  })
})

describe('coordinator client: stream', () => {
  it('sends Last-Event-ID and yields events and comments split across writes', async () => {
    let lastId: string | undefined
    handler = (req, _body, res) => {
      lastId = req.headers['last-event-id'] as string
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.write(': keep-alive\n\nid: 42\nevent: drain\ndata: {"v":1,"type":"drain","txn":"s-42",')
      setTimeout(() => {
        res.write('"grant":"gr_1","prefix":"10.0.0.0/24","cause":"policy","reason":"low"}\n\n')
        res.write(
          'id: 43\nevent: status-query\ndata: {"v":1,"type":"status-query","txn":"s-43"}\n\n',
        )
        res.write('id: 44\nevent: what\ndata: {"type":"what"}\n\nid: 45\ndata: not json\n\n')
        res.end()
      }, 20)
    }
    const client = new CoordinatorClient({ url, token: 't' })
    const items: StreamItem[] = []
    for await (const item of client.stream(41, new AbortController().signal)) items.push(item)
    assert.equal(lastId, '41')
    assert.deepEqual(
      items.map((i) =>
        i.kind === 'event' ? `${i.id} ${i.message?.type ?? `? ${i.problem ?? ''}`}` : i.kind,
      ),
      [
        'open',
        'comment',
        '42 drain',
        '43 status-query',
        '44 ? unknown message type "what"',
        '45 ? data is not JSON',
      ],
    )
  })

  it('fails a silent stream after the idle timeout and refuses a bad token for good', async () => {
    handler = (_req, _body, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.write(': hi\n\n')
    }
    const client = new CoordinatorClient({ url, token: 't', idleTimeoutMs: 150 })
    const seen: string[] = []
    const e = await refusedWith(
      (async () => {
        for await (const item of client.stream(0, new AbortController().signal))
          seen.push(item.kind)
      })(),
    )
    assert.deepEqual(seen, ['open', 'comment'])
    assert.ok(isCasmError(e, 'CASM_ERR_UNAVAILABLE') && isRetryable(e))
    assert.match(e.message, /silent for 0.15 s/)

    handler = (_req, _body, res) =>
      json(res, 401, { error: { code: 'CASM_ERR_UNAUTHENTICATED', message: 'unknown token' } })
    const auth = await refusedWith(collect(client.stream(0, new AbortController().signal)))
    assert.ok(isCasmError(auth, 'CASM_ERR_UNAUTHENTICATED') && !isRetryable(auth))
  })

  it('returns quietly when aborted, and refuses what is not an event stream', async () => {
    handler = (_req, _body, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.write(': hi\n\n')
    }
    const client = new CoordinatorClient({ url, token: 't' })
    const ctrl = new AbortController()
    const kinds: string[] = []
    for await (const item of client.stream(0, ctrl.signal)) {
      kinds.push(item.kind)
      if (item.kind === 'comment') ctrl.abort()
    }
    assert.deepEqual(kinds, ['open', 'comment'])

    handler = (_req, _body, res) => json(res, 200, { hello: 'world' })
    const e = await refusedWith(collect(client.stream(0, new AbortController().signal)))
    assert.ok(isCasmError(e, 'CASM_ERR_UNAVAILABLE'))
    assert.match(e.message, /not an event stream/)
  })
})

describe('coordinator client: leases', () => {
  const lease = {
    grant: 'gr_1',
    kind: 'v4',
    address: '100.64.8.17',
    hwAddress: '1a:1b:1c:1d:1e:1f',
    validLifetime: 3600,
    cltt: 1_767_225_600,
    expiresAt: '2026-01-01T01:00:00.000Z',
    storedAt: '2026-01-01T00:00:00.000Z',
  } as const

  it('uploads snapshots with PUT and returns the counts', async () => {
    let seen: { method?: string | undefined; path?: string | undefined; body?: unknown } = {}
    handler = (req, body, res) => {
      seen = { method: req.method, path: req.url, body: JSON.parse(body) }
      json(res, 200, { grants: [{ grant: 'gr_1', stored: 1 }], stored: 1 })
    }
    const client = new CoordinatorClient({ url, token: 't' })
    const { grant: _g, expiresAt: _e, storedAt: _s, ...input } = lease
    const body = { grants: [{ grant: 'gr_1', leases: [input] }] }
    assert.deepEqual(await client.uploadLeases(body), {
      grants: [{ grant: 'gr_1', stored: 1 }],
      stored: 1,
    })
    assert.deepEqual(seen, { method: 'PUT', path: '/api/v1/agent/leases', body })

    handler = (_req, _body, res) =>
      json(res, 400, { error: { code: 'CASM_ERR_VALIDATION', message: 'outside its grant' } })
    const e = await refusedWith(client.uploadLeases(body))
    assert.ok(isCasmError(e, 'CASM_ERR_VALIDATION') && !isRetryable(e))
    handler = (_req, _body, res) => json(res, 200, { ok: true })
    const g = await refusedWith(client.uploadLeases(body))
    assert.ok(isCasmError(g, 'CASM_ERR_UNAVAILABLE') && isRetryable(g))
  })

  it('fetches every page of leases, with the query', async () => {
    const paths: string[] = []
    handler = (req, _body, res) => {
      paths.push(req.url ?? '')
      const after = new URL(req.url ?? '', url).searchParams.get('after')
      json(
        res,
        200,
        after === null
          ? { items: [lease, { ...lease, address: '100.64.8.18' }], next: 'gr_1,100.64.8.18' }
          : { items: [{ ...lease, grant: 'gr_2', address: '100.64.9.1' }], next: null },
      )
    }
    const client = new CoordinatorClient({ url, token: 't' })
    const { leases } = await client.fetchLeases({
      grant: ['gr_1', 'gr_2'],
      includeExpired: true,
      pageSize: 2,
    })
    assert.deepEqual(
      leases.map((l) => `${l.grant} ${l.address}`),
      ['gr_1 100.64.8.17', 'gr_1 100.64.8.18', 'gr_2 100.64.9.1'],
    )
    assert.deepEqual(paths, [
      '/api/v1/agent/leases?grant=gr_1&grant=gr_2&includeExpired=true&limit=2',
      '/api/v1/agent/leases?grant=gr_1&grant=gr_2&includeExpired=true&limit=2&after=gr_1%2C100.64.8.18',
    ])
    paths.length = 0
    assert.deepEqual(await client.fetchLeases({ grant: [] }), { leases: [] })
    assert.deepEqual(paths, [], 'no grant asked: nothing to read')

    // A cursor that does not move would never end: refused as a bad answer.
    handler = (_req, _body, res) => json(res, 200, { items: [lease], next: 'gr_1,x' })
    const e = await refusedWith(client.fetchLeases({ grant: 'gr_1' }))
    assert.ok(isCasmError(e, 'CASM_ERR_UNAVAILABLE'), String(e))
    assert.match(e.message, /not a page of leases/)
  })
})
