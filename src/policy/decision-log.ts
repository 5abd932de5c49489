/**
 * The decision log: every decision is published on the event bus as a `decision` event (detection reads
 * these), and persisted to `policy_decisions` subject to sampling. Denies are kept at their own rate
 * (default: all) because they are what an investigation needs. Writes are batched off the hot path;
 * rows older than the retention are purged periodically.
 */
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { EventBus } from '../events/bus.js';
import { insertRowsQuery, writeInRelaxedChunks } from '../store/durability.js';
import type { Obligation, Reason } from './engine.js';
import type { PolicyDatabase, PolicyDecisionTable } from './tables.js';

export interface DecisionLogConfig {
  /** Fraction of allow decisions persisted, 0..1. */
  allowSampleRate: number;
  /** Fraction of deny decisions persisted, 0..1. */
  denySampleRate: number;
  retentionDays: number;
  /** Max rows per insert batch. */
  batchSize: number;
}

export const DEFAULT_DECISION_LOG: DecisionLogConfig = {
  allowSampleRate: 1,
  denySampleRate: 1,
  retentionDays: 30,
  batchSize: 500,
};

export interface DecisionRecord {
  principal: string;
  action: string;
  resource: string;
  contextDigest: string;
  decision: boolean;
  reasons: Reason[];
  obligations: Obligation[];
  policyVersion: number | null;
  latencyUs: number;
  cached: boolean;
  requestId?: string | undefined;
  /** When the decision was made (default: the log's clock now). */
  at?: Date | undefined;
}

/** `policy_decisions` columns in the order `record` queues their values. */
export const DECISION_LOG_COLUMNS = [
  'id',
  'at',
  'principal',
  'action',
  'resource',
  'context_digest',
  'decision',
  'reasons',
  'obligations',
  'policy_version',
  'latency_us',
] as const satisfies readonly (keyof PolicyDecisionTable)[];
/** Rows per relaxed commit: the log is high-volume, and each commit should stay a short task. */
const ROWS_PER_COMMIT = 25;

export class DecisionLog {
  /**
   * Queued rows, flattened: the values of each row in `DECISION_LOG_COLUMNS` order, one row after another.
   * No object per row: queued rows live until the next flush, long enough for the garbage collector to copy
   * each one.
   */
  private queue: unknown[] = [];
  /** JSON of reason lists, by list: the PDP shares one list among equal decisions, so most are serialised once. */
  private readonly reasonsJson = new Map<readonly Reason[], string>();
  /**
   * Decision ids: a random per-process prefix and a counter. Unique across replicas and restarts without a
   * UUID per decision (this runs on every decision, cached ones included).
   */
  private readonly idPrefix = `dec-${randomBytes(8).toString('hex')}-`;
  private idCounter = 0;
  /** The last timestamp formatted, reused while decisions arrive within the same millisecond. */
  private lastAt = { ms: NaN, iso: '' };
  private flushing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private purgeTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Kysely<PolicyDatabase>,
    private readonly events: EventBus,
    private readonly log: Logger,
    private readonly now: () => Date,
    readonly config: DecisionLogConfig = DEFAULT_DECISION_LOG,
    private readonly random: () => number = Math.random,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.flush(), 250);
    this.timer.unref();
    this.purgeTimer = setInterval(() => void this.purge(), 3_600_000);
    this.purgeTimer.unref();
    void this.purge();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.purgeTimer) clearInterval(this.purgeTimer);
    await this.flush();
  }

  record(r: DecisionRecord): void {
    const id = `${this.idPrefix}${(this.idCounter++).toString(36)}`;
    const when = r.at ?? this.now();
    const ms = when.getTime();
    if (ms !== this.lastAt.ms) this.lastAt = { ms, iso: when.toISOString() };
    const at = this.lastAt.iso;
    this.events.publish({
      id,
      time: at,
      type: 'decision',
      source: 'policy',
      identityId: r.principal,
      action: r.action,
      resource: r.resource,
      outcome: r.decision ? 'allow' : 'deny',
      data: {
        context_digest: r.contextDigest,
        reasons: r.reasons,
        obligations: r.obligations,
        policy_version: r.policyVersion,
        latency_us: r.latencyUs,
        cached: r.cached,
        ...(r.requestId ? { request_id: r.requestId } : {}),
      },
    });
    const rate = r.decision ? this.config.allowSampleRate : this.config.denySampleRate;
    if (rate <= 0 || (rate < 1 && this.random() >= rate)) return;
    this.queue.push(
      id,
      at,
      r.principal,
      r.action,
      r.resource,
      r.contextDigest,
      r.decision ? 'allow' : 'deny',
      this.reasonsAsJson(r.reasons),
      r.obligations.length === 0 ? '[]' : JSON.stringify(r.obligations),
      r.policyVersion ?? 0,
      Math.round(r.latencyUs),
    );
    if (this.queue.length >= this.config.batchSize * DECISION_LOG_COLUMNS.length) void this.flush();
  }

  private reasonsAsJson(reasons: readonly Reason[]): string {
    let json = this.reasonsJson.get(reasons);
    if (json === undefined) {
      json = JSON.stringify(reasons);
      // Bounded: lists that are not shared (a deny built for one request) would otherwise pile up.
      if (this.reasonsJson.size >= 256) this.reasonsJson.clear();
      this.reasonsJson.set(reasons, json);
    }
    return json;
  }

  /** Writes queued rows; a failed write is logged and dropped (the event was already published). */
  async flush(): Promise<void> {
    if (this.flushing) await this.flushing;
    if (this.queue.length === 0) return;
    const values = this.queue;
    this.queue = [];
    this.flushing = (async () => {
      try {
        // Relaxed commits (src/store/durability.ts): the log is high-volume and already published as
        // events; an fsync or a long insert here would stall decisions on SQLite. A decision id names one
        // decision, so a row already there is this row (a chunk retried after the SQLite worker died).
        await writeInRelaxedChunks(
          this.db,
          values,
          ROWS_PER_COMMIT * DECISION_LOG_COLUMNS.length,
          (chunk) => [
            insertRowsQuery(this.db, 'policy_decisions', DECISION_LOG_COLUMNS, chunk, { skipExisting: true }),
          ],
        );
      } catch (err) {
        this.log.error(
          { err, dropped: values.length / DECISION_LOG_COLUMNS.length },
          'decision log write failed',
        );
      }
    })();
    await this.flushing;
    this.flushing = undefined;
  }

  async list(q: { principal?: string | undefined; decision?: 'allow' | 'deny' | undefined; limit: number }) {
    let query = this.db.selectFrom('policy_decisions').selectAll().orderBy('at', 'desc').limit(q.limit);
    if (q.principal) query = query.where('principal', '=', q.principal);
    if (q.decision) query = query.where('decision', '=', q.decision);
    const rows = await query.execute();
    return rows.map((r) => ({
      id: r.id,
      at: r.at,
      principal: r.principal,
      action: r.action,
      resource: r.resource,
      contextDigest: r.context_digest,
      decision: r.decision,
      reasons: JSON.parse(r.reasons) as Reason[],
      obligations: JSON.parse(r.obligations) as Obligation[],
      policyVersion: r.policy_version,
      latencyUs: Number(r.latency_us),
    }));
  }

  async purge(): Promise<number> {
    const cutoff = new Date(this.now().getTime() - this.config.retentionDays * 86_400_000).toISOString();
    try {
      const r = await this.db.deleteFrom('policy_decisions').where('at', '<', cutoff).executeTakeFirst();
      return Number(r.numDeletedRows);
    } catch (err) {
      this.log.error({ err }, 'decision log purge failed');
      return 0;
    }
  }
}
