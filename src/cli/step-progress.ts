/**
 * Progress of a command made of a known number of steps (reading files, parsing, sending,
 * applying): a bar on a terminal (cli-progress), one plain line per step otherwise, so logs and
 * pipes stay readable.
 *
 * @module
 */

import { SingleBar } from 'cli-progress'

/** Progress through `total` steps. */
export interface StepProgress {
  /** Starts the next step, named `label`. */
  step(label: string): void
  /** Ends the display. */
  done(): void
}

/**
 * A bar on a TTY, lines elsewhere (or with `quiet`, nothing).
 *
 * @example
 * ```ts
 * const p = stepProgress(3)
 * p.step('reading prefixes.csv (12 MB)'); p.step('parsing'); p.step('sending'); p.done()
 * ```
 */
export function stepProgress(
  total: number,
  options: { readonly stream?: NodeJS.WriteStream; readonly quiet?: boolean } = {},
): StepProgress {
  const stream = options.stream ?? process.stderr
  if (options.quiet === true) return { step: () => undefined, done: () => undefined }
  const started = Date.now()
  const seconds = (): string => `${((Date.now() - started) / 1000).toFixed(1)} s`
  if (!stream.isTTY) {
    let n = 0
    return {
      step(label) {
        n++
        stream.write(`[${n}/${total}] ${label} (${seconds()})\n`)
      },
      done() {
        stream.write(`done in ${seconds()}\n`)
      },
    }
  }
  const bar = new SingleBar({
    stream,
    format: ' {bar} {value}/{total} {label} ({time})',
    barCompleteChar: '█',
    barIncompleteChar: '░',
    hideCursor: true,
    clearOnComplete: false,
  })
  bar.start(total, 0, { label: '', time: seconds() })
  let n = 0
  return {
    step(label) {
      bar.update(n, { label, time: seconds() })
      n++
    },
    done() {
      bar.update(total, { label: 'done', time: seconds() })
      bar.stop()
    },
  }
}
