/** SQL for playbooks, incidents, their timeline, runs and steps (same statements on SQLite and PostgreSQL). */
import { sql } from 'kysely';
import type { Dependent } from './dependency-map.js';
import type { PlannedStep, RunFacts } from './plan.js';
import type { RespondDb, RespondIncidentsTable, RespondStepsTable, RespondTrx } from './tables.js';

type Db = RespondDb | RespondTrx;

export const INCIDENT_STATES = ['open', 'contained', 'resolved'] as const;
export type IncidentState = (typeof INCIDENT_STATES)[number];

export interface Incident {
  id: string;
  title: string;
  state: IncidentState;
  owner: string | null;
  identityId: string | null;
  credentialId: string | null;
  tier: string | null;
  severity: string;
  ruleIds: string[];
  alertIds: string[];
  firstEventAt: string | null;
  detectedAt: string;
  acknowledgedAt: string | null;
  containedAt: string | null;
  resolvedAt: string | null;
  /** First malicious event → alert. */
  timeToDetectMs: number | null;
  /** Alert → verified refused. */
  timeToContainMs: number | null;
  createdAt: string;
  updatedAt: string;
}

export interface TimelineEntry {
  seq: number;
  at: string;
  kind: string;
  message: string;
  data: Record<string, unknown>;
}

export type StepStatus =
  'pending' | 'running' | 'done' | 'failed' | 'awaiting_approval' | 'skipped' | 'dry_run';

export interface StepRecord {
  runId: string;
  idx: number;
  stepId: string;
  action: string;
  params: Record<string, unknown>;
  disposition: string;
  reason: string;
  breaks: Dependent[];
  status: StepStatus;
  attempts: number;
  result: unknown;
  approvedBy: string | null;
  /** Retries after the first failure (from the playbook step). */
  retries: number | null;
  startedAt: string | null;
  finishedAt: string | null;
}

export interface RunRecord {
  id: string;
  incidentId: string;
  playbookId: string;
  playbookVersion: number;
  dryRun: boolean;
  state: 'running' | 'awaiting_approval' | 'completed' | 'failed';
  facts: RunFacts;
  createdAt: string;
  updatedAt: string;
  steps: StepRecord[];
}

export function incidentFromRow(r: RespondIncidentsTable): Incident {
  return {
    id: r.id,
    title: r.title,
    state: r.state as IncidentState,
    owner: r.owner,
    identityId: r.identity_id,
    credentialId: r.credential_id,
    tier: r.tier,
    severity: r.severity,
    ruleIds: JSON.parse(r.rule_ids) as string[],
    alertIds: JSON.parse(r.alert_ids) as string[],
    firstEventAt: r.first_event_at,
    detectedAt: r.detected_at,
    acknowledgedAt: r.acknowledged_at,
    containedAt: r.contained_at,
    resolvedAt: r.resolved_at,
    timeToDetectMs: r.ttd_ms === null ? null : Number(r.ttd_ms),
    timeToContainMs: r.ttc_ms === null ? null : Number(r.ttc_ms),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export function incidentToRow(i: Incident): RespondIncidentsTable {
  return {
    id: i.id,
    title: i.title,
    state: i.state,
    owner: i.owner,
    identity_id: i.identityId,
    credential_id: i.credentialId,
    tier: i.tier,
    severity: i.severity,
    rule_ids: JSON.stringify(i.ruleIds),
    alert_ids: JSON.stringify(i.alertIds),
    first_event_at: i.firstEventAt,
    detected_at: i.detectedAt,
    acknowledged_at: i.acknowledgedAt,
    contained_at: i.containedAt,
    resolved_at: i.resolvedAt,
    ttd_ms: i.timeToDetectMs,
    ttc_ms: i.timeToContainMs,
    created_at: i.createdAt,
    updated_at: i.updatedAt,
  };
}

function stepFromRow(r: RespondStepsTable): StepRecord {
  const { __retries: retries, ...params } = JSON.parse(r.params) as Record<string, unknown>;
  return {
    retries: typeof retries === 'number' ? retries : null,
    runId: r.run_id,
    idx: r.idx,
    stepId: r.step_id,
    action: r.action,
    params,
    disposition: r.disposition,
    reason: r.reason,
    breaks: JSON.parse(r.breaks) as Dependent[],
    status: r.status as StepStatus,
    attempts: r.attempts,
    result: r.result === null ? null : (JSON.parse(r.result) as unknown),
    approvedBy: r.approved_by,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
  };
}

export async function findIncident(db: Db, id: string): Promise<Incident | undefined> {
  const r = await db.selectFrom('respond_incidents').selectAll().where('id', '=', id).executeTakeFirst();
  return r ? incidentFromRow(r) : undefined;
}

/** The unresolved incident of an identity (alerts on one identity are grouped into one incident). */
export async function findOpenIncidentFor(db: Db, identityId: string): Promise<Incident | undefined> {
  const r = await db
    .selectFrom('respond_incidents')
    .selectAll()
    .where('identity_id', '=', identityId)
    .where('state', '!=', 'resolved')
    .orderBy('created_at', 'desc')
    .executeTakeFirst();
  return r ? incidentFromRow(r) : undefined;
}

/** Advisory-lock key space of respond's per-identity incident lock (the second key is the identity's hash). */
const INCIDENT_LOCK_SPACE = 5000;

/**
 * PostgreSQL: holds, until the transaction ends, the lock on an identity's incidents, so replicas sharing the
 * database find-or-open its incident one at a time (under read committed, two transactions would both find
 * none and both insert). SQLite needs none: one process owns the file and its transactions run one at a time.
 */
export async function lockIdentityIncidents(trx: RespondTrx, identityId: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(${INCIDENT_LOCK_SPACE}, hashtext(${identityId}))`.execute(trx);
}

export async function insertIncident(db: Db, i: Incident): Promise<void> {
  await db.insertInto('respond_incidents').values(incidentToRow(i)).execute();
}

export async function updateIncident(db: Db, i: Incident): Promise<void> {
  const { id, ...rest } = incidentToRow(i);
  await db.updateTable('respond_incidents').set(rest).where('id', '=', id).execute();
}

export interface IncidentQuery {
  state?: IncidentState | undefined;
  identityId?: string | undefined;
  limit: number;
}

export async function listIncidents(db: Db, q: IncidentQuery): Promise<Incident[]> {
  let query = db.selectFrom('respond_incidents').selectAll();
  if (q.state) query = query.where('state', '=', q.state);
  if (q.identityId) query = query.where('identity_id', '=', q.identityId);
  const rows = await query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(q.limit).execute();
  return rows.map(incidentFromRow);
}

export async function appendTimeline(
  db: Db,
  incidentId: string,
  entry: Omit<TimelineEntry, 'seq'>,
): Promise<void> {
  const last = await db
    .selectFrom('respond_timeline')
    .select((eb) => eb.fn.max('seq').as('seq'))
    .where('incident_id', '=', incidentId)
    .executeTakeFirst();
  const seq = Number(last?.seq ?? 0) + 1;
  await db
    .insertInto('respond_timeline')
    .values({
      incident_id: incidentId,
      seq,
      at: entry.at,
      kind: entry.kind,
      message: entry.message,
      data: JSON.stringify(entry.data),
    })
    .execute();
}

export async function listTimeline(db: Db, incidentId: string): Promise<TimelineEntry[]> {
  const rows = await db
    .selectFrom('respond_timeline')
    .selectAll()
    .where('incident_id', '=', incidentId)
    .orderBy('seq')
    .execute();
  return rows.map((r) => ({
    seq: r.seq,
    at: r.at,
    kind: r.kind,
    message: r.message,
    data: JSON.parse(r.data) as Record<string, unknown>,
  }));
}

export async function insertRun(
  db: Db,
  run: Omit<RunRecord, 'steps'>,
  steps: PlannedStep[],
  initialStatus: (s: PlannedStep) => StepStatus,
): Promise<void> {
  await db
    .insertInto('respond_runs')
    .values({
      id: run.id,
      incident_id: run.incidentId,
      playbook_id: run.playbookId,
      playbook_version: run.playbookVersion,
      dry_run: run.dryRun ? 1 : 0,
      state: run.state,
      facts: JSON.stringify(run.facts),
      lease_owner: null,
      lease_until: null,
      created_at: run.createdAt,
      updated_at: run.updatedAt,
    })
    .execute();
  if (steps.length === 0) return;
  await db
    .insertInto('respond_steps')
    .values(
      steps.map((s) => ({
        run_id: run.id,
        idx: s.idx,
        step_id: s.stepId,
        action: s.action,
        params: JSON.stringify(s.params),
        disposition: s.disposition,
        reason: s.reason,
        breaks: JSON.stringify(s.breaks),
        status: initialStatus(s),
        attempts: 0,
        result: null,
        approved_by: null,
        started_at: null,
        finished_at: null,
      })),
    )
    .execute();
}

export async function getRun(db: Db, id: string): Promise<RunRecord | undefined> {
  const r = await db.selectFrom('respond_runs').selectAll().where('id', '=', id).executeTakeFirst();
  if (!r) return undefined;
  const steps = await db
    .selectFrom('respond_steps')
    .selectAll()
    .where('run_id', '=', id)
    .orderBy('idx')
    .execute();
  return {
    id: r.id,
    incidentId: r.incident_id,
    playbookId: r.playbook_id,
    playbookVersion: r.playbook_version,
    dryRun: r.dry_run === 1,
    state: r.state as RunRecord['state'],
    facts: JSON.parse(r.facts) as RunFacts,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    steps: steps.map(stepFromRow),
  };
}

export async function runsOfIncident(db: Db, incidentId: string): Promise<RunRecord[]> {
  const ids = await db
    .selectFrom('respond_runs')
    .select('id')
    .where('incident_id', '=', incidentId)
    .orderBy('created_at')
    .execute();
  const out: RunRecord[] = [];
  for (const { id } of ids) {
    const run = await getRun(db, id);
    if (run) out.push(run);
  }
  return out;
}

/** Runs to pick up again: mid-way, and nobody holds a live lease on them (their replica crashed). */
export async function unfinishedRunIds(db: Db, nowIso: string): Promise<string[]> {
  const rows = await db
    .selectFrom('respond_runs')
    .select('id')
    .where('state', '=', 'running')
    .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', nowIso)]))
    .execute();
  return rows.map((r) => r.id);
}

/** Takes or renews the lease on a run; false when another replica holds a live one. */
export async function claimRun(
  db: Db,
  id: string,
  owner: string,
  nowIso: string,
  untilIso: string,
): Promise<boolean> {
  const r = await db
    .updateTable('respond_runs')
    .set({ lease_owner: owner, lease_until: untilIso })
    .where('id', '=', id)
    .where((eb) =>
      eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', nowIso), eb('lease_owner', '=', owner)]),
    )
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

export async function releaseRun(db: Db, id: string, owner: string): Promise<void> {
  await db
    .updateTable('respond_runs')
    .set({ lease_owner: null, lease_until: null })
    .where('id', '=', id)
    .where('lease_owner', '=', owner)
    .execute();
}

export async function setRunState(db: Db, id: string, state: RunRecord['state'], now: string): Promise<void> {
  await db.updateTable('respond_runs').set({ state, updated_at: now }).where('id', '=', id).execute();
}

export async function updateStep(
  db: Db,
  runId: string,
  idx: number,
  patch: Partial<
    Pick<RespondStepsTable, 'status' | 'attempts' | 'result' | 'approved_by' | 'started_at' | 'finished_at'>
  >,
): Promise<void> {
  await db
    .updateTable('respond_steps')
    .set(patch)
    .where('run_id', '=', runId)
    .where('idx', '=', idx)
    .execute();
}

export async function latestPlaybookRows(
  db: Db,
): Promise<
  { id: string; version: number; yaml: string; sha256: string; created_at: string; created_by: string }[]
> {
  const rows = await db
    .selectFrom('respond_playbooks')
    .selectAll()
    .orderBy('id')
    .orderBy('version', 'desc')
    .execute();
  const seen = new Set<string>();
  return rows.filter((r) => (seen.has(r.id) ? false : (seen.add(r.id), true)));
}

export async function playbookVersions(db: Db, id: string) {
  return db
    .selectFrom('respond_playbooks')
    .selectAll()
    .where('id', '=', id)
    .orderBy('version', 'desc')
    .execute();
}
