/**
 * `casm login` and `casm logout`: save (or forget) the coordinator URL and token the REST
 * subcommands use when no flag or environment variable names them.
 *
 * @module
 */

import { Command } from 'commander'
import { CasmApiClient } from '../client/casm-api-client.js'
import { CasmError } from '../errors/casm-error.js'
import { configFile, removeConfig, writeConfig } from './cli-target.js'

/** Builds `casm login`. */
export function loginCommand(): Command {
  return new Command('login')
    .description('check a token against a coordinator and save both in the config file (mode 0600)')
    .option('--url <url>', 'coordinator URL (env CASM_URL)')
    .option('--token <token>', 'bearer token (env CASM_TOKEN)')
    .addHelpText(
      'after',
      '\nThe file is $CASM_CONFIG, else ~/.config/casm/config.json.\n\nExample:\n  casm login --url http://127.0.0.1:8470 --token "$(cat data/admin-token)"',
    )
    .action(async (o: { url?: string; token?: string }) => {
      const url = o.url ?? process.env['CASM_URL']
      const token = o.token ?? process.env['CASM_TOKEN']
      if (url === undefined || url === '' || token === undefined || token === '')
        throw new CasmError(
          'CASM_ERR_INVALID_ARGUMENT',
          'casm login needs --url http://host:8470 and --token TOKEN (or CASM_URL and CASM_TOKEN)',
        )
      if (!/^https?:\/\/[^\s/]+/.test(url))
        throw new CasmError('CASM_ERR_INVALID_ARGUMENT', `'${url}' is not http(s)://host[:port]`)
      const client = new CasmApiClient({ url, token, timeoutMs: 10_000 })
      // A cheap authenticated read: proves the URL answers and the token is accepted.
      await client.get('/api/v1/domains')
      const file = configFile()
      writeConfig(file, { url: client.url, token })
      process.stdout.write(`logged in to ${client.url}; saved to ${file} (mode 0600)\n`)
    })
}

/** Builds `casm logout`. */
export function logoutCommand(): Command {
  return new Command('logout')
    .description('forget the URL and token casm login saved')
    .addHelpText('after', '\nExample:\n  casm logout')
    .action(() => {
      const file = configFile()
      process.stdout.write(
        removeConfig(file) ? `removed ${file}\n` : `not logged in (no ${file})\n`,
      )
    })
}
