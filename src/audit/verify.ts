import type { DbOrTrx } from './audit-log.js';
import { hashAuditRow } from './audit-log.js';
import { GENESIS_HASH } from '../store/core-migrations.js';

export type AuditProblemKind =
  'hash_mismatch' | 'broken_link' | 'sequence_gap' | 'head_mismatch' | 'anchor_mismatch';

/**
 * A (seq, hash) pair recorded outside the database earlier (e.g. from a previous `audit verify`). Someone who can
 * write the database could rewrite the whole chain consistently; an external anchor catches that too.
 */
export interface AuditAnchor {
  seq: number;
  hash: string;
}

export interface AuditProblem {
  kind: AuditProblemKind;
  seq: number;
  detail: string;
}

export type AuditVerification =
  | { ok: true; entries: number; headSeq: number; headHash: string }
  | { ok: false; entries: number; problems: AuditProblem[] };

const PAGE = 1000;

/**
 * Recomputes the whole chain. Finds an edited entry (its hash no longer matches), a deleted entry (a gap in
 * `seq`, or the next entry's `prev_hash` pointing elsewhere) and a truncated tail (`audit_head` ahead of the log).
 * Reads in pages so a long log does not need to fit in memory.
 *
 * The head is read first and the chain checked up to it: the pages are separate reads, so on a busy server
 * entries are appended while they run, and a head read last would be ahead of the scanned tail and look like a
 * truncation. Every entry up to the head committed with or before it; later ones are checked next time.
 */
export async function verifyAuditChain(
  db: DbOrTrx,
  options: { maxProblems?: number; anchors?: AuditAnchor[] } = {},
): Promise<AuditVerification> {
  const maxProblems = options.maxProblems ?? 100;
  const anchors = new Map((options.anchors ?? []).map((a) => [a.seq, a.hash.toLowerCase()]));
  const seenAnchors = new Set<number>();
  const problems: AuditProblem[] = [];
  let expectedSeq = 1;
  let prevHash = GENESIS_HASH;
  let entries = 0;
  let lastSeq = 0;
  const head = await db
    .selectFrom('audit_head')
    .select(['seq', 'hash'])
    .where('id', '=', 1)
    .executeTakeFirst();
  const headSeq = head ? Number(head.seq) : 0;
  for (;;) {
    const rows = await db
      .selectFrom('audit_log')
      .selectAll()
      .where('seq', '>', lastSeq)
      .where('seq', '<=', headSeq)
      .orderBy('seq', 'asc')
      .limit(PAGE)
      .execute();
    for (const row of rows) {
      const seq = Number(row.seq);
      entries += 1;
      if (seq !== expectedSeq) {
        problems.push({
          kind: 'sequence_gap',
          seq,
          detail: `expected entry ${expectedSeq}, found ${seq}: entries deleted`,
        });
      }
      if (row.prev_hash !== prevHash) {
        problems.push({
          kind: 'broken_link',
          seq,
          detail: `prev_hash does not match the previous entry's hash`,
        });
      }
      if (hashAuditRow(row) !== row.hash) {
        problems.push({
          kind: 'hash_mismatch',
          seq,
          detail: `entry content does not match its hash: edited`,
        });
      }
      const anchored = anchors.get(seq);
      if (anchored !== undefined) {
        seenAnchors.add(seq);
        if (anchored !== row.hash) {
          problems.push({
            kind: 'anchor_mismatch',
            seq,
            detail: `entry ${seq} no longer has the anchored hash ${anchored.slice(0, 16)}…: the chain was rewritten`,
          });
        }
      }
      prevHash = row.hash;
      expectedSeq = seq + 1;
      lastSeq = seq;
      if (problems.length >= maxProblems) return { ok: false, entries, problems };
    }
    if (rows.length < PAGE) break;
  }
  if (!head || headSeq !== lastSeq || head.hash !== prevHash) {
    problems.push({
      kind: 'head_mismatch',
      seq: headSeq,
      detail: `audit head (seq ${head ? headSeq : 'missing'}) does not match the last entry (seq ${lastSeq}): entries removed from the end or head edited`,
    });
  } else {
    // A head moved back would hide the entries after it. Each append moves the head in the same transaction,
    // so a head read after the newest entry is never behind it, however many writers are running.
    const newest = await db
      .selectFrom('audit_log')
      .select((eb) => eb.fn.max('seq').as('seq'))
      .executeTakeFirst();
    const newestSeq = Number(newest?.seq ?? 0);
    const headNow = await db.selectFrom('audit_head').select('seq').where('id', '=', 1).executeTakeFirst();
    if (!headNow || Number(headNow.seq) < newestSeq) {
      problems.push({
        kind: 'head_mismatch',
        seq: headNow ? Number(headNow.seq) : 0,
        detail: `audit head (seq ${headNow ? Number(headNow.seq) : 'missing'}) is behind the newest entry (seq ${newestSeq}): head edited`,
      });
    }
  }
  for (const seq of anchors.keys()) {
    if (!seenAnchors.has(seq)) {
      problems.push({
        kind: 'anchor_mismatch',
        seq,
        detail: `anchored entry ${seq} is missing from the log`,
      });
    }
  }
  if (problems.length > 0) return { ok: false, entries, problems };
  return { ok: true, entries, headSeq: lastSeq, headHash: prevHash };
}
