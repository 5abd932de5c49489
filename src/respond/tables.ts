/** Tables of the respond module (JSON as text, timestamps as ISO-8601 text). */
import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../store/database.js';

export type RespondPlaybooksTable = {
  id: string;
  version: number;
  yaml: string;
  sha256: string;
  created_at: string;
  created_by: string;
};

export type RespondIncidentsTable = {
  id: string;
  title: string;
  /** `open` | `contained` | `resolved` */
  state: string;
  owner: string | null;
  identity_id: string | null;
  credential_id: string | null;
  tier: string | null;
  severity: string;
  rule_ids: string;
  alert_ids: string;
  /** First malicious event (from the alert evidence or the leak report). */
  first_event_at: string | null;
  detected_at: string;
  acknowledged_at: string | null;
  contained_at: string | null;
  resolved_at: string | null;
  ttd_ms: number | null;
  ttc_ms: number | null;
  created_at: string;
  updated_at: string;
};

export type RespondTimelineTable = {
  incident_id: string;
  seq: number;
  at: string;
  kind: string;
  message: string;
  data: string;
};

export type RespondRunsTable = {
  id: string;
  incident_id: string;
  playbook_id: string;
  playbook_version: number;
  dry_run: number;
  /** `running` | `awaiting_approval` | `completed` | `failed` */
  state: string;
  /** JSON of the facts the plan was made from (alert, tier, targets). */
  facts: string;
  lease_owner: string | null;
  lease_until: string | null;
  created_at: string;
  updated_at: string;
};

export type RespondStepsTable = {
  run_id: string;
  idx: number;
  step_id: string;
  action: string;
  params: string;
  /** `run` | `approval` | `notify_only` | `skip` */
  disposition: string;
  reason: string;
  /** JSON list of dependents this step would break. */
  breaks: string;
  /** `pending` | `running` | `done` | `failed` | `awaiting_approval` | `skipped` | `dry_run` */
  status: string;
  attempts: number;
  result: string | null;
  approved_by: string | null;
  started_at: string | null;
  finished_at: string | null;
};

export type RespondRotationsTable = {
  id: string;
  old_credential_id: string;
  new_credential_id: string;
  identity_id: string;
  /** `overlap` | `completed` | `immediate` */
  state: string;
  leaked: number;
  consumers: string;
  /** JSON map consumer → { switchedAt, lastOldUseAt } */
  consumer_state: string;
  overlap_ends_at: string;
  completed_at: string | null;
  report: string | null;
  created_at: string;
  updated_at: string;
};

export type RespondBreakGlassTable = {
  id: string;
  identity_id: string;
  justification: string;
  requested_by: string;
  started_at: string;
  expires_at: string;
  ended_at: string | null;
  incident_id: string | null;
};

export type RespondTables = {
  respond_break_glass: RespondBreakGlassTable;
  respond_playbooks: RespondPlaybooksTable;
  respond_incidents: RespondIncidentsTable;
  respond_timeline: RespondTimelineTable;
  respond_runs: RespondRunsTable;
  respond_steps: RespondStepsTable;
  respond_rotations: RespondRotationsTable;
};

export type RespondDatabase = Database & RespondTables;
export type RespondDb = Kysely<RespondDatabase>;
export type RespondTrx = Transaction<RespondDatabase>;

export function respondDb(db: Kysely<Database>): RespondDb {
  return db.withTables<RespondTables>();
}
