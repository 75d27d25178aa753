/**
 * `casm devices list|show|create|change|delete`: devices (BNGs, DHCP servers, ...) over the REST
 * API.
 *
 * @module
 */

import type { Command } from 'commander'
import { collect, pairs, resourceCommand } from './resource-command.js'

/** Builds `casm devices`. */
export function deviceCommands(): Command {
  return resourceCommand({
    name: 'devices',
    noun: 'device',
    description: 'devices that hold grants: BNGs, CGNs, DHCP servers, gateways',
    example: 'casm devices create --name bng-01 --attr function=bng --attr scope=private',
    list: {
      path: '/api/v1/devices',
      filters: [],
      paged: false,
      columns: [
        ['name', (d) => d['name']],
        ['id', (d) => d['id']],
        ['attributes', (d) => d['attributes']],
        ['description', (d) => d['description']],
      ],
    },
    item: { path: '/api/v1/devices/{device}', param: 'device' },
    create: {
      path: '/api/v1/devices',
      flags: (c) =>
        c
          .option('--name <name>', 'device name')
          .option('--attr <key=value>', 'a requestor attribute (repeat)', collect)
          .option('--description <text>', 'free text'),
      body: (o) => ({
        name: o['name'],
        attributes: pairs('--attr', o['attr'] as string[] | undefined),
        description: o['description'],
      }),
    },
    change: {
      path: '/api/v1/devices/{device}',
      param: 'device',
      flags: (c) =>
        c
          .option('--attr <key=value>', 'the attributes, whole (repeat)', collect)
          .option('--description <text>', 'free text'),
      body: (o) => ({
        attributes: pairs('--attr', o['attr'] as string[] | undefined),
        description: o['description'],
      }),
    },
    remove: { path: '/api/v1/devices/{device}', param: 'device' },
  })
}
