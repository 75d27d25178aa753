/**
 * `casm pools list|show|create|change|delete`: pools (the space devices get grants from) over
 * the REST API.
 *
 * @module
 */

import type { Command } from 'commander'
import { CasmError } from '../errors/casm-error.js'
import { collect, intFlag, resourceCommand, type Json } from './resource-command.js'

function unit(o: Json): Json | undefined {
  const d = intFlag('--unit', o['unit'] as string | undefined)
  return d === undefined ? undefined : { unit: { default: d } }
}

/** Builds `casm pools`. */
export function poolCommands(): Command {
  return resourceCommand({
    name: 'pools',
    noun: 'pool',
    description: 'pools: space of a domain handed out to devices as grants',
    example:
      'casm pools create --name bng-east --domain internet --kind subscriber --space 100.64.0.0/16 --unit 27',
    list: {
      path: '/api/v1/pools',
      filters: [{ flag: 'domain', query: 'domain', description: 'only pools of this domain' }],
      paged: false,
      columns: [
        ['name', (p) => p['name']],
        ['domain', (p) => p['domain']],
        ['kind', (p) => p['kind']],
        ['family', (p) => p['family']],
        ['space', (p) => p['space']],
        ['priority', (p) => p['priority']],
      ],
    },
    item: { path: '/api/v1/pools/{pool}', param: 'pool' },
    create: {
      path: '/api/v1/pools',
      flags: (c) =>
        c
          .option('--name <name>', 'pool name')
          .option('--domain <domain>', 'the domain whose blocks hold its space')
          .option(
            '--kind <kind>',
            'subscriber, cgn, ds-lite, lw4o6, map, dhcp, pd, static, multicast or custom',
          )
          .option('--space <prefix>', 'space of the pool (repeat for several)', collect)
          .option('--unit <length>', 'default prefix length of a grant, e.g. 27')
          .option('--description <text>', 'free text'),
      body: (o) => ({
        name: o['name'],
        domain: o['domain'],
        kind: o['kind'],
        space: o['space'],
        policy: unit(o),
        description: o['description'],
      }),
    },
    change: {
      path: '/api/v1/pools/{pool}',
      param: 'pool',
      flags: (c) =>
        c
          .option('--space <prefix>', 'the new space, whole (repeat for several)', collect)
          .option('--priority <n>', 'selection priority')
          .option('--description <text>', 'free text'),
      body: (o) => {
        const p = o['priority'] as string | undefined
        const priority = p === undefined ? undefined : Number(p)
        if (priority !== undefined && !Number.isInteger(priority))
          throw new CasmError(
            'CASM_ERR_INVALID_ARGUMENT',
            `--priority '${p ?? ''}' is not an integer`,
          )
        return { space: o['space'], priority, description: o['description'] }
      },
    },
    remove: { path: '/api/v1/pools/{pool}', param: 'pool' },
  })
}
