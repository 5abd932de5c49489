/**
 * A set whose entries expire: the DPoP `jti` replay cache and the client-assertion `jti` cache. An entry lives
 * only as long as the proof it remembers could still be accepted, so memory is bounded by rate × window, not
 * by uptime. To stay small at 10k proofs/s, a key is kept as a 64-bit digest in an 8-character one-byte
 * string (a collision makes a fresh proof look replayed — refused, never accepted — with odds around 2^-64 per
 * pair), and expiry is tracked in per-second buckets instead of a value per entry.
 */
import { createHash } from 'node:crypto';

export class ExpiringSet {
  private readonly members = new Set<string>();
  /** Expiry second → digests that expire then. */
  private readonly buckets = new Map<number, string[]>();
  private oldest = Infinity;

  private static digest(key: string): string {
    return createHash('sha256').update(key).digest().toString('latin1', 0, 8);
  }

  /**
   * Adds `key` until `expiresAtMs` inclusive (pass the last instant the proof is accepted); false if it is
   * already present (a replay).
   */
  addIfAbsent(key: string, expiresAtMs: number, nowMs: number): boolean {
    this.prune(nowMs);
    const d = ExpiringSet.digest(key);
    if (this.members.has(d)) return false;
    this.members.add(d);
    const sec = Math.ceil(expiresAtMs / 1000);
    let bucket = this.buckets.get(sec);
    if (!bucket) {
      bucket = [];
      this.buckets.set(sec, bucket);
      if (sec < this.oldest) this.oldest = sec;
    }
    bucket.push(d);
    return true;
  }

  /**
   * Drops every bucket whose second lies strictly before now. An entry is still held at its expiry instant:
   * dropping it then would let a proof accepted at exactly that instant be replayed.
   */
  prune(nowMs: number): void {
    const current = Math.ceil(nowMs / 1000);
    if (this.oldest >= current) return;
    for (const [sec, bucket] of this.buckets) {
      if (sec >= current) continue;
      for (const d of bucket) this.members.delete(d);
      this.buckets.delete(sec);
    }
    this.oldest = Infinity;
    for (const sec of this.buckets.keys()) if (sec < this.oldest) this.oldest = sec;
  }

  get size(): number {
    return this.members.size;
  }
}
