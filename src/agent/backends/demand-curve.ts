/**
 * Target demand of the simulated subscriber population over time: how many subscribers want to
 * be online at each moment.
 *
 * @module
 */

import { CasmError } from '../../errors/casm-error.js'

/**
 * A demand curve; times in seconds of simulated time since the simulation started.
 *
 * ```
 * constant   ───────────────         level
 * ramp         ╱─────────            from → to over `seconds`, then `to`
 *            ─╯
 * sine       ╭╮    ╭╮    ╭╮          trough..peak, `period` long, peaking at `phase` (mod period)
 *           ╯  ╰──╯  ╰──╯  ╰
 * steps      ──┐  ┌──┐               `level` from each `at` until the next step
 *              └──┘  └──
 * ```
 */
export type DemandCurve =
  | { readonly kind: 'constant'; readonly level: number }
  | { readonly kind: 'ramp'; readonly from: number; readonly to: number; readonly seconds: number }
  | {
      readonly kind: 'sine'
      readonly peak: number
      readonly trough: number
      readonly period: number
      readonly phase: number
    }
  | {
      readonly kind: 'steps'
      readonly steps: readonly { readonly at: number; readonly level: number }[]
    }

/**
 * The demand at `t` seconds.
 *
 * @example
 * ```ts
 * demandAt({ kind: 'ramp', from: 0, to: 100, seconds: 60 }, 30) // 50
 * ```
 */
export function demandAt(curve: DemandCurve, t: number): number {
  switch (curve.kind) {
    case 'constant':
      return curve.level
    case 'ramp':
      if (t >= curve.seconds || curve.seconds <= 0) return curve.to
      return curve.from + ((curve.to - curve.from) * Math.max(0, t)) / curve.seconds
    case 'sine':
      return (
        curve.trough +
        ((curve.peak - curve.trough) *
          (1 + Math.cos((2 * Math.PI * (t - curve.phase)) / curve.period))) /
          2
      )
    case 'steps': {
      let level = curve.steps[0]?.level ?? 0
      for (const s of curve.steps) {
        if (s.at > t) break
        level = s.level
      }
      return level
    }
  }
}

/**
 * Parses a curve given on the command line: a kind, then `key=value` pairs, comma-separated.
 * Levels default to `defaultLevel` (`--sim-subscribers`).
 *
 * - `constant[,level=N]`
 * - `ramp[,from=0][,to=N][,seconds=3600]`
 * - `sine[,peak=N][,trough=0][,period=86400][,phase=0]` (`phase`: when the peak is, in seconds)
 * - `steps,AT=N,AT=N...` (e.g. `steps,0=100,600=400,1200=50`)
 *
 * @throws CasmError `CASM_ERR_VALIDATION` for an unknown kind, key or a bad number.
 *
 * @example
 * ```ts
 * parseDemandCurve('sine,peak=500,period=3600', 100)
 * // { kind: 'sine', peak: 500, trough: 0, period: 3600, phase: 0 }
 * ```
 */
export function parseDemandCurve(text: string, defaultLevel: number): DemandCurve {
  const [kind = '', ...parts] = text.split(',').map((p) => p.trim())
  const fail = (why: string): CasmError =>
    new CasmError(
      'CASM_ERR_VALIDATION',
      `--sim-curve '${text}': ${why}. Write constant[,level=N], ramp[,from=N,to=N,seconds=S], ` +
        'sine[,peak=N,trough=N,period=S,phase=S] or steps,AT=N,AT=N...',
      { option: '--sim-curve', value: text },
    )
  const pairs = parts
    .filter((p) => p !== '')
    .map((p) => {
      const eq = p.indexOf('=')
      if (eq < 0) throw fail(`'${p}' is not key=value`)
      const value = Number(p.slice(eq + 1))
      if (p.slice(eq + 1).trim() === '' || !Number.isFinite(value) || value < 0)
        throw fail(`'${p}' needs a number >= 0`)
      return [p.slice(0, eq).trim(), value] as const
    })
  const take = (allowed: readonly string[]): Map<string, number> => {
    const m = new Map<string, number>()
    for (const [k, v] of pairs) {
      if (!allowed.includes(k)) throw fail(`unknown key '${k}' for ${kind}`)
      m.set(k, v)
    }
    return m
  }
  switch (kind) {
    case 'constant': {
      const m = take(['level'])
      return { kind, level: m.get('level') ?? defaultLevel }
    }
    case 'ramp': {
      const m = take(['from', 'to', 'seconds'])
      return {
        kind,
        from: m.get('from') ?? 0,
        to: m.get('to') ?? defaultLevel,
        seconds: m.get('seconds') ?? 3600,
      }
    }
    case 'sine': {
      const m = take(['peak', 'trough', 'period', 'phase'])
      const period = m.get('period') ?? 86_400
      if (period <= 0) throw fail('period must be > 0')
      return {
        kind,
        peak: m.get('peak') ?? defaultLevel,
        trough: m.get('trough') ?? 0,
        period,
        phase: m.get('phase') ?? 0,
      }
    }
    case 'steps': {
      if (pairs.length === 0) throw fail('give at least one AT=N step')
      const steps = pairs.map(([k, level]) => {
        const at = Number(k)
        if (k === '' || !Number.isFinite(at) || at < 0) throw fail(`'${k}' is not a time >= 0`)
        return { at, level }
      })
      return { kind, steps: steps.sort((a, b) => a.at - b.at) }
    }
    default:
      throw fail(`unknown curve '${kind}'`)
  }
}
