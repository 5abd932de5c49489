/**
 * RFC 8693 token exchange for delegation: an actor (an agent with its own workload proof, `actor_token`)
 * acting for the subject of a task token (`subject_token`) gets a token whose rights are the intersection of
 * the subject token's intent, what it asks for, and what the PDP lets the actor do. It can only narrow:
 * asking for any action, resource, audience or task the subject token does not hold is refused, never
 * silently trimmed, so an attempt to widen is visible. The chain is recorded in a nested `act` claim and
 * limited in depth.
 */
import { brokerError } from '../errors.js';
import type { WorkloadProof } from '../workload-proof/verify.js';
import type { DecisionPoint } from '../tasks/task-service.js';
import type { Task } from '../tasks/task.js';
import {
  delegationDepth,
  grantedIntent,
  type ActClaim,
  type AuthorizationDetail,
  type TaskTokenClaims,
} from '../tokens/claims.js';

export const TOKEN_TYPE_ACCESS = 'urn:ietf:params:oauth:token-type:access_token';
export const TOKEN_TYPE_JWT = 'urn:ietf:params:oauth:token-type:jwt';

export interface ExchangePlan {
  intent: { actions: string[]; locations: string[] };
  act: ActClaim;
  parents: string[];
}

/** Parses the requested `authorization_details` (RFC 9396 §2, JSON array in a form parameter). */
export function parseRequestedDetails(raw: string | undefined): AuthorizationDetail[] | undefined {
  if (raw === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw brokerError('OAUTH_INVALID_REQUEST', 'authorization_details must be a JSON array', {
      field: 'authorization_details',
    });
  }
  const ok =
    Array.isArray(parsed) &&
    parsed.length > 0 &&
    parsed.every(
      (d: unknown) =>
        typeof d === 'object' &&
        d !== null &&
        Array.isArray((d as AuthorizationDetail).actions) &&
        (d as AuthorizationDetail).actions.every((a) => typeof a === 'string') &&
        Array.isArray((d as AuthorizationDetail).locations) &&
        (d as AuthorizationDetail).locations.every((l) => typeof l === 'string'),
    );
  if (!ok) {
    throw brokerError(
      'OAUTH_INVALID_REQUEST',
      'each authorization_details entry needs actions[] and locations[]',
      {
        field: 'authorization_details',
      },
    );
  }
  return parsed as AuthorizationDetail[];
}

/**
 * Decides what an exchange may yield. Pure apart from the PDP calls for the actor.
 * @example const plan = await planExchange({ subject, actor, task, requested, audience, taskParam, maxDepth, pdp });
 */
export async function planExchange(input: {
  subject: TaskTokenClaims;
  actor: WorkloadProof;
  task: Task;
  requested: AuthorizationDetail[] | undefined;
  audience: string | undefined;
  taskParam: string | undefined;
  maxDepth: number;
  pdp: DecisionPoint;
  requestId?: string | undefined;
}): Promise<ExchangePlan> {
  const { subject, actor, task } = input;
  if (input.taskParam !== undefined && input.taskParam !== subject.task) {
    throw brokerError(
      'EXCHANGE_TASK_MISMATCH',
      `the subject token belongs to task ${subject.task}, not ${input.taskParam}`,
      {
        field: 'task',
      },
    );
  }
  for (const d of input.requested ?? []) {
    if (d.identifier !== undefined && d.identifier !== subject.task) {
      throw brokerError(
        'EXCHANGE_TASK_MISMATCH',
        `authorization_details names task ${String(d.identifier)}`,
        {
          field: 'authorization_details',
        },
      );
    }
  }
  if (input.audience !== undefined && input.audience !== subject.aud) {
    throw brokerError('EXCHANGE_WIDENS', `the subject token is for audience ${subject.aud}`, {
      field: 'audience',
    });
  }
  const held = grantedIntent(subject.authorization_details);
  const wanted = input.requested ? grantedIntent(input.requested) : held;
  const extraAction = [...wanted.actions].find((a) => !held.actions.has(a));
  const extraLocation = [...wanted.locations].find((l) => !held.locations.has(l));
  if (extraAction !== undefined || extraLocation !== undefined) {
    throw brokerError(
      'EXCHANGE_WIDENS',
      extraAction !== undefined
        ? `action ${extraAction} is not held by the subject token`
        : `resource ${extraLocation ?? ''} is not held by the subject token`,
      { field: 'authorization_details' },
    );
  }
  if (delegationDepth(subject.act) + 1 > input.maxDepth) {
    throw brokerError(
      'EXCHANGE_DEPTH_EXCEEDED',
      `delegation chains are limited to ${input.maxDepth} actors`,
      {
        field: 'actor_token',
      },
    );
  }
  // The actor needs its own right to every (action, resource) it will exercise: intersection, not inheritance.
  for (const action of wanted.actions) {
    for (const resource of wanted.locations) {
      const d = await input.pdp.decide(
        {
          principal: { id: actor.identity.id },
          action,
          resource: { id: resource },
          context: { task_id: task.id, justification: task.purpose },
        },
        input.requestId,
      );
      if (!d.decision) {
        throw brokerError('EXCHANGE_ACTOR_DENIED', `${actor.identity.id} may not ${action} ${resource}`, {
          field: 'actor_token',
          extra: { reasons: d.reasons },
        });
      }
    }
  }
  const act: ActClaim = {
    sub: actor.subject,
    client_id: actor.identity.id,
    ...(subject.act ? { act: subject.act } : {}),
  };
  return {
    intent: { actions: [...wanted.actions], locations: [...wanted.locations] },
    act,
    parents: [...(subject.parents ?? []), subject.jti],
  };
}
