/**
 * The hash chain over events: each event's hash covers the previous hash and every stored field
 * of the event, so editing or deleting a stored event breaks the chain from that point on.
 *
 * ```
 *   head0 = 000…0
 *   hash(n) = SHA-256( hash(n-1) ␊ seq ␊ id ␊ tenant ␊ at ␊ actor ␊ action ␊ type ␊ object ␊ before ␊ after ␊ reason ␊ request )
 * ```
 *
 * A separate head row (seq, hash) is moved with each append, so cutting events off the end shows
 * as a head that points past the last event. Someone who can rewrite the whole table and the head
 * can forge a new chain; record `casm events verify`'s head hash elsewhere to pin history.
 *
 * @module
 */

import { createHash } from 'node:crypto'
import type { CasmEvent } from '../domain/model.js'
import type { StoreReader } from './store.js'

/** The hash before the first event. */
export const GENESIS_HASH = '0'.repeat(64)

/** The stored JSON text of a `before`/`after` value, exactly as the store writes it. */
function jsonText(value: unknown): string {
  return value === null || value === undefined ? '' : JSON.stringify(value)
}

/** The hash of an event given its fields and the previous hash. */
export function hashEvent(e: Omit<CasmEvent, 'hash'>): string {
  const fields = [
    String(e.seq),
    e.id,
    e.tenantId ?? '',
    String(e.at),
    e.actor,
    e.action,
    e.objectType,
    e.objectId ?? '',
    jsonText(e.before),
    jsonText(e.after),
    e.reason ?? '',
    e.requestId ?? '',
  ]
  return createHash('sha256')
    .update(e.prevHash)
    .update('\n')
    .update(fields.map((f) => JSON.stringify(f)).join('\n'))
    .digest('hex')
}

/** The outcome of a chain verification. */
export interface ChainVerification {
  readonly ok: boolean
  /** Events checked. */
  readonly checked: number
  /** The head as stored. */
  readonly head: { readonly seq: number; readonly hash: string }
  /** Where the chain first breaks, and why. */
  readonly broken?: { readonly seq: number; readonly reason: string }
}

/**
 * Walks the whole chain in pages and checks sequence, links and hashes, then the head.
 * `onProgress` is called after each page with the number of events checked.
 */
export async function verifyChain(
  reader: StoreReader,
  onProgress?: (checked: number) => void,
  pageSize = 5000,
): Promise<ChainVerification> {
  const head = await reader.chainHead()
  let prev = GENESIS_HASH
  let expected = 1
  let checked = 0
  for (;;) {
    const page = await reader.scanEvents(expected - 1, pageSize)
    for (const e of page) {
      const fail = (reason: string): ChainVerification => ({
        ok: false,
        checked,
        head,
        broken: { seq: e.seq, reason },
      })
      if (e.seq !== expected)
        return {
          ok: false,
          checked,
          head,
          broken: {
            seq: expected,
            reason: `event ${expected} is missing (next stored is ${e.seq})`,
          },
        }
      if (e.prevHash !== prev)
        return fail(
          'its link to the previous event does not match (an earlier event was changed or removed)',
        )
      if (hashEvent(e) !== e.hash)
        return fail('its content does not match its hash (the event was edited)')
      prev = e.hash
      expected++
      checked++
    }
    onProgress?.(checked)
    if (page.length < pageSize) break
  }
  if (head.seq !== checked || head.hash !== prev) {
    return {
      ok: false,
      checked,
      head,
      broken: {
        seq: checked + 1,
        reason: `the head says ${head.seq} events but the chain ends at ${checked} (events were cut off the end)`,
      },
    }
  }
  return { ok: true, checked, head }
}
