/**
 * Which coordinator the REST subcommands talk to, and as whom: `--url`/`--token` flags, else
 * `CASM_URL`/`CASM_TOKEN`, else the config file `casm login` writes (`$CASM_CONFIG` or
 * `~/.config/casm/config.json`, mode 0600).
 *
 * @module
 */

import {
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { homedir } from 'node:os'
import { dirname, join } from 'node:path'
import type { Command } from 'commander'
import { CasmApiClient } from '../client/casm-api-client.js'
import { CasmError } from '../errors/casm-error.js'

/** The flags every REST subcommand accepts. */
export interface TargetFlags {
  url?: string
  token?: string
  tenant?: string
  timeout?: string
}

/** What `casm login` saves. */
export interface CliConfig {
  readonly url: string
  readonly token: string
}

/** A resolved target. */
export interface CliTarget {
  readonly url: string
  readonly token: string | undefined
  readonly tenant: string | undefined
  readonly timeoutMs: number
  /** Where the URL came from: `flag`, `env` or the config file's path. */
  readonly source: string
}

/** The config file: `$CASM_CONFIG`, else `~/.config/casm/config.json`. */
export function configFile(env: NodeJS.ProcessEnv = process.env): string {
  const given = env['CASM_CONFIG']
  if (given !== undefined && given !== '') return given
  const base = env['XDG_CONFIG_HOME'] ?? join(env['HOME'] ?? homedir(), '.config')
  return join(base, 'casm', 'config.json')
}

/** Reads the config file; undefined when there is none. */
export function readConfig(file: string): Partial<CliConfig> | undefined {
  if (!existsSync(file)) return undefined
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<CliConfig>
    return parsed
  } catch (e) {
    throw new CasmError(
      'CASM_ERR_INVALID_ARGUMENT',
      `the config file ${file} is not valid JSON: ${e instanceof Error ? e.message : String(e)}; run casm login again or remove it`,
      { file },
    )
  }
}

/**
 * The token `casm login` saved, only when it was saved for this same coordinator: a token is
 * never sent to another URL given by a flag or CASM_URL.
 */
function savedTokenFor(url: string, file: string): string | undefined {
  const saved = readConfig(file)
  const same = (a: string, b: string): boolean => a.replace(/\/+$/, '') === b.replace(/\/+$/, '')
  return saved?.url !== undefined && same(saved.url, url) ? saved.token : undefined
}

/**
 * Writes the config file with mode 0600 (its directory 0700): to a new file first, renamed over
 * the old one, so the token is never written into a file that others may read.
 */
export function writeConfig(file: string, config: CliConfig): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 })
  const fresh = `${file}.${process.pid}.tmp`
  writeFileSync(fresh, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600, flag: 'wx' })
  chmodSync(fresh, 0o600)
  renameSync(fresh, file)
}

/** Removes the config file; false when there was none. */
export function removeConfig(file: string): boolean {
  if (!existsSync(file)) return false
  rmSync(file)
  return true
}

/** Resolves the target: flags, then environment, then the config file. */
export function resolveTarget(flags: TargetFlags, env: NodeJS.ProcessEnv = process.env): CliTarget {
  const file = configFile(env)
  const config =
    flags.url === undefined && env['CASM_URL'] === undefined ? readConfig(file) : undefined
  const [url, source] =
    flags.url !== undefined
      ? [flags.url, 'flag']
      : env['CASM_URL'] !== undefined && env['CASM_URL'] !== ''
        ? [env['CASM_URL'], 'env']
        : [config?.url, file]
  if (url === undefined || url === '') {
    throw new CasmError(
      'CASM_ERR_INVALID_ARGUMENT',
      'no coordinator given: pass --url http://host:8470 (and --token), set CASM_URL and CASM_TOKEN, or run casm login --url URL --token TOKEN once',
    )
  }
  if (!/^https?:\/\/[^\s/]+/.test(url)) {
    throw new CasmError(
      'CASM_ERR_INVALID_ARGUMENT',
      `the coordinator URL '${url}' (from ${source}) is not http(s)://host[:port]`,
      { url },
    )
  }
  const token =
    flags.token ??
    (env['CASM_TOKEN'] !== undefined && env['CASM_TOKEN'] !== '' ? env['CASM_TOKEN'] : undefined) ??
    (source === file ? config?.token : savedTokenFor(url, file))
  const timeout = flags.timeout === undefined ? 30 : Number(flags.timeout)
  if (!Number.isFinite(timeout) || timeout <= 0) {
    throw new CasmError(
      'CASM_ERR_INVALID_ARGUMENT',
      `--timeout '${flags.timeout ?? ''}' is not a number of seconds`,
    )
  }
  return { url, token, tenant: flags.tenant, timeoutMs: timeout * 1000, source }
}

/** A client for the resolved target. */
export function clientFor(flags: TargetFlags): CasmApiClient {
  const t = resolveTarget(flags)
  return new CasmApiClient({ url: t.url, token: t.token, tenant: t.tenant, timeoutMs: t.timeoutMs })
}

/** Adds `--url`, `--token`, `--tenant` and `--timeout` to a command. */
export function addTargetOptions(c: Command): Command {
  return c
    .option('--url <url>', 'coordinator URL (env CASM_URL; default: casm login)')
    .option('--token <token>', 'bearer token (env CASM_TOKEN; default: casm login)')
    .option('--tenant <name>', 'tenant to act in (root tokens)')
    .option('--timeout <seconds>', 'give up on a request after this long', '30')
}
