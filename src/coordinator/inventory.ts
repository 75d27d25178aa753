/**
 * Domains, blocks, pools and devices: create, read, change, delete — with the checks that keep
 * the address space consistent. Inside a domain no two blocks overlap, every pool lies in
 * non-reserved blocks, no two pools overlap; a change or delete that would orphan or overlap
 * anything is refused and names what is in the way.
 *
 * @module
 */

import { CasmError, isCasmError } from '../errors/casm-error.js'
import { PrefixAllocator } from '../alloc/prefix-allocator.js'
import { AddressRange, type Family, Prefix, mergeRanges, specialPurposeOf } from '../ip/index.js'
import type { Block, BlockSource, Device, Domain, Pool } from '../domain/model.js'
import {
  POOL_KINDS,
  type PoolKind,
  type PoolPolicyInput,
  resolvePolicy,
  checkDeviceOverrides,
  type DevicePolicyOverrides,
} from '../domain/pool-policy.js'
import { type RequestorAttributes, type Selectors, checkSelectors } from '../domain/requestor.js'
import { type Caller, actorOf, checkName, notFound, requireRole } from './caller.js'
import { newId } from './ids.js'
import type { StoreReader, WriteTx } from './store.js'
import type { WriteContext, WriteOp } from './writer.js'

/** Most ranges a pool's space may list. */
export const MAX_POOL_RANGES = 4096

// ---- helpers ---------------------------------------------------------------------------------

/** Canonical text of a range: the prefix when it is one, `first-last` otherwise. */
export function rangeText(r: AddressRange): string {
  return r.toPrefix()?.toString() ?? r.toString()
}

function validation(path: string, message: string, value?: unknown): CasmError {
  return new CasmError('CASM_ERR_VALIDATION', message, { errors: [{ path, message, value }] })
}

/** Parses a prefix or range of the space of a block or pool. */
function parseSpace(text: string, path: string, family?: Family): AddressRange {
  try {
    return AddressRange.parse(text.trim(), family)
  } catch (e) {
    if (isCasmError(e))
      throw new CasmError(e.code, `${path}: ${e.message}`, { ...e.details, path }, { cause: e })
    throw e
  }
}

/** True when `r` lies inside the union of `cover`. */
function covered(r: AddressRange, cover: readonly AddressRange[]): boolean {
  return mergeRanges(cover.filter((c) => c.family === r.family)).some((c) => c.contains(r))
}

function blockRange(b: Block): AddressRange {
  return AddressRange.parse(b.space, b.family)
}

async function domainOrThrow(reader: StoreReader, c: Caller, key: string): Promise<Domain> {
  const d = await reader.getDomain(c.tenantId, key)
  if (d === undefined) throw notFound('domain', key)
  return d
}

// ---- domains ---------------------------------------------------------------------------------

/** Reads a domain. */
export async function getDomain(reader: StoreReader, c: Caller, key: string): Promise<Domain> {
  requireRole(c, 'viewer')
  return domainOrThrow(reader, c, key)
}

/** Lists the tenant's domains. */
export async function listDomains(reader: StoreReader, c: Caller): Promise<Domain[]> {
  requireRole(c, 'viewer')
  return reader.listDomains(c.tenantId)
}

/** Creates a domain. */
export function createDomain(
  c: Caller,
  input: { name: string; description?: string },
): WriteOp<Domain> {
  return async (ctx) => {
    requireRole(c, 'operator')
    checkName(input.name)
    if ((await ctx.tx.getDomain(c.tenantId, input.name)) !== undefined) {
      throw new CasmError('CASM_ERR_ALREADY_EXISTS', `domain '${input.name}' already exists`, {
        name: input.name,
      })
    }
    const d: Domain = {
      id: newId('domain'),
      tenantId: c.tenantId,
      name: input.name,
      description: input.description ?? '',
      createdAt: ctx.now,
      updatedAt: ctx.now,
    }
    await ctx.tx.insertDomain(d)
    ctx.emit({
      tenantId: c.tenantId,
      actor: actorOf(c),
      action: 'domain.create',
      objectType: 'domain',
      objectId: d.id,
      after: d,
      requestId: c.requestId,
    })
    return d
  }
}

/** Renames or describes a domain. */
export function updateDomain(
  c: Caller,
  key: string,
  patch: { name?: string; description?: string },
): WriteOp<Domain> {
  return async (ctx) => {
    requireRole(c, 'operator')
    const before = await domainOrThrow(ctx.tx, c, key)
    if (patch.name !== undefined && patch.name !== before.name) {
      checkName(patch.name)
      if ((await ctx.tx.getDomain(c.tenantId, patch.name)) !== undefined) {
        throw new CasmError('CASM_ERR_ALREADY_EXISTS', `domain '${patch.name}' already exists`, {
          name: patch.name,
        })
      }
    }
    const after: Domain = {
      ...before,
      name: patch.name ?? before.name,
      description: patch.description ?? before.description,
      updatedAt: ctx.now,
    }
    await ctx.tx.updateDomain(after)
    ctx.emit({
      tenantId: c.tenantId,
      actor: actorOf(c),
      action: 'domain.update',
      objectType: 'domain',
      objectId: after.id,
      before,
      after,
      requestId: c.requestId,
    })
    return after
  }
}

/** Deletes a domain that holds no blocks and no pools. */
export function deleteDomain(c: Caller, key: string): WriteOp<void> {
  return async (ctx) => {
    requireRole(c, 'operator')
    const d = await domainOrThrow(ctx.tx, c, key)
    const blocks = await ctx.tx.listBlocks(c.tenantId, d.id)
    const pools = await ctx.tx.listPools(c.tenantId, d.id)
    if (blocks.length > 0 || pools.length > 0) {
      throw new CasmError(
        'CASM_ERR_IN_USE',
        `domain '${d.name}' still holds ${pools.length} pool(s) and ${blocks.length} block(s); delete them first`,
        { pools: pools.map((p) => p.name), blocks: blocks.map((b) => b.space) },
      )
    }
    await ctx.tx.deleteDomain(d.id)
    ctx.emit({
      tenantId: c.tenantId,
      actor: actorOf(c),
      action: 'domain.delete',
      objectType: 'domain',
      objectId: d.id,
      before: d,
      requestId: c.requestId,
    })
  }
}

// ---- blocks ----------------------------------------------------------------------------------

/** Input of {@link createBlock}. */
export interface BlockInput {
  readonly domain: string
  /** A prefix (`100.64.0.0/10`) or a range (`198.18.0.5-198.18.3.250`). */
  readonly space: string
  readonly reserved?: boolean
  readonly source?: BlockSource
  readonly description?: string
  readonly tags?: readonly string[]
}

/** A block and what the special-purpose registry says about its space. */
export interface BlockView extends Block {
  readonly specialPurpose: readonly { prefix: string; name: string; rfc: string }[]
}

/** Adds the special-purpose entries a block overlaps. */
export function blockView(b: Block): BlockView {
  const r = blockRange(b)
  const seen = new Map<string, { prefix: string; name: string; rfc: string }>()
  for (const p of r.toPrefixes().slice(0, 64)) {
    for (const e of specialPurposeOf(p))
      seen.set(e.prefix.toString(), { prefix: e.prefix.toString(), name: e.name, rfc: e.rfc })
  }
  return { ...b, specialPurpose: [...seen.values()] }
}

async function blockOrThrow(reader: StoreReader, c: Caller, id: string): Promise<Block> {
  const b = await reader.getBlock(c.tenantId, id)
  if (b === undefined) throw notFound('block', id)
  return b
}

/** Reads a block. */
export async function getBlock(reader: StoreReader, c: Caller, id: string): Promise<BlockView> {
  requireRole(c, 'viewer')
  return blockView(await blockOrThrow(reader, c, id))
}

/** Lists blocks, optionally of one domain. */
export async function listBlocks(
  reader: StoreReader,
  c: Caller,
  domain?: string,
): Promise<BlockView[]> {
  requireRole(c, 'viewer')
  const domainId = domain === undefined ? undefined : (await domainOrThrow(reader, c, domain)).id
  return (await reader.listBlocks(c.tenantId, domainId)).map(blockView)
}

async function checkBlockFree(
  tx: WriteTx,
  domainId: string,
  r: AddressRange,
  except?: string,
): Promise<void> {
  const clash = (await tx.blocksOverlapping(domainId, r.family, r.first, r.last)).find(
    (b) => b.id !== except,
  )
  if (clash !== undefined) {
    throw new CasmError(
      'CASM_ERR_OVERLAP',
      `${rangeText(r)} overlaps block ${clash.space} (${clash.id}) of this domain`,
      {
        overlaps: clash.space,
        block: clash.id,
      },
    )
  }
}

function checkTags(tags: readonly string[] | undefined): readonly string[] {
  const t = tags ?? []
  if (t.length > 64 || t.some((x) => x.length === 0 || x.length > 64)) {
    throw validation('/tags', 'at most 64 tags of 1-64 characters each', t)
  }
  return t
}

/** Adds a block to a domain. */
export function createBlock(c: Caller, input: BlockInput): WriteOp<BlockView> {
  return async (ctx) => {
    requireRole(c, 'operator')
    const d = await domainOrThrow(ctx.tx, c, input.domain)
    const r = parseSpace(input.space, '/space')
    await checkBlockFree(ctx.tx, d.id, r)
    const b: Block = {
      id: newId('block'),
      tenantId: c.tenantId,
      domainId: d.id,
      family: r.family,
      space: rangeText(r),
      reserved: input.reserved ?? false,
      source: input.source ?? {},
      description: input.description ?? '',
      tags: checkTags(input.tags),
      createdAt: ctx.now,
      updatedAt: ctx.now,
    }
    await ctx.tx.insertBlock(b, r.first, r.last)
    ctx.emit({
      tenantId: c.tenantId,
      actor: actorOf(c),
      action: 'block.create',
      objectType: 'block',
      objectId: b.id,
      after: b,
      requestId: c.requestId,
    })
    return blockView(b)
  }
}

/** Ranges of other pools of a domain that overlap `r` (the store answers per range). */
async function poolsOverlapping(
  tx: StoreReader,
  domainId: string,
  r: AddressRange,
): Promise<{ poolId: string; range: AddressRange }[]> {
  const rows = await tx.poolRangesOverlapping(domainId, r.family, r.first, r.last)
  return rows.map((row) => ({
    poolId: row.poolId,
    range: AddressRange.of(r.family, row.first, row.last),
  }))
}

async function poolName(tx: StoreReader, c: Caller, poolId: string): Promise<string> {
  return (await tx.getPool(c.tenantId, poolId))?.name ?? poolId
}

/** Changes a block: its space (resize), reserved flag, source, description or tags. */
export function updateBlock(
  c: Caller,
  id: string,
  patch: {
    space?: string
    reserved?: boolean
    source?: BlockSource
    description?: string
    tags?: readonly string[]
  },
): WriteOp<BlockView> {
  return async (ctx) => {
    requireRole(c, 'operator')
    const before = await blockOrThrow(ctx.tx, c, id)
    const oldRange = blockRange(before)
    const r =
      patch.space === undefined ? oldRange : parseSpace(patch.space, '/space', before.family)
    const reserved = patch.reserved ?? before.reserved
    if (!r.equals(oldRange)) {
      await checkBlockFree(ctx.tx, before.domainId, r, before.id)
      // Every pool range resting on the old block must still rest on blocks.
      const others = (await ctx.tx.listBlocks(c.tenantId, before.domainId)).filter(
        (b) => b.id !== before.id && b.family === before.family,
      )
      const cover = [...others.map(blockRange), r]
      for (const p of await poolsOverlapping(ctx.tx, before.domainId, oldRange)) {
        if (!covered(p.range, cover)) {
          throw new CasmError(
            'CASM_ERR_IN_USE',
            `resizing the block to ${rangeText(r)} would leave ${rangeText(p.range)} of pool '${await poolName(ctx.tx, c, p.poolId)}' outside every block`,
            { pool: p.poolId, range: rangeText(p.range) },
          )
        }
      }
    }
    if (reserved && !before.reserved) {
      const used = await poolsOverlapping(ctx.tx, before.domainId, r)
      if (used[0] !== undefined) {
        throw new CasmError(
          'CASM_ERR_IN_USE',
          `cannot reserve the block: pool '${await poolName(ctx.tx, c, used[0].poolId)}' uses ${rangeText(used[0].range)} of it`,
          { pool: used[0].poolId },
        )
      }
    }
    const after: Block = {
      ...before,
      space: rangeText(r),
      reserved,
      source: patch.source ?? before.source,
      description: patch.description ?? before.description,
      tags: patch.tags === undefined ? before.tags : checkTags(patch.tags),
      updatedAt: ctx.now,
    }
    await ctx.tx.updateBlock(after, r.first, r.last)
    ctx.emit({
      tenantId: c.tenantId,
      actor: actorOf(c),
      action: 'block.update',
      objectType: 'block',
      objectId: after.id,
      before,
      after,
      requestId: c.requestId,
    })
    return blockView(after)
  }
}

/** Deletes a block that no pool uses. */
export function deleteBlock(c: Caller, id: string): WriteOp<void> {
  return async (ctx) => {
    requireRole(c, 'operator')
    const b = await blockOrThrow(ctx.tx, c, id)
    const r = blockRange(b)
    const others = (await ctx.tx.listBlocks(c.tenantId, b.domainId)).filter(
      (x) => x.id !== b.id && x.family === b.family,
    )
    for (const p of await poolsOverlapping(ctx.tx, b.domainId, r)) {
      if (!covered(p.range, others.map(blockRange))) {
        throw new CasmError(
          'CASM_ERR_IN_USE',
          `block ${b.space} feeds pool '${await poolName(ctx.tx, c, p.poolId)}' (${rangeText(p.range)}); shrink or delete the pool first`,
          { pool: p.poolId, range: rangeText(p.range) },
        )
      }
    }
    await ctx.tx.deleteBlock(b.id)
    ctx.emit({
      tenantId: c.tenantId,
      actor: actorOf(c),
      action: 'block.delete',
      objectType: 'block',
      objectId: b.id,
      before: b,
      requestId: c.requestId,
    })
  }
}

// ---- pools -----------------------------------------------------------------------------------

/** Input of {@link createPool}. */
export interface PoolInput {
  readonly name: string
  readonly domain: string
  readonly kind: PoolKind
  readonly space: readonly string[]
  readonly policy?: PoolPolicyInput
  readonly priority?: number
  readonly selectors?: Selectors
  readonly tags?: readonly string[]
  readonly description?: string
}

/** Changes to a pool; `space` resizes it. */
export type PoolPatch = Partial<Omit<PoolInput, 'domain' | 'policy'>> & {
  readonly policy?: PoolPolicyInput
}

async function poolOrThrow(reader: StoreReader, c: Caller, key: string): Promise<Pool> {
  const p = await reader.getPool(c.tenantId, key)
  if (p === undefined) throw notFound('pool', key)
  return p
}

/** Reads a pool. */
export async function getPool(reader: StoreReader, c: Caller, key: string): Promise<Pool> {
  requireRole(c, 'viewer')
  return poolOrThrow(reader, c, key)
}

/** Lists pools, optionally of one domain. */
export async function listPools(reader: StoreReader, c: Caller, domain?: string): Promise<Pool[]> {
  requireRole(c, 'viewer')
  const domainId = domain === undefined ? undefined : (await domainOrThrow(reader, c, domain)).id
  return reader.listPools(c.tenantId, domainId)
}

const MULTICAST: Readonly<Record<Family, Prefix | undefined>> = {
  ipv4: Prefix.parse('224.0.0.0/4'),
  ipv6: Prefix.parse('ff00::/8'),
  mac: undefined,
}

/** Parses and checks a pool's space against the domain's blocks and the other pools. */
async function checkPoolSpace(
  ctx: WriteContext,
  c: Caller,
  domain: Domain,
  kind: PoolKind,
  texts: readonly string[],
  self?: string,
): Promise<AddressRange[]> {
  if (texts.length === 0) throw validation('/space', 'a pool needs at least one prefix or range')
  if (texts.length > MAX_POOL_RANGES)
    throw validation('/space', `at most ${MAX_POOL_RANGES} prefixes or ranges`)
  const parsed = texts.map((t, i) => parseSpace(t, `/space/${i}`))
  const family = (parsed[0] as AddressRange).family
  const odd = parsed.findIndex((r) => r.family !== family)
  if (odd >= 0) {
    throw new CasmError(
      'CASM_ERR_FAMILY_MISMATCH',
      `space/${odd} is ${parsed[odd]?.family ?? ''} but space/0 is ${family}; a pool holds one family`,
    )
  }
  const ranges = mergeRanges(parsed)
  const blocks = (await ctx.tx.listBlocks(c.tenantId, domain.id)).filter((b) => b.family === family)
  const usable = blocks.filter((b) => !b.reserved).map(blockRange)
  for (const r of ranges) {
    if (!covered(r, usable)) {
      const reserved = blocks.find((b) => b.reserved && blockRange(b).overlaps(r))
      throw new CasmError(
        reserved === undefined ? 'CASM_ERR_OUT_OF_POOL' : 'CASM_ERR_IN_USE',
        reserved === undefined
          ? `${rangeText(r)} is not inside the blocks of domain '${domain.name}'; add a block that holds it first`
          : `${rangeText(r)} lies in block ${reserved.space}, which is reserved`,
        { range: rangeText(r) },
      )
    }
    const clash = (await poolsOverlapping(ctx.tx, domain.id, r)).find((p) => p.poolId !== self)
    if (clash !== undefined) {
      throw new CasmError(
        'CASM_ERR_OVERLAP',
        `${rangeText(r)} overlaps ${rangeText(clash.range)} of pool '${await poolName(ctx.tx, c, clash.poolId)}'`,
        { range: rangeText(r), pool: clash.poolId },
      )
    }
    const mc = MULTICAST[family]
    if (kind === 'multicast' && mc !== undefined && !AddressRange.fromPrefix(mc).contains(r)) {
      throw validation(
        '/space',
        `a multicast pool must lie in ${mc.toString()}; ${rangeText(r)} does not`,
      )
    }
  }
  return ranges
}

function checkPoolFields(input: {
  kind?: PoolKind
  priority?: number
  selectors?: Selectors
  description?: string
}): void {
  if (input.kind !== undefined && !POOL_KINDS.includes(input.kind)) {
    throw validation('/kind', `kind must be one of ${POOL_KINDS.join(', ')}`, input.kind)
  }
  if (
    input.priority !== undefined &&
    (!Number.isInteger(input.priority) || Math.abs(input.priority) > 1_000_000)
  ) {
    throw validation(
      '/priority',
      'priority must be a whole number between -1000000 and 1000000',
      input.priority,
    )
  }
  if (input.selectors !== undefined) checkSelectors(input.selectors)
}

/** Refuses a policy whose default unit no block of the pool can hold. */
function checkUnitFits(pool: Pool, allocator: PrefixAllocator): void {
  const largest = Math.min(...allocator.space.flatMap((r) => r.toPrefixes()).map((p) => p.length))
  if (largest > pool.policy.unit.default) {
    throw validation(
      '/policy/unit/default',
      `the pool's largest aligned block is /${largest}; the default unit /${pool.policy.unit.default} can never be granted`,
      pool.policy.unit.default,
    )
  }
}

/** Creates a pool from space of the domain's blocks. */
export function createPool(c: Caller, input: PoolInput): WriteOp<Pool> {
  return async (ctx) => {
    requireRole(c, 'operator')
    checkName(input.name)
    checkPoolFields(input)
    const domain = await domainOrThrow(ctx.tx, c, input.domain)
    if ((await ctx.tx.getPool(c.tenantId, input.name)) !== undefined) {
      throw new CasmError('CASM_ERR_ALREADY_EXISTS', `pool '${input.name}' already exists`, {
        name: input.name,
      })
    }
    const ranges = await checkPoolSpace(ctx, c, domain, input.kind, input.space)
    const family = (ranges[0] as AddressRange).family
    const pool: Pool = {
      id: newId('pool'),
      tenantId: c.tenantId,
      domainId: domain.id,
      name: input.name,
      kind: input.kind,
      family,
      space: ranges.map(rangeText),
      policy: resolvePolicy(family, input.policy),
      priority: input.priority ?? 0,
      selectors: input.selectors ?? {},
      tags: checkTags(input.tags),
      description: input.description ?? '',
      createdAt: ctx.now,
      updatedAt: ctx.now,
    }
    const allocator = PrefixAllocator.create(family, ranges)
    checkUnitFits(pool, allocator)
    await ctx.tx.insertPool(pool, ranges)
    await ctx.installAllocator(pool, allocator)
    ctx.emit({
      tenantId: c.tenantId,
      actor: actorOf(c),
      action: 'pool.create',
      objectType: 'pool',
      objectId: pool.id,
      after: pool,
      requestId: c.requestId,
    })
    return pool
  }
}

/** Changes a pool; a new `space` resizes it when no unit would fall outside. */
export function updatePool(c: Caller, key: string, patch: PoolPatch): WriteOp<Pool> {
  return async (ctx) => {
    requireRole(c, 'operator')
    checkPoolFields(patch)
    const before = await poolOrThrow(ctx.tx, c, key)
    if (patch.name !== undefined && patch.name !== before.name) {
      checkName(patch.name)
      if ((await ctx.tx.getPool(c.tenantId, patch.name)) !== undefined) {
        throw new CasmError('CASM_ERR_ALREADY_EXISTS', `pool '${patch.name}' already exists`, {
          name: patch.name,
        })
      }
    }
    const kind = patch.kind ?? before.kind
    let ranges: AddressRange[] | undefined
    let allocator: PrefixAllocator | undefined
    if (patch.space !== undefined) {
      const domain = (await ctx.tx.getDomain(c.tenantId, before.domainId)) as Domain
      ranges = await checkPoolSpace(ctx, c, domain, kind, patch.space, before.id)
      if ((ranges[0] as AddressRange).family !== before.family) {
        throw new CasmError(
          'CASM_ERR_FAMILY_MISMATCH',
          `pool '${before.name}' is ${before.family}; its space cannot change family`,
        )
      }
      const current = await ctx.allocator(before)
      const units = [...current.units()]
      try {
        allocator = PrefixAllocator.rebuild({ family: before.family, space: ranges, units })
      } catch (e) {
        if (!isCasmError(e, 'CASM_ERR_OUT_OF_POOL')) throw e
        const outside = units.find((u) => !ranges?.some((r) => r.contains(u.prefix)))
        throw new CasmError(
          'CASM_ERR_IN_USE',
          `the new space leaves ${outside?.prefix.toString() ?? 'a unit'} (${outside?.kind ?? 'in use'}) outside the pool; release or move it first`,
          { unit: outside?.prefix.toString() },
          { cause: e },
        )
      }
    }
    const after: Pool = {
      ...before,
      name: patch.name ?? before.name,
      kind,
      space: ranges === undefined ? before.space : ranges.map(rangeText),
      policy:
        patch.policy === undefined
          ? before.policy
          : resolvePolicy(before.family, patch.policy, before.policy),
      priority: patch.priority ?? before.priority,
      selectors: patch.selectors ?? before.selectors,
      tags: patch.tags === undefined ? before.tags : checkTags(patch.tags),
      description: patch.description ?? before.description,
      updatedAt: ctx.now,
    }
    checkUnitFits(after, allocator ?? (await ctx.allocator(before)))
    await ctx.tx.updatePool(after, ranges)
    if (allocator !== undefined) await ctx.installAllocator(after, allocator)
    ctx.emit({
      tenantId: c.tenantId,
      actor: actorOf(c),
      action: 'pool.update',
      objectType: 'pool',
      objectId: after.id,
      before,
      after,
      requestId: c.requestId,
    })
    return after
  }
}

/** Deletes a pool with no live grant or assignment; its reservations and history rows go too. */
export function deletePool(c: Caller, key: string): WriteOp<void> {
  return async (ctx) => {
    requireRole(c, 'operator')
    const pool = await poolOrThrow(ctx.tx, c, key)
    const grants = await ctx.tx.countAllocations(c.tenantId, {
      poolId: pool.id,
      type: 'grant',
      live: true,
    })
    const assignments = await ctx.tx.countAllocations(c.tenantId, {
      poolId: pool.id,
      type: 'assignment',
      live: true,
    })
    if (grants + assignments > 0) {
      throw new CasmError(
        'CASM_ERR_IN_USE',
        `pool '${pool.name}' still holds ${grants} live grant(s) and ${assignments} assignment(s); release them first`,
        { grants, assignments },
      )
    }
    await ctx.tx.deleteAllocations({ poolId: pool.id })
    for (const r of await ctx.tx.listReservations(c.tenantId, pool.id))
      await ctx.tx.deleteReservation(r.id)
    await ctx.tx.deletePool(pool.id)
    ctx.poolDeleted(pool.id)
    ctx.emit({
      tenantId: c.tenantId,
      actor: actorOf(c),
      action: 'pool.delete',
      objectType: 'pool',
      objectId: pool.id,
      before: pool,
      requestId: c.requestId,
    })
  }
}

// ---- devices ---------------------------------------------------------------------------------

/** Input of {@link createDevice}. */
export interface DeviceInput {
  readonly name: string
  readonly attributes?: RequestorAttributes
  /** Overrides of the device-loop policy for this device. */
  readonly policy?: DevicePolicyOverrides
  readonly description?: string
}

async function deviceOrThrow(reader: StoreReader, c: Caller, key: string): Promise<Device> {
  const d = await reader.getDevice(c.tenantId, key)
  if (d === undefined) throw notFound('device', key)
  return d
}

/** Reads a device. */
export async function getDevice(reader: StoreReader, c: Caller, key: string): Promise<Device> {
  requireRole(c, 'viewer')
  return deviceOrThrow(reader, c, key)
}

/** Lists the tenant's devices. */
export async function listDevices(reader: StoreReader, c: Caller): Promise<Device[]> {
  requireRole(c, 'viewer')
  return reader.listDevices(c.tenantId)
}

function checkAttributes(a: RequestorAttributes | undefined): RequestorAttributes {
  const attrs = a ?? {}
  const custom = attrs.custom ?? {}
  if (Object.keys(custom).length > 64)
    throw validation('/attributes/custom', 'at most 64 custom attributes')
  for (const [k, v] of Object.entries(custom)) {
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(k) || v.length > 256) {
      throw validation(
        `/attributes/custom/${k}`,
        'custom keys are 1-64 of letters, digits, _ . -; values at most 256 characters',
      )
    }
  }
  return attrs
}

/** Registers a device. */
export function createDevice(c: Caller, input: DeviceInput): WriteOp<Device> {
  return async (ctx) => {
    requireRole(c, 'operator')
    checkName(input.name)
    if ((await ctx.tx.getDevice(c.tenantId, input.name)) !== undefined) {
      throw new CasmError('CASM_ERR_ALREADY_EXISTS', `device '${input.name}' already exists`, {
        name: input.name,
      })
    }
    const d: Device = {
      id: newId('device'),
      tenantId: c.tenantId,
      name: input.name,
      attributes: checkAttributes(input.attributes),
      policy: checkDeviceOverrides({ ...(input.policy ?? {}) }),
      description: input.description ?? '',
      createdAt: ctx.now,
      updatedAt: ctx.now,
    }
    await ctx.tx.insertDevice(d)
    ctx.emit({
      tenantId: c.tenantId,
      actor: actorOf(c),
      action: 'device.create',
      objectType: 'device',
      objectId: d.id,
      after: d,
      requestId: c.requestId,
    })
    return d
  }
}

/** Changes a device's name, attributes or description. */
export function updateDevice(c: Caller, key: string, patch: Partial<DeviceInput>): WriteOp<Device> {
  return async (ctx) => {
    requireRole(c, 'operator')
    const before = await deviceOrThrow(ctx.tx, c, key)
    if (patch.name !== undefined && patch.name !== before.name) {
      checkName(patch.name)
      if ((await ctx.tx.getDevice(c.tenantId, patch.name)) !== undefined) {
        throw new CasmError('CASM_ERR_ALREADY_EXISTS', `device '${patch.name}' already exists`, {
          name: patch.name,
        })
      }
    }
    const after: Device = {
      ...before,
      name: patch.name ?? before.name,
      attributes:
        patch.attributes === undefined ? before.attributes : checkAttributes(patch.attributes),
      policy:
        patch.policy === undefined ? before.policy : checkDeviceOverrides({ ...patch.policy }),
      description: patch.description ?? before.description,
      updatedAt: ctx.now,
    }
    await ctx.tx.updateDevice(after)
    ctx.emit({
      tenantId: c.tenantId,
      actor: actorOf(c),
      action: 'device.update',
      objectType: 'device',
      objectId: after.id,
      before,
      after,
      requestId: c.requestId,
    })
    return after
  }
}

/** Deletes a device that holds no live grant; its device tokens go with it. */
export function deleteDevice(c: Caller, key: string): WriteOp<void> {
  return async (ctx) => {
    requireRole(c, 'operator')
    const d = await deviceOrThrow(ctx.tx, c, key)
    const live = await ctx.tx.countAllocations(c.tenantId, { deviceId: d.id, live: true })
    if (live > 0) {
      throw new CasmError(
        'CASM_ERR_IN_USE',
        `device '${d.name}' still holds ${live} live grant(s); release them first`,
        { grants: live },
      )
    }
    await ctx.tx.deleteDevice(d.id)
    ctx.emit({
      tenantId: c.tenantId,
      actor: actorOf(c),
      action: 'device.delete',
      objectType: 'device',
      objectId: d.id,
      before: d,
      requestId: c.requestId,
    })
  }
}
