/**
 * The broker as containment sees it (respond's `TokenAuthority`): cut an identity off from every task token it
 * holds, stop one task, and answer "could this identity still present a live token?". Revocations are the
 * broker's durable ones, so they survive restarts and reach every replica.
 */
import type { WriteMeta } from '../inventory/service.js';
import type { TokenAuthority } from '../respond/handles.js';
import type { Broker } from './service.js';
import { isEnded } from './tasks/task.js';

/** Upper bound on the live tasks one identity can hold that containment walks (more is itself an incident). */
const MAX_TASKS = 10_000;

export function brokerTokenAuthority(broker: () => Broker): TokenAuthority {
  const liveTasks = async (identityId: string) =>
    (await broker().tasks.list({ identity: identityId, limit: MAX_TASKS })).filter((t) => !isEnded(t.status));
  return {
    async revokeTokensOf(identityId: string, meta: WriteMeta, reason: string) {
      const b = broker();
      // The identity revocation kills every token already minted; ending its tasks stops new ones being minted.
      await b.revoke({
        kind: 'identity',
        target: identityId,
        reason,
        actor: meta.actor,
        requestId: meta.requestId,
        identityId,
      });
      let revoked = 0;
      for (const task of await liveTasks(identityId)) {
        await b.revoke({
          kind: 'task',
          target: task.id,
          reason,
          actor: meta.actor,
          requestId: meta.requestId,
          identityId,
          taskId: task.id,
        });
        revoked++;
      }
      return { revoked };
    },
    async disableTask(taskId: string, meta: WriteMeta, reason: string) {
      const b = broker();
      const task = await b.tasks.get(taskId);
      if (isEnded(task.status)) return;
      await b.revoke({
        kind: 'task',
        target: taskId,
        reason,
        actor: meta.actor,
        requestId: meta.requestId,
        taskId,
      });
    },
    async identityHasActiveTokens(identityId: string) {
      return (await liveTasks(identityId)).length > 0;
    },
  };
}
