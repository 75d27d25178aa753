/**
 * `casm token create|list|revoke` and `casm events verify`: over the API of a running
 * coordinator (`--url`), or straight on the store (`--data` / DATABASE_URL) when run on the
 * coordinator's host — the way back in when no admin token is at hand.
 *
 * @module
 */

import { existsSync, readFileSync } from 'node:fs'
import { Command } from 'commander'
import { CasmError, isCasmError, type CasmErrorCode } from '../errors/casm-error.js'
import { systemCaller } from '../coordinator/caller.js'
import { Coordinator } from '../coordinator/coordinator.js'
import type { ChainVerification } from '../coordinator/event-chain.js'
import {
  createToken,
  DEFAULT_TENANT,
  listTokens,
  revokeToken,
  type TokenInput,
} from '../coordinator/tenancy.js'
import type { Role, Token } from '../domain/model.js'
import { openStore } from '../store/open-store.js'
import type { Output } from './output.js'
import { adminTokenFile, DEFAULT_DATA, saveBootstrapToken } from './serve-command.js'

interface TargetOptions {
  url?: string
  token?: string
  tenant?: string
  data: string
}

function addTargetOptions(c: Command): Command {
  return c
    .option(
      '--url <url>',
      'a running coordinator (env CASM_URL); without it, act on the store directly',
      process.env['CASM_URL'],
    )
    .option(
      '--token <token>',
      "bearer token for --url (env CASM_TOKEN; default: the data directory's admin token)",
      process.env['CASM_TOKEN'],
    )
    .option('--tenant <name>', 'tenant to act in (root tokens)')
    .option(
      '--data <dir>',
      'data directory of the local store (env CASM_DATA)',
      process.env['CASM_DATA'] ?? DEFAULT_DATA,
    )
}

/** Calls the API; turns its error answers into CasmErrors. */
async function call<T>(o: TargetOptions, method: string, path: string, body?: unknown): Promise<T> {
  const base = (o.url ?? '').replace(/\/+$/, '')
  let token = o.token
  if (token === undefined && existsSync(adminTokenFile(o.data)))
    token = readFileSync(adminTokenFile(o.data), 'utf8').trim()
  let res: Response
  try {
    res = await fetch(`${base}${path}`, {
      method,
      headers: {
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
        ...(o.tenant === undefined ? {} : { 'x-casm-tenant': o.tenant }),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    })
  } catch (e) {
    throw new CasmError(
      'CASM_ERR_UNAVAILABLE',
      `cannot reach ${base}: ${e instanceof Error ? (e.cause instanceof Error ? e.cause.message : e.message) : String(e)}`,
    )
  }
  const text = await res.text()
  const parsed: unknown = text === '' ? null : JSON.parse(text)
  if (!res.ok) {
    const err = (
      parsed as {
        error?: { code?: string; message?: string; details?: Record<string, unknown> }
      } | null
    )?.error
    throw new CasmError(
      (err?.code ?? 'CASM_ERR_INTERNAL') as CasmErrorCode,
      err?.message ?? `HTTP ${res.status}`,
      err?.details,
    )
  }
  return parsed as T
}

/** Runs `fn` on a local coordinator over the store (no sweeper), then closes it. */
async function local<T>(
  o: TargetOptions,
  fn: (co: Coordinator, tenantId: string) => Promise<T>,
): Promise<T> {
  const store = openStore({ databaseUrl: process.env['DATABASE_URL'], dataDir: o.data })
  const { coordinator, bootstrapToken } = await Coordinator.open(store, { sweepIntervalMs: 0 })
  if (bootstrapToken !== undefined)
    saveBootstrapToken(o.data, bootstrapToken.secret, (t) => process.stderr.write(t))
  try {
    const tenant = await coordinator.reader.getTenant(o.tenant ?? DEFAULT_TENANT)
    if (tenant === undefined)
      throw new CasmError(
        'CASM_ERR_NOT_FOUND',
        `tenant '${o.tenant ?? DEFAULT_TENANT}' does not exist`,
      )
    return await fn(coordinator, tenant.id)
  } finally {
    await coordinator.close()
  }
}

function tokenRows(tokens: readonly Token[]): string[][] {
  return tokens.map((t) => [
    t.id,
    t.name,
    t.role,
    t.tenantId ?? '(root)',
    t.revokedAt === null ? 'active' : 'revoked',
  ])
}

type ApiToken = {
  id: string
  name: string
  role: Role
  tenant: string | null
  device: string | null
  createdAt: string
  revokedAt: string | null
}
const fromApi = (t: ApiToken): Token => ({
  id: t.id,
  name: t.name,
  role: t.role,
  tenantId: t.tenant,
  deviceId: t.device,
  createdAt: Date.parse(t.createdAt),
  revokedAt: t.revokedAt === null ? null : Date.parse(t.revokedAt),
})

/** Builds `casm token`. */
export function tokenCommand(out: Output): Command {
  const token = new Command('token').description('create, list and revoke bearer tokens')
  addTargetOptions(
    token
      .command('create')
      .description('create a token; prints its secret once')
      .requiredOption('--name <name>', 'a name for the token')
      .option('--role <role>', 'viewer, operator, admin or device', 'operator')
      .option('--root', 'a root token acting across tenants (root admins only)')
      .option('--device <device>', 'for --role device: the device it speaks for')
      .option('--for-tenant <tenant>', 'root admins: create the token in this tenant')
      .option('--json', 'print JSON'),
  ).action(
    async (
      o: TargetOptions & {
        name: string
        role: Role
        root?: boolean
        device?: string
        forTenant?: string
        json?: boolean
      },
    ) => {
      const input: TokenInput = {
        name: o.name,
        role: o.role,
        ...(o.root === true ? { root: true } : {}),
        ...(o.device === undefined ? {} : { device: o.device }),
        ...(o.forTenant === undefined ? {} : { tenant: o.forTenant }),
      }
      const created =
        o.url === undefined
          ? await local(o, (co, tenantId) => co.run(createToken(systemCaller(tenantId), input)))
          : await call<{ token: ApiToken; secret: string }>(
              o,
              'POST',
              '/api/v1/tokens',
              input,
            ).then((r) => ({ token: fromApi(r.token), secret: r.secret }))
      if (o.json === true) {
        out.json({ token: created.token, secret: created.secret })
        return
      }
      out.lines([
        `created ${created.token.role} token ${created.token.id} (${created.token.name}); the secret is shown once:`,
        '',
        `  ${created.secret}`,
        '',
      ])
    },
  )
  addTargetOptions(
    token.command('list').description('list tokens').option('--json', 'print JSON'),
  ).action(async (o: TargetOptions & { json?: boolean }) => {
    const tokens =
      o.url === undefined
        ? await local(o, (co, tenantId) => listTokens(co.reader, systemCaller(tenantId)))
        : (await call<{ items: ApiToken[] }>(o, 'GET', '/api/v1/tokens')).items.map(fromApi)
    if (o.json === true) {
      out.json(tokens)
      return
    }
    out.table(['id', 'name', 'role', 'tenant', 'status'], tokenRows(tokens))
  })
  addTargetOptions(
    token
      .command('revoke')
      .description('revoke a token at once')
      .argument('<id>', 'token id')
      .option('--json', 'print JSON'),
  ).action(async (id: string, o: TargetOptions & { json?: boolean }) => {
    const t =
      o.url === undefined
        ? await local(o, (co, tenantId) => co.run(revokeToken(systemCaller(tenantId), id)))
        : fromApi(await call<ApiToken>(o, 'DELETE', `/api/v1/tokens/${encodeURIComponent(id)}`))
    if (o.json === true) {
      out.json(t)
      return
    }
    out.lines([`revoked ${t.id} (${t.name})`])
  })
  return token
}

/** Builds `casm events`. */
export function eventsCommand(out: Output): Command {
  const events = new Command('events').description('the audit log')
  addTargetOptions(
    events
      .command('verify')
      .description('verify the hash chain of every event: exits 0 when intact, 4 when broken')
      .option('--json', 'print JSON'),
  ).action(async (o: TargetOptions & { json?: boolean }) => {
    const progress = (n: number): void => {
      if (process.stderr.isTTY) process.stderr.write(`\rchecked ${n} events`)
    }
    const result: ChainVerification =
      o.url === undefined
        ? await local(o, (co, tenantId) => co.verifyEvents(systemCaller(tenantId), progress))
        : await call<ChainVerification>(o, 'GET', '/api/v1/events/verify')
    if (process.stderr.isTTY) process.stderr.write('\n')
    if (o.json === true) out.json(result)
    else if (result.ok)
      out.lines([
        `ok: ${result.checked} events, chain intact; head ${result.head.seq} ${result.head.hash}`,
      ])
    else
      out.lines([
        `BROKEN at event ${result.broken?.seq ?? '?'}: ${result.broken?.reason ?? ''} (${result.checked} events checked before it)`,
      ])
    if (!result.ok) process.exitCode = 4
  })
  return events
}

/** True when the error is one a user can fix (for exit codes). */
export function isUserError(e: unknown): boolean {
  return isCasmError(e) && e.status < 500
}
