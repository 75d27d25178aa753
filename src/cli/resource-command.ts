/**
 * The shared shape of the REST subcommands (`casm domains|blocks|pools|...`): `list` with
 * filters and cursor paging, `show`, `create` from flags or `--from-json`, `change`, `delete`,
 * and extra actions, all over {@link CasmApiClient}; tables for people, `--json` for scripts.
 *
 * @module
 */

import { readFileSync } from 'node:fs'
import { Command } from 'commander'
import Table from 'cli-table3'
import pc from 'picocolors'
import type { ApiPath, CasmApiClient } from '../client/casm-api-client.js'
import { CasmError } from '../errors/casm-error.js'
import { addTargetOptions, clientFor, type TargetFlags } from './cli-target.js'

/** An API object as JSON. */
export type Json = Record<string, unknown>

/** Options every REST leaf command gets. */
export type CommonFlags = TargetFlags & { json?: boolean }

/** True when output may be coloured: a terminal, and NO_COLOR unset. */
export function useColour(): boolean {
  const noColor = process.env['NO_COLOR']
  // isTTY is undefined off a terminal, and picocolors takes undefined as "decide yourself" (it
  // turns colour on when CI is set): give it a boolean.
  const tty = process.stdout.isTTY as boolean | undefined
  return tty === true && (noColor === undefined || noColor === '')
}

/** Renders a table (cli-table3) with a header row; no colour unless {@link useColour}. */
export function renderTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const colour = useColour()
  const c = pc.createColors(colour)
  const table = new Table({
    head: header.map((h) => c.bold(h)),
    style: { head: [], border: [], compact: true },
  })
  for (const row of rows) table.push([...row])
  return `${table.toString()}\n`
}

/** Shows a value in a table cell. */
export function cell(value: unknown): string {
  if (value === null || value === undefined) return ''
  if (typeof value === 'string') return value
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value)
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value.join(' ')
  return JSON.stringify(value)
}

/** Prints one object as a two-column field/value table. */
export function printRecord(value: unknown): void {
  if (typeof value !== 'object' || value === null) {
    process.stdout.write(`${cell(value)}\n`)
    return
  }
  process.stdout.write(
    renderTable(
      ['field', 'value'],
      Object.entries(value).map(([k, v]) => [k, cell(v)]),
    ),
  )
}

/** Prints JSON as the API sent it. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`)
}

/** Reads `--from-json FILE` (`-` for stdin) as a JSON object. */
export function readJsonInput(file: string): Json {
  let text: string
  try {
    text = readFileSync(file === '-' ? 0 : file, 'utf8')
  } catch (e) {
    throw new CasmError(
      'CASM_ERR_INVALID_ARGUMENT',
      `cannot read --from-json ${file}: ${e instanceof Error ? e.message : String(e)}`,
    )
  }
  try {
    const parsed: unknown = JSON.parse(text)
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      throw new Error('not a JSON object')
    return parsed as Json
  } catch (e) {
    throw new CasmError(
      'CASM_ERR_MALFORMED_JSON',
      `--from-json ${file}: ${e instanceof Error ? e.message : String(e)}`,
    )
  }
}

/**
 * The `{pool}` of a create path that lives under a pool (`/pools/{pool}/grants`): from `--pool`,
 * or from the `pool` of a `--from-json` body (taken out of the body, which the path carries).
 */
export function poolParam(o: Json, body: Json): { pool: string } {
  const pool = (o['pool'] as string | undefined) ?? (body['pool'] as string | undefined)
  if (pool === undefined)
    throw new CasmError('CASM_ERR_INVALID_ARGUMENT', 'say which pool: --pool NAME')
  delete body['pool']
  return { pool }
}

/** Parses a positive integer flag. */
export function intFlag(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined
  const n = Number(text)
  if (!Number.isInteger(n) || n < 0)
    throw new CasmError('CASM_ERR_INVALID_ARGUMENT', `${name} '${text}' is not a whole number`)
  return n
}

/** Parses `key=value` pairs (repeatable flags) into an object. */
export function pairs(
  name: string,
  items: readonly string[] | undefined,
): Record<string, string> | undefined {
  if (items === undefined || items.length === 0) return undefined
  const out: Record<string, string> = {}
  for (const item of items) {
    const i = item.indexOf('=')
    if (i <= 0)
      throw new CasmError('CASM_ERR_INVALID_ARGUMENT', `${name} '${item}' is not key=value`)
    out[item.slice(0, i)] = item.slice(i + 1)
  }
  return out
}

/** Collects a repeatable option. */
export const collect = (value: string, previous: string[] | undefined): string[] => [
  ...(previous ?? []),
  value,
]

/** Drops undefined fields. */
export function defined(o: Json): Json {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined))
}

/** A filter flag of `list` and the query parameter it sets. */
export interface ListFilter {
  readonly flag: string
  readonly query: string
  readonly description: string
}

/** A table column: header and how to show it. */
export type Column = readonly [string, (item: Json) => unknown]

/** The description of one resource's subcommands. */
/** Domain names by id, for tables. */
async function domainNames(client: CasmApiClient): Promise<Map<string, string>> {
  const page = await client.get<{ items: { id: string; name: string }[] }>('/api/v1/domains')
  return new Map(page.items.map((d) => [d.id, d.name]))
}

export interface ResourceSpec {
  /** Plural command name: `domains`. */
  readonly name: string
  /** `domain`: used in messages. */
  readonly noun: string
  readonly description: string
  /** An example shown in `--help`. */
  readonly example: string
  readonly list?: {
    readonly path: ApiPath<'get'>
    readonly filters: readonly ListFilter[]
    /** True when the API pages with `limit`/`after`/`next`. */
    readonly paged: boolean
    readonly columns: readonly Column[]
  }
  /** `show ID`: the item path and the name of its parameter. */
  readonly item?: { readonly path: ApiPath<'get'>; readonly param: string }
  readonly create?: {
    readonly path: ApiPath<'post'>
    /** Adds the flags for the main fields. */
    readonly flags: (c: Command) => Command
    /** Path parameters from the flags (e.g. the pool of a grant). */
    readonly params?: (o: Json, body: Json) => Record<string, string>
    /** The body from the flags. */
    readonly body: (o: Json) => Json
    /** How to show the answer (default: the answer itself as a record). */
    readonly show?: (answer: Json) => unknown
  }
  readonly change?: {
    readonly path: ApiPath<'patch'>
    readonly param: string
    readonly flags: (c: Command) => Command
    readonly body: (o: Json) => Json
  }
  readonly remove?: { readonly path: ApiPath<'delete'>; readonly param: string }
}

/** Adds target options and `--json` to a leaf and wraps its action with a client. */
export function leaf(
  c: Command,
  action: (client: CasmApiClient, args: string[], o: Json & CommonFlags) => Promise<void>,
  options: { json?: boolean } = {},
): Command {
  addTargetOptions(c)
  if (options.json !== false) c.option('--json', 'print the raw API JSON')
  return c.action(async (...all: unknown[]) => {
    const cmd = all[all.length - 1] as Command
    const args = cmd.args
    const o = cmd.opts<Json & CommonFlags>()
    await action(clientFor(o), args, o)
  })
}

/** Fetches every page (with `all`) or one page of a paged list. */
export async function fetchList(
  client: CasmApiClient,
  path: ApiPath<'get'>,
  query: Record<string, string | number | boolean | undefined>,
  o: { all?: boolean; limit?: string; after?: string },
  paged: boolean,
): Promise<{ items: Json[]; next: string | null }> {
  const limit = intFlag('--limit', o.limit)
  if (!paged) {
    const r = await client.get<{ items: Json[] }>(path, { query })
    const items = limit === undefined ? r.items : r.items.slice(0, limit)
    return { items, next: null }
  }
  const items: Json[] = []
  let after = o.after
  for (;;) {
    const r = await client.get<{ items: Json[]; next: string | null }>(path, {
      query: { ...query, limit: o.all === true ? 1000 : limit, after },
    })
    items.push(...r.items)
    if (o.all !== true || r.next === null) return { items, next: r.next }
    after = r.next
  }
}

/** Builds `casm <name>` with the subcommands the spec describes. */
export function resourceCommand(spec: ResourceSpec): Command {
  const root = new Command(spec.name)
    .description(spec.description)
    .addHelpText('after', `\nExample:\n  ${spec.example}`)
  const { list, item, create, change, remove } = spec
  if (list !== undefined) {
    const c = root.command('list').alias('ls').description(`list ${spec.name}`)
    for (const f of list.filters) c.option(`--${f.flag} <value>`, f.description)
    c.option(
      '--limit <n>',
      list.paged ? 'at most this many per page (API default 100)' : 'at most this many',
    )
    if (list.paged) {
      c.option('--after <cursor>', 'start after this cursor (the `next` of a previous page)')
      c.option('--all', 'follow the cursor to the end')
    }
    c.addHelpText(
      'after',
      `\nExample:\n  casm ${spec.name} list${list.filters[0] === undefined ? '' : ` --${list.filters[0].flag} X`} --json`,
    )
    leaf(c, async (client, _args, o) => {
      const query: Record<string, string | undefined> = {}
      for (const f of list.filters) query[f.query] = o[camel(f.flag)] as string | undefined
      const page = await fetchList(
        client,
        list.path,
        query,
        o as { all?: boolean; limit?: string; after?: string },
        list.paged,
      )
      if (o.json === true) {
        printJson(list.paged ? page : { items: page.items })
        return
      }
      // The API names a block's or pool's domain by id; people read names.
      const names = page.items.some((it) => String(it['domain']).startsWith('dom_'))
        ? await domainNames(client)
        : new Map<string, string>()
      const named = page.items.map((it) =>
        typeof it['domain'] === 'string' && names.has(it['domain'])
          ? { ...it, domain: names.get(it['domain']) }
          : it,
      )
      process.stdout.write(
        renderTable(
          list.columns.map(([h]) => h),
          named.map((it) => list.columns.map(([, f]) => cell(f(it)))),
        ),
      )
      if (page.next !== null) process.stderr.write(`more: --after ${page.next} (or --all)\n`)
    })
  }
  if (item !== undefined) {
    const c = root
      .command('show')
      .alias('get')
      .description(`show one ${spec.noun}`)
      .argument('<id>', `${spec.noun} name or id`)
      .addHelpText('after', `\nExample:\n  casm ${spec.name} show ID --json`)
    leaf(c, async (client, [id], o) => {
      const r = await client.get(item.path, { path: { [item.param]: id ?? '' } })
      if (o.json === true) printJson(r)
      else printRecord(r)
    })
  }
  if (create !== undefined) {
    const c = create
      .flags(
        root
          .command('create')
          .alias('add')
          .description(`create a ${spec.noun}`)
          .option(
            '--from-json <file>',
            'the whole request body as JSON (- for stdin); flags override its fields',
          )
          .option('--idempotency-key <key>', 'a retry with the same key changes nothing'),
      )
      .addHelpText('after', `\nExample:\n  ${spec.example}`)
    leaf(c, async (client, _args, o) => {
      const fromFile = typeof o['fromJson'] === 'string' ? readJsonInput(o['fromJson']) : {}
      const body = { ...fromFile, ...defined(create.body(o)) }
      const key = o['idempotencyKey']
      const r = await client.post<Json>(create.path, {
        path: create.params?.(o, body) ?? {},
        body,
        ...(typeof key === 'string' ? { headers: { 'idempotency-key': key } } : {}),
      })
      if (o.json === true) printJson(r)
      else printRecord(create.show === undefined ? r : create.show(r))
    })
  }
  if (change !== undefined) {
    const c = change
      .flags(
        root
          .command('change')
          .alias('update')
          .description(`change a ${spec.noun} (PATCH: only the fields given)`)
          .argument('<id>', `${spec.noun} name or id`)
          .option('--from-json <file>', 'the fields to change as JSON (- for stdin)'),
      )
      .addHelpText('after', `\nExample:\n  casm ${spec.name} change ID --description 'new text'`)
    leaf(c, async (client, [id], o) => {
      const fromFile = typeof o['fromJson'] === 'string' ? readJsonInput(o['fromJson']) : {}
      const body = { ...fromFile, ...defined(change.body(o)) }
      if (Object.keys(body).length === 0)
        throw new CasmError(
          'CASM_ERR_INVALID_ARGUMENT',
          'nothing to change: give a flag or --from-json',
        )
      const r = await client.patch(change.path, {
        path: { [change.param]: id ?? '' },
        body,
      })
      if (o.json === true) printJson(r)
      else printRecord(r)
    })
  }
  if (remove !== undefined) {
    const c = root
      .command('delete')
      .alias('rm')
      .description(`delete a ${spec.noun}`)
      .argument('<id>', `${spec.noun} name or id`)
      .addHelpText('after', `\nExample:\n  casm ${spec.name} delete ID`)
    leaf(c, async (client, [id], o) => {
      const r = await client.delete(remove.path, { path: { [remove.param]: id ?? '' } })
      if (o.json === true) printJson(r ?? { deleted: id })
      else process.stdout.write(`deleted ${spec.noun} ${id ?? ''}\n`)
    })
  }
  return root
}

/** `pool-name` → `poolName` (commander's option keys). */
export function camel(flag: string): string {
  return flag.replace(/-([a-z])/g, (_m, ch: string) => ch.toUpperCase())
}
