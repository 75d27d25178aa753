/**
 * `casm import casm|netbox|phpipam FILE... [--dry-run] [--json]`: reads the files, turns them
 * into an import document (casm's own JSON as is; NetBox and phpIPAM through their parsers in
 * src/import/) and sends it to `POST /api/v1/import`. Problems print one per line as
 * `file:line CASM_ERR_… message` and exit 2; nothing is stored then.
 *
 * @module
 */

import { readFileSync, statSync } from 'node:fs'
import { Command } from 'commander'
import type {
  ImportFile,
  ImportParseResult,
  ImportParser,
  ImportProblem,
} from '../domain/import-document.js'
import { CasmError, isCasmError } from '../errors/casm-error.js'
import { type TargetFlags, addTargetOptions, clientFor } from './cli-target.js'
import { EXIT } from './exit-codes.js'
import { stepProgress } from './step-progress.js'

const megabytes = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`

/** The formats and where their parsers live (each exports `parse<Format>`: an ImportParser). */
const PARSERS: Readonly<Record<string, () => Promise<ImportParser>>> = {
  casm: () => Promise.resolve(parseCasm),
  netbox: async () =>
    ((await import('../import/netbox-import.js')) as unknown as { parseNetbox: ImportParser })
      .parseNetbox,
  phpipam: async () =>
    ((await import('../import/phpipam-import.js')) as unknown as { parsePhpipam: ImportParser })
      .parsePhpipam,
}

/** casm's own format: one JSON document (as `casm export` writes it). */
export function parseCasm(files: readonly ImportFile[]): ImportParseResult {
  const f = files[0]
  if (files.length !== 1 || f === undefined) {
    throw new CasmError('CASM_ERR_INVALID_ARGUMENT', 'casm import casm takes exactly one file')
  }
  try {
    return { document: JSON.parse(f.text) as ImportParseResult['document'], problems: [] }
  } catch (e) {
    return {
      document: { version: 1, domains: [], blocks: [], pools: [] },
      problems: [
        {
          ref: f.name,
          path: '',
          code: 'CASM_ERR_MALFORMED_JSON',
          message: `${f.name} is not valid JSON: ${(e as Error).message}`,
        },
      ],
    }
  }
}

function printProblems(problems: readonly ImportProblem[]): void {
  for (const p of problems) process.stdout.write(`${p.ref} ${p.code} ${p.message}\n`)
  process.stderr.write(`${problems.length} problem(s); nothing was imported\n`)
}

/** What `POST /api/v1/import` answers. */
interface ImportResult {
  readonly dryRun: boolean
  readonly counts: Record<string, number>
}

/** The `casm import` command. */
export function importCommand(): Command {
  const cmd = new Command('import')
    .description('import a casm document, or NetBox / phpIPAM exports, all or nothing')
    .argument('<format>', 'casm, netbox or phpipam')
    .argument('<files...>', 'the files to read')
    .option('--dry-run', 'check and show the plan; store nothing')
    .option('--json', 'print the result as JSON')
  addTargetOptions(cmd)
  cmd.action(
    async (
      format: string,
      files: string[],
      o: TargetFlags & { dryRun?: boolean; json?: boolean },
    ) => {
      const load = PARSERS[format]
      if (load === undefined) {
        throw new CasmError(
          'CASM_ERR_INVALID_ARGUMENT',
          `unknown format '${format}'; use ${Object.keys(PARSERS).join(', ')}`,
        )
      }
      const progress = stepProgress(files.length + 3, { quiet: o.json === true })
      const input: ImportFile[] = files.map((name) => {
        let size: number
        try {
          const st = statSync(name)
          if (!st.isFile()) throw new Error('not a file')
          size = st.size
        } catch {
          throw new CasmError('CASM_ERR_INVALID_ARGUMENT', `cannot read ${name}: not a file`, {
            file: name,
          })
        }
        progress.step(`reading ${name} (${megabytes(size)})`)
        try {
          return { name, text: readFileSync(name, 'utf8') }
        } catch (e) {
          throw new CasmError(
            'CASM_ERR_INVALID_ARGUMENT',
            `cannot read ${name}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}; check its permissions`,
            { file: name },
          )
        }
      })
      progress.step(`parsing ${format}`)
      const parsed = (await (
        await load()
      )(input)) as ImportParseResult & {
        notes?: readonly { ref: string; message: string }[]
      }
      if (parsed.problems.length > 0) {
        progress.done()
        printProblems(parsed.problems)
        process.exitCode = EXIT.BAD_INPUT
        return
      }
      // A large import takes a while on the server: ten minutes unless --timeout says otherwise.
      const client = clientFor({ ...o, timeout: o.timeout ?? '600' })
      progress.step(`sending ${megabytes(JSON.stringify(parsed.document).length)} to ${client.url}`)
      let result: ImportResult
      try {
        progress.step(o.dryRun === true ? 'checking (dry run)' : 'checking and applying')
        result = await client.post<ImportResult>('/api/v1/import', {
          query: { dryRun: o.dryRun === true ? true : undefined },
          body: parsed.document,
        })
      } catch (e) {
        progress.done()
        const problems = (isCasmError(e) ? e.details?.['problems'] : undefined) as
          ImportProblem[] | undefined
        if (problems !== undefined) {
          printProblems(problems)
          process.exitCode = EXIT.BAD_INPUT
          return
        }
        throw e
      }
      progress.done()
      for (const n of parsed.notes ?? []) process.stderr.write(`note: ${n.ref} ${n.message}\n`)
      if (o.json === true) {
        process.stdout.write(`${JSON.stringify(result, null, 2)}\n`)
        return
      }
      process.stdout.write(`${result.dryRun ? 'would create' : 'created'}\n`)
      for (const [k, v] of Object.entries(result.counts)) {
        process.stdout.write(`  ${k.padEnd(14)}${String(v).padStart(8)}\n`)
      }
    },
  )
  return cmd
}
