/**
 * Issuing and destroying a task's downstream credentials through the plugins, with a durable record of each
 * (never the secret) so a failed drop is retried and a crash cannot leave a credential behind unnoticed.
 */
import { randomBytes } from 'node:crypto';
import type { AuditLog } from '../../audit/audit-log.js';
import { brokerError } from '../errors.js';
import { coreTrx, type BrokerDb } from '../tables.js';
import type { TaskService } from '../tasks/task-service.js';
import type { DownstreamPlugin, ProvisionedCredential } from './plugin.js';

export interface DownstreamDeps {
  db: BrokerDb;
  audit: AuditLog;
  now: () => Date;
  plugins: DownstreamPlugin[];
  tasks: Pick<TaskService, 'get'>;
}

export class DownstreamCredentials {
  constructor(private readonly deps: DownstreamDeps) {}

  /**
   * Creates the downstream credentials (e.g. a PostgreSQL role) for every resource of an active task that a
   * plugin serves. Once per task and resource; the secret is in this response only.
   */
  async issue(taskId: string, identityId: string, requestId?: string): Promise<ProvisionedCredential[]> {
    const task = await this.deps.tasks.get(taskId);
    if (task.identity !== identityId) {
      throw brokerError('TASK_IDENTITY_MISMATCH', `task ${task.id} belongs to another identity`, {
        field: 'params.id',
      });
    }
    if (task.status !== 'active') {
      throw brokerError('TASK_NOT_ACTIVE', `task ${task.id} is ${task.status}`, { field: 'params.id' });
    }
    const out: ProvisionedCredential[] = [];
    for (const resource of task.resources) {
      const plugin = this.deps.plugins.find((p) => p.handles(resource));
      if (!plugin) continue;
      // Reserve before provisioning: of two concurrent requests (any replica) only one gets the slot.
      if (!(await this.reserve(task.id, resource))) {
        throw brokerError(
          'TASK_NOT_ACTIVE',
          `downstream credentials for ${resource} were already issued for ${task.id}`,
          {
            field: 'params.id',
          },
        );
      }
      let cred: ProvisionedCredential;
      try {
        cred = await plugin.provision(task, resource);
      } catch (err) {
        // Nothing was made: free the slot so the workload can ask again.
        await this.release(task.id, resource);
        throw err;
      }
      const row = {
        id: `dsc-${randomBytes(9).toString('base64url')}`,
        task_id: task.id,
        plugin: plugin.name,
        resource,
        principal: cred.principal,
        created_at: this.deps.now().toISOString(),
        expires_at: cred.expires_at,
        dropped_at: null,
      };
      try {
        await this.deps.db.transaction().execute(async (trx) => {
          await trx.insertInto('broker_downstream').values(row).execute();
          await this.deps.audit.record(coreTrx(trx), {
            actor: `workload:${identityId}`,
            action: 'broker.downstream.issue',
            targetType: 'task',
            targetId: task.id,
            requestId,
            after: { ...row, grants: cred.grants },
          });
        });
      } catch (err) {
        await this.undoUnrecorded(plugin, task.id, resource, cred.principal, err);
        throw err;
      }
      out.push(cred);
    }
    // A task that ended while we were provisioning must not keep what we just made.
    const now = await this.deps.tasks.get(task.id);
    if (now.status !== 'active') await this.drop(task.id);
    return out;
  }

  /** Takes the (task, resource) slot; false when it is taken already. */
  private async reserve(taskId: string, resource: string): Promise<boolean> {
    const res = await this.deps.db
      .insertInto('broker_downstream_reservations')
      .values({ task_id: taskId, resource, reserved_at: this.deps.now().toISOString() })
      .onConflict((oc) => oc.columns(['task_id', 'resource']).doNothing())
      .executeTakeFirst();
    return (res.numInsertedOrUpdatedRows ?? 0n) > 0n;
  }

  private async release(taskId: string, resource: string): Promise<void> {
    await this.deps.db
      .deleteFrom('broker_downstream_reservations')
      .where('task_id', '=', taskId)
      .where('resource', '=', resource)
      .execute();
  }

  /**
   * The plugin made a credential but its record could not be written, so neither `drop` nor the sweeper would
   * ever find it: destroy it now. If that fails too, the slot stays taken (the credential may still exist) and
   * the error says which principal to remove by hand; it is never silent.
   */
  private async undoUnrecorded(
    plugin: DownstreamPlugin,
    taskId: string,
    resource: string,
    principal: string,
    cause: unknown,
  ): Promise<void> {
    try {
      await plugin.deprovision(resource, principal);
    } catch (dropErr) {
      throw new Error(
        `downstream credential ${principal} for ${resource} of ${taskId} was made but neither recorded nor dropped: remove it by hand`,
        { cause: new AggregateError([cause, dropErr]) },
      );
    }
    await this.release(taskId, resource);
  }

  /** Drops every live downstream credential of a task; failures stay for the sweeper to retry. */
  async drop(taskId: string): Promise<number> {
    const rows = await this.deps.db
      .selectFrom('broker_downstream')
      .selectAll()
      .where('task_id', '=', taskId)
      .where('dropped_at', 'is', null)
      .execute();
    let dropped = 0;
    for (const r of rows) {
      const plugin = this.deps.plugins.find((p) => p.name === r.plugin);
      if (!plugin) continue;
      try {
        await plugin.deprovision(r.resource, r.principal);
        await this.deps.db
          .updateTable('broker_downstream')
          .set({ dropped_at: this.deps.now().toISOString() })
          .where('id', '=', r.id)
          .execute();
        dropped++;
      } catch {
        /* retried by the sweeper */
      }
    }
    return dropped;
  }

  /** Sweeper: retries drops that failed and drops credentials of tasks that ended elsewhere. */
  async retryDrops(): Promise<void> {
    if (this.deps.plugins.length === 0) return;
    const rows = await this.deps.db
      .selectFrom('broker_downstream')
      .innerJoin('broker_tasks', 'broker_tasks.id', 'broker_downstream.task_id')
      .select('broker_downstream.task_id as task_id')
      .where('broker_downstream.dropped_at', 'is', null)
      .where((eb) =>
        eb.or([
          eb('broker_tasks.status', 'not in', ['active', 'pending_approval']),
          eb('broker_downstream.expires_at', '<=', this.deps.now().toISOString()),
        ]),
      )
      .limit(100)
      .execute();
    for (const id of new Set(rows.map((r) => r.task_id))) await this.drop(id);
  }
}
