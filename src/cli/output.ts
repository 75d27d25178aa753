/**
 * Writing results for people (aligned tables, plain lines) and for scripts (JSON).
 *
 * @module
 */

/** Where a command writes its results. */
export interface Output {
  /** Prints a value as pretty JSON. */
  json(value: unknown): void
  /** Prints one item per line. */
  lines(items: readonly string[]): void
  /** Prints an aligned table with a header row. */
  table(header: readonly string[], rows: readonly (readonly string[])[]): void
}

/** An {@link Output} writing to `write` (stdout by default). */
export function createOutput(
  write: (text: string) => void = (t) => process.stdout.write(t),
): Output {
  return {
    json: (value) => {
      write(
        `${JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`,
      )
    },
    lines: (items) => {
      for (const item of items) write(`${item}\n`)
    },
    table: (header, rows) => {
      const widths = header.map((h, i) =>
        Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)),
      )
      const fmt = (cells: readonly string[]): string =>
        cells
          .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
          .join('  ')
          .trimEnd()
      write(`${fmt(header)}\n`)
      for (const row of rows) write(`${fmt(row)}\n`)
    },
  }
}
