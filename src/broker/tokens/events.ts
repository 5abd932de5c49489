/** The `token.*` events the broker publishes for detection (field names the detect module reads). */
import { randomUUID } from 'node:crypto';
import type { BulkheadEvent } from '../../events/bus.js';
import type { Task } from '../tasks/task.js';
import type { WorkloadProof } from '../workload-proof/verify.js';
import type { TaskTokenClaims } from './claims.js';

function chain(act: TaskTokenClaims['act']): string[] {
  const out: string[] = [];
  for (let a = act; a; a = a.act) out.push(a.sub);
  return out;
}

export function tokenIssuedEvent(
  c: TaskTokenClaims,
  task: Task,
  proof: WorkloadProof,
  exchange: boolean,
  now: Date,
): BulkheadEvent {
  return {
    id: randomUUID(),
    time: now.toISOString(),
    type: 'token.issued',
    source: 'broker',
    identityId: proof.identity.id,
    credentialId: c.jti,
    outcome: 'success',
    data: {
      jti: c.jti,
      taskId: task.id,
      sub: c.sub,
      boundJkt: c.cnf?.jkt,
      intentActions: c.authorization_details.flatMap((d) => d.actions),
      resources: c.authorization_details.flatMap((d) => d.locations),
      workflow: task.workflow ?? task.purpose,
      proof: proof.kind,
      exchange,
      ...(c.act ? { actor: c.act.sub, delegationChain: chain(c.act) } : {}),
      expiresAt: new Date(c.exp * 1000).toISOString(),
    },
  };
}

export function tokenRefusedEvent(
  subject: TaskTokenClaims | undefined,
  err: unknown,
  stage: string,
  now: Date,
): BulkheadEvent {
  const code = (err as { code?: unknown }).code;
  return {
    id: randomUUID(),
    time: now.toISOString(),
    type: 'token.refused',
    source: 'broker',
    identityId: subject?.client_id,
    credentialId: subject?.jti,
    outcome: 'failure',
    data: {
      stage,
      code: typeof code === 'string' ? code : 'BULKHEAD_INTERNAL',
      ...(subject ? { jti: subject.jti, taskId: subject.task, boundJkt: subject.cnf?.jkt } : {}),
    },
  };
}
