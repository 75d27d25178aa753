/**
 * The conformance suite every {@link Backend} passes: each backend's test calls
 * {@link backendConformance} with a factory.
 *
 * @module
 */

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Backend, BackendGrant, HeldGrant } from './backend.js'

/** A fresh backend for one test, and how to open the same one again after a stop. */
export interface BackendUnderTest {
  readonly backend: Backend
  /** A new instance over the same persisted state (omit when nothing persists). */
  readonly reopen?: () => Backend
  /** Removes what the test created. */
  readonly cleanup?: () => Promise<void>
}

const g = (grant: string | undefined, prefix: string, state: BackendGrant['state'] = 'active') =>
  ({
    ...(grant === undefined ? {} : { grant }),
    prefix,
    state,
    family: prefix.includes(':') ? 'ipv6' : 'ipv4',
  }) as BackendGrant

const brief = (held: readonly HeldGrant[]) =>
  held
    .map((h) => `${h.prefix} ${h.grant ?? '-'} ${h.state}`)
    .sort()
    .join('; ')

/**
 * Registers the conformance tests for one implementation.
 *
 * @example
 * ```ts
 * backendConformance('sim', async () => ({ backend: new SimBackend({ seed: 1 }) }))
 * ```
 */
export function backendConformance(label: string, make: () => Promise<BackendUnderTest>): void {
  const withBackend = async (fn: (t: BackendUnderTest) => Promise<void>): Promise<void> => {
    const t = await make()
    await t.backend.start()
    try {
      await fn(t)
    } finally {
      await t.backend.stop()
      await t.cleanup?.()
    }
  }

  describe(`backend conformance: ${label}`, () => {
    it('starts holding nothing', () =>
      withBackend(async ({ backend }) => {
        assert.deepEqual(await backend.holds(), [])
        assert.deepEqual(await backend.usage(), [])
        assert.ok(backend.name.length > 0)
      }))

    it('installs in the state asked, once however often it is asked', () =>
      withBackend(async ({ backend }) => {
        await backend.install(g('gr_1', '100.64.8.0/27'))
        await backend.install(g('gr_1', '100.64.8.0/27'))
        await backend.install(g('gr_2', '2001:db8:1::/48', 'draining'))
        assert.equal(
          brief(await backend.holds()),
          '100.64.8.0/27 gr_1 active; 2001:db8:1::/48 gr_2 draining',
        )
      }))

    it('answers prefixes in canonical text', () =>
      withBackend(async ({ backend }) => {
        await backend.install(g('gr_3', '2001:DB8:0:0::/48'))
        assert.deepEqual(
          (await backend.holds()).map((h) => h.prefix),
          ['2001:db8::/48'],
        )
      }))

    it('drains and undrains, idempotently', () =>
      withBackend(async ({ backend }) => {
        await backend.install(g('gr_1', '100.64.8.0/27'))
        await backend.drain(g('gr_1', '100.64.8.0/27'))
        await backend.drain(g('gr_1', '100.64.8.0/27'))
        assert.equal(brief(await backend.holds()), '100.64.8.0/27 gr_1 draining')
        await backend.undrain(g('gr_1', '100.64.8.0/27', 'draining'))
        await backend.undrain(g('gr_1', '100.64.8.0/27'))
        assert.equal(brief(await backend.holds()), '100.64.8.0/27 gr_1 active')
      }))

    it('removes, idempotently, and ignores prefixes it does not hold', () =>
      withBackend(async ({ backend }) => {
        await backend.install(g('gr_1', '100.64.8.0/27'))
        await backend.install(g('gr_2', '100.64.8.32/27'))
        await backend.remove(g('gr_1', '100.64.8.0/27'))
        await backend.remove(g('gr_1', '100.64.8.0/27'))
        await backend.drain(g('gr_9', '198.51.100.0/24'))
        await backend.undrain(g('gr_9', '198.51.100.0/24'))
        await backend.remove(g('gr_9', '198.51.100.0/24'))
        assert.equal(brief(await backend.holds()), '100.64.8.32/27 gr_2 active')
      }))

    it('adopts a grant id for a prefix held without one', () =>
      withBackend(async ({ backend }) => {
        await backend.install(g(undefined, '100.64.9.0/28'))
        assert.equal(brief(await backend.holds()), '100.64.9.0/28 - active')
        await backend.install(g('gr_7', '100.64.9.0/28'))
        assert.equal(brief(await backend.holds()), '100.64.9.0/28 gr_7 active')
      }))

    it('reports usage for every held prefix, within its size', () =>
      withBackend(async ({ backend }) => {
        await backend.install(g('gr_1', '100.64.8.0/28'))
        await backend.install(g('gr_2', '100.64.8.16/28', 'draining'))
        const usage = await backend.usage()
        assert.deepEqual(usage.map((u) => u.prefix).sort(), ['100.64.8.0/28', '100.64.8.16/28'])
        for (const u of usage) {
          assert.ok(Number.isInteger(u.used) && u.used >= 0 && u.used <= 16, JSON.stringify(u))
          if (u.peak !== undefined) assert.ok(u.peak >= u.used && u.peak <= 16)
          if (u.average !== undefined) assert.ok(u.average >= 0 && u.average <= 16)
        }
        assert.deepEqual(usage.map((u) => u.grant).sort(), ['gr_1', 'gr_2'])
      }))

    it('keeps what it holds across a restart', async (t) => {
      const under = await make()
      if (under.reopen === undefined) {
        t.skip('this backend keeps nothing across restarts')
        await under.cleanup?.()
        return
      }
      try {
        await under.backend.start()
        await under.backend.install(g('gr_1', '100.64.8.0/27'))
        await under.backend.install(g('gr_2', '100.64.8.32/27'))
        await under.backend.drain(g('gr_2', '100.64.8.32/27'))
        await under.backend.stop()
        const again = under.reopen()
        await again.start()
        assert.equal(
          brief(await again.holds()),
          '100.64.8.0/27 gr_1 active; 100.64.8.32/27 gr_2 draining',
        )
        await again.stop()
      } finally {
        await under.cleanup?.()
      }
    })
  })
}
