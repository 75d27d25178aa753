/**
 * Scenario files of the fleet simulator (`casm sim`): the fleet, its subscriber demand, the
 * address space and the pool policy, in YAML or JSON. Parsed and checked as a whole; every
 * problem is reported with its path (`/devices/1/peak/mean must be >= 1`).
 *
 * @module
 */

import { existsSync, readFileSync } from 'node:fs'
import { dirname, extname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Ajv, type ErrorObject } from 'ajv'
import { Type, type Static } from 'typebox'
import { parse as parseYaml } from 'yaml'
import { CasmError } from '../errors/casm-error.js'
import { Prefix } from '../ip/index.js'

const Spread = Type.Object(
  {
    /** Mean of the per-device value. */
    mean: Type.Number(),
    /** Relative spread between devices (0 = every device the same). */
    spread: Type.Optional(Type.Number({ minimum: 0, maximum: 2 })),
  },
  { additionalProperties: false },
)

const DeviceGroup = Type.Object(
  {
    /** Names are `<group>-NNN`. */
    group: Type.String({ pattern: '^[a-z][a-z0-9-]{0,30}$' }),
    count: Type.Integer({ minimum: 1, maximum: 5000 }),
    /** Subscribers at the device's own daily peak on day 0. */
    peak: Type.Object(
      {
        mean: Type.Number({ minimum: 1 }),
        spread: Type.Optional(Type.Number({ minimum: 0, maximum: 2 })),
      },
      { additionalProperties: false },
    ),
    /** Demand at the daily low, as a fraction of the peak. */
    trough: Type.Number({ minimum: 0, maximum: 1 }),
    /** Hour of the daily peak (0–24, local to the fleet), spread in hours. */
    peakHour: Spread,
    /**
     * Growth per day, as a fraction (0.01 = +1 % a day); with a spread (absolute), devices grow
     * at different rates — some gain subscribers while others lose them.
     */
    trendPerDay: Type.Optional(
      Type.Union([
        Type.Number({ minimum: -0.1, maximum: 0.1 }),
        Type.Object(
          {
            mean: Type.Number({ minimum: -0.1, maximum: 0.1 }),
            spread: Type.Number({ minimum: 0, maximum: 0.1 }),
          },
          { additionalProperties: false },
        ),
      ]),
    ),
    /** Relative noise (a slow random walk around the curve). */
    noise: Type.Optional(Type.Number({ minimum: 0, maximum: 0.5 })),
  },
  { additionalProperties: false },
)

const At = Type.String({ pattern: '^\\d+d(\\s+\\d{1,2}:\\d{2})?$|^\\d{1,2}:\\d{2}$' })

const SimEvent = Type.Union([
  Type.Object(
    {
      /** When: `2d 20:00` (day 2 of the run at 20:00) or `20:00` (day 0). */
      at: At,
      /** The device restarts: every subscriber drops and reconnects within `reconnectMinutes`. */
      type: Type.Literal('reboot'),
      device: Type.String(),
      reconnectMinutes: Type.Optional(Type.Number({ minimum: 0, maximum: 1440 })),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      at: At,
      /** The device fails for `minutes`; its subscribers move to `to` (split evenly) and back. */
      type: Type.Literal('fail'),
      device: Type.String(),
      minutes: Type.Number({ minimum: 1, maximum: 100_000 }),
      to: Type.Array(Type.String(), { minItems: 1, maxItems: 64 }),
      reconnectMinutes: Type.Optional(Type.Number({ minimum: 0, maximum: 1440 })),
    },
    { additionalProperties: false },
  ),
])

const PolicySchema = Type.Object(
  {
    unit: Type.Object(
      { min: Type.Integer(), default: Type.Integer(), max: Type.Integer() },
      { additionalProperties: false },
    ),
    highWatermark: Type.Optional(Type.Number()),
    lowWatermark: Type.Optional(Type.Number()),
    holdDown: Type.Optional(Type.Number({ minimum: 0 })),
    quarantine: Type.Optional(Type.Number({ minimum: 0 })),
    leadTime: Type.Optional(Type.Number({ minimum: 0 })),
    minUnits: Type.Optional(Type.Integer({ minimum: 0 })),
    drain: Type.Optional(Type.Union([Type.Literal('natural'), Type.Literal('fast')])),
    strategy: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
)

/** The JSON Schema of a scenario file. */
export const ScenarioSchema = Type.Object(
  {
    name: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,62}$' }),
    description: Type.Optional(Type.String()),
    seed: Type.Optional(Type.Integer({ minimum: 0, maximum: 4294967295 })),
    /** Simulated days. */
    days: Type.Number({ minimum: 0.01, maximum: 3650 }),
    /** Seconds per simulation step (demand moves once a step). */
    step: Type.Optional(Type.Integer({ minimum: 1, maximum: 3600 })),
    /** Seconds between a device's periodic reports (it also reports on crossing the high watermark). */
    reportInterval: Type.Optional(Type.Integer({ minimum: 1, maximum: 86_400 })),
    /**
     * `interval` (default): every device reports every `reportInterval`, as `casm agent` does.
     * `on-change`: a device inside the band between the watermarks, with nothing draining, only
     * sends a keep-alive every three intervals; it reports at once on crossing the high watermark
     * either way.
     */
    reporting: Type.Optional(Type.Union([Type.Literal('interval'), Type.Literal('on-change')])),
    /** Seconds between samples of the time series. */
    sampleInterval: Type.Optional(Type.Integer({ minimum: 60, maximum: 86_400 })),
    family: Type.Union([Type.Literal('ipv4'), Type.Literal('ipv6')]),
    kind: Type.Union([
      Type.Literal('subscriber'),
      Type.Literal('cgn'),
      Type.Literal('pd'),
      Type.Literal('dhcp'),
      Type.Literal('ds-lite'),
    ]),
    /** The address space: blocks of one domain, all given to the one pool. */
    space: Type.Array(Type.String(), { minItems: 1, maxItems: 10_000 }),
    policy: PolicySchema,
    subscriber: Type.Object(
      {
        /** Mean session length in hours: subscribers leave and others arrive (churn). */
        sessionHours: Type.Number({ minimum: 0.01, maximum: 10_000 }),
        /** Seconds between renewals: a fast drain moves a grant's users within this time. */
        renewSeconds: Type.Optional(Type.Number({ minimum: 1, maximum: 86_400 })),
        /** IPv6 prefix delegation: the delegated prefix length (a /56 counts 256 /64s). */
        delegatedLength: Type.Optional(Type.Integer({ minimum: 40, maximum: 64 })),
        /** CGN: subscribers sharing one public address (port blocks per address). */
        perAddress: Type.Optional(Type.Integer({ minimum: 1, maximum: 1024 })),
        /** CGN: ports of each subscriber's port block. */
        portBlock: Type.Optional(Type.Integer({ minimum: 1, maximum: 65_536 })),
      },
      { additionalProperties: false },
    ),
    devices: Type.Array(DeviceGroup, { minItems: 1, maxItems: 64 }),
    events: Type.Optional(Type.Array(SimEvent, { maxItems: 1000 })),
  },
  { additionalProperties: false },
)

/** A scenario as written in its file. */
export type Scenario = Static<typeof ScenarioSchema>

/** A scenario's device group. */
export type DeviceGroupSpec = Static<typeof DeviceGroup>

/** A scenario event (reboot, failure). */
export type SimEventSpec = Static<typeof SimEvent>

/** The scenarios that ship with casm (in `scenarios/` of the package). */
export const SHIPPED_SCENARIOS = ['metro-100', 'cgn', 'v6-pd', 'failover'] as const

const SCENARIO_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'scenarios')

const ajv = new Ajv({ allErrors: true, strict: false })
const check = ajv.compile(ScenarioSchema)

function invalid(source: string, errors: { path: string; message: string }[]): CasmError {
  const first = errors[0]
  return new CasmError(
    'CASM_ERR_VALIDATION',
    `${source}: ${first === undefined ? 'invalid' : `${first.path || '/'} ${first.message}`}${errors.length > 1 ? ` (and ${errors.length - 1} more)` : ''}`,
    {
      errors,
      hint: 'fix the scenario file at the paths named; docs/sim.md describes every field, and the shipped scenarios in scenarios/ are examples',
    },
  )
}

function schemaErrors(errors: readonly ErrorObject[]): { path: string; message: string }[] {
  return errors
    .filter((e) => e.keyword !== 'anyOf' && e.keyword !== 'if')
    .map((e) => ({
      path: e.instancePath,
      message:
        e.keyword === 'additionalProperties'
          ? `has an unknown field '${String((e.params as { additionalProperty?: string }).additionalProperty)}'`
          : (e.message ?? 'is invalid'),
    }))
}

/** Seconds into the run of an `at` value (`2d 20:00`, `20:00`). */
export function atSeconds(at: string): number {
  const m = /^(?:(\d+)d)?\s*(?:(\d{1,2}):(\d{2}))?$/.exec(at.trim())
  const days = Number(m?.[1] ?? 0)
  const hours = Number(m?.[2] ?? 0)
  const minutes = Number(m?.[3] ?? 0)
  return days * 86_400 + hours * 3600 + minutes * 60
}

/** Device names of a scenario, in order: `<group>-001`…. */
export function deviceNames(s: Scenario): string[] {
  return s.devices.flatMap((g) =>
    Array.from({ length: g.count }, (_, i) => `${g.group}-${String(i + 1).padStart(3, '0')}`),
  )
}

/** The checks a schema cannot make: prefixes, the policy's order, names that events use. */
function semanticErrors(s: Scenario): { path: string; message: string }[] {
  const out: { path: string; message: string }[] = []
  const width = s.family === 'ipv4' ? 32 : 128
  s.space.forEach((p, i) => {
    try {
      const pre = Prefix.parse(p)
      if (pre.family !== s.family)
        out.push({ path: `/space/${i}`, message: `${p} is not ${s.family}` })
    } catch (e) {
      out.push({ path: `/space/${i}`, message: e instanceof Error ? e.message : String(e) })
    }
  })
  const u = s.policy.unit
  if (!(u.min <= u.default && u.default <= u.max && u.min >= 1 && u.max <= width))
    out.push({ path: '/policy/unit', message: `needs 1 ≤ min ≤ default ≤ max ≤ ${width}` })
  const high = s.policy.highWatermark ?? 0.8
  const low = s.policy.lowWatermark ?? 0.2
  if (!(low >= 0 && low < high && high <= 1))
    out.push({ path: '/policy', message: 'needs 0 ≤ lowWatermark < highWatermark ≤ 1' })
  if (s.kind === 'pd' && s.family !== 'ipv6')
    out.push({ path: '/kind', message: 'prefix delegation (pd) needs family ipv6' })
  if (s.kind === 'pd' && s.subscriber.delegatedLength === undefined)
    out.push({ path: '/subscriber/delegatedLength', message: 'is needed for kind pd' })
  if (s.kind === 'pd' && (s.subscriber.delegatedLength ?? 0) < u.max)
    out.push({
      path: '/subscriber/delegatedLength',
      message: `must not be shorter than the unit's max length /${u.max}`,
    })
  if (s.kind === 'cgn' && s.subscriber.perAddress === undefined)
    out.push({ path: '/subscriber/perAddress', message: 'is needed for kind cgn' })
  const groups = new Set<string>()
  s.devices.forEach((g, i) => {
    if (groups.has(g.group))
      out.push({ path: `/devices/${i}/group`, message: `'${g.group}' is used twice` })
    groups.add(g.group)
  })
  const names = new Set(deviceNames(s))
  ;(s.events ?? []).forEach((e, i) => {
    if (!names.has(e.device))
      out.push({
        path: `/events/${i}/device`,
        message: `no device '${e.device}' (names are like ${[...names][0] ?? 'bng-001'})`,
      })
    if (e.type === 'fail')
      e.to.forEach((t, j) => {
        if (!names.has(t) || t === e.device)
          out.push({
            path: `/events/${i}/to/${j}`,
            message: `'${t}' is not another device of the scenario`,
          })
      })
    if (atSeconds(e.at) > s.days * 86_400)
      out.push({
        path: `/events/${i}/at`,
        message: `${e.at} is after the end of the run (${s.days} days)`,
      })
  })
  return out
}

/**
 * Parses and checks a scenario from its text (YAML, or JSON which is YAML too).
 *
 * @throws CasmError `CASM_ERR_VALIDATION` naming every problem with its path.
 */
export function parseScenario(text: string, source = 'scenario'): Scenario {
  let value: unknown
  try {
    value = parseYaml(text)
  } catch (e) {
    throw invalid(source, [
      { path: '', message: `is not YAML or JSON: ${e instanceof Error ? e.message : String(e)}` },
    ])
  }
  if (!check(value)) throw invalid(source, schemaErrors(check.errors ?? []))
  const s = value as Scenario
  const more = semanticErrors(s)
  if (more.length > 0) throw invalid(source, more)
  return s
}

/**
 * Loads a shipped scenario by name (`metro-100`) or a scenario file by path.
 *
 * @throws CasmError `CASM_ERR_NOT_FOUND` when neither exists, `CASM_ERR_VALIDATION` when invalid.
 */
export function loadScenario(nameOrPath: string): Scenario {
  const shipped = join(SCENARIO_DIR, `${nameOrPath}.yaml`)
  const file = (SHIPPED_SCENARIOS as readonly string[]).includes(nameOrPath) ? shipped : nameOrPath
  if (!existsSync(file) || !['.yaml', '.yml', '.json'].includes(extname(file).toLowerCase())) {
    throw new CasmError(
      'CASM_ERR_NOT_FOUND',
      `no scenario '${nameOrPath}': give a shipped name (${SHIPPED_SCENARIOS.join(', ')}) or a .yaml/.json file`,
    )
  }
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (e) {
    throw new CasmError(
      'CASM_ERR_INVALID_ARGUMENT',
      `cannot read ${file}: ${e instanceof Error ? e.message : String(e)}`,
    )
  }
  return parseScenario(text, file)
}
