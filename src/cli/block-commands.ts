/**
 * `casm blocks list|show|create|change|delete`: the operator's address blocks over the REST
 * API.
 *
 * @module
 */

import type { Command } from 'commander'
import { resourceCommand } from './resource-command.js'

/** Builds `casm blocks`. */
export function blockCommands(): Command {
  return resourceCommand({
    name: 'blocks',
    noun: 'block',
    description: 'address blocks a domain owns (from an RIR, private space, ...)',
    example: 'casm blocks create --domain internet --space 100.64.0.0/10 --rir private',
    list: {
      path: '/api/v1/blocks',
      filters: [{ flag: 'domain', query: 'domain', description: 'only blocks of this domain' }],
      paged: false,
      columns: [
        ['id', (b) => b['id']],
        ['domain', (b) => b['domain']],
        ['space', (b) => b['space']],
        ['family', (b) => b['family']],
        ['reserved', (b) => b['reserved']],
        ['description', (b) => b['description']],
      ],
    },
    item: { path: '/api/v1/blocks/{id}', param: 'id' },
    create: {
      path: '/api/v1/blocks',
      flags: (c) =>
        c
          .option('--domain <domain>', 'the domain it belongs to')
          .option('--space <prefix|range>', 'the space, e.g. 100.64.0.0/10')
          .option('--rir <name>', 'where it comes from: RIPE, ARIN, private, ...')
          .option('--reserved', 'keep it out of pools')
          .option('--description <text>', 'free text'),
      body: (o) => ({
        domain: o['domain'],
        space: o['space'],
        reserved: o['reserved'] === true ? true : undefined,
        source: typeof o['rir'] === 'string' ? { rir: o['rir'] } : undefined,
        description: o['description'],
      }),
    },
    change: {
      path: '/api/v1/blocks/{id}',
      param: 'id',
      flags: (c) =>
        c
          .option('--space <prefix|range>', 'resize the block')
          .option('--description <text>', 'free text'),
      body: (o) => ({ space: o['space'], description: o['description'] }),
    },
    remove: { path: '/api/v1/blocks/{id}', param: 'id' },
  })
}
