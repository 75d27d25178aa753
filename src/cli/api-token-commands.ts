/**
 * `casm tokens list|create|revoke`: bearer tokens over the REST API of a coordinator. (The
 * singular `casm token` also works straight on the local store, for the coordinator's host.)
 *
 * @module
 */

import { Command } from 'commander'
import { leaf, printJson, printRecord, resourceCommand } from './resource-command.js'

/** Builds `casm tokens`. */
export function apiTokenCommands(): Command {
  const tokens = resourceCommand({
    name: 'tokens',
    noun: 'token',
    description:
      'bearer tokens over the API (admins); `casm token` does the same on the local store',
    example: 'casm tokens create --name noc --role viewer',
    list: {
      path: '/api/v1/tokens',
      filters: [],
      paged: false,
      columns: [
        ['id', (t) => t['id']],
        ['name', (t) => t['name']],
        ['role', (t) => t['role']],
        ['tenant', (t) => t['tenant'] ?? '(root)'],
        ['device', (t) => t['device']],
        ['status', (t) => (t['revokedAt'] === null ? 'active' : 'revoked')],
      ],
    },
    create: {
      path: '/api/v1/tokens',
      flags: (c) =>
        c
          .option('--name <name>', 'a name for the token')
          .option('--role <role>', 'viewer, operator, admin or device')
          .option('--device <device>', 'for --role device: the device it speaks for')
          .option('--for-tenant <tenant>', 'root admins: create it in this tenant')
          .option('--root', 'a root token acting across tenants (root admins only)'),
      body: (o) => ({
        name: o['name'],
        role: o['role'],
        device: o['device'],
        tenant: o['forTenant'],
        root: o['root'] === true ? true : undefined,
      }),
    },
  })
  const revoke = new Command('revoke')
    .alias('delete')
    .description('revoke a token at once')
    .argument('<id>', 'token id (tok_...)')
    .addHelpText('after', '\nExample:\n  casm tokens revoke tok_0123')
  tokens.addCommand(
    leaf(revoke, async (client, [id], o) => {
      const r = await client.delete('/api/v1/tokens/{id}', { path: { id: id ?? '' } })
      if (o.json === true) printJson(r)
      else printRecord(r)
    }),
  )
  return tokens
}
