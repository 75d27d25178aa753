/**
 * Wakes the open streams of devices when messages for them are committed. A stream reads its
 * messages from the store (they are stored before they are sent); the hub only says "look now",
 * so nothing is lost when a wake-up is missed — streams also look on their own now and then,
 * which is how messages written by another coordinator sharing the database arrive.
 *
 * @module
 */

/** Subscribers per device. */
export class StreamHub {
  readonly #subscribers = new Map<string, Set<() => void>>()

  /** Calls `wake` whenever messages for `deviceId` are committed; returns the unsubscribe. */
  subscribe(deviceId: string, wake: () => void): () => void {
    let set = this.#subscribers.get(deviceId)
    if (set === undefined) {
      set = new Set()
      this.#subscribers.set(deviceId, set)
    }
    set.add(wake)
    return () => {
      set.delete(wake)
      if (set.size === 0) this.#subscribers.delete(deviceId)
    }
  }

  /** Wakes the streams of these devices. */
  notify(deviceIds: Iterable<string>): void {
    for (const id of deviceIds) for (const wake of this.#subscribers.get(id) ?? []) wake()
  }

  /** Open streams, for /metrics. */
  get size(): number {
    let n = 0
    for (const s of this.#subscribers.values()) n += s.size
    return n
  }
}
