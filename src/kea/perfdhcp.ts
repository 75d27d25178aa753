/**
 * ISC `perfdhcp` (Debian `kea-admin`) as simulated subscribers of a {@link KeaProcess}: relayed
 * DHCPv4 DORA or DHCPv6 SARR exchanges on loopback, with renewals and releases, and its report
 * parsed into numbers.
 *
 * Its exit code alone says little: 0 can mean that nothing was answered (a DHCPv6 run whose
 * REQUESTs all went unanswered), 3 that some exchanges were not completed — and a DHCPv4
 * RELEASE, which has no answer, always counts as dropped. Read {@link PerfdhcpResult.exchanges}
 * or {@link PerfdhcpResult.allAnswered} instead. With few `requests` (`-n`) perfdhcp may stop
 * before the last exchanges complete, whatever `-W` says (`-n 1` never sees its ACK): for a
 * handful of clients give a `duration` instead.
 *
 * @module
 */
import { spawn } from 'node:child_process'
import { CasmError } from '../errors/casm-error.js'
import type { KeaService } from './kea-process.js'

/** The exchanges perfdhcp reports on, named as in its report. */
export type PerfdhcpExchangeName =
  | 'DISCOVER-OFFER'
  | 'REQUEST-ACK'
  | 'REQUEST-ACK (renewal)'
  | 'RELEASE'
  | 'SOLICIT-ADVERTISE'
  | 'REQUEST-REPLY'
  | 'RENEW-REPLY'
  | 'RELEASE-REPLY'

/** What perfdhcp asks for in DHCPv6 (`-e`). */
export type PerfdhcpLeaseType = 'address-only' | 'prefix-only' | 'address-and-prefix'

/** A perfdhcp run against a server on loopback (see {@link KeaProcess} for the ports). */
export interface PerfdhcpOptions {
  readonly service: KeaService
  /** The server's port (`-N`). */
  readonly serverPort: number
  /** Where answers come back (`-L`): the server's client port. */
  readonly clientPort: number
  /** DHCPv6: what to ask for (`-e`, default `address-only`). */
  readonly leaseType?: PerfdhcpLeaseType
  /**
   * New exchanges per second (`-r`). Give one: without it perfdhcp sends as fast as it can and
   * `requests` counts completed exchanges, so it resends until that many are answered.
   */
  readonly rate?: number
  /** Number of distinct clients (`-R`, default 1). */
  readonly clients?: number
  /** Whole seconds to send for (`-p`). */
  readonly duration?: number
  /** Exchanges to start (`-n`). */
  readonly requests?: number
  /** Renewals per second (`-f`), part of `rate`. */
  readonly renewRate?: number
  /** Releases per second (`-F`), part of `rate`. */
  readonly releaseRate?: number
  /** Seed of the random generator (`-s`): the same seed, the same clients. */
  readonly seed?: number
  /**
   * After the last request, how long to wait for answers (`-W`), in milliseconds. Default 1000
   * with `requests` (perfdhcp's own, 0, ends a `-n` run before the last answers arrive), else 0.
   */
  readonly exitWaitMs?: number
  /** Seconds after which a request counts as lost (`-d`, default 1). */
  readonly dropTime?: number
  /** Seconds between progress reports (`-t`; {@link startPerfdhcp} defaults to 1). */
  readonly reportInterval?: number
  /** Further perfdhcp arguments, put before the server address. */
  readonly extraArgs?: readonly string[]
}

/** Totals of one exchange in the final report. Delays are `undefined` when nothing came back. */
export interface PerfdhcpExchangeStats {
  readonly sent: number
  readonly received: number
  readonly drops: number
  /** Answers that matched no request (late, duplicated). */
  readonly orphans: number
  readonly rejectedLeases: number
  readonly nonUniqueAddresses: number
  readonly minDelayMs: number | undefined
  readonly avgDelayMs: number | undefined
  readonly maxDelayMs: number | undefined
}

/** Running totals of one exchange in a periodic report. */
export interface PerfdhcpProgressCounts {
  readonly sent: number
  readonly received: number
  readonly drops: number
  readonly rejected: number
}

/** One periodic report (`-t`): totals since the start. */
export interface PerfdhcpProgress {
  /** Milliseconds since perfdhcp was started. */
  readonly elapsedMs: number
  readonly exchanges: Partial<Record<PerfdhcpExchangeName, PerfdhcpProgressCounts>>
}

/** The final report of a run, parsed. */
export interface PerfdhcpReport {
  readonly exchanges: Partial<Record<PerfdhcpExchangeName, PerfdhcpExchangeStats>>
  /** Completed exchanges per second, as measured (`undefined` when not reported). */
  readonly rate: number | undefined
  readonly malformed: number
}

/** What a run did. */
export interface PerfdhcpResult extends PerfdhcpReport {
  /** 0 success, 3 some exchanges not completed (see the module's note); stopped runs also 0. */
  readonly exitCode: number
  /**
   * Every request of every exchange that has an answer (all but DHCPv4 RELEASE) was answered
   * with no rejected lease, and at least one was sent.
   */
  readonly allAnswered: boolean
  readonly progress: readonly PerfdhcpProgress[]
  /** perfdhcp's arguments. */
  readonly args: readonly string[]
  readonly stdout: string
  readonly stderr: string
}

/** A running perfdhcp: its progress as an async iterable, its result as a promise. */
export interface PerfdhcpRun extends AsyncIterable<PerfdhcpProgress> {
  readonly args: readonly string[]
  /** The final report; rejects with `CASM_ERR_BACKEND` when perfdhcp fails (exit 1 or 2). */
  readonly result: Promise<PerfdhcpResult>
  /** Ends the run early (SIGINT): perfdhcp still prints its final report. */
  stop(): void
}

const V4: readonly PerfdhcpExchangeName[] = [
  'DISCOVER-OFFER',
  'REQUEST-ACK',
  'REQUEST-ACK (renewal)',
  'RELEASE',
]
const V6: readonly PerfdhcpExchangeName[] = [
  'SOLICIT-ADVERTISE',
  'REQUEST-REPLY',
  'RENEW-REPLY',
  'RELEASE-REPLY',
]

function positive(name: string, value: number | undefined, integer: boolean): void {
  if (value === undefined) return
  if (!(value > 0) || !Number.isFinite(value) || (integer && !Number.isInteger(value)))
    throw new CasmError(
      'CASM_ERR_INVALID_ARGUMENT',
      `perfdhcp ${name} must be a positive ${integer ? 'integer' : 'number'}, not ${value}`,
    )
}

/**
 * perfdhcp's arguments for `options`.
 *
 * @example
 * ```ts
 * perfdhcpArgs({ service: 'dhcp4', serverPort: 10067, clientPort: 10068, rate: 10, duration: 5 })
 * // → ['-4', '-l', '127.0.0.1', '-L', '10068', '-N', '10067', '-r', '10', '-p', '5', '127.0.0.1']
 * ```
 */
export function perfdhcpArgs(o: PerfdhcpOptions): string[] {
  const integers = ['serverPort', 'clientPort', 'clients', 'requests', 'seed', 'rate'] as const
  for (const name of [
    ...integers,
    'renewRate',
    'releaseRate',
    'duration',
    'reportInterval',
  ] as const)
    positive(name, o[name], true)
  positive('dropTime', o.dropTime, false)
  if (o.exitWaitMs !== undefined && !(o.exitWaitMs >= 0))
    throw new CasmError('CASM_ERR_INVALID_ARGUMENT', 'perfdhcp exitWaitMs must be 0 or more')
  if ((o.renewRate !== undefined || o.releaseRate !== undefined) && o.rate === undefined)
    throw new CasmError(
      'CASM_ERR_INVALID_ARGUMENT',
      'perfdhcp renewRate and releaseRate need a rate',
    )
  if ((o.renewRate ?? 0) + (o.releaseRate ?? 0) > (o.rate ?? 0))
    throw new CasmError(
      'CASM_ERR_INVALID_ARGUMENT',
      'perfdhcp renewRate + releaseRate must not exceed rate',
    )
  if (o.service === 'dhcp4' && o.leaseType !== undefined && o.leaseType !== 'address-only')
    throw new CasmError('CASM_ERR_INVALID_ARGUMENT', `perfdhcp -e ${o.leaseType} is DHCPv6 only`)
  const v4 = o.service === 'dhcp4'
  const args = v4 ? ['-4', '-l', '127.0.0.1'] : ['-6', '-l', 'lo', '-A', '1']
  args.push('-L', String(o.clientPort), '-N', String(o.serverPort))
  if (!v4) args.push('-e', o.leaseType ?? 'address-only')
  const exitWaitMs = o.exitWaitMs ?? (o.requests === undefined ? undefined : 1000)
  const flags: readonly [string, number | undefined][] = [
    ['-r', o.rate],
    ['-R', o.clients],
    ['-p', o.duration],
    ['-n', o.requests],
    ['-f', o.renewRate],
    ['-F', o.releaseRate],
    ['-s', o.seed],
    ['-W', exitWaitMs === undefined ? undefined : Math.round(exitWaitMs * 1000)],
    ['-d', o.dropTime],
    ['-t', o.reportInterval],
  ]
  for (const [flag, value] of flags) if (value !== undefined) args.push(flag, String(value))
  args.push(...(o.extraArgs ?? []), v4 ? '127.0.0.1' : '::1')
  return args
}

/** The exchanges a run reports, in perfdhcp's order (which periodic reports follow). */
export function perfdhcpExchangeNames(o: PerfdhcpOptions): PerfdhcpExchangeName[] {
  const [initial, request, renew, release] = (o.service === 'dhcp4' ? V4 : V6) as [
    PerfdhcpExchangeName,
    PerfdhcpExchangeName,
    PerfdhcpExchangeName,
    PerfdhcpExchangeName,
  ]
  if (o.extraArgs?.includes('-i') === true) return [initial]
  return [
    initial,
    request,
    ...(o.renewRate !== undefined ? [renew] : []),
    ...(o.releaseRate !== undefined ? [release] : []),
  ]
}

/** A number of the report, `undefined` for `n/a`, `inf` and the like. */
function num(text: string | undefined): number | undefined {
  const n = Number.parseFloat(text ?? '')
  return Number.isFinite(n) ? n : undefined
}

/**
 * Parses perfdhcp's final report: the `***Statistics for: NAME***` blocks, the measured rate and
 * the malformed packet count.
 *
 * @example
 * ```ts
 * parsePerfdhcpReport(stdout).exchanges['REQUEST-ACK']?.received   // → 10
 * ```
 */
export function parsePerfdhcpReport(text: string): PerfdhcpReport {
  const exchanges: Partial<Record<PerfdhcpExchangeName, PerfdhcpExchangeStats>> = {}
  for (const block of text.split(/^\*\*\*Statistics for: /m).slice(1)) {
    const name = block.slice(0, block.indexOf('***')) as PerfdhcpExchangeName
    const field = (key: string): string | undefined =>
      new RegExp(`^${key}: (\\S+)`, 'm').exec(block)?.[1]
    exchanges[name] = {
      sent: num(field('sent packets')) ?? 0,
      received: num(field('received packets')) ?? 0,
      drops: num(field('drops')) ?? 0,
      orphans: num(field('orphans')) ?? 0,
      rejectedLeases: num(field('rejected leases')) ?? 0,
      nonUniqueAddresses: num(field('non unique addresses')) ?? 0,
      minDelayMs: num(field('min delay')),
      avgDelayMs: num(field('avg delay')),
      maxDelayMs: num(field('max delay')),
    }
  }
  return {
    exchanges,
    rate: num(/^Rate: (\S+)/m.exec(text)?.[1]),
    malformed: num(/^Malformed packets: (\S+)/m.exec(text)?.[1]) ?? 0,
  }
}

/**
 * Parses one periodic report line (`sent: 9/9; received: 9/9; drops: 0/0; rejected: 0/0`), whose
 * columns are the exchanges `names` in order; `undefined` for any other line.
 */
export function parsePerfdhcpProgress(
  line: string,
  names: readonly PerfdhcpExchangeName[],
  elapsedMs: number,
): PerfdhcpProgress | undefined {
  const m = /^sent: ([\d/]+); received: ([\d/]+); drops: ([\d/]+); rejected: ([\d/]+)/.exec(line)
  if (m === null) return undefined
  const [sent, received, drops, rejected] = m.slice(1).map((s) => s.split('/').map(Number)) as [
    number[],
    number[],
    number[],
    number[],
  ]
  const exchanges: Partial<Record<PerfdhcpExchangeName, PerfdhcpProgressCounts>> = {}
  names.forEach((name, i) => {
    if (i < sent.length)
      exchanges[name] = {
        sent: sent[i] ?? 0,
        received: received[i] ?? 0,
        drops: drops[i] ?? 0,
        rejected: rejected[i] ?? 0,
      }
  })
  return { elapsedMs, exchanges }
}

function answeredAll(report: PerfdhcpReport): boolean {
  const answered = Object.entries(report.exchanges).filter(([name]) => name !== 'RELEASE')
  return (
    answered.some(([, s]) => s.sent > 0) &&
    answered.every(([, s]) => s.received >= s.sent && s.rejectedLeases === 0)
  )
}

/**
 * Starts perfdhcp and streams its periodic reports (every `reportInterval` seconds, default 1)
 * as an async iterable, which ends when perfdhcp exits (and throws if it failed); `result`
 * gives the final report. Runs with a `rate` and neither `duration` nor `requests` go on until
 * {@link PerfdhcpRun.stop}.
 *
 * @example
 * ```ts
 * const run = startPerfdhcp({ service: 'dhcp4', ...ports, rate: 100, clients: 500, duration: 10 })
 * for await (const p of run) console.log(p.exchanges['REQUEST-ACK']?.received)
 * const { exchanges } = await run.result
 * ```
 */
export function startPerfdhcp(options: PerfdhcpOptions): PerfdhcpRun {
  return spawnPerfdhcp({ ...options, reportInterval: options.reportInterval ?? 1 })
}

/**
 * Runs perfdhcp to the end and returns its parsed report (periodic reports only with
 * `reportInterval`).
 *
 * @example
 * ```ts
 * const r = await runPerfdhcp({ service: 'dhcp6', ...ports, leaseType: 'prefix-only',
 *   clients: 4, rate: 4, requests: 4, dropTime: 2, exitWaitMs: 1000 })
 * r.exchanges['REQUEST-REPLY']   // → { sent: 4, received: 4, drops: 0, ... }
 * ```
 */
export function runPerfdhcp(options: PerfdhcpOptions): Promise<PerfdhcpResult> {
  return spawnPerfdhcp(options).result
}

function spawnPerfdhcp(options: PerfdhcpOptions): PerfdhcpRun {
  const args = perfdhcpArgs(options)
  const names = perfdhcpExchangeNames(options)
  const started = Date.now()
  const progress: PerfdhcpProgress[] = []
  let changed = signal()
  let done = false
  let stdout = ''
  let stderr = ''
  let pending = ''
  const child = spawn('perfdhcp', args, { stdio: ['ignore', 'pipe', 'pipe'] })
  const notify = (): void => {
    changed.fire()
    changed = signal()
  }
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString()
    const lines = (pending + d.toString()).split('\n')
    pending = lines.pop() ?? ''
    for (const line of lines) {
      const p = parsePerfdhcpProgress(line, names, Date.now() - started)
      if (p !== undefined) progress.push(p)
    }
    notify()
  })
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  const result = new Promise<PerfdhcpResult>((resolve, reject) => {
    let spawnError: Error | undefined
    child.once('error', (e) => (spawnError = e))
    child.once('close', (code) => {
      done = true
      notify()
      if (spawnError === undefined && (code === 0 || code === 3)) {
        const report = parsePerfdhcpReport(stdout)
        const allAnswered = answeredAll(report)
        resolve({ ...report, exitCode: code, allAnswered, progress, args, stdout, stderr })
        return
      }
      const why = spawnError?.message ?? `exit code ${String(code)}`
      const tail = (stderr.trim() === '' ? stdout : stderr).trim().slice(-2_000)
      const message = `perfdhcp ${args.join(' ')} failed (${why}):\n${tail}`
      reject(new CasmError('CASM_ERR_BACKEND', message, { args }))
    })
  })
  // Callers that only iterate learn of a failure from the iterator.
  result.catch(() => undefined)
  return {
    args,
    result,
    stop: () => child.kill('SIGINT'),
    async *[Symbol.asyncIterator]() {
      for (let next = 0; ;) {
        while (next < progress.length) yield progress[next++] as PerfdhcpProgress
        if (done) break
        await changed.fired
      }
      await result
    },
  }
}

/** A one-shot signal: `fired` resolves once `fire()` is called. */
function signal(): { fired: Promise<void>; fire: () => void } {
  let fire: () => void = () => undefined
  const fired = new Promise<void>((resolve) => (fire = resolve))
  return { fired, fire }
}
