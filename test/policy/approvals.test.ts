/**
 * Who may decide an approval request: the HTTP route, the approval store and the PDP together, on SQLite and
 * PostgreSQL. The one-time, bound grant itself is covered in pdp.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { coreModule } from '../../src/modules/index.js';
import { identityCreateSchema, resourceCreateSchema } from '../../src/inventory/schemas.js';
import { createPolicyModule } from '../../src/policy/index.js';
import { personalKeys, startTestServer, type TestServer } from '../helpers/server.js';

const POLICIES = `
@id("all") permit (principal, action, resource);

@id("regulated-needs-approval")
@obligation("approval_required")
forbid (principal, action, resource)
when { resource.sensitivity == "regulated" }
unless { context.approved };
`;

for (const backend of ['sqlite', 'postgres'] as const)
  void describe(`approval deciders (${backend})`, () => {
    let server: TestServer;
    const clock = new Date('2026-11-25T10:00:00Z');
    const mod = createPolicyModule({ pollMs: 0 });
    const meta = { actor: 'test' };
    const decide = (principal: string, resource: string, context: Record<string, unknown> = {}) =>
      mod
        .runtime()
        .pdp.decide({ principal: { id: principal }, action: 'read', resource: { id: resource }, context });
    /** Opens a request and returns its id. */
    const requestApproval = async (principal: string, resource: string): Promise<string> => {
      const d = await decide(principal, resource);
      const ob = d.obligations.find((o) => o.type === 'approval_required');
      assert.ok(ob && ob.type === 'approval_required' && ob.approval_id, JSON.stringify(d));
      return ob.approval_id;
    };
    const keyOf = personalKeys(() => server);
    const verdict = (id: string, person: string, v: 'approve' | 'deny' = 'approve') =>
      keyOf(person).then((token) => server.call('POST', `/v1/approvals/${id}/${v}`, { token }));

    before(async () => {
      server = await startTestServer({
        modules: [coreModule, mod],
        now: () => clock,
        postgres: backend === 'postgres',
      });
      const inv = server.ctx.inventory;
      for (const i of [
        { id: 'alice', kind: 'human', displayName: 'Alice', environment: 'prod' },
        { id: 'bob', kind: 'human', displayName: 'Bob', environment: 'prod' },
        { id: 'carol', kind: 'human', displayName: 'Carol', environment: 'prod' },
        { id: 'helper', kind: 'ai_agent', displayName: 'Helper', environment: 'prod', owners: ['bob'] },
      ]) {
        await inv.createIdentity(identityCreateSchema.parse(i), meta);
      }
      for (const r of [
        {
          id: 'vault',
          type: 'database',
          displayName: 'vault',
          sensitivity: 'regulated',
          environment: 'prod',
          owners: ['alice', 'bob'],
        },
        {
          id: 'robot-vault',
          type: 'database',
          displayName: 'robot vault',
          sensitivity: 'regulated',
          environment: 'prod',
          owners: ['bob'],
        },
        {
          id: 'handover',
          type: 'database',
          displayName: 'handed over',
          sensitivity: 'regulated',
          environment: 'prod',
          owners: ['bob'],
        },
      ]) {
        await inv.createResource(resourceCreateSchema.parse(r), meta);
      }
      const res = await server.call('POST', '/v1/policies', { body: { policies: POLICIES } });
      assert.equal(res.status, 201, JSON.stringify(res.body));
    });
    after(async () => {
      await server.stop();
    });

    void it('an owner cannot decide their own request; another owner can, and owners decide for their agents', async () => {
      const own = await requestApproval('alice', 'vault');
      for (const v of ['approve', 'deny'] as const) {
        const self = await verdict(own, 'alice', v);
        assert.equal(self.status, 403, JSON.stringify(self.body));
        assert.equal(self.body.code, 'BULKHEAD_APPROVER_IS_REQUESTER');
        assert.equal(self.body.field, 'body.approver');
      }
      assert.equal((await server.call('GET', `/v1/approvals/${own}`)).body.status, 'pending');
      assert.equal((await decide('alice', 'vault', { approval_id: own })).decision, false);
      const other = await verdict(own, 'bob');
      assert.equal(other.status, 200, JSON.stringify(other.body));
      assert.equal(other.body.decidedBy, 'bob');
      assert.equal((await decide('alice', 'vault', { approval_id: own })).decision, true);

      const agents = await requestApproval('helper', 'vault');
      const byOwner = await verdict(agents, 'bob');
      assert.equal(byOwner.status, 200, JSON.stringify(byOwner.body));
      assert.equal(byOwner.body.status, 'approved');
    });

    void it('of an approve and a deny sent at once, exactly one is taken', async () => {
      for (let round = 0; round < 5; round++) {
        const id = await requestApproval('carol', 'vault');
        const [a, d] = await Promise.all([verdict(id, 'alice', 'approve'), verdict(id, 'bob', 'deny')]);
        const statuses = [a.status, d.status].sort();
        assert.deepEqual(statuses, [200, 409], JSON.stringify([a.body, d.body]));
        const loser = a.status === 409 ? a : d;
        assert.equal(loser.body.code, 'BULKHEAD_APPROVAL_NOT_PENDING');
        const stored = (await server.call('GET', `/v1/approvals/${id}`)).body;
        assert.equal(stored.status, a.status === 200 ? 'approved' : 'denied');
      }
    });

    void it('only an active person decides: a quarantined or disabled owner and an agent are refused', async () => {
      const inv = server.ctx.inventory;
      const id = await requestApproval('carol', 'vault');
      await keyOf('bob'); // issued while bob is active
      for (const status of ['quarantined', 'disabled'] as const) {
        await inv.setIdentityStatus('bob', status, meta);
        for (const v of ['approve', 'deny'] as const) {
          // Over HTTP the key bound to bob stops working first; the approval store refuses him on its own too
          // (an in-process caller, or a replica whose key cache has not heard yet).
          const r = await verdict(id, 'bob', v);
          assert.equal(r.status, 401, JSON.stringify(r.body));
          assert.match(r.body.detail, new RegExp(`bound to \\(bob\\) is ${status}`));
          await assert.rejects(mod.runtime().approvals.decide(id, 'bob', v, meta), {
            code: 'BULKHEAD_APPROVER_INACTIVE',
            field: 'body.approver',
          });
        }
      }
      await inv.setIdentityStatus('bob', 'active', meta);
      assert.equal((await server.call('GET', `/v1/approvals/${id}`)).body.status, 'pending');
      assert.equal((await decide('carol', 'vault', { approval_id: id })).decision, false);

      // An agent listed as an owner (written past the inventory API, which only takes people) with a bound key.
      await server.ctx.db
        .updateTable('resources')
        .set({ owners: JSON.stringify(['helper']) })
        .where('id', '=', 'robot-vault')
        .execute();
      inv.notifyChanges([{ entity: 'resource', op: 'update', id: 'robot-vault' }]);
      const robot = await requestApproval('carol', 'robot-vault');
      const byAgent = await verdict(robot, 'helper');
      assert.equal(byAgent.status, 403, JSON.stringify(byAgent.body));
      assert.equal(byAgent.body.code, 'BULKHEAD_APPROVER_NOT_HUMAN');
      assert.equal(byAgent.body.field, 'body.approver');
      assert.equal((await server.call('GET', `/v1/approvals/${robot}`)).body.status, 'pending');
    });

    void it('decided by the owners at decision time: a new owner can approve, an ex-owner cannot', async () => {
      const id = await requestApproval('carol', 'handover');
      await server.ctx.inventory.updateResource('handover', { owners: ['alice'] }, meta);
      const again = await decide('carol', 'handover');
      const ob = again.obligations.find((o) => o.type === 'approval_required');
      assert.ok(ob && ob.type === 'approval_required');
      assert.equal(ob.approval_id, id);
      assert.deepEqual(ob.approvers, ['alice']);
      assert.deepEqual((await server.call('GET', `/v1/approvals/${id}`)).body.approvers, ['alice']);

      const exOwner = await verdict(id, 'bob');
      assert.equal(exOwner.status, 403, JSON.stringify(exOwner.body));
      assert.equal(exOwner.body.code, 'BULKHEAD_APPROVER_NOT_OWNER');
      assert.equal(exOwner.body.field, 'body.approver');
      const newOwner = await verdict(id, 'alice');
      assert.equal(newOwner.status, 200, JSON.stringify(newOwner.body));
      assert.equal(newOwner.body.status, 'approved');
      assert.deepEqual(newOwner.body.approvers, ['alice']);
      assert.equal((await decide('carol', 'handover', { approval_id: id })).decision, true);
    });

    void it('an owner removed without the PDP hearing of it (another replica) can no longer approve', async () => {
      await server.ctx.inventory.updateResource('handover', { owners: ['bob'] }, meta);
      const id = await requestApproval('carol', 'handover');
      // The row changes underneath: this process's entity index still lists bob.
      await server.ctx.db
        .updateTable('resources')
        .set({ owners: JSON.stringify(['alice']) })
        .where('id', '=', 'handover')
        .execute();
      const exOwner = await verdict(id, 'bob');
      assert.equal(exOwner.status, 403, JSON.stringify(exOwner.body));
      assert.equal(exOwner.body.code, 'BULKHEAD_APPROVER_NOT_OWNER');
      assert.equal((await verdict(id, 'alice')).status, 200);
    });

    void it('a blank justification is not recorded on the request', async () => {
      const d = await decide('bob', 'vault', { justification: ' \t ' });
      const ob = d.obligations.find((o) => o.type === 'approval_required');
      assert.ok(ob && ob.type === 'approval_required' && ob.approval_id);
      assert.equal((await server.call('GET', `/v1/approvals/${ob.approval_id}`)).body.justification, null);
    });
  });
