/**
 * `casm export [--output FILE]`: casm's own lossless JSON of the tenant (`GET /api/v1/export`),
 * which `casm import casm FILE` reads back.
 *
 * @module
 */

import { writeFileSync } from 'node:fs'
import { Command } from 'commander'
import { type TargetFlags, addTargetOptions, clientFor } from './cli-target.js'

/** The `casm export` command. */
export function exportCommand(): Command {
  const cmd = new Command('export')
    .description("write the tenant as casm's own import document (JSON)")
    .option('-o, --output <file>', 'write to this file instead of standard output')
  addTargetOptions(cmd)
  cmd.action(async (o: TargetFlags & { output?: string }) => {
    const document = await clientFor(o).get('/api/v1/export')
    const text = `${JSON.stringify(document, null, 2)}\n`
    if (o.output === undefined) process.stdout.write(text)
    else writeFileSync(o.output, text)
  })
  return cmd
}
