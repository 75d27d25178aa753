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
import { demoCommand } from './demo-command.js'
import { ipCommand } from './ip-command.js'
import { serveCommand } from './serve-command.js'
import { createOutput } from './output.js'

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
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
  program.addCommand(serveCommand())
  program.addCommand(tokenCommand(out))
  program.addCommand(eventsCommand(out))
  program.addCommand(ipCommand(out))
  program.addCommand(agentCommand())
  program.addCommand(demoCommand())
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
