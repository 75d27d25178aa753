/**
 * `casm assignments list|show|create|release`: metadata-driven assignments over the REST API.
 *
 * @module
 */

import { Command } from 'commander'
import {
  collect,
  intFlag,
  leaf,
  pairs,
  printJson,
  printRecord,
  resourceCommand,
} from './resource-command.js'

/** Builds `casm assignments`. */
export function assignmentCommands(): Command {
  const assignments = resourceCommand({
    name: 'assignments',
    noun: 'assignment',
    description: 'assignments: describe the requestor and the size, casm picks the pool',
    example:
      'casm assignments create --requestor function=server --family ipv4 --size 8 --hostname web-1',
    list: {
      path: '/api/v1/assignments',
      filters: [
        { flag: 'pool', query: 'pool', description: 'only assignments of this pool' },
        { flag: 'state', query: 'state', description: 'active, released, quarantined, ...' },
      ],
      paged: true,
      columns: [
        ['id', (a) => a['id']],
        ['prefix', (a) => a['prefix']],
        ['state', (a) => a['state']],
        ['pool', (a) => a['pool']],
        ['hostname', (a) => a['hostname']],
      ],
    },
    item: { path: '/api/v1/assignments/{id}', param: 'id' },
    create: {
      path: '/api/v1/assignments',
      flags: (c) =>
        c
          .option('--requestor <key=value>', 'a requestor attribute (repeat)', collect)
          .option('--family <family>', 'ipv4 or ipv6')
          .option('--size <n>', 'addresses needed (rounded up to a prefix)')
          .option('--length <n>', 'prefix length')
          .option('--pool <pool>', 'this pool rather than the selectors')
          .option('--domain <domain>', 'only pools of this domain')
          .option('--prefix <prefix>', 'exactly this prefix')
          .option('--hostname <name>', 'the host it is for')
          .option('--description <text>', 'free text'),
      body: (o) => ({
        requestor: pairs('--requestor', o['requestor'] as string[] | undefined),
        family: o['family'],
        size: intFlag('--size', o['size'] as string | undefined),
        length: intFlag('--length', o['length'] as string | undefined),
        pool: o['pool'],
        domain: o['domain'],
        prefix: o['prefix'],
        hostname: o['hostname'],
        description: o['description'],
      }),
    },
  })
  const release = new Command('release')
    .description('release an assignment')
    .argument('<id>', 'assignment id')
    .addHelpText('after', '\nExample:\n  casm assignments release as_0123')
  assignments.addCommand(
    leaf(release, async (client, [id], o) => {
      const r = await client.post('/api/v1/assignments/{id}/release', { path: { id: id ?? '' } })
      if (o.json === true) printJson(r)
      else printRecord(r)
    }),
  )
  return assignments
}
