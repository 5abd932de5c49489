/** SQL for alerts and baselines (same statements on SQLite and PostgreSQL). */
import type { Compilable, Kysely } from 'kysely';
import type { Database } from '../store/database.js';
import { SEVERITIES, type Alert, type Severity } from './alert.js';
import type { DetectTables } from './tables.js';

type DetectDb = Kysely<Database & DetectTables>;

export function detectDb(db: Kysely<Database>): DetectDb {
  return db.withTables<DetectTables>();
}

export function severityRank(s: Severity): number {
  return SEVERITIES.indexOf(s) + 1;
}

export async function upsertAlert(db: DetectDb, alert: Alert, nowIso: string): Promise<void> {
  const row = {
    id: alert.id,
    dedup_key: alert.dedup_key,
    rule_id: alert.rule_id,
    title: alert.title,
    severity: alert.severity,
    severity_rank: severityRank(alert.severity),
    techniques: JSON.stringify(alert.techniques),
    identity: alert.identity,
    identity_id: alert.identity_id,
    unmanaged: alert.unmanaged ? 1 : 0,
    credential: alert.credential,
    event_ids: JSON.stringify(alert.event_ids),
    first_seen: alert.first_seen,
    last_seen: alert.last_seen,
    count: alert.count,
    source: alert.source,
    explanation: alert.explanation,
    suggested_response: alert.suggested_response,
    signal: alert.signal,
    created_at: nowIso,
    updated_at: nowIso,
  };
  await db
    .insertInto('detect_alerts')
    .values(row)
    .onConflict((oc) =>
      oc.column('id').doUpdateSet({
        severity: row.severity,
        severity_rank: row.severity_rank,
        event_ids: row.event_ids,
        first_seen: row.first_seen,
        last_seen: row.last_seen,
        count: row.count,
        explanation: row.explanation,
        updated_at: nowIso,
      }),
    )
    .execute();
}

export interface AlertQuery {
  minSeverity?: Severity | undefined;
  ruleId?: string | undefined;
  identityId?: string | undefined;
  since?: string | undefined;
  limit: number;
}

export async function listAlerts(db: DetectDb, q: AlertQuery): Promise<Alert[]> {
  let query = db.selectFrom('detect_alerts').selectAll();
  if (q.minSeverity) query = query.where('severity_rank', '>=', severityRank(q.minSeverity));
  if (q.ruleId) query = query.where('rule_id', '=', q.ruleId);
  if (q.identityId) query = query.where('identity_id', '=', q.identityId);
  if (q.since) query = query.where('last_seen', '>=', q.since);
  const rows = await query.orderBy('last_seen', 'desc').orderBy('id').limit(q.limit).execute();
  return rows.map((r) => ({
    id: r.id,
    rule_id: r.rule_id,
    title: r.title,
    severity: r.severity as Severity,
    techniques: JSON.parse(r.techniques) as string[],
    identity: r.identity,
    identity_id: r.identity_id,
    unmanaged: Number(r.unmanaged) === 1,
    credential: r.credential,
    event_ids: JSON.parse(r.event_ids) as string[],
    first_seen: r.first_seen,
    last_seen: r.last_seen,
    count: Number(r.count),
    source: r.source as Alert['source'],
    explanation: r.explanation,
    suggested_response: r.suggested_response,
    signal: r.signal,
    dedup_key: r.dedup_key,
  }));
}

export interface BaselineRow {
  kind: 'identity' | 'credential';
  key: string;
  state: string;
}

/** The upserts that save baseline rows (built, not executed: relaxed writes run them, see durability.ts). */
export function baselineUpserts(db: DetectDb, rows: BaselineRow[], nowIso: string): Compilable[] {
  const statements: Compilable[] = [];
  for (let i = 0; i < rows.length; i += 200) {
    const chunk = rows.slice(i, i + 200).map((r) => ({ ...r, updated_at: nowIso }));
    statements.push(
      db
        .insertInto('detect_baselines')
        .values(chunk)
        .onConflict((oc) =>
          oc.columns(['kind', 'key']).doUpdateSet((eb) => ({
            state: eb.ref('excluded.state'),
            updated_at: eb.ref('excluded.updated_at'),
          })),
        ),
    );
  }
  return statements;
}

/** The columns of respond's incidents detection reads (it never writes them). */
type IncidentTables = {
  respond_incidents: { id: string; state: string; alert_ids: string; resolved_at: string | null };
};

/** Whether the respond module's incidents table exists (respond runs in this server). */
export async function incidentsReadable(db: Kysely<Database>): Promise<boolean> {
  try {
    await db.withTables<IncidentTables>().selectFrom('respond_incidents').select('id').limit(1).execute();
    return true;
  } catch {
    return false;
  }
}

/** Alert ids of the incidents resolved at or after `since`, and the latest resolution time among them. */
export async function alertsOfIncidentsResolvedSince(
  db: Kysely<Database>,
  since: string,
): Promise<{ alertIds: Set<string>; latest: string | undefined }> {
  const rows = await db
    .withTables<IncidentTables>()
    .selectFrom('respond_incidents')
    .select(['alert_ids', 'resolved_at'])
    .where('state', '=', 'resolved')
    .where('resolved_at', '>=', since)
    .execute();
  const alertIds = new Set<string>();
  let latest: string | undefined;
  for (const r of rows) {
    for (const id of JSON.parse(r.alert_ids) as string[]) alertIds.add(id);
    if (r.resolved_at !== null && (latest === undefined || r.resolved_at > latest)) latest = r.resolved_at;
  }
  return { alertIds, latest };
}

/** The most recently written baselines of each kind, at most `caps` of them, oldest first. */
export async function loadBaselines(
  db: DetectDb,
  caps: { identities: number; credentials: number },
): Promise<BaselineRow[]> {
  const out: BaselineRow[] = [];
  for (const kind of ['identity', 'credential'] as const) {
    const rows = await db
      .selectFrom('detect_baselines')
      .select(['key', 'state'])
      .where('kind', '=', kind)
      .orderBy('updated_at', 'desc')
      .orderBy('key')
      .limit(kind === 'identity' ? caps.identities : caps.credentials)
      .execute();
    for (const r of rows.reverse()) out.push({ kind, key: r.key, state: r.state });
  }
  return out;
}

/** The stored baselines of these keys (those evicted from memory by the cap). */
export async function findBaselines(
  db: DetectDb,
  kind: 'identity' | 'credential',
  keys: string[],
): Promise<BaselineRow[]> {
  const out: BaselineRow[] = [];
  for (let i = 0; i < keys.length; i += 500) {
    const rows = await db
      .selectFrom('detect_baselines')
      .select(['key', 'state'])
      .where('kind', '=', kind)
      .where('key', 'in', keys.slice(i, i + 500))
      .execute();
    for (const r of rows) out.push({ kind, key: r.key, state: r.state });
  }
  return out;
}
