/**
 * Append-only, hash-chained audit log. Each entry's hash covers its own stored columns and the previous
 * entry's hash, and `audit_head` records the last seq/hash, so editing, deleting or truncating entries is
 * detectable by `verifyAuditChain`. Entries are written inside the caller's transaction: a change and
 * its audit record commit together or not at all.
 */
import { createHash } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { AuditLogTable, Database } from '../store/database.js';
import type { Dialect } from '../store/migration-types.js';

export interface AuditEntryInput {
  /** Who did it: `api_key:<id>`, `system`, `cli:local`. */
  actor: string;
  /** Dotted verb, e.g. `identity.create`, `policy.activate`, `token.revoke`. */
  action: string;
  targetType: string;
  targetId: string;
  requestId?: string | null | undefined;
  before?: unknown;
  after?: unknown;
}

export interface AuditEntry {
  seq: number;
  at: string;
  actor: string;
  action: string;
  targetType: string;
  targetId: string;
  requestId: string | null;
  before: unknown;
  after: unknown;
  hash: string;
}

export type DbOrTrx = Kysely<Database> | Transaction<Database>;

export class AuditLog {
  constructor(
    private readonly dialect: Dialect,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Appends one entry inside `trx`. Serialised by a row lock on `audit_head` (PostgreSQL) or SQLite's single writer. */
  async record(trx: Transaction<Database>, input: AuditEntryInput): Promise<AuditEntry> {
    let headQuery = trx.selectFrom('audit_head').select(['seq', 'hash']).where('id', '=', 1);
    if (this.dialect === 'postgres') headQuery = headQuery.forUpdate();
    const head = await headQuery.executeTakeFirstOrThrow();
    const row: AuditLogTable = {
      seq: Number(head.seq) + 1,
      at: this.now().toISOString(),
      actor: input.actor,
      action: input.action,
      target_type: input.targetType,
      target_id: input.targetId,
      request_id: input.requestId ?? null,
      before: input.before === undefined || input.before === null ? null : JSON.stringify(input.before),
      after: input.after === undefined || input.after === null ? null : JSON.stringify(input.after),
      prev_hash: head.hash,
      hash: '',
    };
    row.hash = hashAuditRow(row);
    await trx.insertInto('audit_log').values(row).execute();
    await trx.updateTable('audit_head').set({ seq: row.seq, hash: row.hash }).where('id', '=', 1).execute();
    return toEntry(row);
  }

  async list(
    db: DbOrTrx,
    opts: { afterSeq?: number; limit: number; targetType?: string; targetId?: string },
  ): Promise<AuditEntry[]> {
    let q = db.selectFrom('audit_log').selectAll().orderBy('seq', 'asc').limit(opts.limit);
    if (opts.afterSeq !== undefined) q = q.where('seq', '>', opts.afterSeq);
    if (opts.targetType) q = q.where('target_type', '=', opts.targetType);
    if (opts.targetId) q = q.where('target_id', '=', opts.targetId);
    return (await q.execute()).map(toEntry);
  }
}

export function hashAuditRow(row: Omit<AuditLogTable, 'hash'>): string {
  const material = JSON.stringify([
    Number(row.seq),
    row.at,
    row.actor,
    row.action,
    row.target_type,
    row.target_id,
    row.request_id,
    row.before,
    row.after,
    row.prev_hash,
  ]);
  return createHash('sha256').update(material).digest('hex');
}

function toEntry(row: AuditLogTable): AuditEntry {
  return {
    seq: Number(row.seq),
    at: row.at,
    actor: row.actor,
    action: row.action,
    targetType: row.target_type,
    targetId: row.target_id,
    requestId: row.request_id,
    before: row.before === null ? null : (JSON.parse(row.before) as unknown),
    after: row.after === null ? null : (JSON.parse(row.after) as unknown),
    hash: row.hash,
  };
}
