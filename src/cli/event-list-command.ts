/**
 * `casm events list`: the audit log over the REST API, with its filters and cursor.
 *
 * @module
 */

import { Command } from 'commander'
import { cell, fetchList, leaf, printJson, renderTable } from './resource-command.js'

/** Builds `casm events list` (added to `casm events`, beside `verify`). */
export function eventListCommand(): Command {
  const c = new Command('list')
    .alias('ls')
    .description('list events, oldest first (over the API: needs --url or casm login)')
    .option('--object <id>', 'only events of this object id')
    .option('--type <type>', 'only this object type: pool, grant, ...')
    .option('--action <action>', 'only this action, e.g. grant.create')
    .option('--actor <actor>', 'only this actor')
    .option('--since <time>', 'RFC 3339 time')
    .option('--until <time>', 'RFC 3339 time')
    .option('--every-tenant', "root tokens: every tenant's events")
    .option('--limit <n>', 'at most this many per page (API default 100)')
    .option('--after <cursor>', 'start after this cursor (the `next` of a previous page)')
    .option('--all', 'follow the cursor to the end')
    .addHelpText(
      'after',
      '\nExample:\n  casm events list --action grant.create --limit 20\n  casm events list --all --json',
    )
  return leaf(c, async (client, _args, o) => {
    const page = await fetchList(
      client,
      '/api/v1/events',
      {
        object: o['object'] as string | undefined,
        type: o['type'] as string | undefined,
        action: o['action'] as string | undefined,
        actor: o['actor'] as string | undefined,
        since: o['since'] as string | undefined,
        until: o['until'] as string | undefined,
        all: o['everyTenant'] === true ? true : undefined,
      },
      o as { all?: boolean; limit?: string; after?: string },
      true,
    )
    if (o.json === true) {
      printJson(page)
      return
    }
    process.stdout.write(
      renderTable(
        ['seq', 'at', 'actor', 'action', 'object', 'reason'],
        page.items.map((e) => [
          cell(e['seq']),
          cell(e['at']),
          cell(e['actor']),
          cell(e['action']),
          `${cell(e['objectType'])} ${cell(e['objectId'])}`,
          cell(e['reason']),
        ]),
      ),
    )
    if (page.next !== null) process.stderr.write(`more: --after ${page.next} (or --all)\n`)
  })
}
