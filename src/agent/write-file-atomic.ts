/**
 * Atomic file replacement: a reader (or the agent after a crash) sees the old content or the new
 * one, never a torn mix.
 *
 * @module
 */

import { open, rename, rm } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'

let sequence = 0

/**
 * Writes `text` to `path` through a temporary file in the same directory: write, fsync, rename
 * over `path`, fsync the directory. A crash at any point leaves either the old file or the new.
 *
 * @example
 * ```ts
 * await writeFileAtomic('/var/lib/casm-agent/agent-state.json', JSON.stringify(state))
 * ```
 */
export async function writeFileAtomic(path: string, text: string, mode = 0o600): Promise<void> {
  const dir = dirname(path)
  const temp = join(dir, `.${basename(path)}.${process.pid}.${++sequence}.tmp`)
  try {
    const file = await open(temp, 'w', mode)
    try {
      await file.writeFile(text, 'utf8')
      await file.sync()
    } finally {
      await file.close()
    }
    await rename(temp, path)
  } catch (error) {
    await rm(temp, { force: true })
    throw error
  }
  try {
    const d = await open(dir, 'r')
    try {
      await d.sync()
    } finally {
      await d.close()
    }
  } catch {
    // Some file systems cannot fsync a directory; the rename is still atomic there.
  }
}
