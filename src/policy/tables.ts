/**
 * Tables owned by the policy module. Accessed through `policyDb(ctx.db)`; the core `Database` type is
 * not edited, so the two schemas are joined here.
 */
import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../store/database.js';

export interface PolicyVersionTable {
  version: number;
  /** JSON of `PolicyBundle` (Cedar text + declared actions). */
  bundle: string;
  sha256: string;
  comment: string | null;
  created_at: string;
  created_by: string;
}

/** One row (`id = 1`): the version decisions use. Swapped in one statement, so activation is atomic. */
export interface PolicyActiveTable {
  id: number;
  version: number;
  activated_at: string;
  activated_by: string;
}

export interface PolicyApprovalTable {
  id: string;
  principal_id: string;
  action: string;
  resource_id: string;
  /** `pending` | `approved` | `denied` | `used` | `expired` */
  status: string;
  approvers: string;
  policy_ids: string;
  justification: string | null;
  requested_at: string;
  expires_at: string;
  decided_by: string | null;
  decided_at: string | null;
  grant_expires_at: string | null;
  used_at: string | null;
}

export interface PolicyDecisionTable {
  id: string;
  at: string;
  principal: string;
  action: string;
  resource: string;
  context_digest: string;
  decision: string;
  reasons: string;
  obligations: string;
  policy_version: number;
  latency_us: number;
}

export interface PolicyTables {
  policy_versions: PolicyVersionTable;
  policy_active: PolicyActiveTable;
  policy_approvals: PolicyApprovalTable;
  policy_decisions: PolicyDecisionTable;
}

export type PolicyDatabase = Database & PolicyTables;

export function policyDb(db: Kysely<Database>): Kysely<PolicyDatabase> {
  return db as unknown as Kysely<PolicyDatabase>;
}

/** The audit log takes the core transaction type; the joined schema is a superset of it. */
export function coreTrx(trx: Transaction<PolicyDatabase>): Transaction<Database> {
  return trx as unknown as Transaction<Database>;
}
