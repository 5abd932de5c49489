/**
 * Downstream credentials are issued once per task and resource, also when two requests race (on SQLite and on
 * PostgreSQL): the slot is reserved before the plugin provisions anything. A provisioning failure frees the
 * slot; a credential whose record cannot be written is destroyed at once, never left behind unnoticed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { AuditLog } from '../../src/audit/audit-log.js';
import type { DownstreamPlugin, ProvisionedCredential } from '../../src/broker/downstream/plugin.js';
import { DownstreamCredentials } from '../../src/broker/downstream/downstream-service.js';
import type { Task } from '../../src/broker/tasks/task.js';
import { PAYMENTS_API, startHarness, type Harness } from './harness.js';

/** A plugin whose next provision call can be held open until the test lets it finish. */
class FakePlugin implements DownstreamPlugin {
  readonly name = 'fake';
  provisioned: string[] = [];
  deprovisioned: string[] = [];
  failProvision = false;
  failDeprovision = false;
  private hold: { started: () => void; release: Promise<void> } | undefined;

  /** The next provision waits for the returned `release`; `started` resolves once it is waiting. */
  holdNext(): { started: Promise<void>; release: () => void } {
    let started!: () => void;
    let release!: () => void;
    const startedP = new Promise<void>((r) => (started = r));
    this.hold = { started, release: new Promise<void>((r) => (release = r)) };
    return { started: startedP, release };
  }

  handles(resourceId: string): boolean {
    return resourceId === 'payments-db';
  }

  async provision(task: Task, resource: string): Promise<ProvisionedCredential> {
    const hold = this.hold;
    this.hold = undefined;
    if (hold) {
      hold.started();
      await hold.release;
    }
    if (this.failProvision) throw new Error('downstream unreachable');
    const principal = `role_${this.provisioned.length + 1}`;
    this.provisioned.push(principal);
    return {
      plugin: this.name,
      resource,
      principal,
      secret: `secret-${principal}`,
      expires_at: task.expires_at,
      grants: ['SELECT'],
      connection: {},
    };
  }

  deprovision(_resource: string, principal: string): Promise<void> {
    if (this.failDeprovision) return Promise.reject(new Error('drop failed'));
    this.deprovisioned.push(principal);
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

for (const postgres of [false, true]) {
  void describe(`broker: downstream credentials once per task (${postgres ? 'PostgreSQL' : 'SQLite'})`, () => {
    let h: Harness;
    before(async () => {
      h = await startHarness({ postgres });
    });
    after(async () => {
      await h.stop();
    });

    function service(plugin: FakePlugin, audit?: AuditLog): DownstreamCredentials {
      const b = h.broker.runtime();
      return new DownstreamCredentials({
        db: b.deps.db,
        audit: audit ?? b.deps.audit,
        now: b.deps.now,
        plugins: [plugin],
        tasks: b.tasks,
      });
    }

    async function task(): Promise<string> {
      const res = await h.createTask(await h.svid(PAYMENTS_API), {
        purpose: 'downstream',
        actions: ['read'],
        resources: ['payments-db'],
        ttl: 600,
        max_uses: 5,
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return res.body.id as string;
    }

    async function records(taskId: string): Promise<string[]> {
      const rows = await h.broker
        .runtime()
        .deps.db.selectFrom('broker_downstream')
        .select('principal')
        .where('task_id', '=', taskId)
        .execute();
      return rows.map((r) => r.principal);
    }

    void it('a second request while the first is provisioning is refused; one credential, one record', async () => {
      const plugin = new FakePlugin();
      const ds = service(plugin);
      const id = await task();
      const held = plugin.holdNext();
      const first = ds.issue(id, 'payments-api');
      await held.started;
      await assert.rejects(ds.issue(id, 'payments-api'), { code: 'BULKHEAD_TASK_NOT_ACTIVE' });
      held.release();
      const issued = await first;
      assert.deepEqual(
        issued.map((c) => c.principal),
        ['role_1'],
      );
      assert.deepEqual(plugin.provisioned, ['role_1']);
      await assert.rejects(ds.issue(id, 'payments-api'), { code: 'BULKHEAD_TASK_NOT_ACTIVE' });
      assert.deepEqual(await records(id), ['role_1']);
    });

    void it('a failed provision frees the slot for another try', async () => {
      const plugin = new FakePlugin();
      const ds = service(plugin);
      const id = await task();
      plugin.failProvision = true;
      await assert.rejects(ds.issue(id, 'payments-api'), /downstream unreachable/);
      plugin.failProvision = false;
      const issued = await ds.issue(id, 'payments-api');
      assert.equal(issued.length, 1);
      assert.deepEqual(await records(id), [issued[0]?.principal]);
    });

    void it('a credential whose record cannot be written is dropped; if that fails the error names it', async () => {
      const plugin = new FakePlugin();
      const failingAudit = {
        record: () => Promise.reject(new Error('audit unavailable')),
      } as unknown as AuditLog;
      const id = await task();
      await assert.rejects(service(plugin, failingAudit).issue(id, 'payments-api'), /audit unavailable/);
      assert.deepEqual(plugin.deprovisioned, ['role_1']);
      assert.deepEqual(await records(id), []);
      // Dropped, so the slot is free again.
      const issued = await service(plugin).issue(id, 'payments-api');
      assert.deepEqual(
        issued.map((c) => c.principal),
        ['role_2'],
      );

      const other = await task();
      plugin.failDeprovision = true;
      await assert.rejects(
        service(plugin, failingAudit).issue(other, 'payments-api'),
        /role_3 for payments-db .* neither recorded nor dropped/,
      );
      plugin.failDeprovision = false;
      // The credential may still exist: the slot stays taken rather than letting a second one be made.
      await assert.rejects(service(plugin).issue(other, 'payments-api'), {
        code: 'BULKHEAD_TASK_NOT_ACTIVE',
      });
    });
  });
}
