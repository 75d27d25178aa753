/**
 * Entry point of the `casm` command.
 *
 * @module
 */

import { readFileSync } from 'node:fs'
import { Command, CommanderError } from 'commander'
import { isCasmError } from '../errors/casm-error.js'
import { EXIT, exitCodeFor } from './exit-codes.js'
import { eventsCommand, tokenCommand } from './admin-commands.js'
import { agentCommand } from './agent-command.js'
import { completionCommand } from './completion-command.js'
import { demoCommand } from './demo-command.js'
import { simCommand } from './sim-command.js'
import { ipCommand } from './ip-command.js'
import { serveCommand } from './serve-command.js'
import { createOutput } from './output.js'
import { apiTokenCommands } from './api-token-commands.js'
import { assignmentCommands } from './assignment-commands.js'
import { blockCommands } from './block-commands.js'
import { deviceCommands } from './device-commands.js'
import { domainCommands } from './domain-commands.js'
import { eventListCommand } from './event-list-command.js'
import { findCommand } from './find-command.js'
import { grantCommands } from './grant-commands.js'
import { loginCommand, logoutCommand } from './login-command.js'
import { poolCommands } from './pool-commands.js'
import { reservationCommands } from './reservation-commands.js'
import { usageCommand } from './usage-command.js'
import { exportCommand } from './export-command.js'
import { importCommand } from './import-command.js'

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string
}

/** Builds the whole command tree. */
export function buildProgram(): Command {
  const out = createOutput()
  const program = new Command('casm')
    .description(
      'Coordinated Address Space Management: one coordinator owns the address space and hands ' +
        'pools to the devices (BNGs, CGNs, DHCP servers...) that need them.',
    )
    .version(pkg.version, '-V, --version')
    // Lets a command with its own options have subcommands with options of the same name
    // (`casm sim --out` and `casm sim sweep --out`).
    .enablePositionalOptions()
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .addHelpText(
      'after',
      '\nThe resource commands (domains, blocks, pools, devices, grants, assignments, reservations,\n' +
        'tokens, find, usage, events list) talk to a coordinator over its REST API: give --url and\n' +
        '--token, set CASM_URL and CASM_TOKEN, or run casm login once. `casm token` (singular) and\n' +
        '`casm events verify` also work straight on the local store (--data).\n\n' +
        'Example:\n  casm login --url http://127.0.0.1:8470 --token "$(cat data/admin-token)"\n' +
        '  casm pools list',
    )
  program.addCommand(serveCommand())
  program.addCommand(tokenCommand(out))
  program.addCommand(eventsCommand(out).addCommand(eventListCommand()))
  program.addCommand(loginCommand())
  program.addCommand(logoutCommand())
  program.addCommand(domainCommands())
  program.addCommand(blockCommands())
  program.addCommand(poolCommands())
  program.addCommand(deviceCommands())
  program.addCommand(grantCommands())
  program.addCommand(assignmentCommands())
  program.addCommand(reservationCommands())
  program.addCommand(apiTokenCommands())
  program.addCommand(findCommand())
  program.addCommand(usageCommand())
  program.addCommand(importCommand())
  program.addCommand(exportCommand())
  program.addCommand(ipCommand(out))
  program.addCommand(agentCommand())
  program.addCommand(demoCommand())
  program.addCommand(simCommand())
  program.addCommand(completionCommand(() => program))
  applyToAll(program, (c) => c.exitOverride().showHelpAfterError('(run with --help for usage)'))
  return program
}

function applyToAll(command: Command, fn: (c: Command) => void): void {
  fn(command)
  for (const sub of command.commands) applyToAll(sub, fn)
}

/** Runs the command line `argv` (without node and script) and returns the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram()
  try {
    if (argv.length === 0) {
      program.outputHelp()
      return EXIT.OK
    }
    await program.parseAsync(argv, { from: 'user' })
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.OK
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander already printed help, the version or the usage error.
      return error.exitCode === 0 ? EXIT.OK : EXIT.BAD_INPUT
    }
    if (isCasmError(error)) {
      process.stderr.write(`casm: ${error.code}: ${error.message}\n  what to do: ${error.hint}\n`)
      return exitCodeFor(error)
    }
    process.stderr.write(`casm: internal error (a bug; please report it): ${String(error)}\n`)
    if (error instanceof Error && error.stack !== undefined)
      process.stderr.write(`${error.stack}\n`)
    return EXIT.INTERNAL
  }
}

process.exitCode = await main(process.argv.slice(2))
