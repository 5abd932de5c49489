/** The demo organisation and its policies make sense together: what `npm start` shows a new user. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from '../helpers/server.js';

describe('demo organisation', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ demo: true });
  });
  after(async () => {
    await server.stop();
  });

  const decide = async (
    subject: string,
    action: string,
    resource: string,
    context: Record<string, unknown> = {},
  ) => {
    // A PEP names the resource with its inventory type (`table`, `repository`, ...): AuthZEN resources carry a type.
    const { type } = await server.ctx.inventory.getResource(resource);
    const res = await server.call('POST', '/access/v1/evaluation', {
      body: {
        subject: { type: 'identity', id: subject },
        action: { name: action },
        resource: { type, id: resource },
        context,
      },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body as {
      decision: boolean;
      context: { reasons?: { id: string }[]; obligations?: { type: string }[] };
    };
  };

  it('has the advertised shape: ~10 people, ~40 NHIs of every kind, ~60 credentials, ~30 resources', async () => {
    const counts = await server.ctx.inventory.counts();
    assert.deepEqual(counts, { identities: 50, credentials: 62, resources: 31 });
    const kinds = new Set<string>();
    for (const i of (await server.call('GET', '/v1/identities?limit=500')).body.items) kinds.add(i.kind);
    assert.equal(kinds.size, 8);
    const agents = (await server.call('GET', '/v1/identities?kind=ai_agent')).body.items;
    assert.equal(agents.length, 3);
    assert.ok(agents.every((a: any) => a.labels.tools));
    const stale = (await server.call('GET', '/v1/identities?stale_days=90&no_owner=true')).body.items;
    assert.ok(stale.length >= 3);
  });

  it('loads the demo policies as the active version', async () => {
    const res = await server.call('GET', '/v1/policies');
    assert.equal(res.status, 200);
    assert.ok(JSON.stringify(res.body).includes('demo policies'));
  });

  it('decides people and machines with one model', async () => {
    assert.equal((await decide('payments-api', 'write', 'payments-db.transactions')).decision, true);
    assert.equal((await decide('payments-api', 'write', 'warehouse')).decision, false);
    assert.equal((await decide('etl-warehouse', 'read', 's3-raw-events')).decision, true);
    assert.equal((await decide('etl-warehouse', 'write', 'payments-db')).decision, false);
    assert.equal((await decide('agent-support-bot', 'invoke', 'api-refunds')).decision, true);
    assert.equal((await decide('agent-support-bot', 'read', 'payroll')).decision, false);
    assert.equal(
      (await decide('svc-dev-sandbox', 'read', 'repo-web')).decision,
      false,
      'dev identity never reaches prod',
    );
  });

  it('asks for step-up, approval and justification where the guard rails say so', async () => {
    const noMfa = await decide('bob', 'write', 'repo-payments');
    assert.equal(noMfa.decision, false);
    assert.deepEqual(
      noMfa.context.obligations?.map((o) => o.type),
      ['step_up'],
    );
    const fresh = await decide('bob', 'write', 'repo-payments', {
      auth_time: Math.floor(Date.now() / 1000) - 60,
    });
    assert.equal(fresh.decision, true);
    const agentRegulated = await decide('agent-finops', 'read', 'warehouse.finance');
    assert.equal(agentRegulated.decision, false);
    assert.deepEqual(
      agentRegulated.context.obligations?.map((o) => o.type),
      ['approval_required'],
    );
    const risky = await decide('alice', 'read', 'repo-web', { risk_score: 90 });
    assert.deepEqual(
      risky.context.obligations?.map((o) => o.type),
      ['justification_required'],
    );
  });

  it('denies a quarantined identity whatever the policies say', async () => {
    assert.equal((await decide('svc-quarantined', 'read', 's3-staging-data')).decision, false);
  });
});
