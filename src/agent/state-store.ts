/**
 * What the agent keeps across its own restarts, in one JSON file in its state directory,
 * replaced atomically on every change.
 *
 * @module
 */

import { randomBytes } from 'node:crypto'
import { mkdir, readFile, rename } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import type { DeviceMessage, GrantInfo } from '../domain/device-protocol.js'
import { writeFileAtomic } from './write-file-atomic.js'

/** Name of the state file inside the state directory. */
export const STATE_FILE = 'agent-state.json'

/** A grant as the agent keeps it: as the coordinator told it, and how it drains. */
export type AgentGrant = GrantInfo & {
  /** From the `drain` message: how the grant lets its users go. */
  readonly drainMode?: 'natural' | 'fast'
}

/** A message waiting for its answer: resent with the same `txn` until it comes. */
export interface OutboxEntry {
  readonly txn: string
  readonly message: DeviceMessage
  /** When it was first queued (epoch ms). */
  readonly queuedAt: number
}

/** The agent's persisted state. */
export interface AgentState {
  version: 1
  /** Random, chosen when the state is first created: the prefix of every txn of this agent. */
  instance: string
  /** Sequence number of the next txn. */
  nextTxn: number
  /** The device the token speaks for, as the last sync named it. */
  device: { id: string; name: string } | null
  /** The device's live grants as the coordinator last told them (sync, pool-reply, drain...). */
  grants: AgentGrant[]
  /** Grants the coordinator released: remove them from the backend, then confirm. */
  releasing: { grant: string; prefix: string }[]
  /** The last stream event processed. */
  lastEventId: number
  /** The last stream event the coordinator confirmed as acknowledged. */
  ackedUpTo: number
  /** `lastEventId` of the last sync applied: events up to it are already reflected in it. */
  syncedEventId: number
  /** From the last sync: seconds between reports, seconds before expiry to renew. */
  reportInterval: number | null
  /** Utilisation at which the coordinator grows the device (from sync; absent: not told). */
  highWatermark?: number | undefined
  renewBefore: number | null
  /** Messages sent or to send, oldest first, each until answered. */
  outbox: OutboxEntry[]
}

/** A state for an agent that has never run. */
export function freshState(): AgentState {
  return {
    version: 1,
    instance: randomBytes(6).toString('hex'),
    nextTxn: 1,
    device: null,
    grants: [],
    releasing: [],
    lastEventId: 0,
    ackedUpTo: 0,
    syncedEventId: 0,
    reportInterval: null,
    renewBefore: null,
    outbox: [],
  }
}

/** What {@link StateStore.load} found. */
export interface LoadedState {
  readonly state: AgentState
  /** `new`: no state file yet; `loaded`; `unreadable`: the file was moved aside (`movedTo`). */
  readonly source: 'new' | 'loaded' | 'unreadable'
  readonly movedTo?: string
}

/**
 * The state file of one agent. One agent per state directory.
 *
 * @example
 * ```ts
 * const store = new StateStore('/var/lib/casm-agent')
 * const { state } = await store.load()
 * state.lastEventId = 42
 * await store.save(state) // temp file + fsync + rename
 * ```
 */
export class StateStore {
  /** The state directory. */
  readonly dir: string
  /** The state file. */
  readonly file: string
  private last: Promise<void> = Promise.resolve()

  constructor(dir: string) {
    this.dir = resolve(dir)
    this.file = join(this.dir, STATE_FILE)
  }

  /**
   * Reads the state, creating the directory if needed. A file that cannot be read as a state is
   * moved aside and a fresh state returned: the next hello and sync rebuild the grants.
   */
  async load(): Promise<LoadedState> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 })
    let text: string
    try {
      text = await readFile(this.file, 'utf8')
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT')
        return { state: freshState(), source: 'new' }
      throw e
    }
    const state = parseState(text)
    if (state !== undefined) return { state, source: 'loaded' }
    const movedTo = `${this.file}.unreadable-${Date.now()}`
    await rename(this.file, movedTo)
    return { state: freshState(), source: 'unreadable', movedTo }
  }

  /** Replaces the state file atomically. Saves run in the order they are called. */
  save(state: AgentState): Promise<void> {
    const text = `${JSON.stringify(state, null, 2)}\n`
    const next = this.last.then(() => writeFileAtomic(this.file, text))
    this.last = next.catch(() => undefined)
    return next
  }
}

function parseState(text: string): AgentState | undefined {
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch {
    return undefined
  }
  if (typeof raw !== 'object' || raw === null) return undefined
  const s = raw as Partial<AgentState>
  if (
    s.version !== 1 ||
    typeof s.instance !== 'string' ||
    typeof s.nextTxn !== 'number' ||
    !Array.isArray(s.grants) ||
    !Array.isArray(s.releasing) ||
    !Array.isArray(s.outbox) ||
    typeof s.lastEventId !== 'number'
  )
    return undefined
  return { ...freshState(), ...s }
}
