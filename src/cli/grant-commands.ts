/**
 * `casm grants list|show|create|release|drain|undrain|pin|move`: grants of pool space to
 * devices over the REST API.
 *
 * @module
 */

import { Command } from 'commander'
import type { ApiPath } from '../client/casm-api-client.js'
import {
  intFlag,
  leaf,
  poolParam,
  printJson,
  printRecord,
  resourceCommand,
  type Json,
} from './resource-command.js'

const STATES = 'active, draining, released, quarantined, expired or free'

function action(
  name: string,
  description: string,
  path: ApiPath<'post'>,
  example: string,
  configure: (c: Command) => Command,
  body: (o: Json) => Json | undefined,
): Command {
  const c = configure(
    new Command(name).description(description).argument('<id>', 'grant id (gr_...)'),
  ).addHelpText('after', `\nExample:\n  ${example}`)
  return leaf(c, async (client, [id], o) => {
    const b = body(o)
    const r = await client.post(path, {
      path: { id: id ?? '' },
      ...(b === undefined ? {} : { body: b }),
    })
    if (o.json === true) printJson(r)
    else printRecord(r)
  })
}

/** Builds `casm grants`. */
export function grantCommands(): Command {
  const grants = resourceCommand({
    name: 'grants',
    noun: 'grant',
    description: 'grants: a unit of pool space held by a device',
    example: 'casm grants create --pool bng-east --device bng-01 --length 27',
    list: {
      path: '/api/v1/grants',
      filters: [
        { flag: 'pool', query: 'pool', description: 'only grants of this pool' },
        { flag: 'device', query: 'device', description: 'only grants of this device' },
        { flag: 'state', query: 'state', description: STATES },
      ],
      paged: true,
      columns: [
        ['id', (g) => g['id']],
        ['prefix', (g) => g['prefix']],
        ['state', (g) => g['state']],
        ['pool', (g) => g['pool']],
        ['device', (g) => g['device']],
        ['created', (g) => g['createdAt']],
      ],
    },
    item: { path: '/api/v1/grants/{id}', param: 'id' },
    create: {
      path: '/api/v1/pools/{pool}/grants',
      flags: (c) =>
        c
          .option('--pool <pool>', 'the pool to grant from')
          .option('--device <device>', 'the device that gets it')
          .option('--length <n>', "prefix length (default: the pool's unit)")
          .option('--prefix <prefix>', 'exactly this prefix'),
      params: poolParam,
      body: (o) => ({
        device: o['device'],
        length: intFlag('--length', o['length'] as string | undefined),
        prefix: o['prefix'],
      }),
    },
  })
  grants.addCommand(
    action(
      'release',
      'release a grant: its space goes to quarantine, then back to the pool',
      '/api/v1/grants/{id}/release',
      'casm grants release gr_0123',
      (c) => c,
      () => undefined,
    ),
  )
  grants.addCommand(
    action(
      'drain',
      'drain a grant: no new addresses from it; released once its device reports it empty',
      '/api/v1/grants/{id}/drain',
      "casm grants drain gr_0123 --reason 'maintenance on bng-01'",
      (c) => c.option('--reason <text>', 'why (kept in the event log)'),
      (o) => (typeof o['reason'] === 'string' ? { reason: o['reason'] } : {}),
    ),
  )
  grants.addCommand(
    action(
      'undrain',
      'end the drain of a grant: it serves again',
      '/api/v1/grants/{id}/undrain',
      'casm grants undrain gr_0123',
      (c) => c,
      () => undefined,
    ),
  )
  grants.addCommand(
    action(
      'pin',
      'pin a grant (never reclaimed by the policy), or unpin it with --off',
      '/api/v1/grants/{id}/pin',
      'casm grants pin gr_0123   |   casm grants pin gr_0123 --off',
      (c) => c.option('--off', 'unpin'),
      (o) => ({ pinned: o['off'] !== true }),
    ),
  )
  grants.addCommand(
    action(
      'move',
      'move a grant to another device: it drains here, then the same prefix is granted there',
      '/api/v1/grants/{id}/move',
      'casm grants move gr_0123 --to bng-02',
      (c) => c.requiredOption('--to <device>', 'the device that gets it'),
      (o) => ({ device: o['to'] }),
    ),
  )
  return grants
}
