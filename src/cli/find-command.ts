/**
 * `casm find ADDRESS|PREFIX`: which block, pool, grant and device hold an address or prefix
 * (`GET /api/v1/search`).
 *
 * @module
 */

import { Command } from 'commander'
import { cell, intFlag, leaf, printJson, renderTable } from './resource-command.js'

interface SearchAnswer {
  query: string
  family: string
  specialPurpose: { prefix: string; name: string; rfc: string }[]
  domains: {
    domain: { id: string; name: string }
    blocks: { id: string; space: string; relation: string; reserved: boolean }[]
    pools: { id: string; name: string; range: string; relation: string }[]
    units: {
      id: string
      type: string
      prefix: string
      state: string
      relation: string
      pool: string
      device: { id: string; name: string } | null
      hostname: string
    }[]
    truncated: boolean
  }[]
}

/** Builds `casm find`. */
export function findCommand(): Command {
  const c = new Command('find')
    .description('which block, pool, grant and device hold an address or prefix')
    .argument('<address|prefix>', 'e.g. 100.64.0.9 or 2001:db8::/48')
    .option('--domain <domain>', 'only this domain')
    .option('--limit <n>', 'at most this many grants and assignments per domain')
    .addHelpText('after', '\nExample:\n  casm find 100.64.0.9\n  casm find 100.64.0.0/24 --json')
  return leaf(c, async (client, [q], o) => {
    const r = await client.get<SearchAnswer>('/api/v1/search', {
      query: {
        q: q ?? '',
        domain: o['domain'] as string | undefined,
        limit: intFlag('--limit', o['limit'] as string | undefined),
      },
    })
    if (o.json === true) {
      printJson(r)
      return
    }
    const rows: string[][] = []
    for (const d of r.domains) {
      for (const b of d.blocks)
        rows.push([d.domain.name, 'block', b.space, b.relation, b.id, b.reserved ? 'reserved' : ''])
      for (const p of d.pools) rows.push([d.domain.name, 'pool', p.range, p.relation, p.name, ''])
      for (const u of d.units)
        rows.push([
          d.domain.name,
          u.type,
          u.prefix,
          u.relation,
          `${u.id} (${u.state})`,
          u.device?.name ?? u.hostname,
        ])
      if (d.truncated) rows.push([d.domain.name, '...', 'more (raise --limit)', '', '', ''])
    }
    if (rows.length === 0) process.stdout.write(`nothing holds ${r.query}\n`)
    else
      process.stdout.write(
        renderTable(['domain', 'what', 'space', 'relation', 'id / name', 'device'], rows),
      )
    for (const s of r.specialPurpose)
      process.stdout.write(`special purpose: ${s.prefix} ${s.name} (${cell(s.rfc)})\n`)
  })
}
