/**
 * Debian's chromium, driven by playwright-core, for the console's end-to-end tests: found on
 * PATH (never downloaded), launched headless with the flags that keep it off the network, and
 * screenshots written where the tests keep them.
 *
 * @module
 */
import { accessSync, constants, mkdirSync } from 'node:fs'
import { delimiter, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type Browser, type Page, chromium } from 'playwright-core'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

/**
 * Chromium's flags: headless, no sandbox (CI runs as root), no GPU, and none of the background
 * traffic (QUIC, component updates, sync) that would otherwise flood a closed network.
 */
export const CHROMIUM_ARGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

/** The `chromium` executable on PATH, or undefined when there is none. */
export function findChromium(): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (dir === '') continue
    const file = join(dir, 'chromium')
    try {
      accessSync(file, constants.X_OK)
      return file
    } catch {
      // not in this directory
    }
  }
  return undefined
}

/**
 * Why the browser tests cannot run here, or undefined when they can. Under `CI=true` a missing
 * chromium is a failure (CI installs it), not a reason to skip: this throws instead.
 */
export function chromiumSkipReason(): string | undefined {
  if (findChromium() !== undefined) return undefined
  const reason = 'chromium is not on PATH (apt-get install chromium; .ci/run installs it)'
  if (process.env['CI'] === 'true') throw new Error(`CI=true: ${reason}`)
  return reason
}

/** Launches the chromium on PATH headless, with {@link CHROMIUM_ARGS} and a fresh profile. */
export async function launchChromium(): Promise<Browser> {
  const executablePath = findChromium()
  if (executablePath === undefined) throw new Error('chromium is not on PATH')
  return chromium.launch({ executablePath, args: [...CHROMIUM_ARGS], headless: true })
}

/**
 * Where screenshots go: `test-results/console/<name>.png`, and, for the names in `docs`, also
 * the directory `CASM_SCREENSHOTS` names (e.g. `docs/img`), under the name `docs` maps them to.
 */
export class Screenshots {
  /** Every file written, for the test's log. */
  readonly written: string[] = []
  private readonly dir: string
  private readonly docsDir: string | undefined

  constructor(
    subdir: string,
    private readonly docs: Readonly<Record<string, string>> = {},
  ) {
    this.dir = join(ROOT, 'test-results', subdir)
    const env = process.env['CASM_SCREENSHOTS']
    this.docsDir = env === undefined || env === '' ? undefined : join(ROOT, env)
    mkdirSync(this.dir, { recursive: true })
  }

  /** Screenshots the page's viewport as `<name>.png`. */
  async take(page: Page, name: string): Promise<void> {
    const file = join(this.dir, `${name}.png`)
    await page.screenshot({ path: file })
    this.written.push(file)
    const docName = this.docs[name]
    if (this.docsDir !== undefined && docName !== undefined) {
      const docFile = join(this.docsDir, docName)
      mkdirSync(dirname(docFile), { recursive: true })
      await page.screenshot({ path: docFile })
      this.written.push(docFile)
    }
  }
}
