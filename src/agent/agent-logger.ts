/**
 * The agent's log: one line per action, as text for people or as JSON for tools and tests.
 *
 * @module
 */

/** Severity of a log line. */
export type LogLevel = 'info' | 'warn' | 'error'

/** Where the agent writes what it does. */
export interface AgentLogger {
  /** Something the agent did or learnt. */
  info(action: string, fields?: Readonly<Record<string, unknown>>): void
  /** Something went wrong; the agent carries on and retries. */
  warn(action: string, fields?: Readonly<Record<string, unknown>>): void
  /** Something the agent cannot get past by itself. */
  error(action: string, fields?: Readonly<Record<string, unknown>>): void
}

/** How {@link createAgentLogger} writes. */
export interface AgentLoggerOptions {
  /** One JSON object per line (`{"time","level","action",...fields}`) instead of text. */
  readonly json?: boolean
  /** Where lines go (default stdout). */
  readonly write?: (line: string) => void
  /** Milliseconds now (default Date.now). */
  readonly clock?: () => number
}

/**
 * A logger writing one line per call.
 *
 * @example
 * ```ts
 * const log = createAgentLogger({ json: true })
 * log.info('install', { grant: 'gr_1', prefix: '100.64.8.0/27' })
 * // {"time":"2025-05-01T10:00:00.000Z","level":"info","action":"install","grant":"gr_1","prefix":"100.64.8.0/27"}
 * // text: 2025-05-01T10:00:00.000Z info  install grant=gr_1 prefix=100.64.8.0/27
 * ```
 */
export function createAgentLogger(options: AgentLoggerOptions = {}): AgentLogger {
  const write = options.write ?? ((line: string) => process.stdout.write(line))
  const clock = options.clock ?? Date.now
  const line = (level: LogLevel, action: string, fields: Readonly<Record<string, unknown>>) => {
    const time = new Date(clock()).toISOString()
    if (options.json === true) {
      write(`${JSON.stringify({ time, level, action, ...fields })}\n`)
      return
    }
    const parts = Object.entries(fields)
      .filter(([, v]) => v !== undefined)
      .map(
        ([k, v]) => `${k}=${typeof v === 'string' && /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v)}`,
      )
    write(`${time} ${level.padEnd(5)} ${action}${parts.length > 0 ? ` ${parts.join(' ')}` : ''}\n`)
  }
  return {
    info: (action, fields = {}) => {
      line('info', action, fields)
    },
    warn: (action, fields = {}) => {
      line('warn', action, fields)
    },
    error: (action, fields = {}) => {
      line('error', action, fields)
    },
  }
}
