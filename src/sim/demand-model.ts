/**
 * The subscriber demand of a simulated fleet: per device a daily cycle with its own peak and
 * phase, a growth trend and slow noise, changed by the scenario's events (a reboot drops every
 * subscriber and brings them back; a failure moves them to the neighbours and back). A pure
 * function of the scenario, the seed and the time, so the references (static plan, pooled bound)
 * are computed from exactly the demand the simulation drives.
 *
 * @module
 */

import { SeededRandom } from '../agent/backends/seeded-random.js'
import { atSeconds, deviceNames, type Scenario } from './scenario.js'

/** One device's demand parameters, drawn from its group for a seed. */
export interface DeviceDemand {
  readonly name: string
  readonly group: string
  /** Subscribers at the daily peak on day 0. */
  readonly peak: number
  /** Fraction of the peak at the daily low. */
  readonly trough: number
  /** Hour of the daily peak. */
  readonly peakHour: number
  readonly trendPerDay: number
  readonly noise: number
  /** Noise: three slow waves (periods in seconds, phases, weights). */
  readonly waves: readonly { readonly period: number; readonly phase: number }[]
}

/** A change of the demand of devices from `start` on (reboot or failure). */
interface Outage {
  readonly device: number
  /** Seconds into the run. */
  readonly start: number
  /** When the device is back (start for a reboot). */
  readonly end: number
  readonly reconnect: number
  /** Devices that take its subscribers meanwhile (failure). */
  readonly to: readonly number[]
}

/** An instant at which a device loses every subscriber at once. */
export interface Drop {
  readonly device: number
  readonly at: number
}

const DAY = 86_400

/** Linear ramp 0→1 over `seconds` from `from` (1 at once when `seconds` is 0). */
function ramp(t: number, from: number, seconds: number): number {
  if (t < from) return 0
  if (seconds <= 0) return 1
  return Math.min(1, (t - from) / seconds)
}

/** The demand of every device of a scenario, as a function of time. */
export class DemandModel {
  readonly devices: readonly DeviceDemand[]
  readonly #outages: readonly Outage[]
  readonly #byName: ReadonlyMap<string, number>

  constructor(scenario: Scenario, seed: number) {
    const rnd = new SeededRandom(seed)
    const names = deviceNames(scenario)
    let k = 0
    const devices: DeviceDemand[] = []
    for (const g of scenario.devices) {
      for (let i = 0; i < g.count; i++) {
        // Log-normal spread of the peak keeps every device positive; normal spread of the hour.
        const spread = g.peak.spread ?? 0
        const peak = g.peak.mean * Math.exp(spread * rnd.normal() - (spread * spread) / 2)
        const hour = g.peakHour.mean + (g.peakHour.spread ?? 0) * rnd.normal()
        devices.push({
          name: names[k++] ?? '',
          group: g.group,
          peak: Math.max(1, peak),
          trough: g.trough,
          peakHour: ((hour % 24) + 24) % 24,
          trendPerDay:
            typeof g.trendPerDay === 'object'
              ? g.trendPerDay.mean + g.trendPerDay.spread * rnd.normal()
              : (g.trendPerDay ?? 0),
          noise: g.noise ?? 0,
          waves: [0, 1, 2].map((j) => ({
            period: (2 + 4 * rnd.next()) * 3600 * (j + 1),
            phase: 2 * Math.PI * rnd.next(),
          })),
        })
      }
    }
    this.devices = devices
    this.#byName = new Map(devices.map((d, i) => [d.name, i]))
    this.#outages = (scenario.events ?? []).map((e) => {
      const start = atSeconds(e.at)
      const reconnect = (e.reconnectMinutes ?? (e.type === 'reboot' ? 10 : 5)) * 60
      return {
        device: this.#index(e.device),
        start,
        end: e.type === 'fail' ? start + e.minutes * 60 : start,
        reconnect,
        to: e.type === 'fail' ? e.to.map((n) => this.#index(n)) : [],
      }
    })
  }

  #index(name: string): number {
    const i = this.#byName.get(name)
    if (i === undefined) throw new Error(`unknown device ${name}`)
    return i
  }

  /** The device's own demand at `t` seconds into the run, before events. */
  baseAt(i: number, t: number): number {
    const d = this.devices[i]
    if (d === undefined) return 0
    const hour = (t % DAY) / 3600
    const cycle = 0.5 + 0.5 * Math.cos((2 * Math.PI * (hour - d.peakHour)) / 24)
    let n = 0
    for (const w of d.waves) n += Math.sin((2 * Math.PI * t) / w.period + w.phase)
    const level = d.trough + (1 - d.trough) * cycle
    return Math.max(0, d.peak * (1 + d.trendPerDay * (t / DAY)) * level * (1 + (d.noise * n) / 3))
  }

  /** Subscribers device `i` should have at `t` seconds into the run (a whole number). */
  subscribersAt(i: number, t: number): number {
    let own = 1
    let extra = 0
    for (const o of this.#outages) {
      if (o.device === i) {
        // Down from start to end, then its subscribers come back over the reconnect time.
        if (t >= o.start && t < o.end) own = 0
        else if (t >= o.end) own = Math.min(own, ramp(t, o.end, o.reconnect))
      } else if (o.to.includes(i) && t >= o.start) {
        // A neighbour takes its share while the device is down, and gives it back after.
        const share = this.baseAt(o.device, t) / o.to.length
        const coming = ramp(t, o.start, o.reconnect)
        const leaving = t >= o.end ? ramp(t, o.end, o.reconnect) : 0
        extra += share * Math.max(0, coming - leaving)
      }
    }
    return Math.round(this.baseAt(i, t) * own + extra)
  }

  /** Whether device `i` is down (failed, not yet back) at `t`: it neither serves nor reports. */
  isDown(i: number, t: number): boolean {
    return this.#outages.some((o) => o.device === i && t >= o.start && t < o.end)
  }

  /** The instants at which devices lose every subscriber at once (reboots, failures). */
  drops(): Drop[] {
    return this.#outages.map((o) => ({ device: o.device, at: o.start }))
  }
}
