/**
 * Tasks with declared intent. The PDP decides whether the identity (and the principal it acts for) may do
 * every declared action on every declared resource; an `approval_required` obligation parks the task in
 * `pending_approval` until the owners approve. Ending a task (completed, expired, revoked) writes a durable
 * task revocation, so every token minted for it dies at once, whatever cache holds it.
 */
import { randomBytes } from 'node:crypto';
import type { AuditLog } from '../../audit/audit-log.js';
import type { EventBus } from '../../events/bus.js';
import type { DecisionResult, DecisionRequest } from '../../policy/service.js';
import { brokerError } from '../errors.js';
import type { RevocationSet } from '../revocation/revocation-set.js';
import { coreTrx, type BrokerDb, type BrokerTaskTable } from '../tables.js';
import { isEnded, toTask, type PendingApproval, type Task, type TaskStatus } from './task.js';

export interface DecisionPoint {
  decide(req: DecisionRequest, requestId?: string): Promise<DecisionResult>;
}

/** Read access to the PDP's approval requests (`ApprovalStore` in src/policy/approvals.ts). */
export interface ApprovalLookup {
  get(id: string): Promise<{ status: string }>;
}

export interface TaskServiceDeps {
  /** Lets a pending task learn an owner's verdict without asking the PDP again while nothing changed. */
  approvals?: (() => ApprovalLookup) | undefined;
  db: BrokerDb;
  audit: AuditLog;
  events: EventBus;
  now: () => Date;
  pdp: () => DecisionPoint;
  revocations: RevocationSet;
  limits: { maxTtlSeconds: number; defaultTtlSeconds: number; defaultAudience: string };
  /** Called once a task has ended (after its revocation is stored), e.g. to drop downstream credentials. */
  onEnded?: (task: Task) => Promise<void>;
}

export interface CreateTaskInput {
  identityId: string;
  subject: string;
  purpose: string;
  actions: string[];
  resources: string[];
  ttl?: number | undefined;
  maxUses: number;
  onBehalfOf?: string | undefined;
  audience?: string | undefined;
  workflow?: string | undefined;
  createdBy: string;
  requestId?: string | undefined;
}

const MAX_PAIRS = 100;

export class TaskService {
  constructor(private readonly deps: TaskServiceDeps) {}

  /**
   * Asks the PDP about every (principal, action, resource) of the intent and stores the task.
   * @example await tasks.create({ identityId: 'payments-api', subject, purpose: 'nightly refunds',
   *   actions: ['read'], resources: ['payments-db'], maxUses: 10, createdBy: 'workload:payments-api' })
   */
  async create(input: CreateTaskInput): Promise<Task> {
    const ttl = input.ttl ?? this.deps.limits.defaultTtlSeconds;
    if (ttl > this.deps.limits.maxTtlSeconds) {
      throw brokerError('TASK_DENIED', `ttl may be at most ${this.deps.limits.maxTtlSeconds} s`, {
        field: 'body.ttl',
      });
    }
    if (input.actions.length * input.resources.length > MAX_PAIRS) {
      throw brokerError('TASK_DENIED', `a task may declare at most ${MAX_PAIRS} action × resource pairs`, {
        field: 'body.actions',
      });
    }
    const id = `task-${randomBytes(12).toString('base64url')}`;
    const principals = [input.identityId, ...(input.onBehalfOf ? [input.onBehalfOf] : [])];
    const pending: PendingApproval[] = [];
    let policyVersion: number | null = null;
    for (const principal of principals) {
      for (const action of input.actions) {
        for (const resource of input.resources) {
          const d = await this.deps.pdp().decide(
            {
              principal: { id: principal },
              action,
              resource: { id: resource },
              context: { task_id: id, justification: input.purpose },
            },
            input.requestId,
          );
          policyVersion = d.policyVersion;
          if (d.decision) continue;
          const approval = d.obligations.find((o) => o.type === 'approval_required' && o.approval_id);
          if (approval?.type === 'approval_required' && approval.approval_id) {
            pending.push({ action, resource, principal, approval_id: approval.approval_id });
            continue;
          }
          throw brokerError('TASK_DENIED', `${principal} may not ${action} ${resource}`, {
            field: 'body.actions',
            extra: { principal, action, resource, reasons: d.reasons, policy_version: d.policyVersion },
          });
        }
      }
    }
    const now = this.deps.now();
    const row: BrokerTaskTable = {
      id,
      identity_id: input.identityId,
      subject: input.subject,
      on_behalf_of: input.onBehalfOf ?? null,
      purpose: input.purpose,
      actions: JSON.stringify(input.actions),
      resources: JSON.stringify(input.resources),
      audience: input.audience ?? this.deps.limits.defaultAudience,
      status: pending.length > 0 ? 'pending_approval' : 'active',
      max_uses: input.maxUses,
      uses: 0,
      approvals: JSON.stringify(pending),
      workflow: input.workflow ?? null,
      created_at: now.toISOString(),
      expires_at: new Date(now.getTime() + ttl * 1000).toISOString(),
      ended_at: null,
      created_by: input.createdBy,
      policy_version: policyVersion,
    };
    await this.deps.db.transaction().execute(async (trx) => {
      await trx.insertInto('broker_tasks').values(row).execute();
      await this.deps.audit.record(coreTrx(trx), {
        actor: input.createdBy,
        action: 'broker.task.create',
        targetType: 'task',
        targetId: id,
        requestId: input.requestId,
        after: row,
      });
    });
    return toTask(row, now);
  }

  async get(id: string): Promise<Task> {
    const row = await this.deps.db
      .selectFrom('broker_tasks')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row) throw brokerError('TASK_NOT_FOUND', `task ${id} does not exist`, { field: 'params.id' });
    return toTask(row, this.deps.now());
  }

  async list(filter: {
    status?: TaskStatus | undefined;
    identity?: string | undefined;
    limit: number;
  }): Promise<Task[]> {
    let q = this.deps.db
      .selectFrom('broker_tasks')
      .selectAll()
      .orderBy('created_at', 'desc')
      .limit(filter.limit);
    if (filter.identity) q = q.where('identity_id', '=', filter.identity);
    if (filter.status && filter.status !== 'expired') q = q.where('status', '=', filter.status);
    const now = this.deps.now();
    const tasks = (await q.execute()).map((r) => toTask(r, now));
    return filter.status ? tasks.filter((t) => t.status === filter.status) : tasks;
  }

  /**
   * Re-asks the PDP for every pair still waiting, passing its approval id; the task goes live once all are
   * granted (each grant is consumed), or is denied if an owner said no or the request lapsed.
   */
  async refreshApprovals(id: string, requestId?: string): Promise<Task> {
    const task = await this.get(id);
    if (task.status !== 'pending_approval') return task;
    const still: PendingApproval[] = [];
    let denied: PendingApproval | undefined;
    for (const p of task.pending_approvals) {
      if (this.deps.approvals) {
        const a = await this.deps
          .approvals()
          .get(p.approval_id)
          .catch(() => undefined);
        if (a?.status === 'pending') {
          still.push(p);
          continue;
        }
        if (a?.status !== 'approved') {
          denied = p;
          break;
        }
      }
      // An approved grant: the PDP decides again with it (and consumes it, once).
      const d = await this.deps.pdp().decide(
        {
          principal: { id: p.principal },
          action: p.action,
          resource: { id: p.resource },
          context: { task_id: task.id, justification: task.purpose, approval_id: p.approval_id },
        },
        requestId,
      );
      if (d.decision) continue;
      const again = d.obligations.find((o) => o.type === 'approval_required');
      if (again?.type === 'approval_required' && again.approval_id === p.approval_id) still.push(p);
      else {
        denied = p;
        break;
      }
    }
    const status: TaskStatus = denied ? 'denied' : still.length > 0 ? 'pending_approval' : 'active';
    return this.transition(
      task,
      status,
      still,
      'system:broker',
      requestId,
      denied ? 'approval denied or expired' : null,
      'read_status',
    );
  }

  /** Ends a task and revokes every token minted for it. Ending an ended task is a conflict. */
  async end(
    id: string,
    status: 'completed' | 'revoked' | 'expired',
    actor: string,
    requestId?: string,
    reason: string | null = null,
  ): Promise<Task> {
    const task = await this.get(id);
    if (
      isEnded(task.status) &&
      !(status === 'expired' && task.status === 'expired' && task.ended_at === null)
    ) {
      throw brokerError('TASK_NOT_ACTIVE', `task ${id} is already ${task.status}`, { field: 'params.id' });
    }
    return this.transition(task, status, task.pending_approvals, actor, requestId, reason, 'not_ended');
  }

  /**
   * Writes a status change, conditionally. `not_ended` (ending a task): ending is once, so a concurrent end
   * (another replica's sweeper, a racing complete) loses with TASK_NOT_ACTIVE. `read_status` (settling
   * approvals, which awaits the approval store and the PDP in between): the move is made only from the status
   * read, so a task revoked or settled meanwhile is not overwritten (a revoked task never comes back as
   * active); the caller then gets the task as it now is.
   */
  private async transition(
    task: Task,
    status: TaskStatus,
    pending: PendingApproval[],
    actor: string,
    requestId: string | undefined,
    reason: string | null,
    guard: 'not_ended' | 'read_status',
  ): Promise<Task> {
    const now = this.deps.now().toISOString();
    const ending = isEnded(status);
    const update = { status, approvals: JSON.stringify(pending), ...(ending ? { ended_at: now } : {}) };
    const revocation = await this.deps.db.transaction().execute(async (trx) => {
      let q = trx
        .updateTable('broker_tasks')
        .set(update)
        .where('id', '=', task.id)
        .where('ended_at', 'is', null);
      if (guard === 'read_status') q = q.where('status', '=', task.status);
      const r = await q.executeTakeFirst();
      if (Number(r.numUpdatedRows) !== 1) {
        if (guard === 'read_status') return undefined;
        throw brokerError('TASK_NOT_ACTIVE', `task ${task.id} has already ended`, { field: 'params.id' });
      }
      await this.deps.audit.record(coreTrx(trx), {
        actor,
        action: `broker.task.${status}`,
        targetType: 'task',
        targetId: task.id,
        requestId,
        before: { status: task.status },
        after: { status, reason },
      });
      if (!ending) return undefined;
      // Tokens never outlive their task, so the entry can be forgotten once the task's expiry has passed.
      return this.deps.revocations.insert(trx, {
        kind: 'task',
        target: task.id,
        expiresAt: task.expires_at,
        reason: reason ?? `task ${status}`,
        actor,
        requestId,
      });
    });
    if (revocation) {
      this.deps.revocations.apply(revocation);
      await this.deps.onEnded?.(task);
      this.deps.events.publish({
        id: revocation.id,
        time: now,
        type: 'token.revoked',
        source: 'broker',
        identityId: task.identity,
        outcome: 'success',
        data: {
          taskId: task.id,
          scope: 'task',
          status,
          reason: revocation.reason,
          workflow: task.workflow ?? task.purpose,
        },
      });
    }
    return this.get(task.id);
  }

  /** Marks every task past its expiry as expired (which revokes its tokens). Returns how many. */
  async sweep(): Promise<number> {
    const now = this.deps.now().toISOString();
    const due = await this.deps.db
      .selectFrom('broker_tasks')
      .select('id')
      .where('status', 'in', ['active', 'pending_approval'])
      .where('expires_at', '<=', now)
      .limit(500)
      .execute();
    let n = 0;
    for (const { id } of due) {
      try {
        await this.end(id, 'expired', 'system:broker-sweeper', undefined, 'task ttl elapsed');
        n++;
      } catch {
        /* ended concurrently by another replica or request */
      }
    }
    return n;
  }

  /**
   * Counts one use against the task's budget, atomically (a conditional update, so concurrent validations on
   * any replica cannot overspend it). Returns the refusal reason when no use was left.
   */
  async consumeUse(
    taskId: string,
  ): Promise<
    | { ok: true; usesLeft: number }
    | { ok: false; code: 'TOKEN_TASK_ENDED' | 'TOKEN_USE_BUDGET_EXHAUSTED'; task?: Task }
  > {
    const now = this.deps.now().toISOString();
    const r = await this.deps.db
      .updateTable('broker_tasks')
      .set((eb) => ({ uses: eb('uses', '+', 1) }))
      .where('id', '=', taskId)
      .where('status', '=', 'active')
      .where('expires_at', '>', now)
      .where((eb) => eb('uses', '<', eb.ref('max_uses')))
      .returning(['uses', 'max_uses'])
      .executeTakeFirst();
    if (r) return { ok: true, usesLeft: Number(r.max_uses) - Number(r.uses) };
    const task = await this.get(taskId).catch(() => undefined);
    if (!task || task.status !== 'active')
      return { ok: false, code: 'TOKEN_TASK_ENDED', ...(task ? { task } : {}) };
    return { ok: false, code: 'TOKEN_USE_BUDGET_EXHAUSTED', task };
  }
}
