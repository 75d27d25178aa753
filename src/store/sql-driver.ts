/**
 * The small SQL seam under {@link SqlStore}: run a statement, read rows, run a serialised write
 * transaction. One implementation per database (`sqlite/`, `postgres/`); SQL text is written
 * once with `?` placeholders and the PostgreSQL driver numbers them.
 *
 * @module
 */

/** A value a statement can bind. */
export type SqlValue = string | number | bigint | boolean | Buffer | null

/** A row as the database returns it. */
export type SqlRow = Record<string, unknown>

/** Statements on one connection (or one transaction). */
export interface SqlExecutor {
  all(sql: string, params?: readonly SqlValue[]): Promise<SqlRow[]>
  get(sql: string, params?: readonly SqlValue[]): Promise<SqlRow | undefined>
  run(sql: string, params?: readonly SqlValue[]): Promise<number>
  /** Runs several statements separated by semicolons, without parameters (migrations). */
  exec(sql: string): Promise<void>
}

/** A database connection (pool) with a serialised write transaction. */
export interface SqlDriver extends SqlExecutor {
  readonly dialect: 'sqlite' | 'postgres'
  /**
   * Runs `fn` in a write transaction that excludes every other writer of the database, across
   * processes. Commits when `fn` resolves, rolls back when it rejects.
   */
  writeTransaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>
  close(): Promise<void>
}

/** Converts a 0..2^128-1 address value to 16 big-endian bytes. */
export function toBytes(value: bigint): Buffer {
  const hex = value.toString(16).padStart(32, '0')
  return Buffer.from(hex, 'hex')
}

/** Converts 16 big-endian bytes back to the address value. */
export function fromBytes(bytes: unknown): bigint {
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`expected bytes, got ${typeof bytes}`)
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (b.length !== 16) return BigInt(`0x${b.toString('hex') || '0'}`)
  const hi = b.readBigUInt64BE(0)
  const lo = b.readBigUInt64BE(8)
  return hi === 0n ? lo : (hi << 64n) | lo
}
