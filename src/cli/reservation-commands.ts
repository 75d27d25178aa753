/**
 * `casm reservations list|show|create|delete`: reserved and excluded space of pools over the
 * REST API.
 *
 * @module
 */

import type { Command } from 'commander'
import { poolParam, resourceCommand } from './resource-command.js'

/** Builds `casm reservations`. */
export function reservationCommands(): Command {
  return resourceCommand({
    name: 'reservations',
    noun: 'reservation',
    description: 'reservations and exclusions: pool space never granted',
    example: "casm reservations create --pool bng-east --prefix 100.64.0.0/24 --description 'mgmt'",
    list: {
      path: '/api/v1/reservations',
      filters: [{ flag: 'pool', query: 'pool', description: 'only reservations of this pool' }],
      paged: false,
      columns: [
        ['id', (r) => r['id']],
        ['pool', (r) => r['pool']],
        ['kind', (r) => r['kind']],
        ['target', (r) => r['target']],
        ['count', (r) => r['count']],
        ['description', (r) => r['description']],
      ],
    },
    item: { path: '/api/v1/reservations/{id}', param: 'id' },
    create: {
      path: '/api/v1/pools/{pool}/reservations',
      flags: (c) =>
        c
          .option('--pool <pool>', 'the pool')
          .option('--kind <kind>', 'reserved (default) or excluded')
          .option('--prefix <prefix>', 'a prefix')
          .option('--range <first-last>', 'a range')
          .option(
            '--pattern <pattern>',
            'a pattern, e.g. .0 and .255 of every /24 (see /openapi.json)',
          )
          .option('--description <text>', 'free text'),
      params: poolParam,
      body: (o) => ({
        kind: o['kind'],
        prefix: o['prefix'],
        range: o['range'],
        pattern: o['pattern'],
        description: o['description'],
      }),
    },
    remove: { path: '/api/v1/reservations/{id}', param: 'id' },
  })
}
