/**
 * `casm demo kea`: casm feeding real Kea DHCP servers under real DHCP load, on this machine, in a
 * temporary directory. A coordinator, N Kea servers that start with no pool, an agent each,
 * and perfdhcp bringing subscribers in and then letting them go; a progress line every second
 * and a summary at the end. Needs Kea from Debian (kea-dhcp4-server kea-dhcp6-server kea-admin).
 *
 * @module
 */

import { Command } from 'commander'
import { sleep } from '../agent/backoff.js'
import { CasmError } from '../errors/casm-error.js'
import { KeaLab, type LabGrant, type LabPolicy } from './kea-lab.js'
import { keaAvailable } from '../kea/kea-process.js'
import type { PerfdhcpResult } from '../kea/perfdhcp.js'

/** Checked options of `casm demo kea`. */
export interface KeaDemoOptions {
  readonly family: 'ipv4' | 'ipv6'
  readonly servers: number
  readonly rate: number
  readonly clients: number
  readonly seconds: number
  readonly lifetime: number
  readonly json: boolean
}

const bad = (message: string, option: string): CasmError =>
  new CasmError('CASM_ERR_VALIDATION', message, { option })

function whole(text: string, option: string, min: number, max: number): number {
  const n = Number(text)
  if (!Number.isInteger(n) || n < min || n > max)
    throw bad(`${option} '${text}' is not a whole number ${min}..${max}`, option)
  return n
}

/** Checks the raw options of `casm demo kea`. */
export function parseKeaDemoOptions(
  o: Record<string, string | boolean | undefined>,
): KeaDemoOptions {
  const family = String(o['family'] ?? 'ipv4')
  if (family !== 'ipv4' && family !== 'ipv6')
    throw bad(`--family '${family}' is unknown; use ipv4 or ipv6`, '--family')
  return {
    family,
    servers: whole(String(o['servers'] ?? '2'), '--servers', 1, 8),
    rate: whole(String(o['rate'] ?? '10'), '--rate', 1, 1000),
    clients: whole(String(o['clients'] ?? '300'), '--clients', 1, 100_000),
    seconds: whole(String(o['seconds'] ?? '30'), '--seconds', 1, 3600),
    lifetime: whole(String(o['lifetime'] ?? '20'), '--lifetime', 5, 86_400),
    json: o['json'] === true,
  }
}

/** The pool policy of the demo: a fast loop so that a minute shows growth and reclaim. */
function demoPolicy(family: 'ipv4' | 'ipv6'): LabPolicy {
  return {
    // /27s of 30 addresses, or /52s of 16 delegated /56s.
    unit: family === 'ipv4' ? { min: 24, default: 27, max: 27 } : { min: 48, default: 52, max: 52 },
    highWatermark: 0.7,
    lowWatermark: 0.2,
    reportInterval: 1,
    holdDown: 3,
    leadTime: 5,
    quarantine: 0,
    minUnits: 1,
  }
}

interface Tally {
  granted: number
  released: number
}

/** Runs the demo; resolves with the summary it printed. */
export async function runKeaDemo(
  o: KeaDemoOptions,
  write: (line: string) => void,
): Promise<Record<string, unknown>> {
  const kea = keaAvailable()
  if (!kea.available)
    throw new CasmError(
      'CASM_ERR_BACKEND',
      `the Kea demo needs Kea: ${kea.reason}; install it with: apt-get install kea-dhcp4-server kea-dhcp6-server kea-admin kea-ctrl-agent`,
    )
  const v6 = o.family === 'ipv6'
  const tally = new Map<string, Tally>()
  const say = (text: string, fields: Record<string, unknown>): void => {
    write(o.json ? `${JSON.stringify(fields)}\n` : `${text}\n`)
  }
  const lab = await KeaLab.start({
    family: o.family,
    servers: o.servers,
    block: v6 ? '2001:db8::/32' : '100.64.0.0/16',
    space: [v6 ? '2001:db8:100::/40' : '100.64.0.0/20'],
    policy: demoPolicy(o.family),
    validLifetime: o.lifetime,
    log: (device, level, action, fields) => {
      const t = tally.get(device) ?? { granted: 0, released: 0 }
      tally.set(device, t)
      if (action === 'granted') t.granted++
      if (action === 'remove' && fields['why'] === 'released') t.released++
      if (level !== 'info')
        say(`  ${device}: ${level} ${action} ${JSON.stringify(fields)}`, {
          event: action,
          device,
          level,
          ...fields,
        })
    },
  })
  const started = Date.now()
  const elapsed = (): number => Math.round((Date.now() - started) / 1000)
  const line = async (phase: string): Promise<void> => {
    const parts: string[] = []
    const devices: Record<string, unknown>[] = []
    for (const d of lab.devices) {
      const grants = (await lab.grants(d)).filter(
        (g) => g.state === 'active' || g.state === 'draining',
      )
      await d.backend.usage().catch(() => [])
      // Leases Kea holds in the device's grants (usage itself is in casm's units).
      const used = Number(d.backend.describe()['leases'] ?? 0)
      const inUse = v6 ? `${used} /56s delegated` : `${used} addresses in use`
      parts.push(`${d.name} ${grants.length} grant(s) ${describeGrants(grants)} ${inUse}`)
      devices.push({
        device: d.name,
        grants: grants.map((g) => ({ prefix: g.prefix, state: g.state })),
        used,
      })
    }
    say(`[${String(elapsed()).padStart(3)} s] ${phase.padEnd(7)} ${parts.join(' | ')}`, {
      t: elapsed(),
      phase,
      devices,
    })
  }
  try {
    say(
      `casm demo: coordinator at ${lab.coordinator.url} (admin token ${lab.coordinator.token}); ${o.servers} Kea ${v6 ? 'DHCPv6 (prefix delegation)' : 'DHCPv4'} server(s), each starting with no pool`,
      {
        event: 'start',
        coordinator: lab.coordinator.url,
        token: lab.coordinator.token,
        servers: o.servers,
        family: o.family,
      },
    )
    await waitFor(async () => {
      for (const d of lab.devices) if ((await lab.grants(d)).length === 0) return false
      return true
    }, 30_000)
    await line('ready')
    say(
      `subscribers arrive: ${o.rate}/s per server for ${o.seconds} s, ${o.clients} distinct clients each; leases last ${o.lifetime} s and are not renewed`,
      { event: 'arrive', rate: o.rate, seconds: o.seconds, clients: o.clients },
    )
    const runs = lab.devices.map((d, i) =>
      lab.subscribers(d, { rate: o.rate, clients: o.clients, duration: o.seconds, seed: 100 + i }),
    )
    const state = { done: false }
    const results = Promise.all(runs.map((r) => r.result)).finally(() => {
      state.done = true
    })
    while (!state.done) {
      await sleep(1000)
      await line('arrive')
    }
    const perf: PerfdhcpResult[] = await results
    say('subscribers leave: their leases run out, the grants drain and go back to the pool', {
      event: 'leave',
    })
    const until = Date.now() + (o.lifetime + 60) * 1000
    for (;;) {
      await sleep(1000)
      await line('leave')
      let back = true
      for (const d of lab.devices)
        if (
          (await lab.grants(d)).filter((g) => g.state === 'active' || g.state === 'draining')
            .length > 1
        )
          back = false
      if (back || Date.now() > until) break
    }
    const summary = {
      event: 'summary',
      seconds: elapsed(),
      devices: lab.devices.map((d, i) => {
        const r = perf[i]
        const first = r?.exchanges[v6 ? 'SOLICIT-ADVERTISE' : 'DISCOVER-OFFER']
        const second = r?.exchanges[v6 ? 'REQUEST-REPLY' : 'REQUEST-ACK']
        const t = tally.get(d.name) ?? { granted: 0, released: 0 }
        return {
          device: d.name,
          exchanges: first?.sent ?? 0,
          completed: second?.received ?? 0,
          successPercent:
            first === undefined || first.sent === 0
              ? 0
              : Math.round((10_000 * (second?.received ?? 0)) / first.sent) / 100,
          granted: t.granted,
          released: t.released,
        }
      }),
    }
    if (!o.json) {
      write('\nsummary\n')
      write('device   exchanges  completed  success   grants received  grants returned\n')
      for (const d of summary.devices)
        write(
          `${d.device.padEnd(8)} ${String(d.exchanges).padStart(9)}  ${String(d.completed).padStart(9)}  ${`${d.successPercent.toFixed(2)} %`.padStart(8)}  ${String(d.granted).padStart(15)}  ${String(d.released).padStart(15)}\n`,
        )
      const returned = summary.devices.reduce((a, d) => a + d.released, 0)
      const held = summary.devices.reduce((a, d) => a + d.granted - d.released, 0)
      write(
        `took ${summary.seconds} s; ${returned} grant(s) went back to the pool once Kea had no live lease in them, ${held} still held (the pool keeps one per device).\n`,
      )
    } else write(`${JSON.stringify(summary)}\n`)
    return summary
  } finally {
    await lab.stop()
  }
}

function describeGrants(grants: readonly LabGrant[]): string {
  const shown = grants
    .slice(0, 3)
    .map((g) => `${g.prefix}${g.state === 'draining' ? '(draining)' : ''}`)
  return `[${shown.join(' ')}${grants.length > 3 ? ` +${grants.length - 3}` : ''}]`
}

async function waitFor(check: () => Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline)
      throw new CasmError(
        'CASM_ERR_BACKEND',
        'the agents got no first pool within 30 s; run with --json to see their log',
      )
    await sleep(200)
  }
}

/** Builds the `demo` command. */
export function demoCommand(): Command {
  const demo = new Command('demo').description('see casm at work on this machine, with real peers')
  demo
    .command('kea')
    .description(
      'a coordinator, Kea DHCP servers that start with no pool, an agent each, and perfdhcp load: watch grants flow',
    )
    .option('--family <family>', 'ipv4 (DHCPv4) or ipv6 (DHCPv6 prefix delegation)', 'ipv4')
    .option('--servers <n>', 'Kea servers, one agent each', '2')
    .option('--rate <n>', 'new subscribers per second per server', '10')
    .option('--clients <n>', 'distinct subscribers per server', '300')
    .option('--seconds <n>', 'how long subscribers arrive', '30')
    .option(
      '--lifetime <s>',
      'lease lifetime; leases are not renewed, so subscribers leave after it',
      '20',
    )
    .option('--json', 'one JSON object per line')
    .addHelpText(
      'after',
      '\nNeeds Kea 2.2 and perfdhcp: apt-get install kea-dhcp4-server kea-dhcp6-server kea-admin kea-ctrl-agent\n' +
        'Everything runs on loopback in a temporary directory, removed at the end.',
    )
    .action(async (raw: Record<string, string | boolean | undefined>) => {
      await runKeaDemo(parseKeaDemoOptions(raw), (l) => process.stdout.write(l))
    })
  return demo
}
