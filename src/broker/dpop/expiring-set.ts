/**
 * A set whose entries expire: the DPoP `jti` replay cache and the client-assertion `jti` cache. Entries live
 * only as long as the thing they protect could still be accepted, so memory is bounded by rate × window
 * rather than growing forever. Pruning is incremental (insertion order ≈ expiry order).
 */
export class ExpiringSet {
  private readonly entries = new Map<string, number>();

  /** Adds `key` until `expiresAtMs`; false if it is already present and unexpired (a replay). */
  addIfAbsent(key: string, expiresAtMs: number, nowMs: number): boolean {
    this.prune(nowMs, 64);
    const existing = this.entries.get(key);
    if (existing !== undefined && existing > nowMs) return false;
    this.entries.delete(key);
    this.entries.set(key, expiresAtMs);
    return true;
  }

  /** Drops up to `budget` expired entries from the oldest end. */
  prune(nowMs: number, budget = Infinity): void {
    let n = 0;
    for (const [k, exp] of this.entries) {
      if (n++ >= budget || exp > nowMs) break;
      this.entries.delete(k);
    }
  }

  get size(): number {
    return this.entries.size;
  }
}
