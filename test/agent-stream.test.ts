/**
 * The device stream on a real `casm serve`: messages arrive live as the policy acts; a device
 * that reconnects with `Last-Event-ID` receives exactly what it missed, in order, also after the
 * coordinator was killed with -9 and restarted; a resent message after the restart gets its
 * first answer.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { type CasmServer, api, startServer } from './support/casm-server.js'

interface Event {
  readonly id: number
  readonly event: string
  readonly data: { type: string; grant?: string; grants?: { grant: string; prefix: string }[] }
}

/** An open SSE stream: collects events; `next(n)` waits for n more. */
class Stream {
  readonly events: Event[] = []
  readonly #abort = new AbortController()
  #waiters: (() => void)[] = []
  readonly done: Promise<void>

  constructor(url: string, secret: string, lastEventId?: number) {
    const headers: Record<string, string> = { authorization: `Bearer ${secret}` }
    if (lastEventId !== undefined) headers['last-event-id'] = String(lastEventId)
    this.done = this.#read(url, headers).catch(() => undefined)
  }

  async #read(url: string, headers: Record<string, string>): Promise<void> {
    const res = await fetch(`${url}/api/v1/agent/stream`, { headers, signal: this.#abort.signal })
    assert.equal(res.status, 200, await (res.status === 200 ? '' : res.text()))
    assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/)
    const reader = (res.body as ReadableStream<Uint8Array>).getReader()
    const decoder = new TextDecoder()
    let buffer = ''
    for (;;) {
      const { value, done } = await reader.read()
      if (done) return
      buffer += decoder.decode(value, { stream: true })
      let cut: number
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, cut)
        buffer = buffer.slice(cut + 2)
        const fields = new Map<string, string>()
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) continue
          const i = line.indexOf(':')
          if (i > 0) fields.set(line.slice(0, i), line.slice(i + 1).trimStart())
        }
        const id = fields.get('id')
        const data = fields.get('data')
        if (id === undefined || data === undefined) continue
        this.events.push({
          id: Number(id),
          event: fields.get('event') ?? '',
          data: JSON.parse(data) as Event['data'],
        })
        for (const w of this.#waiters.splice(0)) w()
      }
    }
  }

  /** Waits until at least `count` events have arrived (or fails after 10 s). */
  async until(count: number): Promise<Event[]> {
    const deadline = Date.now() + 10_000
    while (this.events.length < count) {
      assert.ok(Date.now() < deadline, `only ${this.events.length} of ${count} events arrived`)
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve)
        setTimeout(resolve, 200)
      })
    }
    return this.events
  }

  close(): Promise<void> {
    this.#abort.abort()
    return this.done
  }
}

describe('device stream on a real server', () => {
  const dirs: string[] = []
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true })
  })

  it('delivers live, resumes with Last-Event-ID, and survives kill -9 of the coordinator', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'casm-stream-'))
    dirs.push(dir)
    let s: CasmServer = await startServer({ dataDir: dir })
    try {
      await api(s, 'POST', '/api/v1/domains', { name: 'net' })
      await api(s, 'POST', '/api/v1/blocks', { domain: 'net', space: '10.0.0.0/8' })
      const pool = await api(s, 'POST', '/api/v1/pools', {
        name: 'bng',
        domain: 'net',
        kind: 'subscriber',
        space: ['10.7.0.0/24'],
        policy: { unit: { min: 26, default: 28, max: 28 }, quarantine: 0, strategy: 'sparse' },
      })
      assert.equal(pool.status, 201, JSON.stringify(pool.body))
      await api(s, 'POST', '/api/v1/devices', { name: 'bng-1' })
      const tok = await api(s, 'POST', '/api/v1/tokens', {
        name: 'bng-1',
        role: 'device',
        device: 'bng-1',
      })
      const secret = (tok.body as { secret: string }).secret
      const send = async (m: Record<string, unknown>) => {
        const r = await api({ url: s.url, token: secret }, 'POST', '/api/v1/agent/messages', {
          v: 1,
          ...m,
        })
        assert.equal(r.status, 200, JSON.stringify(r.body))
        return r.body as Record<string, unknown> & { grants: { grant: string; prefix: string }[] }
      }

      const live = new Stream(s.url, secret)
      const first = await send({ txn: 'r1', type: 'pool-request' })
      const g1 = first.grants[0]?.grant ?? ''
      // 15 of 16 in use: the policy grants another unit; it arrives on the stream.
      await send({
        txn: 'rep1',
        type: 'status-report',
        window: 10,
        grants: [{ grant: g1, used: 15 }],
      })
      const growth = (await live.until(1))[0]
      assert.ok(growth !== undefined)
      assert.equal(growth.event, 'pool-reply')
      assert.equal(growth.id, 1)
      const g2 = growth.data.grants?.[0]?.grant ?? ''
      assert.ok(g2 !== '' && g2 !== g1)
      await live.close()

      // While the device is away: an operator drains g2 and asks for a report.
      const drained = await api(s, 'POST', `/api/v1/grants/${g2}/drain`, { reason: 'test' })
      assert.equal(drained.status, 200, JSON.stringify(drained.body))
      await api(s, 'POST', '/api/v1/devices/bng-1/status-query')

      // kill -9 and restart: the stream resumes where the device left off.
      await s.kill9()
      s = await startServer({ dataDir: dir })
      const resumed = new Stream(s.url, secret, 1)
      const missed = await resumed.until(2)
      assert.deepEqual(
        missed.map((e) => [e.id, e.event]),
        [
          [2, 'drain'],
          [3, 'status-query'],
        ],
      )
      assert.equal(missed[0]?.data.grant, g2)
      // The resent first message after the restart gets its first answer.
      const again = await send({ txn: 'r1', type: 'pool-request' })
      assert.equal(again.grants[0]?.grant, g1)
      // Live again after the restart: the empty drained grant is released.
      await send({
        txn: 'rep2',
        type: 'status-report',
        window: 10,
        grants: [
          { grant: g1, used: 3 },
          { grant: g2, used: 0, state: 'draining' },
        ],
      })
      const all = await resumed.until(3)
      assert.deepEqual(
        all.map((e) => e.event),
        ['drain', 'status-query', 'release-notification'],
      )
      assert.deepEqual(
        all.map((e) => e.id),
        [2, 3, 4],
        'ids in order, none skipped',
      )
      await resumed.close()
      // From the start: everything not yet acknowledged, in order.
      const replay = new Stream(s.url, secret, 0)
      assert.deepEqual(
        (await replay.until(4)).map((e) => e.id),
        [1, 2, 3, 4],
      )
      await replay.close()
      await send({ txn: 'ack1', type: 'ack', upTo: 3 })
      const afterAck = new Stream(s.url, secret, 0)
      assert.deepEqual(
        (await afterAck.until(1)).map((e) => e.id),
        [4],
        'acknowledged events are forgotten',
      )
      await afterAck.close()
    } finally {
      await s.stop()
    }
  })
})
