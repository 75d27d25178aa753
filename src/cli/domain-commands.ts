/**
 * `casm domains list|show|create|change|delete`: routing domains over the REST API.
 *
 * @module
 */

import type { Command } from 'commander'
import { resourceCommand } from './resource-command.js'

/** Builds `casm domains`. */
export function domainCommands(): Command {
  return resourceCommand({
    name: 'domains',
    noun: 'domain',
    description: 'routing domains: separate address spaces (the internet, a VRF, a lab)',
    example: "casm domains create --name internet --description 'global routing table'",
    list: {
      path: '/api/v1/domains',
      filters: [],
      paged: false,
      columns: [
        ['name', (d) => d['name']],
        ['id', (d) => d['id']],
        ['description', (d) => d['description']],
      ],
    },
    item: { path: '/api/v1/domains/{domain}', param: 'domain' },
    create: {
      path: '/api/v1/domains',
      flags: (c) =>
        c.option('--name <name>', 'domain name').option('--description <text>', 'free text'),
      body: (o) => ({ name: o['name'], description: o['description'] }),
    },
    change: {
      path: '/api/v1/domains/{domain}',
      param: 'domain',
      flags: (c) =>
        c.option('--name <name>', 'new name').option('--description <text>', 'free text'),
      body: (o) => ({ name: o['name'], description: o['description'] }),
    },
    remove: { path: '/api/v1/domains/{domain}', param: 'domain' },
  })
}
