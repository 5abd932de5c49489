/**
 * Durable revocations (invariant 3). A revocation is written to the store (and audited) before it is
 * acknowledged, then held in memory as a hash set so the check is O(1) whatever its size. Other replicas pick
 * new rows up by polling from the `revoked_at` watermark minus an overlap (see POLL_OVERLAP_MS); a restart
 * reloads everything still relevant. Entries
 * that can no longer match anything (every token they could cover has expired) are forgotten.
 */
import { randomBytes } from 'node:crypto';
import type { AuditLog } from '../../audit/audit-log.js';
import { coreTrx, type BrokerDb, type BrokerDatabase } from '../tables.js';
import type { Transaction } from 'kysely';

export type RevocationKind = 'token' | 'task' | 'identity' | 'credential';
const REVOCATION_KINDS: ReadonlySet<unknown> = new Set<RevocationKind>([
  'token',
  'task',
  'identity',
  'credential',
]);

export interface Revocation {
  id: string;
  kind: RevocationKind;
  target: string;
  revoked_at: string;
  expires_at: string | null;
  reason: string | null;
  actor: string;
}

/**
 * How far behind the newest `revoked_at` seen each poll looks again. A row is stamped by its writer's clock
 * before it commits, so it can become visible after a newer row was already polled (a slower concurrent
 * commit, or a replica whose clock is behind): a plain `>= watermark` poll would never load it. Rows in the
 * overlap are de-duplicated by id. Covers commit lag plus clock skew between replicas up to this much.
 */
export const POLL_OVERLAP_MS = 10_000;

/** How long after its expiry a stored revocation row is kept (far beyond any clock skew between replicas). */
export const PURGE_AFTER_MS = 3_600_000;

export class RevocationSet {
  /** `kind|target` → when it may be forgotten and when it was revoked (epoch ms). */
  private readonly entries = new Map<string, { exp: number; at: number }>();
  /** Newest `revoked_at` polled (epoch ms). */
  private watermark = -Infinity;
  /** Row id → `revoked_at` (epoch ms) of the rows polled within the overlap, so a re-read is not re-applied. */
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly db: BrokerDb,
    private readonly audit: AuditLog,
    private readonly now: () => Date,
    /** Called with each revocation committed through this process (to tell other replicas). */
    private readonly announce?: (r: Revocation) => void,
  ) {}

  /** Loads every revocation that can still match (and those with no expiry). */
  async load(): Promise<void> {
    await this.poll();
  }

  /** Picks up rows written since the last poll (by this or another replica), looking back POLL_OVERLAP_MS. */
  async poll(): Promise<number> {
    const from = this.watermark - POLL_OVERLAP_MS;
    const rows = await this.db
      .selectFrom('broker_revocations')
      .selectAll()
      .$if(from > -Infinity, (q) => q.where('revoked_at', '>=', new Date(from).toISOString()))
      .orderBy('revoked_at')
      .execute();
    let added = 0;
    for (const r of rows) {
      if (this.seen.has(r.id)) continue;
      const at = Date.parse(r.revoked_at);
      this.seen.set(r.id, at);
      if (at > this.watermark) this.watermark = at;
      this.remember(r.kind as RevocationKind, r.target, r.expires_at, r.revoked_at);
      added++;
    }
    // Ids below the window are never read again: keeps the seen set as small as the overlap.
    const floor = this.watermark - POLL_OVERLAP_MS;
    for (const [id, at] of this.seen) if (at < floor) this.seen.delete(id);
    return added;
  }

  private remember(kind: RevocationKind, target: string, expiresAt: string | null, revokedAt: string): void {
    const exp = expiresAt === null ? Infinity : Date.parse(expiresAt);
    const at = Date.parse(revokedAt);
    const key = `${kind}|${target}`;
    const prev = this.entries.get(key);
    this.entries.set(key, {
      exp: Math.max(prev?.exp ?? -Infinity, exp),
      at: Math.max(prev?.at ?? -Infinity, at),
    });
  }

  has(kind: RevocationKind, target: string): boolean {
    return this.entries.has(`${kind}|${target}`);
  }

  /**
   * Which of a token's handles (jti, task, any identity it speaks for) is revoked, if any. An identity
   * revocation covers the tokens issued up to it (`iat`), so a reinstated identity can work again with fresh
   * tokens.
   */
  match(
    jti: string,
    taskId: string,
    identityIds: readonly string[],
    iatSeconds: number,
  ): RevocationKind | undefined {
    if (this.entries.has(`token|${jti}`)) return 'token';
    if (this.entries.has(`task|${taskId}`)) return 'task';
    for (const identityId of identityIds) {
      const id = this.entries.get(`identity|${identityId}`);
      if (id && iatSeconds * 1000 <= id.at) return 'identity';
    }
    return undefined;
  }

  /** Forgets entries whose covered tokens have all expired. */
  prune(): void {
    const now = this.now().getTime();
    for (const [k, e] of this.entries) if (e.exp <= now) this.entries.delete(k);
  }

  /**
   * Deletes the stored rows that expired more than PURGE_AFTER_MS ago: they can match no token any more, and
   * left alone every start-up would load them all again (each quarantine or identity update writes one). The
   * revocation itself stays in the audit log. Returns how many rows went.
   */
  async purgeExpired(): Promise<number> {
    const before = new Date(this.now().getTime() - PURGE_AFTER_MS).toISOString();
    const r = await this.db
      .deleteFrom('broker_revocations')
      .where('expires_at', 'is not', null)
      .where('expires_at', '<', before)
      .executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * Records a revocation durably (and audits it) in `trx`, then applies it in memory. Only call `apply`
   * after the transaction committed; `revoke` does both.
   */
  async insert(
    trx: Transaction<BrokerDatabase>,
    input: {
      kind: RevocationKind;
      target: string;
      expiresAt: string | null;
      reason: string | null;
      actor: string;
      requestId?: string | undefined;
    },
  ): Promise<Revocation> {
    const row: Revocation = {
      id: `rev-${randomBytes(9).toString('base64url')}`,
      kind: input.kind,
      target: input.target,
      revoked_at: this.now().toISOString(),
      expires_at: input.expiresAt,
      reason: input.reason,
      actor: input.actor,
    };
    await trx.insertInto('broker_revocations').values(row).execute();
    await this.audit.record(coreTrx(trx), {
      actor: input.actor,
      action: `broker.revoke.${input.kind}`,
      targetType: input.kind,
      targetId: input.target,
      requestId: input.requestId,
      after: row,
    });
    return row;
  }

  /** Takes a revocation announced by another replica into force; anything malformed is ignored. */
  learn(data: unknown): void {
    if (typeof data !== 'object' || data === null) return;
    const r = data as Record<string, unknown>;
    if (!REVOCATION_KINDS.has(r.kind) || typeof r.target !== 'string' || typeof r.revoked_at !== 'string')
      return;
    if (r.expires_at !== null && typeof r.expires_at !== 'string') return;
    if (Number.isNaN(Date.parse(r.revoked_at))) return;
    this.remember(r.kind as RevocationKind, r.target, r.expires_at, r.revoked_at);
  }

  /** Takes a revocation this process just committed into force, and announces it. */
  apply(r: Revocation): void {
    this.remember(r.kind, r.target, r.expires_at, r.revoked_at);
    this.announce?.(r);
  }

  async revoke(input: Parameters<RevocationSet['insert']>[1]): Promise<Revocation> {
    const r = await this.db.transaction().execute((trx) => this.insert(trx, input));
    this.apply(r);
    return r;
  }
}
