/**
 * Routes of domains, blocks, pools and devices, with their usage.
 *
 * @module
 */

import { Type } from 'typebox'
import * as inventory from '../../coordinator/inventory.js'
import { getBlockUsage, getDomainUsage, getPoolUsage } from '../../coordinator/queries.js'
import {
  USAGE_HISTORY_DEFAULT_MS,
  deviceUsageHistory,
  poolUsageHistory,
} from '../../coordinator/usage-history.js'
import type { UsageSampleRow } from '../../coordinator/store.js'
import type { Family } from '../../ip/index.js'
import { CasmError } from '../../errors/casm-error.js'
import { callerOf, mutate } from '../http.js'
import * as S from '../schemas.js'
import { blockOut, deviceOut, domainOut, iso, poolOut } from '../views.js'
import type { Api } from '../server.js'

const errors = { '4xx': S.ErrorBody, '5xx': S.ErrorBody }
const params = (name: string) => Type.Object({ [name]: S.Key })

/** `since` of a usage history: RFC 3339 or epoch ms; default 24 hours before `now`. */
function sinceParam(value: string | undefined, now: number): number {
  if (value === undefined) return now - USAGE_HISTORY_DEFAULT_MS
  const ms = /^[0-9]+$/.test(value) ? Number(value) : Date.parse(value)
  if (!Number.isSafeInteger(ms)) {
    throw new CasmError(
      'CASM_ERR_VALIDATION',
      'since must be an RFC 3339 time like 2026-11-25T12:00:00Z or epoch milliseconds',
      { errors: [{ path: 'querystring/since', message: 'not a time', value }] },
    )
  }
  return ms
}

const sampleOut = (r: UsageSampleRow) => ({
  at: iso(r.at),
  family: r.family,
  used: r.used.toString(),
  total: r.total.toString(),
  utilisation: r.utilisation,
})

/** Registers the inventory routes. */
export function inventoryRoutes(app: Api): void {
  const co = app.coordinator

  // ---- domains
  app.get('/api/v1/domains', {
    schema: {
      tags: ['domains'],
      summary: 'List domains',
      response: { 200: S.List(S.Domain), ...errors },
    },
    handler: async (req) => ({
      items: (await inventory.listDomains(co.reader, callerOf(req))).map(domainOut),
    }),
  })
  app.post('/api/v1/domains', {
    schema: {
      tags: ['domains'],
      summary: 'Create a domain',
      description:
        'A domain is a routing or addressing scope (a VRF, a tenant network). Two domains may hold the same private space.',
      body: S.DomainInput,
      response: { 201: S.Domain, ...errors },
    },
    handler: (req, reply) =>
      mutate(
        co,
        req,
        reply,
        inventory.createDomain(callerOf(req), req.body as S.TDomainInput),
        domainOut,
        201,
      ),
  })
  app.get('/api/v1/domains/:domain', {
    schema: {
      tags: ['domains'],
      summary: 'Read a domain',
      params: params('domain'),
      response: { 200: S.Domain, ...errors },
    },
    handler: async (req) =>
      domainOut(
        await inventory.getDomain(
          co.reader,
          callerOf(req),
          (req.params as { domain: string }).domain,
        ),
      ),
  })
  app.patch('/api/v1/domains/:domain', {
    schema: {
      tags: ['domains'],
      summary: 'Rename or describe a domain',
      params: params('domain'),
      body: S.DomainPatch,
      response: { 200: S.Domain, ...errors },
    },
    handler: (req, reply) =>
      mutate(
        co,
        req,
        reply,
        inventory.updateDomain(
          callerOf(req),
          (req.params as { domain: string }).domain,
          req.body as Record<string, string>,
        ),
        domainOut,
      ),
  })
  app.delete('/api/v1/domains/:domain', {
    schema: {
      tags: ['domains'],
      summary: 'Delete an empty domain',
      params: params('domain'),
      response: { 204: Type.Null(), ...errors },
    },
    handler: (req, reply) =>
      mutate(
        co,
        req,
        reply,
        inventory.deleteDomain(callerOf(req), (req.params as { domain: string }).domain),
        () => null,
        204,
      ),
  })
  app.get('/api/v1/domains/:domain/usage', {
    schema: {
      tags: ['domains'],
      summary: 'Usage of a domain',
      description:
        "Per family: block space, pooled, unpooled, allocated, reserved, excluded, free; and each pool's usage.",
      params: params('domain'),
      response: {
        200: Type.Object({
          domain: Type.String(),
          families: Type.Array(S.SpaceUsage),
          pools: Type.Array(S.PoolUsage),
        }),
        ...errors,
      },
    },
    handler: (req) =>
      co.run(getDomainUsage(callerOf(req), (req.params as { domain: string }).domain)),
  })

  // ---- blocks
  app.get('/api/v1/blocks', {
    schema: {
      tags: ['blocks'],
      summary: 'List blocks',
      querystring: Type.Object({ domain: Type.Optional(S.Key) }, { additionalProperties: false }),
      response: { 200: S.List(S.Block), ...errors },
    },
    handler: async (req) => ({
      items: (
        await inventory.listBlocks(
          co.reader,
          callerOf(req),
          (req.query as { domain?: string }).domain,
        )
      ).map(blockOut),
    }),
  })
  app.post('/api/v1/blocks', {
    schema: {
      tags: ['blocks'],
      summary: 'Add a block to a domain',
      description:
        'A block is an aggregate the operator owns. Blocks of one domain never overlap; a reserved block feeds no pool.',
      body: S.BlockInput,
      response: { 201: S.Block, ...errors },
    },
    handler: (req, reply) =>
      mutate(
        co,
        req,
        reply,
        inventory.createBlock(callerOf(req), req.body as inventory.BlockInput),
        blockOut,
        201,
      ),
  })
  app.get('/api/v1/blocks/:id', {
    schema: {
      tags: ['blocks'],
      summary: 'Read a block',
      params: Type.Object({ id: S.Id }),
      response: { 200: S.Block, ...errors },
    },
    handler: async (req) =>
      blockOut(
        await inventory.getBlock(co.reader, callerOf(req), (req.params as { id: string }).id),
      ),
  })
  app.patch('/api/v1/blocks/:id', {
    schema: {
      tags: ['blocks'],
      summary: 'Change or resize a block',
      description: 'A resize that would leave pool space outside every block is refused.',
      params: Type.Object({ id: S.Id }),
      body: S.BlockPatch,
      response: { 200: S.Block, ...errors },
    },
    handler: (req, reply) =>
      mutate(
        co,
        req,
        reply,
        inventory.updateBlock(
          callerOf(req),
          (req.params as { id: string }).id,
          req.body as Parameters<typeof inventory.updateBlock>[2],
        ),
        blockOut,
      ),
  })
  app.delete('/api/v1/blocks/:id', {
    schema: {
      tags: ['blocks'],
      summary: 'Delete a block no pool uses',
      params: Type.Object({ id: S.Id }),
      response: { 204: Type.Null(), ...errors },
    },
    handler: (req, reply) =>
      mutate(
        co,
        req,
        reply,
        inventory.deleteBlock(callerOf(req), (req.params as { id: string }).id),
        () => null,
        204,
      ),
  })
  app.get('/api/v1/blocks/:id/usage', {
    schema: {
      tags: ['blocks'],
      summary: 'Usage of a block',
      params: Type.Object({ id: S.Id }),
      response: { 200: S.BlockUsage, ...errors },
    },
    handler: (req) => getBlockUsage(co.reader, callerOf(req), (req.params as { id: string }).id),
  })

  // ---- pools
  app.get('/api/v1/pools', {
    schema: {
      tags: ['pools'],
      summary: 'List pools',
      querystring: Type.Object({ domain: Type.Optional(S.Key) }, { additionalProperties: false }),
      response: { 200: S.List(S.Pool), ...errors },
    },
    handler: async (req) => ({
      items: (
        await inventory.listPools(
          co.reader,
          callerOf(req),
          (req.query as { domain?: string }).domain,
        )
      ).map(poolOut),
    }),
  })
  app.post('/api/v1/pools', {
    schema: {
      tags: ['pools'],
      summary: 'Create a pool',
      description:
        'A pool is a slice of one or more blocks of a domain with a policy: unit lengths, strategy (dense, sparse, adjacent), watermarks, lifetime, quarantine, priority and selectors.',
      body: S.PoolInput,
      response: { 201: S.Pool, ...errors },
    },
    handler: (req, reply) =>
      mutate(
        co,
        req,
        reply,
        inventory.createPool(callerOf(req), req.body as inventory.PoolInput),
        poolOut,
        201,
      ),
  })
  app.get('/api/v1/pools/:pool', {
    schema: {
      tags: ['pools'],
      summary: 'Read a pool',
      params: params('pool'),
      response: { 200: S.Pool, ...errors },
    },
    handler: async (req) =>
      poolOut(
        await inventory.getPool(co.reader, callerOf(req), (req.params as { pool: string }).pool),
      ),
  })
  app.patch('/api/v1/pools/:pool', {
    schema: {
      tags: ['pools'],
      summary: 'Change or resize a pool',
      description:
        'A new `space` resizes the pool; it is refused when a grant, assignment or reservation would fall outside.',
      params: params('pool'),
      body: S.PoolPatch,
      response: { 200: S.Pool, ...errors },
    },
    handler: (req, reply) =>
      mutate(
        co,
        req,
        reply,
        inventory.updatePool(
          callerOf(req),
          (req.params as { pool: string }).pool,
          req.body as inventory.PoolPatch,
        ),
        poolOut,
      ),
  })
  app.delete('/api/v1/pools/:pool', {
    schema: {
      tags: ['pools'],
      summary: 'Delete a pool with no live grant or assignment',
      params: params('pool'),
      response: { 204: Type.Null(), ...errors },
    },
    handler: (req, reply) =>
      mutate(
        co,
        req,
        reply,
        inventory.deletePool(callerOf(req), (req.params as { pool: string }).pool),
        () => null,
        204,
      ),
  })
  app.get('/api/v1/pools/:pool/usage', {
    schema: {
      tags: ['pools'],
      summary: 'Usage of a pool',
      description:
        'Addresses total, used and free; free blocks per length; the largest free prefix; fragmentation for the default unit.',
      params: params('pool'),
      response: { 200: S.PoolUsage, ...errors },
    },
    handler: (req) => co.run(getPoolUsage(callerOf(req), (req.params as { pool: string }).pool)),
  })
  app.get('/api/v1/pools/:pool/usage/history', {
    schema: {
      tags: ['pools'],
      summary: 'Usage history of a pool',
      description:
        'Samples of used and total addresses the coordinator takes every few minutes (kept 7 days), oldest first.',
      params: params('pool'),
      querystring: S.UsageHistoryQuery,
      response: { 200: S.List(S.UsageSample), ...errors },
    },
    handler: async (req) => {
      const q = req.query as { since?: string; limit?: number }
      const rows = await poolUsageHistory(
        co.reader,
        callerOf(req),
        (req.params as { pool: string }).pool,
        { since: sinceParam(q.since, co.clock.now()), limit: q.limit ?? 2000 },
      )
      return { items: rows.map(sampleOut) }
    },
  })

  // ---- devices
  app.get('/api/v1/devices', {
    schema: {
      tags: ['devices'],
      summary: 'List devices',
      response: { 200: S.List(S.Device), ...errors },
    },
    handler: async (req) => ({
      items: (await inventory.listDevices(co.reader, callerOf(req))).map(deviceOut),
    }),
  })
  app.post('/api/v1/devices', {
    schema: {
      tags: ['devices'],
      summary: 'Register a device',
      description:
        'A device consumes addresses (BNG, CGN, DHCP server, ...) and carries the requestor attributes of RF-4.2.2.',
      body: S.DeviceInput,
      response: { 201: S.Device, ...errors },
    },
    handler: (req, reply) =>
      mutate(
        co,
        req,
        reply,
        inventory.createDevice(callerOf(req), req.body as inventory.DeviceInput),
        deviceOut,
        201,
      ),
  })
  app.get('/api/v1/devices/:device', {
    schema: {
      tags: ['devices'],
      summary: 'Read a device',
      params: params('device'),
      response: { 200: S.Device, ...errors },
    },
    handler: async (req) =>
      deviceOut(
        await inventory.getDevice(
          co.reader,
          callerOf(req),
          (req.params as { device: string }).device,
        ),
      ),
  })
  app.get('/api/v1/devices/:device/usage/history', {
    schema: {
      tags: ['devices'],
      summary: 'Usage history of a device',
      description:
        'Per family, samples of the addresses the device reported in use out of its active grants, taken every few minutes (kept 7 days), oldest first.',
      params: params('device'),
      querystring: Type.Object(
        { family: Type.Optional(S.Family), ...S.UsageHistoryQuery.properties },
        { additionalProperties: false },
      ),
      response: { 200: S.List(S.UsageSample), ...errors },
    },
    handler: async (req) => {
      const q = req.query as { family?: Family; since?: string; limit?: number }
      const rows = await deviceUsageHistory(
        co.reader,
        callerOf(req),
        (req.params as { device: string }).device,
        {
          since: sinceParam(q.since, co.clock.now()),
          limit: q.limit ?? 2000,
          ...(q.family === undefined ? {} : { family: q.family }),
        },
      )
      return { items: rows.map(sampleOut) }
    },
  })
  app.patch('/api/v1/devices/:device', {
    schema: {
      tags: ['devices'],
      summary: 'Change a device',
      params: params('device'),
      body: S.DevicePatch,
      response: { 200: S.Device, ...errors },
    },
    handler: (req, reply) =>
      mutate(
        co,
        req,
        reply,
        inventory.updateDevice(
          callerOf(req),
          (req.params as { device: string }).device,
          req.body as Partial<inventory.DeviceInput>,
        ),
        deviceOut,
      ),
  })
  app.delete('/api/v1/devices/:device', {
    schema: {
      tags: ['devices'],
      summary: 'Delete a device holding no live grant',
      params: params('device'),
      response: { 204: Type.Null(), ...errors },
    },
    handler: (req, reply) =>
      mutate(
        co,
        req,
        reply,
        inventory.deleteDevice(callerOf(req), (req.params as { device: string }).device),
        () => null,
        204,
      ),
  })
}
