/**
 * A bounded LRU for decisions. A Map keeps insertion order, so re-inserting on a hit moves the entry to
 * the young end and the oldest key is the first one: O(1) get/set/evict, memory capped by `maxEntries`
 * however many unique requests arrive.
 */
export class LruCache<V, T = undefined> {
  /**
   * `expiresAt` counts from `epoch`, not from 1970: a small integer is stored in the entry itself, where a
   * full timestamp would be a separate heap number per entry. `tag` is a second value kept beside the
   * first (the PDP keeps the context digest there), without an object of its own per entry.
   */
  private readonly map = new Map<string, { value: V; tag: T; expiresAt: number; seq: number }>();
  /** Insertion counter: an entry's `seq` says how far it is from the old (evicting) end. */
  private seq = 0;
  private readonly epoch: number;

  constructor(
    readonly maxEntries: number,
    private readonly ttlMs: number,
    private readonly clock: () => number = Date.now,
  ) {
    this.epoch = clock();
  }

  /** False when configured with no room: `get` and `set` then do nothing (callers can skip building keys). */
  get enabled(): boolean {
    return this.maxEntries > 0;
  }

  get(key: string): V | undefined {
    return this.entry(key)?.value;
  }

  /** The live entry for `key` (value and tag), counted as a hit; do not keep or change it. */
  entry(key: string): Readonly<{ value: V; tag: T }> | undefined {
    const hit = this.map.get(key);
    if (!hit) return undefined;
    if (hit.expiresAt <= this.clock() - this.epoch) {
      this.map.delete(key);
      return undefined;
    }
    // Move to the young end only when the entry is in the older half: one in the younger half is at least
    // maxEntries/2 insertions away from eviction, so re-inserting it on every hit (two Map writes on the
    // hottest path of a cached decision) buys nothing.
    if (this.seq - hit.seq > this.maxEntries / 2) {
      this.map.delete(key);
      hit.seq = ++this.seq;
      this.map.set(key, hit);
    }
    return hit;
  }

  set(key: string, value: V, ...[tag]: T extends undefined ? [] : [tag: T]): void {
    if (this.maxEntries <= 0) return;
    this.map.delete(key);
    this.map.set(key, {
      value,
      tag: tag as T,
      expiresAt: this.clock() - this.epoch + this.ttlMs,
      seq: ++this.seq,
    });
    if (this.map.size > this.maxEntries) {
      const oldest = this.map.keys().next();
      if (!oldest.done) this.map.delete(oldest.value);
    }
  }

  clear(): void {
    this.map.clear();
  }

  get size(): number {
    return this.map.size;
  }
}
