/**
 * Approval requests for actions an `approval_required` obligation guards. A current owner of the resource
 * approves or denies; an approval is a one-time grant for that exact principal, action and resource that
 * expires shortly after it is given. Consuming it is a conditional update, so two racing uses cannot
 * both succeed.
 */
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { AuditLog } from '../audit/audit-log.js';
import type { InventoryService } from '../inventory/service.js';
import { policyError } from './errors.js';
import { coreTrx, type PolicyApprovalTable, type PolicyDatabase } from './tables.js';

export interface Approval {
  id: string;
  principalId: string;
  action: string;
  resourceId: string;
  status: 'pending' | 'approved' | 'denied' | 'used' | 'expired';
  /** The resource's owners when the request was last made or decided (deciding checks the owners then). */
  approvers: string[];
  policyIds: string[];
  justification: string | null;
  requestedAt: string;
  expiresAt: string;
  decidedBy: string | null;
  decidedAt: string | null;
  grantExpiresAt: string | null;
  usedAt: string | null;
}

function toApproval(r: PolicyApprovalTable, now: Date): Approval {
  let status = r.status as Approval['status'];
  const iso = now.toISOString();
  if (status === 'pending' && r.expires_at <= iso) status = 'expired';
  if (status === 'approved' && r.grant_expires_at !== null && r.grant_expires_at <= iso) status = 'expired';
  return {
    id: r.id,
    principalId: r.principal_id,
    action: r.action,
    resourceId: r.resource_id,
    status,
    approvers: JSON.parse(r.approvers) as string[],
    policyIds: JSON.parse(r.policy_ids) as string[],
    justification: r.justification,
    requestedAt: r.requested_at,
    expiresAt: r.expires_at,
    decidedBy: r.decided_by,
    decidedAt: r.decided_at,
    grantExpiresAt: r.status === 'pending' ? null : r.grant_expires_at,
    usedAt: r.used_at,
  };
}

export interface ApprovalConfig {
  /** How long a request waits for an owner. */
  pendingTtlMs: number;
  /** How long an approval can be used once given (default; a policy's @approval_ttl_minutes overrides). */
  grantTtlMs: number;
}

export const DEFAULT_APPROVALS: ApprovalConfig = { pendingTtlMs: 3_600_000, grantTtlMs: 300_000 };

export class ApprovalStore {
  constructor(
    private readonly db: Kysely<PolicyDatabase>,
    private readonly audit: AuditLog,
    /** The store, not the entity index: someone quarantined through another replica is refused at once. */
    private readonly inventory: Pick<InventoryService, 'findIdentity' | 'findResource'>,
    private readonly now: () => Date,
    readonly config: ApprovalConfig = DEFAULT_APPROVALS,
  ) {}

  async get(id: string): Promise<Approval> {
    const row = await this.db
      .selectFrom('policy_approvals')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row)
      throw policyError('APPROVAL_NOT_FOUND', `approval ${id} does not exist`, { field: 'params.id' });
    return toApproval(row, this.now());
  }

  async list(status: string | undefined, limit: number): Promise<Approval[]> {
    let q = this.db.selectFrom('policy_approvals').selectAll().orderBy('requested_at', 'desc').limit(limit);
    if (status && status !== 'expired') q = q.where('status', '=', status);
    const rows = await q.execute();
    const out = rows.map((r) => toApproval(r, this.now()));
    return status ? out.filter((a) => a.status === status) : out;
  }

  /** Returns the open request for this triple, or creates one (audited). */
  async requestFor(input: {
    principalId: string;
    action: string;
    resourceId: string;
    approvers: string[];
    policyIds: string[];
    justification: string | null;
    grantTtlMs?: number | undefined;
  }): Promise<Approval> {
    const now = this.now();
    const open = await this.db
      .selectFrom('policy_approvals')
      .selectAll()
      .where('principal_id', '=', input.principalId)
      .where('action', '=', input.action)
      .where('resource_id', '=', input.resourceId)
      .where('status', '=', 'pending')
      .where('expires_at', '>', now.toISOString())
      .executeTakeFirst();
    if (open) return this.withApprovers(open, input.approvers, now);
    const row: PolicyApprovalTable = {
      id: `apr-${randomBytes(9).toString('base64url')}`,
      principal_id: input.principalId,
      action: input.action,
      resource_id: input.resourceId,
      status: 'pending',
      approvers: JSON.stringify(input.approvers),
      policy_ids: JSON.stringify(input.policyIds),
      justification: input.justification,
      requested_at: now.toISOString(),
      expires_at: new Date(now.getTime() + this.config.pendingTtlMs).toISOString(),
      decided_by: null,
      decided_at: null,
      // Remembered so the grant's lifetime follows the policy that asked for approval.
      grant_expires_at: input.grantTtlMs ? String(input.grantTtlMs) : null,
      used_at: null,
    };
    await this.db.transaction().execute(async (trx) => {
      await trx.insertInto('policy_approvals').values(row).execute();
      await this.audit.record(coreTrx(trx), {
        actor: 'system:pdp',
        action: 'policy.approval.request',
        targetType: 'approval',
        targetId: row.id,
        after: row,
      });
    });
    return toApproval({ ...row, grant_expires_at: null }, now);
  }

  /**
   * Lists an open request's approvers as the resource's owners now (audited when they changed), so the
   * request shows who can decide it, as the obligation does.
   */
  private async withApprovers(open: PolicyApprovalTable, owners: string[], now: Date): Promise<Approval> {
    const approvers = JSON.stringify(owners);
    if (open.approvers === approvers) return toApproval(open, now);
    const after = { ...open, approvers };
    await this.db.transaction().execute(async (trx) => {
      await trx.updateTable('policy_approvals').set({ approvers }).where('id', '=', open.id).execute();
      await this.audit.record(coreTrx(trx), {
        actor: 'system:pdp',
        action: 'policy.approval.approvers',
        targetType: 'approval',
        targetId: open.id,
        before: open,
        after,
      });
    });
    return toApproval(after, now);
  }

  /** The people who own `resourceId` now (teams cannot approve; nobody for a resource not in the inventory). */
  private async currentOwners(resourceId: string): Promise<string[]> {
    const resource = await this.inventory.findResource(resourceId);
    return (resource?.owners ?? []).filter((o) => !o.startsWith('team:'));
  }

  /**
   * An owner's verdict. Only a pending, unexpired request can be decided; only a current owner of the
   * resource other than the requester may: an owner removed since the request was made no longer decides it,
   * and the new owner does.
   */
  async decide(
    id: string,
    approver: string,
    verdict: 'approve' | 'deny',
    meta: { actor: string; requestId?: string | undefined },
  ): Promise<Approval> {
    await this.checkApprover(approver);
    // Read before the transaction: on SQLite the inventory shares its one connection.
    const owners = await this.currentOwners((await this.get(id)).resourceId);
    const now = this.now();
    return this.db.transaction().execute(async (trx) => {
      const row = await trx
        .selectFrom('policy_approvals')
        .selectAll()
        .where('id', '=', id)
        .executeTakeFirst();
      if (!row)
        throw policyError('APPROVAL_NOT_FOUND', `approval ${id} does not exist`, { field: 'params.id' });
      const current = toApproval({ ...row, grant_expires_at: null }, now);
      if (current.status !== 'pending') {
        throw policyError('APPROVAL_NOT_PENDING', `approval ${id} is ${current.status}`, {
          field: 'params.id',
        });
      }
      if (!owners.includes(approver)) {
        throw policyError('APPROVER_NOT_OWNER', `${approver} is not an owner of ${row.resource_id}`, {
          field: 'body.approver',
        });
      }
      // Four eyes: an owner deciding their own request would make the obligation a formality. Owners
      // deciding for the agents and services they own is the normal flow, so only the requester is refused.
      if (approver === row.principal_id) {
        throw policyError('APPROVER_IS_REQUESTER', `${approver} requested ${id} and cannot decide it`, {
          field: 'body.approver',
        });
      }
      const ttl = row.grant_expires_at ? Number(row.grant_expires_at) : this.config.grantTtlMs;
      const update = {
        status: verdict === 'approve' ? 'approved' : 'denied',
        approvers: JSON.stringify(owners),
        decided_by: approver,
        decided_at: now.toISOString(),
        grant_expires_at: verdict === 'approve' ? new Date(now.getTime() + ttl).toISOString() : null,
      };
      // Only from pending: of two decisions at once (an approve and a deny, on two replicas) one wins.
      const written = await trx
        .updateTable('policy_approvals')
        .set(update)
        .where('id', '=', id)
        .where('status', '=', 'pending')
        .executeTakeFirst();
      if (Number(written.numUpdatedRows) !== 1) {
        throw policyError('APPROVAL_NOT_PENDING', `approval ${id} was decided meanwhile`, {
          field: 'params.id',
        });
      }
      const after = { ...row, ...update };
      await this.audit.record(coreTrx(trx), {
        actor: meta.actor,
        action: verdict === 'approve' ? 'policy.approval.approve' : 'policy.approval.deny',
        targetType: 'approval',
        targetId: id,
        requestId: meta.requestId,
        before: row,
        after,
      });
      return toApproval(after, now);
    });
  }

  /**
   * Approval is a human control: an agent or service must never grant access (to itself or another machine),
   * and a person disabled or quarantined since their API key was issued decides nothing.
   */
  private async checkApprover(approver: string): Promise<void> {
    const person = await this.inventory.findIdentity(approver);
    if (!person || person.kind !== 'human') {
      throw policyError(
        'APPROVER_NOT_HUMAN',
        `${approver} is ${person ? `a ${person.kind}` : 'not in the inventory'}; only people approve`,
        { field: 'body.approver' },
      );
    }
    if (person.status !== 'active') {
      throw policyError('APPROVER_INACTIVE', `${approver} is ${person.status}`, { field: 'body.approver' });
    }
  }

  /** True when `id` is a live grant for exactly this triple. */
  async isUsableGrant(id: string, principalId: string, action: string, resourceId: string): Promise<boolean> {
    const row = await this.db
      .selectFrom('policy_approvals')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row) return false;
    const a = toApproval(row, this.now());
    return (
      a.status === 'approved' &&
      a.principalId === principalId &&
      a.action === action &&
      a.resourceId === resourceId
    );
  }

  /** Marks the grant used; false when another request used it first or it expired meanwhile. */
  async consume(id: string): Promise<boolean> {
    const now = this.now().toISOString();
    const r = await this.db
      .updateTable('policy_approvals')
      .set({ status: 'used', used_at: now })
      .where('id', '=', id)
      .where('status', '=', 'approved')
      .where('grant_expires_at', '>', now)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }
}
