/**
 * `npm run bench -- loop`: the device loop of one coordinator on SQLite, as 1,000 simulated
 * devices see it.
 *
 * A real `casm serve` runs as a process of its own (so its CPU and RSS are its own, read from
 * /proc). This process sets up a domain, a 100.64.0.0/10 block, one subscriber pool (unit /27,
 * watermarks 0.8/0.2, hold-down long, quarantine 0, lead time 0) and 1,000 devices with a device
 * token each; every device says hello and asks for its first /27. 100 of them ("watched") keep
 * the coordinator → device stream (SSE) open; the others only POST.
 *
 * Time is accelerated: instead of one report per device every 10 s (1,000 devices: 100
 * reports/s), reports go as fast as the coordinator absorbs them, with a bounded number in
 * flight; `headroom` is reports/s over that real-time load.
 *
 * - baseline: the same client loop against `GET /healthz` (the HTTP floor of the server).
 * - `reports`: status reports under the high watermark (no decisions): reports/s and the round
 *   trip of a report.
 * - `decision`: while the report load goes on in the background (over the unwatched devices), a
 *   watched device reports usage over the high watermark; measured from sending the report to its
 *   `pool-reply` arriving on the device's stream. A device crosses again after each growth.
 * - `decision-realtime`: the same, with the background paced at the real-time 100 reports/s.
 *
 * Set BENCH_LOOP_PROF=DIR to run the server with `--cpu-prof` (the profile lands in DIR), and
 * BENCH_LOOP_KEEP=1 to keep its data directory (the SQLite file) for a look afterwards.
 *
 * @module
 */

import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import http from 'node:http'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type BenchResult, LatencyRecorder, now, progress, round } from './measure.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const DEVICES = Number(process.env['BENCH_LOOP_DEVICES'] ?? 1000)
const WATCHED = Math.min(DEVICES, Number(process.env['BENCH_LOOP_WATCHED'] ?? 100))
const REPORTS = Number(process.env['BENCH_LOOP_REPORTS'] ?? 30_000)
const IN_FLIGHT = Number(process.env['BENCH_LOOP_IN_FLIGHT'] ?? 64)
/** Crossings per watched device in each decision phase. */
const CROSSINGS = Number(process.env['BENCH_LOOP_CROSSINGS'] ?? 3)
/** Watched devices crossing at the same time. */
const PROBES = Number(process.env['BENCH_LOOP_PROBES'] ?? 4)
const BASELINE_REQUESTS = Number(process.env['BENCH_LOOP_BASELINE'] ?? 20_000)
const REPORT_INTERVAL_S = 10
const REALTIME_PER_S = DEVICES / REPORT_INTERVAL_S
const UNIT = 27
const UNIT_SIZE = 2 ** (32 - UNIT)
const HIGH = 0.8
const TARGET_OPS = 2000
const TARGET_P99_US = 100_000
const SETUP_IN_FLIGHT = 32
const DECISION_TIMEOUT_MS = 10_000

/**
 * With BENCH_LOOP_PROF, prints when a phase starts on the monotonic clock (µs) the server's CPU
 * profile uses too, so the profile can be cut by phase.
 */
function mark(phase: string): void {
  if (process.env['BENCH_LOOP_PROF'] !== undefined)
    progress(`loop: mark ${phase} at ${(now() / 1000n).toString()} us (monotonic)`)
}

// ---- the server ----------------------------------------------------------------------------

interface Server {
  readonly child: ChildProcess
  readonly pid: number
  readonly port: number
  readonly token: string
  output(): string
  stop(): Promise<void>
}

async function startServer(dataDir: string): Promise<Server> {
  const env: NodeJS.ProcessEnv = { ...process.env, CASM_DATA: dataDir }
  delete env['DATABASE_URL']
  delete env['NODE_OPTIONS']
  const prof = process.env['BENCH_LOOP_PROF']
  const child = spawn(
    process.execPath,
    [
      ...(prof === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${prof}`]),
      '--import',
      'tsx',
      join(ROOT, 'src/cli/main.ts'),
      'serve',
      '--listen',
      '127.0.0.1:0',
      '--data',
      dataDir,
    ],
    { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  // Never leave the server behind, whatever happens to this process.
  const killOnExit = (): void => {
    child.kill('SIGKILL')
  }
  process.once('exit', killOnExit)
  let out = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr.on('data', (d: Buffer) => (out += d.toString()))
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`casm serve did not start in 60 s:\n${out}`)),
      60_000,
    )
    const check = (): void => {
      const m = /serving on http:\/\/127\.0\.0\.1:(\d+)/.exec(out)
      if (m !== null) {
        clearTimeout(timer)
        resolve(Number(m[1]))
      }
    }
    child.stdout.on('data', check)
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`casm serve exited with ${String(code)}:\n${out}`))
    })
  })
  const token = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim()
  return {
    child,
    pid: child.pid as number,
    port,
    token,
    output: () => out,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM')
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
        await exited
        clearTimeout(timer)
      }
      process.off('exit', killOnExit)
    },
  }
}

/** CPU seconds (user + system) of a process. */
function cpuSecondsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
  return (Number(fields[11]) + Number(fields[12])) / 100
}

function statusKb(pid: number, field: string): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m === null ? 0 : Number(m[1])
}

/** Busy CPU seconds of the whole machine (every process), from /proc/stat. */
function machineBusySeconds(): number {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]?.trim().split(/\s+/) ?? []
  // cpu user nice system idle iowait irq softirq steal
  const busy = [1, 2, 3, 6, 7, 8].reduce((a, i) => a + Number(cpu[i] ?? 0), 0)
  return busy / 100
}

/**
 * Server CPU (cores used) and peak RSS over a phase, sampled every 100 ms; also this process's
 * CPU and what every other process on the machine used meanwhile (on a shared machine, other
 * work takes cores from the server and the client).
 */
class ServerMeter {
  readonly #pid: number
  readonly #cpu0: number
  readonly #wall0 = now()
  readonly #client0 = process.cpuUsage()
  readonly #machine0 = machineBusySeconds()
  #peakKb: number
  readonly #timer: NodeJS.Timeout

  constructor(pid: number) {
    this.#pid = pid
    this.#cpu0 = cpuSecondsOf(pid)
    this.#peakKb = statusKb(pid, 'VmRSS')
    this.#timer = setInterval(() => {
      this.#peakKb = Math.max(this.#peakKb, statusKb(this.#pid, 'VmRSS'))
    }, 100)
  }

  stop(): {
    wallS: number
    cpuCores: number
    rssMb: number
    clientCpuCores: number
    otherCpuCores: number
  } {
    clearInterval(this.#timer)
    const wallS = Number(now() - this.#wall0) / 1e9
    this.#peakKb = Math.max(this.#peakKb, statusKb(this.#pid, 'VmRSS'))
    const c = process.cpuUsage(this.#client0)
    const server = cpuSecondsOf(this.#pid) - this.#cpu0
    const client = (c.user + c.system) / 1e6
    const machine = machineBusySeconds() - this.#machine0
    return {
      wallS,
      cpuCores: server / wallS,
      rssMb: this.#peakKb / 1024,
      clientCpuCores: client / wallS,
      otherCpuCores: Math.max(0, machine - server - client) / wallS,
    }
  }
}

// ---- HTTP ----------------------------------------------------------------------------------

interface Res {
  readonly status: number
  readonly text: string
}

function request(
  agent: http.Agent,
  port: number,
  method: string,
  path: string,
  token: string,
  body?: unknown,
): Promise<Res> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body)
    const headers: http.OutgoingHttpHeaders = { authorization: `Bearer ${token}` }
    if (data !== undefined) {
      headers['content-type'] = 'application/json'
      headers['content-length'] = Buffer.byteLength(data)
    }
    const req = http.request({ host: '127.0.0.1', port, path, method, agent, headers }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => (text += d))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(data)
  })
}

function expect(r: Res, status: number, what: string): unknown {
  if (r.status !== status) throw new Error(`${what}: HTTP ${r.status} ${r.text.slice(0, 500)}`)
  return JSON.parse(r.text) as unknown
}

/** Runs `task(i)` for i in [0, n) with at most `limit` at once. */
async function parallel(
  n: number,
  limit: number,
  task: (i: number) => Promise<void>,
): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < n) await task(next++)
  }
  await Promise.all(Array.from({ length: Math.min(limit, n) }, worker))
}

// ---- the devices -----------------------------------------------------------------------------

interface SimDevice {
  readonly index: number
  readonly name: string
  readonly token: string
  /** Live grants, oldest first. */
  readonly grants: string[]
  txn: number
  /** Waiting for a pool-reply on the stream. */
  waiter?: ((grants: string[]) => void) | undefined
  stream?: http.ClientRequest
}

function report(d: SimDevice, used: (i: number) => number): Record<string, unknown> {
  return {
    v: 1,
    txn: `r${d.index}-${++d.txn}`,
    type: 'status-report',
    window: REPORT_INTERVAL_S,
    grants: d.grants.map((grant, i) => ({ grant, used: used(i) })),
  }
}

/** Half of each grant in use: between the watermarks, so the coordinator decides nothing. */
const calm = (): number => UNIT_SIZE / 2
/** 28 of 32 in every grant (87.5%): over the high watermark whatever the device holds. */
const crossing = (): number => Math.ceil(UNIT_SIZE * (HIGH + 0.05))

/** Opens the coordinator → device stream; pool-replies go to the device's waiter. */
function openStream(port: number, d: SimDevice): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      {
        host: '127.0.0.1',
        port,
        path: '/api/v1/agent/stream',
        agent: false,
        headers: { authorization: `Bearer ${d.token}`, accept: 'text/event-stream' },
      },
      (res) => {
        if (res.statusCode !== 200) {
          reject(new Error(`stream of ${d.name}: HTTP ${res.statusCode}`))
          res.resume()
          return
        }
        res.setEncoding('utf8')
        let buf = ''
        res.on('data', (chunk: string) => {
          buf += chunk
          for (let end = buf.indexOf('\n\n'); end >= 0; end = buf.indexOf('\n\n')) {
            const block = buf.slice(0, end)
            buf = buf.slice(end + 2)
            let event = ''
            let data = ''
            for (const line of block.split('\n')) {
              if (line.startsWith('event:')) event = line.slice(6).trim()
              else if (line.startsWith('data:')) data += line.slice(5).trim()
            }
            if (event === 'pool-reply') {
              const m = JSON.parse(data) as { grants: { grant: string }[] }
              const w = d.waiter
              d.waiter = undefined
              w?.(m.grants.map((g) => g.grant))
            }
          }
        })
        res.on('error', () => undefined)
        resolve()
      },
    )
    // Before the answer, a failure fails the set-up; after it (the stream closed at the end), none.
    req.on('error', reject)
    d.stream = req
  })
}

interface Fleet {
  readonly devices: SimDevice[]
  readonly watched: SimDevice[]
  readonly others: SimDevice[]
}

async function setUp(server: Server, agent: http.Agent): Promise<Fleet> {
  const admin = (method: string, path: string, body: unknown): Promise<Res> =>
    request(agent, server.port, method, path, server.token, body)
  expect(await admin('POST', '/api/v1/domains', { name: 'metro' }), 201, 'domain')
  expect(
    await admin('POST', '/api/v1/blocks', { domain: 'metro', space: '100.64.0.0/10' }),
    201,
    'block',
  )
  expect(
    await admin('POST', '/api/v1/pools', {
      name: 'subs',
      domain: 'metro',
      kind: 'subscriber',
      space: ['100.64.0.0/10'],
      policy: {
        unit: { min: 24, default: UNIT, max: 28 },
        highWatermark: HIGH,
        lowWatermark: 0.2,
        holdDown: 10 * 365 * 86400,
        quarantine: 0,
        leadTime: 0,
        reportInterval: REPORT_INTERVAL_S,
        staleAfter: 86400,
      },
    }),
    201,
    'pool',
  )
  const devices: SimDevice[] = []
  const t0 = Date.now()
  await parallel(DEVICES, SETUP_IN_FLIGHT, async (i) => {
    const name = `bng-${i}`
    expect(await admin('POST', '/api/v1/devices', { name }), 201, `device ${name}`)
    const t = expect(
      await admin('POST', '/api/v1/tokens', {
        name: `${name}-agent`,
        role: 'device',
        device: name,
      }),
      201,
      `token of ${name}`,
    ) as { secret: string }
    const d: SimDevice = { index: i, name, token: t.secret, grants: [], txn: 0 }
    const send = (m: Record<string, unknown>): Promise<Res> =>
      request(agent, server.port, 'POST', '/api/v1/agent/messages', d.token, {
        v: 1,
        txn: `s${i}-${++d.txn}`,
        ...m,
      })
    expect(
      await send({ type: 'hello', agent: { version: 'bench', backend: 'sim' }, holds: [] }),
      200,
      `hello of ${name}`,
    )
    const reply = expect(
      await send({ type: 'pool-request', reason: 'start-up' }),
      200,
      `pool-request of ${name}`,
    ) as { grants: { grant: string }[] }
    d.grants.push(...reply.grants.map((g) => g.grant))
    devices[i] = d
    if ((i + 1) % 250 === 0)
      progress(
        `loop: ${i + 1} of ${DEVICES} devices set up (${Math.round((Date.now() - t0) / 1000)} s)`,
      )
  })
  const watched = devices.slice(0, WATCHED)
  await parallel(watched.length, 16, (i) => openStream(server.port, watched[i] as SimDevice))
  progress(`loop: ${watched.length} streams open`)
  return { devices, watched, others: devices.slice(WATCHED) }
}

// ---- the load --------------------------------------------------------------------------------

interface LoadResult {
  readonly count: number
  readonly failures: number
  readonly decisions: number
  readonly latency: LatencyRecorder
  readonly wallS: number
}

/**
 * Sends calm status reports round-robin over `devices`, `inFlight` at a time, until `count` are
 * answered or `stop()` says so; `perSecond` paces them (0: as fast as they are absorbed).
 */
async function reportLoad(
  port: number,
  agent: http.Agent,
  devices: readonly SimDevice[],
  o: { count: number; inFlight: number; stop?: () => boolean; perSecond?: number },
): Promise<LoadResult> {
  const latency = new LatencyRecorder(Math.min(Math.max(o.count, 1), 2_000_000))
  let next = 0
  let failures = 0
  let decisions = 0
  const t0 = now()
  const pace = o.perSecond ?? 0
  const worker = async (): Promise<void> => {
    for (;;) {
      if (next >= o.count || (o.stop?.() ?? false)) return
      const n = next++
      if (pace > 0) {
        const due = t0 + BigInt(Math.round((n * 1e9) / pace))
        const wait = Number(due - now()) / 1e6
        if (wait > 0) await new Promise((r) => setTimeout(r, wait))
      }
      const d = devices[n % devices.length] as SimDevice
      const t = now()
      const r = await request(
        agent,
        port,
        'POST',
        '/api/v1/agent/messages',
        d.token,
        report(d, calm),
      )
      latency.add(now() - t)
      if (r.status !== 200) {
        failures++
        if (failures <= 3) progress(`loop: report refused: ${r.status} ${r.text.slice(0, 300)}`)
      } else {
        decisions += (JSON.parse(r.text) as { decisions: string[] }).decisions.length
      }
    }
  }
  await Promise.all(Array.from({ length: o.inFlight }, worker))
  return { count: latency.count, failures, decisions, latency, wallS: Number(now() - t0) / 1e9 }
}

async function healthzLoad(port: number, agent: http.Agent, count: number): Promise<LoadResult> {
  const latency = new LatencyRecorder(count)
  let next = 0
  let failures = 0
  const t0 = now()
  const worker = async (): Promise<void> => {
    while (next < count) {
      next++
      const t = now()
      const r = await request(agent, port, 'GET', '/healthz', '')
      latency.add(now() - t)
      if (r.status !== 200) failures++
    }
  }
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker))
  return { count, failures, decisions: 0, latency, wallS: Number(now() - t0) / 1e9 }
}

interface DecisionResult {
  readonly decision: LatencyRecorder
  readonly confirm: LatencyRecorder
  readonly background: LoadResult
  readonly timeouts: number
  readonly samples: number
}

/**
 * Each watched device crosses the high watermark CROSSINGS times (`probes` devices at once) while
 * `background` reports run over the unwatched devices.
 */
async function decisionPhase(
  server: Server,
  agent: http.Agent,
  fleet: Fleet,
  background: { inFlight: number; perSecond?: number; probes: number },
): Promise<DecisionResult> {
  let done = false
  const load = reportLoad(server.port, agent, fleet.others, {
    count: Number.MAX_SAFE_INTEGER,
    inFlight: background.inFlight,
    stop: () => done,
    ...(background.perSecond === undefined ? {} : { perSecond: background.perSecond }),
  })
  // Awaited at the end; a failure must not go unhandled meanwhile.
  load.catch(() => undefined)
  // Let the background load reach its pace before the first sample.
  await new Promise((r) => setTimeout(r, 1000))
  const samples = fleet.watched.length * CROSSINGS
  const decision = new LatencyRecorder(samples)
  const confirm = new LatencyRecorder(samples)
  const probeAgent = new http.Agent({ keepAlive: true, maxSockets: background.probes })
  let timeouts = 0
  try {
    await parallel(samples, background.probes, async (k) => {
      const d = fleet.watched[k % fleet.watched.length] as SimDevice
      const before = d.grants.length
      const got = new Promise<string[] | undefined>((resolve) => {
        const timer = setTimeout(() => {
          d.waiter = undefined
          resolve(undefined)
        }, DECISION_TIMEOUT_MS)
        d.waiter = (grants) => {
          clearTimeout(timer)
          resolve(grants)
        }
      })
      const t = now()
      const r = await request(
        probeAgent,
        server.port,
        'POST',
        '/api/v1/agent/messages',
        d.token,
        report(d, crossing),
      )
      confirm.add(now() - t)
      const c = expect(r, 200, `crossing report of ${d.name}`) as { decisions: string[] }
      if (!c.decisions.includes('grant'))
        throw new Error(
          `${d.name} crossed the high watermark with ${before} grant(s), the coordinator decided ${JSON.stringify(c.decisions)}`,
        )
      const grants = await got
      if (grants === undefined) {
        // No pool-reply in time: count it, and learn the device's grants again.
        timeouts++
        const status = expect(
          await request(probeAgent, server.port, 'POST', '/api/v1/agent/messages', d.token, {
            v: 1,
            txn: `q${d.index}-${++d.txn}`,
            type: 'status-query',
          }),
          200,
          `status-query of ${d.name}`,
        ) as { grants: { grant: string; state: string }[] }
        d.grants.splice(0, d.grants.length, ...status.grants.map((g) => g.grant))
        return
      }
      decision.add(now() - t)
      d.grants.push(...grants)
    })
  } finally {
    done = true
    probeAgent.destroy()
  }
  return { decision, confirm, background: await load, timeouts, samples }
}

// ---- the case --------------------------------------------------------------------------------

async function runLoop(): Promise<BenchResult[]> {
  const dataDir = mkdtempSync(join(tmpdir(), 'casm-bench-loop-'))
  // Even if this process dies before the finally below runs.
  const removeDir = (): void => {
    if (process.env['BENCH_LOOP_KEEP'] === undefined)
      rmSync(dataDir, { recursive: true, force: true })
  }
  process.once('exit', removeDir)
  // Interrupted: exit, so that the exit handlers stop the server and remove the directory.
  const onSignal = (signal: NodeJS.Signals): void => {
    process.exit(signal === 'SIGINT' ? 130 : 143)
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  const agent = new http.Agent({ keepAlive: true, maxSockets: IN_FLIGHT })
  let server: Server | undefined
  let fleet: Fleet | undefined
  try {
    progress(`loop: starting casm serve on SQLite in ${dataDir}`)
    server = await startServer(dataDir)
    progress(
      `loop: serving on 127.0.0.1:${server.port} (pid ${server.pid}); setting up ${DEVICES} devices`,
    )
    const setupT0 = Date.now()
    fleet = await setUp(server, agent)
    const setupS = (Date.now() - setupT0) / 1000
    progress(`loop: set up in ${setupS.toFixed(1)} s`)

    // Warm both paths (JIT, connections), then the baseline: GET /healthz, the HTTP floor.
    await healthzLoad(server.port, agent, 2000)
    await reportLoad(server.port, agent, fleet.devices, { count: 2000, inFlight: IN_FLIGHT })
    progress(`loop: baseline, ${BASELINE_REQUESTS} GET /healthz, ${IN_FLIGHT} in flight`)
    mark('baseline')
    let meter = new ServerMeter(server.pid)
    const base = await healthzLoad(server.port, agent, BASELINE_REQUESTS)
    const baseM = meter.stop()
    const baseOps = base.count / base.wallS
    progress(
      `loop: baseline ${Math.round(baseOps)} req/s, server ${baseM.cpuCores.toFixed(2)} cores`,
    )

    // Phase 1: throughput of reports that decide nothing.
    progress(`loop: ${REPORTS} status reports over ${DEVICES} devices, ${IN_FLIGHT} in flight`)
    mark('reports')
    meter = new ServerMeter(server.pid)
    const p1 = await reportLoad(server.port, agent, fleet.devices, {
      count: REPORTS,
      inFlight: IN_FLIGHT,
    })
    const p1M = meter.stop()
    const p1Ops = p1.count / p1.wallS
    progress(
      `loop: ${Math.round(p1Ops)} reports/s, p99 ${Math.round(p1.latency.quantileUs(0.99) / 1000)} ms, server ${p1M.cpuCores.toFixed(2)} cores, ${Math.round(p1M.rssMb)} MB`,
    )

    // Phase 2: decisions with the report load at full speed in the background.
    progress(
      `loop: decisions: ${fleet.watched.length} watched devices cross ${CROSSINGS} times, ${PROBES} at once, background ${IN_FLIGHT} in flight`,
    )
    mark('decision')
    meter = new ServerMeter(server.pid)
    const p2 = await decisionPhase(server, agent, fleet, { inFlight: IN_FLIGHT, probes: PROBES })
    const p2M = meter.stop()
    const p2Ops = (p2.background.count + p2.confirm.count) / p2.background.wallS
    progress(
      `loop: decision p50 ${Math.round(p2.decision.quantileUs(0.5) / 1000)} ms p99 ${Math.round(p2.decision.quantileUs(0.99) / 1000)} ms (${p2.decision.count} samples, ${p2.timeouts} timeouts) at ${Math.round(p2Ops)} reports/s`,
    )

    // Phase 3: decisions at the real-time load (1,000 devices every 10 s).
    progress(
      `loop: decisions at the real-time load: background ${REALTIME_PER_S} reports/s, one watched device crossing at a time`,
    )
    mark('decision-realtime')
    meter = new ServerMeter(server.pid)
    const p3 = await decisionPhase(server, agent, fleet, {
      inFlight: 16,
      perSecond: REALTIME_PER_S,
      probes: 1,
    })
    const p3M = meter.stop()
    const p3Ops = (p3.background.count + p3.confirm.count) / p3.background.wallS
    progress(
      `loop: real-time decision p50 ${Math.round(p3.decision.quantileUs(0.5) / 1000)} ms p99 ${Math.round(p3.decision.quantileUs(0.99) / 1000)} ms (${p3.decision.count} samples)`,
    )

    mark('end')
    const hwmMb = statusKb(server.pid, 'VmHWM') / 1024
    const common = {
      store: 'sqlite',
      devices: DEVICES,
      watched: WATCHED,
      in_flight: IN_FLIGHT,
      realtime_reports_per_s: REALTIME_PER_S,
      baseline: 'GET /healthz, same client loop and concurrency',
      baseline_ops_per_s: round(baseOps),
      server_rss_peak_mb: round(hwmMb),
      setup_s: round(setupS),
      machine_cores: availableParallelism(),
    }
    const decisionLine = (
      name: string,
      p: DecisionResult,
      m: ReturnType<ServerMeter['stop']>,
      ops: number,
      inFlight: number,
      paced: boolean,
      probes: number,
    ): BenchResult => ({
      bench: 'loop',
      case: name,
      ops_per_s: round(ops),
      p50_us: round(p.decision.quantileUs(0.5)),
      p99_us: round(p.decision.quantileUs(0.99)),
      max_us: round(p.decision.quantileUs(1)),
      confirm_p50_us: round(p.confirm.quantileUs(0.5)),
      confirm_p99_us: round(p.confirm.quantileUs(0.99)),
      background_p99_us: round(p.background.latency.quantileUs(0.99)),
      cpu_cores: round(m.cpuCores),
      rss_mb: round(m.rssMb),
      client_cpu_cores: round(m.clientCpuCores),
      other_cpu_cores: round(m.otherCpuCores),
      ...common,
      background_in_flight: inFlight,
      crossing_at_once: probes,
      reports: p.background.count + p.confirm.count,
      decisions: p.decision.count,
      decision_timeouts: p.timeouts,
      failures: p.background.failures,
      ...(paced ? { background_per_s: REALTIME_PER_S } : { ratio: round(ops / baseOps) }),
      target: `decision p99 <= ${TARGET_P99_US / 1000} ms`,
      targets_met: p.timeouts === 0 && p.decision.quantileUs(0.99) <= TARGET_P99_US,
    })
    return [
      {
        bench: 'loop',
        case: 'reports',
        ops_per_s: round(p1Ops),
        p50_us: round(p1.latency.quantileUs(0.5)),
        p99_us: round(p1.latency.quantileUs(0.99)),
        cpu_cores: round(p1M.cpuCores),
        rss_mb: round(p1M.rssMb),
        client_cpu_cores: round(p1M.clientCpuCores),
        other_cpu_cores: round(p1M.otherCpuCores),
        ...common,
        reports: p1.count,
        decisions: p1.decisions,
        failures: p1.failures,
        headroom: round(p1Ops / REALTIME_PER_S),
        devices_at_10s: Math.floor(p1Ops * REPORT_INTERVAL_S),
        ratio: round(p1Ops / baseOps),
        baseline_p99_us: round(base.latency.quantileUs(0.99)),
        baseline_cpu_cores: round(baseM.cpuCores),
        target: `>= ${TARGET_OPS} reports/s`,
        targets_met: p1.failures === 0 && p1Ops >= TARGET_OPS,
        reference: "Juniper's APM polls every 5 s; Huawei BRAS checks every 10 minutes",
      },
      decisionLine('decision', p2, p2M, p2Ops, IN_FLIGHT, false, PROBES),
      decisionLine('decision-realtime', p3, p3M, p3Ops, 16, true, 1),
    ]
  } catch (error) {
    if (server !== undefined)
      progress(`loop: failed; the server said:\n${server.output().slice(-4000)}`)
    throw error
  } finally {
    for (const d of fleet?.watched ?? []) d.stream?.destroy()
    agent.destroy()
    if (server !== undefined) {
      progress('loop: stopping the server')
      await server.stop()
    }
    removeDir()
    process.off('exit', removeDir)
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    if (process.env['BENCH_LOOP_KEEP'] !== undefined) progress(`loop: data kept in ${dataDir}`)
  }
}

/** The cases of this benchmark. */
export const cases: Record<string, () => Promise<BenchResult[]>> = {
  sqlite: runLoop,
}
