/**
 * Object ids: a type prefix and a time-ordered body (`pool_0mgx3b2k1a9f2h7q4z`), so ids sort by
 * creation and tell what they name.
 *
 * @module
 */

import { randomBytes } from 'node:crypto'

/** The prefix of each object type's ids. */
export const ID_PREFIX = {
  tenant: 'ten',
  token: 'tok',
  domain: 'dom',
  block: 'blk',
  pool: 'pool',
  device: 'dev',
  grant: 'gr',
  assignment: 'asg',
  reservation: 'rsv',
  unit: 'unit',
  event: 'evt',
} as const

let lastMs = 0
let counter = 0
/** Random bytes are drawn in bulk: one system call per 4096 ids. */
let pool = randomBytes(6 * 4096)
let poolAt = 0

function random48(): bigint {
  if (poolAt >= pool.length) {
    pool = randomBytes(6 * 4096)
    poolAt = 0
  }
  const v = BigInt(`0x${pool.toString('hex', poolAt, poolAt + 6)}`)
  poolAt += 6
  return v
}

/** A new id for an object of `type`: 9 base-36 digits of milliseconds, 3 of a counter, 8 random. */
export function newId(type: keyof typeof ID_PREFIX): string {
  const ms = Date.now()
  counter = ms === lastMs ? counter + 1 : 0
  lastMs = ms
  const time = ms.toString(36).padStart(9, '0')
  const seq = (counter % 46656).toString(36).padStart(3, '0')
  const rand = random48().toString(36).padStart(10, '0').slice(-8)
  return `${ID_PREFIX[type]}_${time}${seq}${rand}`
}

/** True when `s` has the shape of a casm id (so it is looked up as an id, not a name). */
export function isId(s: string): boolean {
  return /^[a-z]{2,5}_[0-9a-z]{16,}$/.test(s)
}
