/**
 * `exec`: drives any device through a user script, one call per action:
 * `SCRIPT <action>` with a JSON document on stdin and the main fields in `CASM_*` environment
 * variables (for shell scripts). docs/agent.md gives the contract with an example per action.
 *
 * @module
 */

import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { CasmError } from '../../errors/casm-error.js'
import { Prefix } from '../../ip/index.js'
import { writeFileAtomic } from '../write-file-atomic.js'
import type {
  Backend,
  BackendGrant,
  BackendGrantState,
  BackendUsage,
  HeldGrant,
} from './backend.js'

/** The exit status by which a script says it does not implement an action (`EX_USAGE`). */
export const EXIT_UNSUPPORTED = 64

/** Every action a script may be called with. */
export type ExecAction = 'install' | 'drain' | 'undrain' | 'remove' | 'usage' | 'holds'

/** How to run the script. */
export interface ExecBackendOptions {
  /** Path of the executable. */
  readonly script: string
  /** Longest a call may run, in milliseconds (default 10 000); then it is killed. */
  readonly timeoutMs?: number
  /** The user plane this instance serves (passed as `CASM_PLANE`). */
  readonly plane?: string
  /**
   * A file where the backend records what it installed, answering `holds` for scripts that do
   * not implement it (none: kept in memory only).
   */
  readonly recordFile?: string
  /** Extra environment for the script. */
  readonly env?: Readonly<Record<string, string>>
}

/**
 * The exec backend.
 *
 * @example
 * ```ts
 * const b = new ExecBackend({ script: './examples/exec-backend/demo-backend.sh' })
 * await b.start()
 * await b.install({ grant: 'gr_1', prefix: '100.64.8.0/27', state: 'active' })
 * // ran: demo-backend.sh install   with {"grant":"gr_1","prefix":"100.64.8.0/27","state":"active"} on stdin
 * ```
 */
export class ExecBackend implements Backend {
  /** @inheritdoc */
  readonly name = 'exec'
  private readonly options: ExecBackendOptions
  private record = new Map<string, BackendGrant>()

  constructor(options: ExecBackendOptions) {
    this.options = options
  }

  /** @inheritdoc */
  async start(): Promise<void> {
    if (this.options.recordFile === undefined) return
    let text: string | undefined
    try {
      text = await readFile(this.options.recordFile, 'utf8')
    } catch {
      return
    }
    const items = JSON.parse(text) as BackendGrant[]
    this.record = new Map(items.map((g) => [g.prefix, g]))
  }

  /** @inheritdoc */
  async install(grant: BackendGrant): Promise<void> {
    const prefix = canonical(grant.prefix)
    await this.run('install', { ...grant, prefix })
    const held = this.record.get(prefix)
    this.record.set(
      prefix,
      held === undefined
        ? { ...grant, prefix }
        : held.grant === undefined && grant.grant !== undefined
          ? { ...held, grant: grant.grant }
          : held,
    )
    await this.saveRecord()
  }

  /** @inheritdoc */
  async drain(grant: BackendGrant): Promise<void> {
    await this.setState(grant, 'drain', 'draining')
  }

  /** @inheritdoc */
  async undrain(grant: BackendGrant): Promise<void> {
    await this.setState(grant, 'undrain', 'active')
  }

  /** @inheritdoc */
  async remove(grant: BackendGrant): Promise<void> {
    const prefix = canonical(grant.prefix)
    await this.run('remove', { ...grant, prefix })
    this.record.delete(prefix)
    await this.saveRecord()
  }

  /** @inheritdoc */
  async usage(): Promise<readonly BackendUsage[]> {
    const held = await this.holds()
    const { stdout } = await this.run('usage', { grants: held })
    const items = parseJsonArray(stdout, 'usage', this.options.script)
    const byPrefix = new Map(held.map((h) => [h.prefix, h]))
    const byGrant = new Map(held.flatMap((h) => (h.grant === undefined ? [] : [[h.grant, h]])))
    const out: BackendUsage[] = []
    for (const item of items) {
      const u = item as Partial<Record<keyof BackendUsage, unknown>>
      const h =
        (typeof u.grant === 'string' ? byGrant.get(u.grant) : undefined) ??
        (typeof u.prefix === 'string' ? byPrefix.get(tryCanonical(u.prefix)) : undefined)
      if (h === undefined) continue
      const used = count(u.used, 'used', this.options.script)
      out.push({
        ...(h.grant === undefined ? {} : { grant: h.grant }),
        prefix: h.prefix,
        used,
        ...(u.peak === undefined ? {} : { peak: count(u.peak, 'peak', this.options.script) }),
        ...(u.average === undefined
          ? {}
          : { average: count(u.average, 'average', this.options.script) }),
        ...(typeof u.ports === 'object' && u.ports !== null
          ? { ports: u.ports as NonNullable<BackendUsage['ports']> }
          : {}),
      })
    }
    return out
  }

  /** @inheritdoc */
  async holds(): Promise<readonly HeldGrant[]> {
    const r = await this.run('holds', {}, true)
    if (r.unsupported)
      return [...this.record.values()].map((g) => ({
        ...(g.grant === undefined ? {} : { grant: g.grant }),
        prefix: g.prefix,
        state: g.state,
      }))
    return parseJsonArray(r.stdout, 'holds', this.options.script).map((item) => {
      const h = item as { grant?: unknown; prefix?: unknown; state?: unknown }
      if (typeof h.prefix !== 'string')
        throw new CasmError(
          'CASM_ERR_BACKEND',
          `'${this.options.script} holds' printed an item without a prefix: ${JSON.stringify(item)}`,
        )
      return {
        ...(typeof h.grant === 'string' && h.grant !== '' ? { grant: h.grant } : {}),
        prefix: tryCanonical(h.prefix),
        state: h.state === 'draining' ? 'draining' : 'active',
      }
    })
  }

  /** @inheritdoc */
  async stop(): Promise<void> {
    await this.saveRecord()
  }

  private async setState(
    grant: BackendGrant,
    action: 'drain' | 'undrain',
    state: BackendGrantState,
  ): Promise<void> {
    const prefix = canonical(grant.prefix)
    await this.run(action, { ...grant, prefix, state })
    const held = this.record.get(prefix)
    if (held !== undefined) this.record.set(prefix, { ...held, state })
    await this.saveRecord()
  }

  private async saveRecord(): Promise<void> {
    if (this.options.recordFile === undefined) return
    await writeFileAtomic(this.options.recordFile, JSON.stringify([...this.record.values()]))
  }

  /** Runs `script action`; resolves with its output, throws CASM_ERR_BACKEND on failure. */
  private run(
    action: ExecAction,
    input: object,
    optional = false,
  ): Promise<{ stdout: string; unsupported: boolean }> {
    const { script, plane } = this.options
    const timeoutMs = this.options.timeoutMs ?? 10_000
    const g = input as Partial<BackendGrant>
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...this.options.env,
      CASM_ACTION: action,
      ...(plane === undefined ? {} : { CASM_PLANE: plane }),
      ...(g.prefix === undefined
        ? {}
        : {
            CASM_PREFIX: g.prefix,
            CASM_GRANT: g.grant ?? '',
            CASM_GRANT_STATE: g.state ?? '',
            CASM_POOL: g.pool ?? '',
            CASM_FAMILY: g.family ?? '',
            CASM_DRAIN_MODE: g.drainMode ?? '',
          }),
    }
    const payload = JSON.stringify(plane === undefined ? input : { ...input, plane })
    return new Promise((resolve, reject) => {
      let stdout = ''
      let stderr = ''
      let timedOut = false
      // Its own process group, so a timeout kills the script and everything it started.
      const child = spawn(script, [action], {
        env,
        stdio: ['pipe', 'pipe', 'pipe'],
        detached: true,
      })
      const timer = setTimeout(() => {
        timedOut = true
        try {
          if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL')
        } catch {
          child.kill('SIGKILL')
        }
      }, timeoutMs)
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
      child.stdin.on('error', () => {
        // A script that does not read its input closes the pipe early; that is allowed.
      })
      child.stdin.end(payload)
      child.once('error', (e) => {
        clearTimeout(timer)
        reject(
          new CasmError('CASM_ERR_BACKEND', `cannot run '${script}': ${e.message}`, {
            script,
            action,
          }),
        )
      })
      child.once('close', (code, signal) => {
        clearTimeout(timer)
        if (code === 0) {
          resolve({ stdout, unsupported: false })
          return
        }
        if (optional && code === EXIT_UNSUPPORTED) {
          resolve({ stdout, unsupported: true })
          return
        }
        const why = timedOut
          ? `ran past its timeout of ${timeoutMs / 1000} s and was killed`
          : code === null
            ? `was killed by ${signal ?? 'a signal'}`
            : `exited with status ${code}`
        const tail = stderr.trim().slice(-2000)
        reject(
          new CasmError(
            'CASM_ERR_BACKEND',
            `'${script} ${action}'${plane === undefined ? '' : ` (plane ${plane})`} ${why}${tail === '' ? '' : `: ${tail}`}`,
            { script, action, status: code, stderr: tail },
          ),
        )
      })
    })
  }
}

function canonical(prefix: string): string {
  return Prefix.parse(prefix).toString()
}

function tryCanonical(prefix: string): string {
  try {
    return canonical(prefix)
  } catch {
    return prefix
  }
}

function parseJsonArray(stdout: string, action: ExecAction, script: string): unknown[] {
  let parsed: unknown
  try {
    parsed = JSON.parse(stdout)
  } catch {
    parsed = undefined
  }
  if (!Array.isArray(parsed))
    throw new CasmError(
      'CASM_ERR_BACKEND',
      `'${script} ${action}' must print a JSON array; it printed: ${stdout.trim().slice(0, 500) || '(nothing)'}`,
      { script, action },
    )
  return parsed as unknown[]
}

function count(value: unknown, field: string, script: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
    throw new CasmError(
      'CASM_ERR_BACKEND',
      `'${script} usage' printed ${field} ${JSON.stringify(value)}; expected a number >= 0`,
      { script, field },
    )
  return value
}
