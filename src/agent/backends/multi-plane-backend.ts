/**
 * CUPS (casm-drafts.md UC-14): one control plane, one device at the coordinator, several user
 * planes behind it that share the device's grants. Each plane has its own backend; this one
 * puts each new grant on the least-loaded plane and tags usage with the plane.
 *
 * @module
 */

import { CasmError } from '../../errors/casm-error.js'
import { Prefix } from '../../ip/index.js'
import {
  type Backend,
  type BackendGrant,
  type BackendUsage,
  type HeldGrant,
  usageUnits,
} from './backend.js'

/** One user plane: its name and its backend. */
export interface UserPlane {
  readonly name: string
  readonly backend: Backend
}

/**
 * Several user planes behind the {@link Backend} interface.
 *
 * Placement: a new prefix goes to the plane with the lowest load — addresses in use over
 * addresses in its active prefixes, as of the last {@link MultiPlaneBackend.usage} call — and a
 * plane without active space counts as load 0, so every plane gets space before any gets a
 * second prefix. Ties go to the plane with fewer prefixes, then to the first named.
 *
 * @example
 * ```ts
 * const b = new MultiPlaneBackend([
 *   { name: 'up1', backend: new SimBackend({ seed: 1 }) },
 *   { name: 'up2', backend: new SimBackend({ seed: 2 }) },
 * ])
 * await b.install({ grant: 'gr_1', prefix: '100.64.8.0/27', state: 'active' }) // on up1
 * await b.install({ grant: 'gr_2', prefix: '100.64.8.32/27', state: 'active' }) // on up2
 * ```
 */
export class MultiPlaneBackend implements Backend {
  /** @inheritdoc */
  readonly name: string
  /** @inheritdoc */
  readonly planes: readonly string[]
  private readonly byName: ReadonlyMap<string, Backend>
  /** Which plane holds each prefix. */
  private readonly placement = new Map<string, string>()
  /** Addresses in use per prefix at the last usage call. */
  private lastUsed = new Map<string, number>()

  constructor(planes: readonly UserPlane[]) {
    const names = planes.map((p) => p.name)
    if (names.length === 0 || new Set(names).size !== names.length)
      throw new CasmError(
        'CASM_ERR_VALIDATION',
        `user planes need distinct names; got ${JSON.stringify(names)}`,
        { planes: names },
      )
    this.planes = names
    this.byName = new Map(planes.map((p) => [p.name, p.backend]))
    this.name = planes[0]?.backend.name ?? 'multi'
  }

  /** @inheritdoc */
  async start(): Promise<void> {
    for (const [name, backend] of this.byName) {
      await backend.start()
      for (const h of await backend.holds()) this.placement.set(h.prefix, name)
    }
  }

  /** @inheritdoc */
  async install(grant: BackendGrant): Promise<void> {
    const prefix = canonical(grant.prefix)
    const plane = this.placement.get(prefix) ?? (await this.leastLoaded())
    await this.plane(plane).install({ ...grant, prefix })
    this.placement.set(prefix, plane)
  }

  /** @inheritdoc */
  async drain(grant: BackendGrant): Promise<void> {
    const plane = this.placement.get(canonical(grant.prefix))
    if (plane !== undefined) await this.plane(plane).drain(grant)
  }

  /** @inheritdoc */
  async undrain(grant: BackendGrant): Promise<void> {
    const plane = this.placement.get(canonical(grant.prefix))
    if (plane !== undefined) await this.plane(plane).undrain(grant)
  }

  /** @inheritdoc */
  async remove(grant: BackendGrant): Promise<void> {
    const prefix = canonical(grant.prefix)
    const plane = this.placement.get(prefix)
    if (plane === undefined) return
    await this.plane(plane).remove(grant)
    this.placement.delete(prefix)
  }

  /** @inheritdoc */
  async usage(): Promise<readonly BackendUsage[]> {
    const out: BackendUsage[] = []
    for (const [name, backend] of this.byName)
      for (const u of await backend.usage()) out.push({ ...u, plane: name })
    this.lastUsed = new Map(out.map((u) => [u.prefix, u.used]))
    return out
  }

  /** @inheritdoc */
  async holds(): Promise<readonly HeldGrant[]> {
    const out: HeldGrant[] = []
    for (const [name, backend] of this.byName)
      for (const h of await backend.holds()) {
        out.push({ ...h, plane: name })
        this.placement.set(h.prefix, name)
      }
    return out
  }

  /** @inheritdoc */
  describe(): Record<string, unknown> {
    const out: Record<string, unknown> = {}
    for (const [name, backend] of this.byName) {
      const d = backend.describe?.()
      if (d !== undefined) out[name] = d
    }
    return out
  }

  /** @inheritdoc */
  async stop(): Promise<void> {
    for (const backend of this.byName.values()) await backend.stop()
  }

  /** The plane the next new prefix would go to. */
  async leastLoaded(): Promise<string> {
    let best: { name: string; load: number; count: number } | undefined
    for (const [name, backend] of this.byName) {
      const held = await backend.holds()
      let capacity = 0
      let used = 0
      for (const h of held) {
        if (h.state !== 'active') continue
        capacity += usageUnits(h.prefix)
        used += this.lastUsed.get(h.prefix) ?? 0
      }
      const load = capacity === 0 ? 0 : used / capacity
      if (
        best === undefined ||
        load < best.load ||
        (load === best.load && held.length < best.count)
      )
        best = { name, load, count: held.length }
    }
    return (best as { name: string }).name
  }

  private plane(name: string): Backend {
    const b = this.byName.get(name)
    if (b === undefined) throw new CasmError('CASM_ERR_INTERNAL', `no user plane '${name}'`)
    return b
  }
}

function canonical(prefix: string): string {
  return Prefix.parse(prefix).toString()
}
