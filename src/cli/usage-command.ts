/**
 * `casm usage pool|block|domain NAME`: how full a pool, block or domain is.
 *
 * @module
 */

import { Command } from 'commander'
import type { ApiPath } from '../client/casm-api-client.js'
import { cell, leaf, printJson, renderTable } from './resource-command.js'

const KINDS: Readonly<Record<string, { path: ApiPath<'get'>; param: string }>> = {
  pool: { path: '/api/v1/pools/{pool}/usage', param: 'pool' },
  block: { path: '/api/v1/blocks/{id}/usage', param: 'id' },
  domain: { path: '/api/v1/domains/{domain}/usage', param: 'domain' },
}

/** Flattens nested objects into `a.b` rows; arrays of objects become one row per item. */
function flatten(value: unknown, prefix: string, rows: string[][]): void {
  if (Array.isArray(value) && value.some((v) => typeof v === 'object' && v !== null)) {
    value.forEach((v, i) => {
      flatten(v, `${prefix}[${i}]`, rows)
    })
    return
  }
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value))
      flatten(v, prefix === '' ? k : `${prefix}.${k}`, rows)
    return
  }
  rows.push([prefix, cell(value)])
}

/** Builds `casm usage`. */
export function usageCommand(): Command {
  const usage = new Command('usage')
    .description('how full a pool, block or domain is: total, used, free, fragmentation')
    .addHelpText(
      'after',
      '\nExample:\n  casm usage pool bng-east\n  casm usage domain internet --json',
    )
  for (const [kind, route] of Object.entries(KINDS)) {
    const c = new Command(kind)
      .description(`usage of a ${kind}`)
      .argument('<name>', `${kind} ${kind === 'block' ? 'id' : 'name'}`)
      .addHelpText('after', `\nExample:\n  casm usage ${kind} NAME --json`)
    usage.addCommand(
      leaf(c, async (client, [name], o) => {
        const r = await client.get(route.path, { path: { [route.param]: name ?? '' } })
        if (o.json === true) {
          printJson(r)
          return
        }
        const rows: string[][] = []
        flatten(r, '', rows)
        process.stdout.write(renderTable(['field', 'value'], rows))
      }),
    )
  }
  return usage
}
