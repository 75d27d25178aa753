/**
 * `casm sim SCENARIO` and `casm sim sweep SCENARIO`: the fleet simulator from the command line.
 * A run prints progress and a summary table, and writes its report (HTML), time series (CSV) and
 * result (JSON) into a directory; a sweep writes a table and a plot.
 *
 * @module
 */

import { mkdirSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { Command } from 'commander'
import { CasmError } from '../errors/casm-error.js'
import { type SimResult, runSimulation } from '../sim/fleet-sim.js'
import { type SweepGrid, policyLabel, runSweep, sweepCsv, sweepHtml } from '../sim/policy-sweep.js'
import { SHIPPED_SCENARIOS, loadScenario } from '../sim/scenario.js'
import { devicesCsv, grouped, htmlReport, seriesCsv, summaryRows } from '../sim/sim-report.js'
import { createOutput } from './output.js'
import { stepProgress } from './step-progress.js'

const bad = (message: string, option: string): CasmError =>
  new CasmError('CASM_ERR_VALIDATION', message, { option })

function number(
  text: string | undefined,
  option: string,
  min: number,
  max: number,
): number | undefined {
  if (text === undefined) return undefined
  const n = Number(text)
  if (!Number.isFinite(n) || n < min || n > max)
    throw bad(`${option} '${text}' is not a number ${min}..${max}`, option)
  return n
}

/** Parses a comma-separated list of numbers for a sweep option. */
export function numberList(
  text: string | undefined,
  option: string,
  min: number,
  max: number,
): number[] | undefined {
  if (text === undefined) return undefined
  const out = text.split(',').map((x) => x.trim())
  if (out.some((x) => x === ''))
    throw bad(`${option} '${text}' has an empty value; give numbers separated by commas`, option)
  return out.map((x) => number(x, option, min, max) ?? 0)
}

function writeOut(dir: string, files: Record<string, string>): string[] {
  mkdirSync(dir, { recursive: true })
  return Object.entries(files).map(([name, text]) => {
    const p = join(dir, name)
    writeFileSync(p, text)
    return p
  })
}

/** The result without its series: what `--json` prints and `result.json` holds. */
export function resultSummary(r: SimResult): Omit<SimResult, 'series'> {
  const { series: _series, ...rest } = r
  return rest
}

/** The `casm sim` command with its `sweep` subcommand. */
export function simCommand(): Command {
  const sim = new Command('sim')
    // Options after `sweep` are the sweep's own (both have --days, --out, --json).
    .enablePositionalOptions()
    .description(
      'simulate a fleet of devices against a real coordinator: how much space does casm need?',
    )
    .argument(
      '[scenario]',
      `a shipped scenario (${SHIPPED_SCENARIOS.join(', ')}) or a .yaml/.json file`,
    )
    .option('--days <n>', "simulated days (default: the scenario's)")
    .option('--seed <n>', "random seed (default: the scenario's)")
    .option(
      '--out <dir>',
      'where to write report.html, series.csv, devices.csv and result.json',
      './sim-out',
    )
    .option('--list', 'list the shipped scenarios')
    .option('--json', 'print the result as JSON (no table, no progress)')
    .addHelpText(
      'after',
      '\nExamples:\n  casm sim metro-100                 # 100 BNGs for 7 simulated days, report in ./sim-out/metro-100\n' +
        '  casm sim failover --days 2 --json\n  casm sim sweep metro-100 --high 0.85,0.9,0.95 --unit 23,24,25 --days 1\n',
    )
    .action(async (name: string | undefined, o: Record<string, string | boolean | undefined>) => {
      const out = createOutput()
      if (o['list'] === true || name === undefined) {
        const rows = SHIPPED_SCENARIOS.map((n) => {
          const s = loadScenario(n)
          return {
            name: n,
            days: s.days,
            devices: s.devices.reduce((a, g) => a + g.count, 0),
            family: s.family,
            kind: s.kind,
            description: s.description ?? '',
          }
        })
        if (o['json'] === true) out.json(rows)
        else
          out.table(
            ['scenario', 'days', 'devices', 'family', 'kind', 'description'],
            rows.map((r) => [
              r.name,
              String(r.days),
              String(r.devices),
              r.family,
              r.kind,
              r.description,
            ]),
          )
        return
      }
      const scenario = loadScenario(name)
      const days = number(o['days'] as string | undefined, '--days', 0.01, 3650)
      const seed = number(o['seed'] as string | undefined, '--seed', 0, 4294967295)
      const json = o['json'] === true
      const quarters = Math.max(1, Math.ceil((days ?? scenario.days) * 4))
      const progress = stepProgress(quarters + 1, { quiet: json })
      let shown = 0
      const result = await runSimulation(scenario, {
        ...(days === undefined ? {} : { days }),
        ...(seed === undefined ? {} : { seed: Math.floor(seed) }),
        onProgress: (p) => {
          const q = Math.floor((p.simSeconds / Math.max(1, p.totalSeconds)) * quarters + 1e-9)
          while (shown < q) {
            shown++
            progress.step(
              `day ${(p.simSeconds / 86_400).toFixed(2)}: demand ${grouped(p.demand)}, held ${grouped(p.held)}, rejected ${grouped(p.rejected)}`,
            )
          }
        },
      })
      progress.step('writing the report')
      progress.done()
      const dir = resolve(String(o['out'] ?? './sim-out'), scenario.name)
      const files = writeOut(dir, {
        'report.html': htmlReport(result, scenario.description ?? ''),
        'series.csv': seriesCsv(result),
        'devices.csv': devicesCsv(result),
        'result.json': `${JSON.stringify(resultSummary(result), null, 2)}\n`,
      })
      if (json) {
        out.json({ ...resultSummary(result), files })
      } else {
        out.table(['', ''], summaryRows(result))
        out.lines(['', ...files.map((f) => `wrote ${f}`)])
        for (const v of result.violations) process.stderr.write(`invariant broken: ${v}\n`)
      }
      if (result.violations.length > 0) process.exitCode = 1
    })

  sim
    .command('sweep')
    .description(
      'run a scenario under every combination of policy values: space needed against subscribers rejected',
    )
    .argument('<scenario>', 'a shipped scenario or a .yaml/.json file')
    .option('--high <list>', 'high watermarks, e.g. 0.85,0.9,0.95')
    .option('--low <list>', 'low watermarks, e.g. 0.6,0.75')
    .option('--unit <list>', 'default unit lengths, e.g. 23,24,25')
    .option('--hold-down <list>', 'hold-down times in seconds, e.g. 900,3600')
    .option(
      '--lead-time <list>',
      'forecast lead times in seconds; 0 turns the forecast off, e.g. 0,1800',
    )
    .option('--days <n>', 'simulated days per run (default 1)', '1')
    .option('--seed <n>', "random seed (default: the scenario's)")
    .option('--out <dir>', 'where to write sweep.html and sweep.csv', './sim-out')
    .option('--json', 'print the result as JSON')
    .action(async (name: string, o: Record<string, string | boolean | undefined>) => {
      const out = createOutput()
      const scenario = loadScenario(name)
      const grid: SweepGrid = {
        ...opt('highWatermark', numberList(o['high'] as string | undefined, '--high', 0.01, 1)),
        ...opt('lowWatermark', numberList(o['low'] as string | undefined, '--low', 0, 0.99)),
        ...opt('unitDefault', numberList(o['unit'] as string | undefined, '--unit', 1, 128)),
        ...opt(
          'holdDown',
          numberList(o['holdDown'] as string | undefined, '--hold-down', 0, 86_400),
        ),
        ...opt(
          'leadTime',
          numberList(o['leadTime'] as string | undefined, '--lead-time', 0, 86_400),
        ),
      }
      if (Object.keys(grid).length === 0)
        throw bad(
          'give at least one of --high, --low, --unit, --hold-down, --lead-time with values to try',
          '--high',
        )
      const days = number(o['days'] as string | undefined, '--days', 0.01, 365)
      const seed = number(o['seed'] as string | undefined, '--seed', 0, 4294967295)
      const json = o['json'] === true
      let progress: ReturnType<typeof stepProgress> | undefined
      const result = await runSweep(scenario, grid, {
        ...(days === undefined ? {} : { days }),
        ...(seed === undefined ? {} : { seed: Math.floor(seed) }),
        onRun: (done, total, row) => {
          progress ??= stepProgress(total, { quiet: json })
          progress.step(
            `${done}/${total} ${policyLabel(row.policy)}: ${row.vsPooled.toFixed(3)} × pooled, ${row.rejected} rejected`,
          )
        },
      })
      progress?.done()
      const files = writeOut(resolve(String(o['out'] ?? './sim-out'), `${scenario.name}-sweep`), {
        'sweep.html': sweepHtml(result),
        'sweep.csv': sweepCsv(result),
      })
      if (json) {
        out.json({ ...result, files })
        return
      }
      out.table(
        [
          '#',
          'policy',
          `casm (${result.units})`,
          '× pooled',
          '× static',
          'rejected',
          'grants',
          'routes/dev',
          'best',
        ],
        result.rows.map((r, i) => [
          String(i + 1),
          policyLabel(r.policy),
          grouped(r.casm),
          r.vsPooled.toFixed(3),
          r.vsStatic.toFixed(3),
          grouped(r.rejected),
          grouped(r.grants),
          r.routesMean.toFixed(1),
          r.pareto ? '*' : '',
        ]),
      )
      out.lines([
        '',
        `static plan ${grouped(result.staticPlan)}, pooled bound ${grouped(result.pooledBound)} ${result.units}; * = no other policy needs less space, rejects fewer and needs fewer routes`,
        ...files.map((f) => `wrote ${f}`),
      ])
    })
  return sim
}

function opt(key: keyof SweepGrid, values: number[] | undefined): SweepGrid {
  return values === undefined ? {} : { [key]: values }
}
