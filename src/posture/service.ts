/**
 * Posture service: gathers the inventory, the identity graph and recorded usage, runs the rules, scores, and
 * keeps a trend of snapshots. Usage (NHI5 "granted vs used") comes from the event bus: every allowed or
 * successful event that names an identity and an action is counted per (identity, action, resource).
 */
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { AppContext } from '../app-context.js';
import type { BulkheadEvent } from '../events/bus.js';
import type { CompactGraph } from '../graph/compact-graph.js';
import { parseGrantVia } from '../graph/grants.js';
import { graphServiceOf } from '../graph/index.js';
import { findEscalations } from '../graph/queries/escalations.js';
import type { Credential, Identity, Resource } from '../inventory/types.js';
import { writeInRelaxedChunks } from '../store/durability.js';
import type { PostureReport } from './model.js';
import {
  evaluatePosture,
  grantedVsUsed,
  type GrantedVsUsed,
  type PostureGraph,
  type UsageRecord,
} from './rules.js';
import { scoreFindings } from './score.js';
import type { PostureTables } from './tables.js';

const HOUR = 3_600_000;

export interface PostureOptions {
  rotationDays?: number;
  staleDays?: number;
}

export interface TrendPoint {
  takenAt: string;
  orgScore: number;
  identities: number;
  findings: number;
  bySeverity: Record<string, number>;
  byNhi: Record<string, number>;
}

async function all<T>(
  fetch: (cursor: string | undefined) => Promise<{ items: T[]; next_cursor: string | null }>,
): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | undefined;
  do {
    const page = await fetch(cursor);
    out.push(...page.items);
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
  return out;
}

/** Policy grants an identity holds directly in the graph (imported IAM/RBAC): action and resource id/ARN. */
function policyGrantsOf(g: CompactGraph, identityId: string): { action: string; resource: string }[] {
  const node = g.find(`identity:${identityId}`);
  const out: { action: string; resource: string }[] = [];
  if (node === undefined) return out;
  g.forEachOut(node, (e, to) => {
    if (g.edgeKind(e) !== 'has_permission' || g.isAdmin(to)) return;
    const resource = g.externalId(to) ?? g.key(to);
    for (const action of parseGrantVia(g.edgeVia(e)).actions) {
      if (/^[A-Za-z0-9-]+:[A-Za-z0-9*?]+$/.test(action)) out.push({ action, resource });
    }
  });
  return out;
}

/** How often counted uses are written even when nobody asks for posture. */
const USAGE_FLUSH_MS = 30_000;

export class PostureService {
  private readonly pending = new Map<string, UsageRecord & { count: number; first: string; last: string }>();
  private unsubscribe: (() => void) | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly ctx: AppContext) {}

  private get db() {
    return this.ctx.db.withTables<PostureTables>();
  }

  start(): void {
    this.unsubscribe = this.ctx.events.subscribe('*', (e) => this.recordUse(e));
    this.timer = setInterval(() => {
      this.flush().catch((err: unknown) => this.ctx.log.error({ err }, 'posture usage flush failed'));
    }, USAGE_FLUSH_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    if (this.timer) clearInterval(this.timer);
    await this.flush();
  }

  /** Counts one use; written to the store on the next flush (every posture computation flushes first). */
  recordUse(e: BulkheadEvent): void {
    if (!e.identityId || !e.action) return;
    if (e.outcome !== undefined && e.outcome !== 'allow' && e.outcome !== 'success') return;
    // Joined, not a template literal: the key lives until the next flush, and V8 would keep a template's
    // pieces alive with it.
    const key = [e.identityId, e.action, e.resource ?? ''].join('\u0001');
    const p = this.pending.get(key);
    if (p) {
      p.count++;
      p.last = e.time > p.last ? e.time : p.last;
    } else {
      this.pending.set(key, {
        identityId: e.identityId,
        action: e.action,
        resource: e.resource ?? null,
        count: 1,
        first: e.time,
        last: e.time,
      });
    }
  }

  /**
   * Writes the counted uses: one upsert per (identity, action, resource), 200 to a statement, as relaxed
   * commits (usage counts are statistics, not changes: src/store/durability.ts), off the event loop on a
   * SQLite file store. Runs every `USAGE_FLUSH_MS` as well as before each posture computation, so a crash
   * loses at most that much counting and no flush grows into one long write.
   */
  async flush(): Promise<void> {
    // A failed flush was reported to whoever awaited it; it must not stop every later flush.
    this.flushing = this.flushing
      .catch(() => undefined)
      .then(async () => {
        if (this.pending.size === 0) return;
        const batch = [...this.pending.values()];
        this.pending.clear();
        const db = this.db;
        await writeInRelaxedChunks(db, batch, 200, (chunk) => [
          db
            .insertInto('posture_usage')
            .values(
              chunk.map((u) => ({
                identity_id: u.identityId,
                action: u.action.slice(0, 200),
                resource: (u.resource ?? '').slice(0, 500),
                count: u.count,
                first_seen: u.first,
                last_seen: u.last,
              })),
            )
            .onConflict((oc) =>
              oc.columns(['identity_id', 'action', 'resource']).doUpdateSet({
                count: sql<number>`posture_usage.count + excluded.count`,
                last_seen: sql<string>`case when excluded.last_seen > posture_usage.last_seen then excluded.last_seen else posture_usage.last_seen end`,
              }),
            )
            .compile(),
        ]);
      });
    await this.flushing;
  }

  private graphView(): PostureGraph | null {
    const service = graphServiceOf(this.ctx);
    if (!service) return null;
    const g = service.graph;
    const escalation = new Map<string, { method: string; target: string }>();
    for (const e of findEscalations(g, { includeDirect: true })) {
      const method = e.method === 'admin-permission' || e.method === 'group-membership' ? 'direct' : e.method;
      const prev = escalation.get(e.node);
      if (!prev || method === 'direct') escalation.set(e.node, { method, target: e.target });
    }
    const reachCache = new Map<string, ReturnType<PostureGraph['reach']>>();
    return {
      adminPath(identityId) {
        const node = g.find(`identity:${identityId}`);
        if (node === undefined) return null;
        if (g.isAdmin(node)) return { method: 'direct', target: g.name(node) };
        return escalation.get(`identity:${identityId}`) ?? null;
      },
      grants: (identityId) => policyGrantsOf(g, identityId),
      reach(identityId) {
        const cached = reachCache.get(identityId);
        if (cached) return cached;
        const out = {
          regulated: 0,
          confidential: 0,
          admin: 0,
          environments: new Set<string>(),
          prodResources: [] as string[],
        };
        const node = g.find(`identity:${identityId}`);
        if (node !== undefined) {
          for (const i of g.reach(node)) {
            if (i === node) continue;
            if (g.isAdmin(i)) out.admin++;
            const rank = g.sensitivityRank(i);
            if (g.type(i) === 'resource') {
              if (rank === 4) out.regulated++;
              if (rank === 3) out.confidential++;
              const env = g.environment(i);
              if (env) out.environments.add(env);
              if (env === 'prod' || env === 'production')
                out.prodResources.push(g.key(i).replace(/^resource:/, ''));
            }
          }
        }
        reachCache.set(identityId, out);
        return out;
      },
    };
  }

  /** Granted vs used for one identity (for NHI5 and for containment steps that narrow permissions). */
  async usageOf(identityId: string): Promise<GrantedVsUsed & { identityId: string; observed: boolean }> {
    await this.flush();
    const identity = await this.ctx.inventory.getIdentity(identityId);
    const credentials = await all<Credential>((cursor) =>
      this.ctx.inventory.listCredentials({ identity_id: identityId, limit: 500, cursor }),
    );
    const rows = await this.db
      .selectFrom('posture_usage')
      .select(['identity_id', 'action', 'resource'])
      .where('identity_id', '=', identityId)
      .execute();
    const usage = rows.map((r) => ({
      identityId: r.identity_id,
      action: r.action,
      resource: r.resource || null,
    }));
    const service = graphServiceOf(this.ctx);
    await service?.settled();
    const grants = service ? policyGrantsOf(service.graph, identityId) : [];
    return { identityId, observed: usage.length > 0, ...grantedVsUsed(identity, credentials, grants, usage) };
  }

  async compute(opts: PostureOptions = {}): Promise<PostureReport> {
    await this.flush();
    await graphServiceOf(this.ctx)?.settled();
    const inv = this.ctx.inventory;
    const [identities, credentials, resources] = await Promise.all([
      all<Identity>((cursor) => inv.listIdentities({ limit: 500, cursor })),
      all<Credential>((cursor) => inv.listCredentials({ limit: 500, cursor })),
      all<Resource>((cursor) => inv.listResources({ limit: 500, cursor })),
    ]);
    const usageRows = await this.db
      .selectFrom('posture_usage')
      .select(['identity_id', 'action', 'resource'])
      .execute();
    const now = this.ctx.now();
    const findings = evaluatePosture({
      now,
      identities,
      credentials,
      resources,
      rotationDays: opts.rotationDays ?? 90,
      staleDays: opts.staleDays ?? 90,
      usage:
        usageRows.length === 0
          ? null
          : usageRows.map((r) => ({
              identityId: r.identity_id,
              action: r.action,
              resource: r.resource || null,
            })),
      graph: this.graphView(),
    });
    return scoreFindings(identities, findings, now);
  }

  /** Stores a snapshot for the trend; `force` = even if the last one is less than an hour old. */
  async snapshot(report: PostureReport, force = false): Promise<boolean> {
    if (!force) {
      const last = await this.db
        .selectFrom('posture_snapshots')
        .select('taken_at')
        .orderBy('taken_at', 'desc')
        .limit(1)
        .executeTakeFirst();
      if (last && Date.parse(report.generatedAt) - Date.parse(last.taken_at) < HOUR) return false;
    }
    await this.db
      .insertInto('posture_snapshots')
      .values({
        id: `snap-${randomBytes(6).toString('hex')}`,
        taken_at: report.generatedAt,
        org_score_x10: Math.round(report.org.score * 10),
        identities: report.org.identities,
        findings: report.org.findings,
        by_severity: JSON.stringify(report.org.bySeverity),
        by_nhi: JSON.stringify(report.org.byNhi),
      })
      .execute();
    return true;
  }

  async trend(limit: number): Promise<TrendPoint[]> {
    const rows = await this.db
      .selectFrom('posture_snapshots')
      .selectAll()
      .orderBy('taken_at', 'desc')
      .limit(limit)
      .execute();
    return rows.reverse().map((r) => ({
      takenAt: r.taken_at,
      orgScore: Number(r.org_score_x10) / 10,
      identities: Number(r.identities),
      findings: Number(r.findings),
      bySeverity: JSON.parse(r.by_severity) as Record<string, number>,
      byNhi: JSON.parse(r.by_nhi) as Record<string, number>,
    }));
  }
}
