/**
 * The invariants every end-to-end test of the device loop ends with (docs/protocol.md):
 *
 * - **no overlap**: the live grants (active and draining) of every pool are pairwise disjoint
 *   and inside their pool's space;
 * - **no grant released while its device reports use**: for every `grant.release` and
 *   `grant.expire` event, the last report of the device's agent naming the grant before the
 *   agent heard of the release said 0 in use (and so did the coordinator's stored report), and
 *   the sim backend never cut a subscriber: its `evicted` counter — subscribers dropped because
 *   their grant was removed from the device — stays 0, since a released grant must already be
 *   empty and natural drains move no one. It is read in every `report` line and, at the end, in
 *   the sim's snapshot in the state directory (saved at every removal and on stop), so that a cut
 *   no report followed is seen too.
 *
 * @module
 */
import assert from 'node:assert/strict'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { AddressRange, Prefix } from '../../src/ip/index.js'
import { type AgentProcess, type Line, type Target, reported } from './agent-process.js'
import { api } from './casm-server.js'

/** Every item of a paged list (`{items, next}`), following `next` with `after`. */
export async function allPages<T>(s: Target, path: string, limit = 10): Promise<T[]> {
  const out: T[] = []
  let after: string | null = null
  const sep = path.includes('?') ? '&' : '?'
  for (let page = 0; page < 10_000; page++) {
    const r = await api(
      s,
      'GET',
      `${path}${sep}limit=${limit}${after === null ? '' : `&after=${encodeURIComponent(after)}`}`,
    )
    assert.equal(r.status, 200, `${path}: ${JSON.stringify(r.body)}`)
    const body = r.body as { items: T[]; next: string | null }
    out.push(...body.items)
    if (body.next === null) return out
    assert.notEqual(body.next, after, `${path}: the cursor does not move`)
    after = body.next
  }
  assert.fail(`${path}: too many pages`)
}

interface PoolOut {
  id: string
  name: string
  space: string[]
}

interface GrantOut {
  id: string
  pool: string
  device: string
  prefix: string
  state: string
}

interface EventOut {
  seq: number
  at: string
  action: string
  objectId: string
  before: Record<string, unknown> | null
  reason: string | null
}

/** What {@link checkInvariants} looked at, for tests that want it not to be vacuous. */
export interface InvariantSummary {
  /** Live grants checked for overlap. */
  readonly liveGrants: number
  /** Releases and expiries checked against the agents' reports. */
  readonly releases: number
  /** Report lines whose `evicted` was checked. */
  readonly reports: number
}

/**
 * Checks the invariants of the module doc. `agents` maps each device name to its agent
 * processes in the order they ran (restarts included), so that their logs read as one.
 */
export async function checkInvariants(
  s: Target,
  agents: Readonly<Record<string, readonly AgentProcess[]>>,
): Promise<InvariantSummary> {
  // ---- (a) no overlap, all inside the pool.
  const listed = await api(s, 'GET', '/api/v1/pools')
  assert.equal(listed.status, 200, JSON.stringify(listed.body))
  const pools = new Map(
    (listed.body as { items: PoolOut[] }).items.map((p) => [
      p.id,
      { name: p.name, space: p.space.map((x) => AddressRange.parse(x)) },
    ]),
  )
  const grants = [
    ...(await allPages<GrantOut>(s, '/api/v1/grants?state=active')),
    ...(await allPages<GrantOut>(s, '/api/v1/grants?state=draining')),
  ]
  assert.equal(new Set(grants.map((g) => g.id)).size, grants.length, 'a grant listed twice')
  const prefixes = grants.map((g) => ({ g, p: Prefix.parse(g.prefix) }))
  for (const { g, p } of prefixes) {
    const pool = pools.get(g.pool)
    assert.ok(pool !== undefined, `grant ${g.id} of unknown pool ${g.pool}`)
    assert.ok(
      pool.space.some((sp) => sp.contains(p)),
      `grant ${g.id} ${g.prefix} is outside pool ${pool.name} (${pool.space.join(', ')})`,
    )
  }
  prefixes.sort((a, b) => a.p.compare(b.p))
  let previous: (typeof prefixes)[number] | undefined
  for (const cur of prefixes) {
    if (previous !== undefined && previous.p.family === cur.p.family)
      assert.ok(
        previous.p.last < cur.p.first,
        `overlap: ${previous.g.id} ${previous.g.prefix} (${previous.g.state}, device ${previous.g.device}) and ${cur.g.id} ${cur.g.prefix} (${cur.g.state}, device ${cur.g.device})`,
      )
    if (
      previous === undefined ||
      previous.p.family !== cur.p.family ||
      cur.p.last > previous.p.last
    )
      previous = cur
  }

  // ---- (b) nothing released while its device reported use.
  const logs = new Map<string, Line[]>()
  for (const [name, processes] of Object.entries(agents)) {
    const r = await api(s, 'GET', `/api/v1/devices/${name}`)
    assert.equal(r.status, 200, JSON.stringify(r.body))
    logs.set(
      (r.body as { id: string }).id,
      processes.flatMap((p) => p.lines),
    )
  }
  const ended = [
    ...(await allPages<EventOut>(s, '/api/v1/events?action=grant.release')),
    ...(await allPages<EventOut>(s, '/api/v1/events?action=grant.expire')),
  ]
  for (const e of ended) {
    const grant = e.objectId
    let device = e.before?.['deviceId']
    if (typeof device !== 'string' || device === '') {
      const r = await api(s, 'GET', `/api/v1/grants/${grant}`)
      device = (r.body as { device?: string }).device
    }
    const lines = logs.get(String(device))
    assert.ok(
      lines !== undefined,
      `${e.action} of ${grant}: no agent log for device ${String(device)}`,
    )
    const names = (l: Line): boolean =>
      ((l['grants'] as { grant: string }[] | undefined) ?? []).some((x) => x.grant === grant)
    // Where the agent heard of the release: the answer, the stream event, or the removal.
    let heard = lines.findIndex(
      (l) =>
        (l.action === 'release-notification' && names(l)) ||
        (l.action === 'event' && l['type'] === 'release-notification' && names(l)) ||
        (l.action === 'remove' && l['grant'] === grant),
    )
    if (heard < 0) heard = lines.length
    const last = lines
      .slice(0, heard)
      .reverse()
      .find((l) => l.action === 'report' && reported(l).some((g) => g.grant === grant))
    assert.ok(
      last !== undefined,
      `${e.action} of ${grant} (${e.reason ?? ''}): its agent never reported it`,
    )
    const used = reported(last).find((g) => g.grant === grant)?.used
    assert.equal(
      used,
      0,
      `${e.action} of ${grant} at ${e.at} (${e.reason ?? ''}): the agent's last report before it heard of the release (${last.time}) said ${String(used)} in use`,
    )
    const detail = await api(s, 'GET', `/api/v1/grants/${grant}/detail`)
    const usage = (detail.body as { usage?: { used: number } | null }).usage
    if (usage !== undefined && usage !== null)
      assert.equal(
        usage.used,
        0,
        `${grant}: the coordinator released it on a report of ${usage.used}`,
      )
  }

  // ---- (c) the sim never cut a subscriber.
  let reports = 0
  for (const [name, processes] of Object.entries(agents))
    for (const p of processes)
      for (const l of p.of('report')) {
        const backend = l['backend'] as Record<string, unknown> | undefined
        if (backend === undefined) continue
        reports++
        // One sim, or one per plane (`--planes`).
        const sims = 'evicted' in backend ? [backend] : Object.values(backend)
        for (const sim of sims) {
          const evicted = (sim as { evicted?: unknown }).evicted
          assert.equal(
            evicted,
            0,
            `${name}: the sim cut ${String(evicted)} subscriber(s) by ${l.time}: ${JSON.stringify(l).slice(0, 400)}`,
          )
        }
      }
  const stateDirs = new Map<string, string>()
  for (const [name, processes] of Object.entries(agents))
    for (const p of processes) stateDirs.set(p.state, name)
  for (const [dir, name] of stateDirs) {
    if (!existsSync(dir)) continue
    for (const file of readdirSync(dir).filter((f) => /^sim-backend.*\.json$/.test(f))) {
      const { evicted } = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { evicted?: number }
      assert.equal(evicted, 0, `${name}: ${file} says the sim cut ${String(evicted)} subscriber(s)`)
    }
  }
  return { liveGrants: grants.length, releases: ended.length, reports }
}
