/** A task: who is doing what, to which resources, for how long, how many times. */
import type { BrokerTaskTable } from '../tables.js';

export const TASK_STATUSES = [
  'pending_approval',
  'active',
  'completed',
  'expired',
  'revoked',
  'denied',
] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

export interface PendingApproval {
  action: string;
  resource: string;
  principal: string;
  approval_id: string;
}

export interface Task {
  id: string;
  identity: string;
  subject: string;
  on_behalf_of: string | null;
  purpose: string;
  actions: string[];
  resources: string[];
  audience: string;
  status: TaskStatus;
  max_uses: number;
  uses: number;
  pending_approvals: PendingApproval[];
  workflow: string | null;
  created_at: string;
  expires_at: string;
  ended_at: string | null;
  created_by: string;
  policy_version: number | null;
}

export function toTask(r: BrokerTaskTable, now: Date): Task {
  let status = r.status as TaskStatus;
  // A task past its expiry is expired even before the sweeper writes it down.
  if ((status === 'active' || status === 'pending_approval') && r.expires_at <= now.toISOString())
    status = 'expired';
  return {
    id: r.id,
    identity: r.identity_id,
    subject: r.subject,
    on_behalf_of: r.on_behalf_of,
    purpose: r.purpose,
    actions: JSON.parse(r.actions) as string[],
    resources: JSON.parse(r.resources) as string[],
    audience: r.audience,
    status,
    max_uses: Number(r.max_uses),
    uses: Number(r.uses),
    pending_approvals: JSON.parse(r.approvals) as PendingApproval[],
    workflow: r.workflow,
    created_at: r.created_at,
    expires_at: r.expires_at,
    ended_at: r.ended_at,
    created_by: r.created_by,
    policy_version: r.policy_version,
  };
}

export function isEnded(status: TaskStatus): boolean {
  return status === 'completed' || status === 'expired' || status === 'revoked' || status === 'denied';
}
