/**
 * The casm device protocol, version 1: the messages a device (or the `casm agent` speaking for
 * one) and the coordinator exchange (docs/protocol.md; casm-drafts.md §4.3). Types only: the API
 * validates them, the coordinator answers them, the agent sends them.
 *
 * Device → coordinator: `POST /api/v1/agent/messages`, one message, the answer is the reply.
 * Coordinator → device: `GET /api/v1/agent/stream`, server-sent events whose `id` is the
 * device's stream sequence number.
 *
 * @module
 */

import type { Family } from '../ip/index.js'

/** The protocol version every message carries in `v`. */
export const PROTOCOL_VERSION = 1

/** Longest transaction id. */
export const MAX_TXN_LENGTH = 100

/** Most grants one message may name. */
export const MAX_GRANTS_PER_MESSAGE = 4096

/** Fields every message has. */
export interface MessageHeader {
  readonly v: typeof PROTOCOL_VERSION
  /** Transaction id chosen by the sender; a message resent with it gets the first answer. */
  readonly txn: string
}

/** A grant as the device sees it. */
export interface GrantInfo {
  readonly grant: string
  readonly prefix: string
  readonly pool: string
  readonly family: Family
  readonly state: 'active' | 'draining'
  /** When the grant ends unless renewed (ISO 8601), or null. */
  readonly expiresAt: string | null
  readonly pinned: boolean
}

/** Usage of one grant over the report window. */
export interface GrantUsage {
  readonly grant: string
  /** Addresses (or delegated prefixes) in use now. */
  readonly used: number
  /** Highest use in the window (defaults to `used`). */
  readonly peak?: number
  /** Average use in the window (defaults to `used`). */
  readonly average?: number
  /** For CGN/NAT kinds: ports of the grant's addresses. */
  readonly ports?: {
    readonly total: number
    readonly used: number
    readonly peak?: number
    readonly average?: number
  }
  /** The user plane that carries the grant (CUPS, casm-drafts.md UC-14). */
  readonly plane?: string
  /**
   * The state the device serves the grant in when it measured this. A draining grant is released
   * only on a report that shows the drain applied (this, or an `ack` of the drain event).
   */
  readonly state?: 'active' | 'draining'
}

// ---- device → coordinator ------------------------------------------------------------------

/** First message after (re)connecting: what the device holds. */
export interface HelloMessage extends MessageHeader {
  readonly type: 'hello'
  readonly agent: {
    readonly version: string
    readonly backend: string
    /** User planes this control plane speaks for (CUPS). */
    readonly planes?: readonly string[]
  }
  readonly holds: readonly { readonly grant?: string; readonly prefix: string }[]
}

/** Asks for space; the coordinator chooses the size (`length` is a hint). */
export interface PoolRequestMessage extends MessageHeader {
  readonly type: 'pool-request'
  readonly family?: Family
  readonly length?: number
  readonly reason?: string
}

/** Extends the lifetime of grants. */
export interface RenewMessage extends MessageHeader {
  readonly type: 'renew'
  readonly grants: readonly string[]
}

/** Usage of the device's grants. */
export interface StatusReportMessage extends MessageHeader {
  readonly type: 'status-report'
  /** Seconds the peak and average cover. */
  readonly window: number
  readonly grants: readonly GrantUsage[]
}

/** Asks the coordinator's view of the device (answered by `status`). */
export interface StatusQueryMessage extends MessageHeader {
  readonly type: 'status-query'
}

/** The device gives grants back (it no longer uses them). */
export interface ReleaseRequestMessage extends MessageHeader {
  readonly type: 'release-request'
  readonly grants: readonly string[]
}

/** The device removed released grants. */
export interface ReleaseConfirmMessage extends MessageHeader {
  readonly type: 'release-confirm'
  readonly grants: readonly string[]
}

/** The device processed stream events up to `upTo`; older ones may be forgotten. */
export interface AckMessage extends MessageHeader {
  readonly type: 'ack'
  readonly upTo: number
}

/** Every device → coordinator message. */
export type DeviceMessage =
  | HelloMessage
  | PoolRequestMessage
  | RenewMessage
  | StatusReportMessage
  | StatusQueryMessage
  | ReleaseRequestMessage
  | ReleaseConfirmMessage
  | AckMessage

/** Every device → coordinator message type. */
export const DEVICE_MESSAGE_TYPES = [
  'hello',
  'pool-request',
  'renew',
  'status-report',
  'status-query',
  'release-request',
  'release-confirm',
  'ack',
] as const satisfies readonly DeviceMessage['type'][]

// ---- coordinator → device ------------------------------------------------------------------

/** Answer to `hello`: what the device must hold. */
export interface SyncMessage extends MessageHeader {
  readonly type: 'sync'
  readonly device: { readonly id: string; readonly name: string }
  /** Every live grant of the device: install what is missing, drain what is draining. */
  readonly grants: readonly GrantInfo[]
  /** Prefixes the device holds that are not (or no longer) its own. */
  readonly remove: readonly { readonly prefix: string; readonly reason: string }[]
  /** Seconds between status reports. */
  readonly reportInterval: number
  /**
   * Utilisation (0..1) at which the coordinator grows the device. An agent that watches its
   * usage more often than it reports sends a report at once when it crosses this, so growth
   * does not wait for the next report. Absent from coordinators before it was added.
   */
  readonly highWatermark?: number
  /** Renew a grant this many seconds before it expires. */
  readonly renewBefore: number
  /** The newest stream event id: events after it are still to come on the stream. */
  readonly lastEventId: number
}

/** Grants given to the device (answer to `pool-request`, or pushed when the policy grows it). */
export interface PoolReplyMessage extends MessageHeader {
  readonly type: 'pool-reply'
  readonly grants: readonly GrantInfo[]
  readonly reason: string
}

/** Answer to `renew`. */
export interface RenewReplyMessage extends MessageHeader {
  readonly type: 'renew-reply'
  readonly grants: readonly { readonly grant: string; readonly expiresAt: string | null }[]
}

/** Answer to `status-report`: what the coordinator decided (the actions come on the stream). */
export interface ReportConfirmMessage extends MessageHeader {
  readonly type: 'report-confirm'
  readonly received: number
  /** Kinds of the decisions the report caused (`grant`, `drain`, ...), for logs. */
  readonly decisions: readonly string[]
}

/** Answer to `status-query`: the coordinator's view of the device. */
export interface StatusMessage extends MessageHeader {
  readonly type: 'status'
  readonly grants: readonly GrantInfo[]
  readonly lastEventId: number
}

/** Grants that are released: remove them, then confirm. */
export interface ReleaseNotificationMessage extends MessageHeader {
  readonly type: 'release-notification'
  readonly grants: readonly {
    readonly grant: string
    readonly prefix: string
    readonly state: string
  }[]
  readonly reason: string
}

/** Stop handing out addresses from a grant; report it as they leave. */
export interface DrainMessage extends MessageHeader {
  readonly type: 'drain'
  readonly grant: string
  readonly prefix: string
  /** `policy` (low usage), `lifetime`, `operator`, `move`. */
  readonly cause: string
  /**
   * `natural`: let the grant's leases run out; `fast`: refuse renewals in it so its users move
   * to other space (the pool's `drain` policy).
   */
  readonly mode: 'natural' | 'fast'
  readonly reason: string
}

/** A draining grant serves again. */
export interface UndrainMessage extends MessageHeader {
  readonly type: 'undrain'
  readonly grant: string
  readonly prefix: string
  readonly reason: string
}

/** Report now (after a coordinator restart, or an operator's request). */
export interface StatusQueryEvent extends MessageHeader {
  readonly type: 'status-query'
}

/** Plain acknowledgement (answer to `release-confirm` and `ack`). */
export interface OkMessage extends MessageHeader {
  readonly type: 'ok'
}

/** Every coordinator → device message (answers and stream events). */
export type CoordinatorMessage =
  | SyncMessage
  | PoolReplyMessage
  | RenewReplyMessage
  | ReportConfirmMessage
  | StatusMessage
  | ReleaseNotificationMessage
  | DrainMessage
  | UndrainMessage
  | StatusQueryEvent
  | OkMessage

/** Messages the coordinator pushes on the stream. */
export type StreamMessage =
  PoolReplyMessage | ReleaseNotificationMessage | DrainMessage | UndrainMessage | StatusQueryEvent

/** A stream event: its id (the device's sequence number) and its message. */
export interface StreamEvent {
  readonly id: number
  readonly message: StreamMessage
}
