/**
 * What a simulation run leaves behind: CSV time series (the fleet, and each device) and one
 * self-contained HTML report with its plots drawn as inline SVG — no script, no network, so it
 * opens anywhere and can be mailed.
 *
 * @module
 */

import type { SimResult, SimSample } from './fleet-sim.js'

const DAY = 86_400

/** A number with thousands separators. */
export function grouped(n: number): string {
  return Math.round(n).toLocaleString('en-US')
}

/** The fleet's time series as CSV (one row per sample). */
export function seriesCsv(r: SimResult): string {
  const head =
    't_seconds,time,subscribers,demand,used,active,draining,quarantined,held,rejected,grants,routes'
  const rows = r.series.map((s) =>
    [
      s.t,
      new Date(Date.UTC(2026, 0, 5) + s.t * 1000).toISOString(),
      s.subscribers,
      round(s.demand),
      s.used,
      s.active,
      s.draining,
      s.quarantined,
      s.active + s.draining + s.quarantined,
      s.rejected,
      s.grants,
      s.routes,
    ].join(','),
  )
  return [head, ...rows].join('\n') + '\n'
}

/** Each device's demand and held space over time, as CSV (long form: one row per device and sample). */
export function devicesCsv(r: SimResult): string {
  const out = ['t_seconds,device,demand,held']
  for (const s of r.series) {
    if (s.deviceDemand === undefined || s.deviceHeld === undefined) continue
    r.devices.forEach((name, i) => {
      out.push(`${s.t},${name},${round(s.deviceDemand?.[i] ?? 0)},${s.deviceHeld?.[i] ?? 0}`)
    })
  }
  return out.join('\n') + '\n'
}

function round(n: number): number {
  return Math.round(n * 100) / 100
}

function esc(s: string): string {
  return s.replace(
    /[&<>"]/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] ?? c,
  )
}

/** A line of a chart. */
export interface ChartLine {
  readonly name: string
  readonly colour: string
  readonly points: readonly (readonly [number, number])[]
  readonly dashed?: boolean
  readonly fill?: boolean
}

/** Rounds a step up to 1, 2 or 5 times a power of ten. */
function niceStep(range: number, ticks: number): number {
  const raw = range / Math.max(1, ticks)
  const p = 10 ** Math.floor(Math.log10(raw || 1))
  const m = raw / p
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p
}

function shortNumber(n: number): string {
  const a = Math.abs(n)
  if (a >= 1e12) return `${round(n / 1e12)}T`
  if (a >= 1e9) return `${round(n / 1e9)}G`
  if (a >= 1e6) return `${round(n / 1e6)}M`
  if (a >= 1e3) return `${round(n / 1e3)}k`
  return String(round(n))
}

/**
 * A line chart as an SVG element: x in seconds (labelled in days), y from 0, a legend. Lines
 * with many points are thinned to about one point per pixel.
 */
export function lineChart(
  title: string,
  lines: readonly ChartLine[],
  o: { width?: number; height?: number; yLabel?: string; yMax?: number; percent?: boolean } = {},
): string {
  const w = o.width ?? 900
  const h = o.height ?? 300
  const m = { l: 64, r: 16, t: 28, b: 40 }
  const xs = lines.flatMap((l) => l.points.map((p) => p[0]))
  const ys = lines.flatMap((l) => l.points.map((p) => p[1]))
  const xMax = Math.max(1, ...xs)
  const yMax = o.yMax ?? Math.max(1, ...ys) * 1.05
  const px = (x: number): number => m.l + (x / xMax) * (w - m.l - m.r)
  const py = (y: number): number => h - m.b - (Math.min(y, yMax) / yMax) * (h - m.t - m.b)
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${w} ${h}" role="img" aria-label="${esc(title)}">`,
    `<text x="${m.l}" y="18" class="t">${esc(title)}</text>`,
  ]
  const yStep = niceStep(yMax, 5)
  for (let y = 0; y <= yMax; y += yStep) {
    parts.push(
      `<line x1="${m.l}" x2="${w - m.r}" y1="${py(y)}" y2="${py(y)}" class="g"/>`,
      `<text x="${m.l - 6}" y="${py(y) + 4}" text-anchor="end" class="a">${o.percent === true ? `${Math.round(y * 100)}%` : shortNumber(y)}</text>`,
    )
  }
  const dStep = Math.max(1, niceStep(xMax / DAY, 8))
  for (let d = 0; d * DAY <= xMax; d += dStep) {
    parts.push(
      `<text x="${px(d * DAY)}" y="${h - m.b + 16}" text-anchor="middle" class="a">day ${d}</text>`,
    )
  }
  if (o.yLabel !== undefined)
    parts.push(
      `<text x="14" y="${(h - m.b + m.t) / 2}" transform="rotate(-90 14 ${(h - m.b + m.t) / 2})" text-anchor="middle" class="a">${esc(o.yLabel)}</text>`,
    )
  for (const l of lines) {
    const every = Math.max(1, Math.floor(l.points.length / (w - m.l - m.r)))
    const pts = l.points.filter((_, i) => i % every === 0 || i === l.points.length - 1)
    if (pts.length === 0) continue
    const d = pts
      .map((p, i) => `${i === 0 ? 'M' : 'L'}${px(p[0]).toFixed(1)},${py(p[1]).toFixed(1)}`)
      .join('')
    if (l.fill === true) {
      const first = pts[0] as readonly [number, number]
      const last = pts[pts.length - 1] as readonly [number, number]
      parts.push(
        `<path d="${d}L${px(last[0]).toFixed(1)},${py(0)}L${px(first[0]).toFixed(1)},${py(0)}Z" fill="${l.colour}" fill-opacity="0.18" stroke="none"/>`,
      )
    }
    parts.push(
      `<path d="${d}" fill="none" stroke="${l.colour}" stroke-width="1.6"${l.dashed === true ? ' stroke-dasharray="6 4"' : ''}/>`,
    )
  }
  let lx = m.l
  for (const l of lines) {
    parts.push(
      `<rect x="${lx}" y="${h - 14}" width="12" height="4" fill="${l.colour}"/>`,
      `<text x="${lx + 16}" y="${h - 9}" class="a">${esc(l.name)}</text>`,
    )
    lx += 24 + l.name.length * 6.5
  }
  parts.push('</svg>')
  return parts.join('')
}

/** A horizontal bar chart of a few labelled values. */
export function barChart(
  title: string,
  bars: readonly { label: string; value: number; colour: string; note?: string }[],
): string {
  const w = 900
  const row = 34
  const h = 36 + bars.length * row
  const max = Math.max(1, ...bars.map((b) => b.value))
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${w} ${h}" role="img" aria-label="${esc(title)}">`,
    `<text x="8" y="18" class="t">${esc(title)}</text>`,
  ]
  bars.forEach((b, i) => {
    const y = 30 + i * row
    const bw = (b.value / max) * (w - 560)
    parts.push(
      `<text x="8" y="${y + 17}" class="a">${esc(b.label)}</text>`,
      `<rect x="200" y="${y + 4}" width="${bw.toFixed(1)}" height="20" fill="${b.colour}"/>`,
      `<text x="${206 + bw}" y="${y + 18}" class="a">${grouped(b.value)}${b.note === undefined ? '' : ` — ${esc(b.note)}`}</text>`,
    )
  })
  parts.push('</svg>')
  return parts.join('')
}

const STYLE = `body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:960px;color:#1b1f24;padding:0 12px}
h1{font-size:22px}h2{font-size:17px;margin-top:28px}svg{width:100%;height:auto;background:#fff}
.t{font:600 13px system-ui,sans-serif}.a{font:11px system-ui,sans-serif;fill:#444}.g{stroke:#e4e6ea}
table{border-collapse:collapse;margin:8px 0}td,th{padding:3px 10px;border-bottom:1px solid #e4e6ea;text-align:right}
td:first-child,th:first-child{text-align:left}.ok{color:#137333}.bad{color:#b3261e;font-weight:600}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(280px,1fr));gap:8px}
@media (prefers-color-scheme:dark){body{background:#111;color:#ddd}svg{background:#1b1b1b}.a{fill:#bbb}.g{stroke:#333}}`

/** The key figures of a run as label/value rows (terminal summary and HTML table). */
export function summaryRows(r: SimResult): [string, string][] {
  const u = r.units
  return [
    [
      'scenario',
      `${r.scenario} (seed ${r.seed}, ${r.days} day${r.days === 1 ? '' : 's'}, ${r.devices.length} devices)`,
    ],
    ['space casm needed (peak held)', `${grouped(r.space.casm)} ${u}`],
    ['static plan (each device at its peak)', `${grouped(r.space.staticPlan)} ${u}`],
    ['pooled lower bound (peak of the total)', `${grouped(r.space.pooledBound)} ${u}`],
    ['casm ÷ pooled bound', r.space.vsPooled.toFixed(3)],
    [
      'casm ÷ static plan',
      `${r.space.vsStatic.toFixed(3)} (${r.space.casm <= r.space.staticPlan ? `saves ${grouped(r.space.staticPlan - r.space.casm)}` : `needs ${grouped(r.space.casm - r.space.staticPlan)} more`} ${u})`,
    ],
    ['pool size', `${grouped(r.space.poolSize)} ${u}`],
    ['peak subscribers', grouped(r.subscribers.peak)],
    ['subscribers rejected', grouped(r.subscribers.rejected)],
    ['rejected while the pool had room', grouped(r.rejectedWhileFree)],
    [
      'grants: granted / drained / undrained / released',
      `${r.grants.granted} / ${r.grants.drained} / ${r.grants.undrained} / ${r.grants.released}`,
    ],
    [
      'routes per device: mean / max',
      `${r.routes.meanPerDevice.toFixed(1)} / ${r.routes.maxPerDevice}`,
    ],
    [
      'growth decision (wall): p50 / p99',
      `${r.reaction.growthDecisionP50Ms.toFixed(2)} / ${r.reaction.growthDecisionP99Ms.toFixed(2)} ms`,
    ],
    [
      'drain → release (simulated): p50 / p99',
      `${r.reaction.drainToReleaseP50Min.toFixed(0)} / ${r.reaction.drainToReleaseP99Min.toFixed(0)} min`,
    ],
    ['reports made short of space', grouped(r.reaction.shortReports)],
    [
      'coordinator: messages / events',
      `${grouped(r.coordinator.messages)} / ${grouped(r.coordinator.events)} (${grouped(r.coordinator.messagesPerSimDay)} a day, ${r.coordinator.meanMessageMs.toFixed(2)} ms each)`,
    ],
    [
      'wall time',
      `${r.wallSeconds.toFixed(1)} s (${r.simDaysPerMinute.toFixed(1)} simulated days a minute)`,
    ],
    ['invariants', r.violations.length === 0 ? 'held' : `${r.violations.length} broken`],
  ]
}

const COLOURS = [
  '#1a73e8',
  '#e8710a',
  '#12b5cb',
  '#9334e6',
  '#188038',
  '#d93025',
  '#f9ab00',
  '#5f6368',
]

function held(s: SimSample): number {
  return s.active + s.draining + s.quarantined
}

/** The devices worth a plot of their own: the largest, and a spread of the rest. */
function pickDevices(r: SimResult, n: number): number[] {
  const last = r.series[r.series.length - 1]
  const peaks = r.devices.map((_, i) => Math.max(...r.series.map((s) => s.deviceDemand?.[i] ?? 0)))
  const order = peaks.map((p, i) => [p, i] as const).sort((a, b) => b[0] - a[0])
  if (last?.deviceDemand === undefined) return []
  const step = Math.max(1, Math.floor(order.length / n))
  return order
    .filter((_, k) => k % step === 0)
    .slice(0, n)
    .map(([, i]) => i)
}

/** The self-contained HTML report of a run. */
export function htmlReport(r: SimResult, description = ''): string {
  const s = r.series
  const pts = (f: (x: SimSample) => number): [number, number][] => s.map((x) => [x.t, f(x)])
  const flat = (v: number): [number, number][] =>
    s.length === 0
      ? []
      : [
          [0, v],
          [s[s.length - 1]?.t ?? 0, v],
        ]
  const total = lineChart(
    `Demand and space held, whole fleet (${r.units})`,
    [
      {
        name: 'held (active + draining + quarantined)',
        colour: COLOURS[0] ?? '',
        points: pts(held),
        fill: true,
      },
      { name: 'demand', colour: COLOURS[1] ?? '', points: pts((x) => x.demand) },
      { name: 'static plan', colour: '#5f6368', points: flat(r.space.staticPlan), dashed: true },
      {
        name: 'pooled bound',
        colour: COLOURS[4] ?? '',
        points: flat(r.space.pooledBound),
        dashed: true,
      },
    ],
    { yLabel: r.units },
  )
  const parts = lineChart(
    'Where the held space is',
    [
      { name: 'active', colour: COLOURS[0] ?? '', points: pts((x) => x.active) },
      { name: 'draining', colour: COLOURS[1] ?? '', points: pts((x) => x.draining) },
      { name: 'quarantined', colour: COLOURS[3] ?? '', points: pts((x) => x.quarantined) },
    ],
    { yLabel: r.units, height: 240 },
  )
  const util = lineChart(
    'Utilisation: in use ÷ held',
    [
      {
        name: 'fleet',
        colour: COLOURS[0] ?? '',
        points: pts((x) => (held(x) === 0 ? 0 : x.used / held(x))),
      },
      {
        name: 'high watermark',
        colour: COLOURS[5] ?? '',
        points: flat(r.policy.highWatermark ?? 0.8),
        dashed: true,
      },
      {
        name: 'low watermark',
        colour: COLOURS[4] ?? '',
        points: flat(r.policy.lowWatermark ?? 0.2),
        dashed: true,
      },
    ],
    { yMax: 1, percent: true, height: 240 },
  )
  const routes = lineChart(
    'Routes per device (after aggregation) and rejected subscribers',
    [
      {
        name: 'routes per device',
        colour: COLOURS[2] ?? '',
        points: pts((x) => x.routes / Math.max(1, r.devices.length)),
      },
      { name: 'rejected (cumulative)', colour: COLOURS[5] ?? '', points: pts((x) => x.rejected) },
    ],
    { height: 220 },
  )
  const bars = barChart(`The three space figures (${r.units})`, [
    {
      label: 'static plan',
      value: r.space.staticPlan,
      colour: '#9aa0a6',
      note: 'each device at its own peak',
    },
    {
      label: 'casm',
      value: r.space.casm,
      colour: COLOURS[0] ?? '',
      note: `${r.space.vsStatic.toFixed(3)} × static, ${r.space.vsPooled.toFixed(3)} × pooled`,
    },
    {
      label: 'pooled lower bound',
      value: r.space.pooledBound,
      colour: COLOURS[4] ?? '',
      note: 'peak of the total demand',
    },
  ])
  const devices = pickDevices(r, 12).map((i) =>
    lineChart(
      r.devices[i] ?? '',
      [
        {
          name: 'held',
          colour: COLOURS[0] ?? '',
          points: s.map((x) => [x.t, x.deviceHeld?.[i] ?? 0]),
          fill: true,
        },
        {
          name: 'demand',
          colour: COLOURS[1] ?? '',
          points: s.map((x) => [x.t, x.deviceDemand?.[i] ?? 0]),
        },
      ],
      { width: 420, height: 200 },
    ),
  )
  const rows = summaryRows(r)
    .map(([k, v]) => `<tr><td>${esc(k)}</td><td>${esc(v)}</td></tr>`)
    .join('')
  const verdict =
    r.violations.length === 0
      ? '<p class="ok">Invariants held: no overlap, nothing released with users in it, nobody rejected while the pool had room, and the devices and the coordinator agree at the end.</p>'
      : `<p class="bad">Broken invariants:</p><ul>${r.violations.map((v) => `<li>${esc(v)}</li>`).join('')}</ul>`
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>casm sim ${esc(r.scenario)}</title><style>${STYLE}</style></head><body>
<h1>casm sim: ${esc(r.scenario)}</h1>
<p>${esc(description)}</p>
${verdict}
<h2>Summary</h2><table>${rows}</table>
${bars}
<h2>The fleet</h2>
${total}
${parts}
${util}
${routes}
<h2>Devices (${devices.length} of ${r.devices.length})</h2>
<div class="grid">${devices.join('')}</div>
<h2>Policy</h2><pre>${esc(JSON.stringify(r.policy, null, 2))}</pre>
<p>Space is counted in ${esc(r.units)}; one default unit is ${grouped(r.unitSize)}. The static plan sizes every device for its own peak over the run and the pooled bound is the peak of the fleet's total, both rounded up to whole units, from the same demand the run drove. casm's figure is the most space held at once: active and draining grants, and released space still in quarantine.</p>
</body></html>
`
}
