/**
 * An incremental parser for server-sent events (the `text/event-stream` format of the WHATWG
 * HTML standard, §9.2 "Server-sent events"), as the coordinator's device stream sends them.
 *
 * Bytes may arrive split anywhere — inside a field, between `\r` and `\n`, inside a multi-byte
 * UTF-8 character — and the parser gives the same items as for the whole stream at once.
 *
 * @module
 */

const LF = 10
const CR = 13
const BOM = 0xfeff

/** One dispatched event: the fields of one block of lines ended by a blank line. */
export interface SseEvent {
  readonly kind: 'event'
  /** The `id:` field of this event, or undefined when it had none. */
  readonly id: string | undefined
  /** The `event:` field; `message` when absent. */
  readonly event: string
  /** The `data:` lines joined with `\n`. */
  readonly data: string
  /** The `retry:` field (milliseconds), when given. */
  readonly retry: number | undefined
}

/** A comment line (`: keep-alive`), without the colon and the one space after it. */
export interface SseComment {
  readonly kind: 'comment'
  readonly text: string
}

/** What {@link SseParser.feed} yields. */
export type SseItem = SseEvent | SseComment

/**
 * Turns chunks of an event stream into events and comments.
 *
 * @example
 * ```ts
 * const p = new SseParser()
 * p.feed('id: 4\nevent: drain\nda') // []
 * p.feed('ta: {"type":"drain"}\n\n') // [{ kind: 'event', id: '4', event: 'drain', data: '{"type":"drain"}', retry: undefined }]
 * ```
 */
export class SseParser {
  private readonly decoder = new TextDecoder('utf-8')
  private line = ''
  private afterCr = false
  private id: string | undefined
  private event = ''
  private data: string[] = []
  private retry: number | undefined
  private started = false

  /** Parses the next chunk (bytes or text); returns the items it completed, in order. */
  feed(chunk: Uint8Array | string): SseItem[] {
    let text = typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true })
    if (!this.started && text.length > 0) {
      this.started = true
      if (text.charCodeAt(0) === BOM) text = text.slice(1)
    }
    const out: SseItem[] = []
    let start = 0
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i)
      if (c === LF && this.afterCr) {
        // The \n of a \r\n pair (possibly split across chunks): the \r already ended the line.
        this.afterCr = false
        start = i + 1
        continue
      }
      this.afterCr = false
      if (c !== LF && c !== CR) continue
      this.processLine(this.line + text.slice(start, i), out)
      this.line = ''
      this.afterCr = c === CR
      start = i + 1
    }
    if (start < text.length) this.line += text.slice(start)
    return out
  }

  private processLine(line: string, out: SseItem[]): void {
    if (line === '') {
      if (this.data.length > 0) {
        out.push({
          kind: 'event',
          id: this.id,
          event: this.event === '' ? 'message' : this.event,
          data: this.data.join('\n'),
          retry: this.retry,
        })
      }
      this.id = undefined
      this.event = ''
      this.data = []
      this.retry = undefined
      return
    }
    if (line.startsWith(':')) {
      out.push({ kind: 'comment', text: line.slice(line.startsWith(': ') ? 2 : 1) })
      return
    }
    const colon = line.indexOf(':')
    const field = colon < 0 ? line : line.slice(0, colon)
    let value = colon < 0 ? '' : line.slice(colon + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    switch (field) {
      case 'id':
        if (!value.includes('\0')) this.id = value
        break
      case 'event':
        this.event = value
        break
      case 'data':
        this.data.push(value)
        break
      case 'retry':
        if (/^[0-9]+$/.test(value)) this.retry = Number(value)
        break
      default:
        break
    }
  }
}
