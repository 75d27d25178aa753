import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { type SseItem, SseParser } from './sse-parser.js'

const feedAll = (chunks: readonly (Uint8Array | string)[]): SseItem[] => {
  const p = new SseParser()
  return chunks.flatMap((c) => p.feed(c))
}

describe('SSE parser', () => {
  it('parses ids, event names, multi-line data and comments', () => {
    const items = feedAll([
      ': keep-alive\n\nid: 7\nevent: drain\ndata: {"a":1,\ndata:  "b":2}\n\n',
      'data:plain\r\n\r\nretry: 3000\nid: 8\ndata\n\n',
    ])
    assert.deepEqual(items, [
      { kind: 'comment', text: 'keep-alive' },
      { kind: 'event', id: '7', event: 'drain', data: '{"a":1,\n "b":2}', retry: undefined },
      { kind: 'event', id: undefined, event: 'message', data: 'plain', retry: undefined },
      { kind: 'event', id: '8', event: 'message', data: '', retry: 3000 },
    ])
  })

  it('dispatches nothing for a block without data, and waits for the blank line', () => {
    assert.deepEqual(feedAll(['id: 3\nevent: x\n\n']), [])
    assert.deepEqual(feedAll(['data: half']), [])
    assert.deepEqual(feedAll(['data: a\n']), [])
  })

  it('treats \\r, \\n and \\r\\n as line ends, even split between chunks', () => {
    for (const chunks of [
      ['data: a\r', '\n\r\n'],
      ['data: a\r', '\r'],
      ['data: a\n', '\n'],
    ])
      assert.deepEqual(
        feedAll(chunks).map((i) => (i.kind === 'event' ? i.data : i.text)),
        ['a'],
        JSON.stringify(chunks),
      )
    // A lone \r followed by a new line's text.
    assert.deepEqual(
      feedAll(['data: a\r', 'data: b\r\r']).map((i) => (i.kind === 'event' ? i.data : '')),
      ['a\nb'],
    )
  })

  it('skips a byte order mark at the start only', () => {
    assert.deepEqual(
      feedAll(['\ufeffdata: x\n\n']).map((i) => (i.kind === 'event' ? i.data : '')),
      ['x'],
    )
  })

  const text = fc
    .array(fc.constantFrom('a', 'Z', '0', ' ', ':', '{', '"', 'é', '€', '😀', 'ß'), {
      maxLength: 12,
    })
    .map((a) => a.join(''))
  const event = fc.record({
    id: fc.option(fc.nat(), { nil: undefined }),
    event: fc.option(fc.constantFrom('pool-reply', 'drain', 'undrain'), { nil: undefined }),
    lines: fc.array(text, { minLength: 1, maxLength: 3 }),
    comment: fc.option(text, { nil: undefined }),
  })

  it('gives the same items however the bytes are split (property)', () => {
    fc.assert(
      fc.property(
        fc.array(event, { maxLength: 8 }),
        fc.constantFrom('\n', '\r\n', '\r'),
        fc.array(fc.nat(), { maxLength: 20 }),
        (events, eol, cuts) => {
          let wire = ''
          const expected: SseItem[] = []
          for (const e of events) {
            if (e.comment !== undefined) {
              wire += `: ${e.comment}${eol}`
              expected.push({ kind: 'comment', text: e.comment })
            }
            if (e.id !== undefined) wire += `id: ${e.id}${eol}`
            if (e.event !== undefined) wire += `event: ${e.event}${eol}`
            for (const l of e.lines) wire += `data: ${l}${eol}`
            wire += eol
            expected.push({
              kind: 'event',
              id: e.id === undefined ? undefined : String(e.id),
              event: e.event ?? 'message',
              data: e.lines.join('\n'),
              retry: undefined,
            })
          }
          const bytes = new TextEncoder().encode(wire)
          const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)
          const chunks: Uint8Array[] = []
          let from = 0
          for (const p of [...points, bytes.length]) {
            chunks.push(bytes.subarray(from, p))
            from = p
          }
          assert.deepEqual(feedAll(chunks), expected)
          assert.deepEqual(feedAll([wire]), expected)
        },
      ),
      { numRuns: 300 },
    )
  })
})
