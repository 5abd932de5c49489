import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { createDetectModule } from '../../src/detect/index.js';
import { createGraphModule } from '../../src/graph/index.js';
import { coreModule } from '../../src/modules/index.js';
import { createPolicyModule } from '../../src/policy/index.js';
import { createPostureModule } from '../../src/posture/index.js';
import { createRespondModule } from '../../src/respond/index.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { startRespondServer, type RespondServer } from './helpers.js';

const IAM = JSON.parse(
  readFileSync(new URL('../fixtures/aws-iam/escalation-account.json', import.meta.url), 'utf8'),
);
const aws = (name: string) => `aws-111122223333-${name}`;

/** A credential of payments-worker whose secret also sits on dave's laptop (only the graph knows dave reads it). */
const LAPTOP_CREDENTIAL = {
  id: 'cred-worker-laptop',
  identityId: 'payments-worker',
  type: 'api_key',
  fingerprint: 'sha256:3b1f0c6a2e9d8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a',
  scopes: ['crm:read'],
  consumers: ['payments-worker', 'payments-api'],
  storedIn: ['laptop:dave/projects/.env'],
};

const leakAlert = {
  id: 'alert-laptop-1',
  rule_id: 'leaked-secret',
  severity: 'high',
  credential: 'cred-worker-laptop',
  leaked: true,
};

void describe('respond with the identity graph', () => {
  let server: TestServer;
  let respond: ReturnType<typeof createRespondModule>;
  before(async () => {
    const policy = createPolicyModule({ pollMs: 0 });
    const detect = createDetectModule({ ssf: { receivers: [] } });
    respond = createRespondModule({
      pdp: () => policy.runtime().pdp,
      detect: () => detect.service(),
      retryBaseMs: 1,
      rotationTickMs: 0,
    });
    server = await startTestServer({
      demo: true,
      modules: [coreModule, policy, detect, respond, createGraphModule(), createPostureModule()],
    });
    const r = await server.call('POST', '/v1/graph/imports/aws-iam', { body: IAM });
    assert.equal(r.status, 200);
    assert.equal((await server.call('POST', '/v1/credentials', { body: LAPTOP_CREDENTIAL })).status, 201);
  });
  after(async () => server.stop());

  void it('an identity that can escalate to admin through an IAM edge is T0, with the path as the reason', async () => {
    const res = await server.call('GET', `/v1/identities/${aws('user-cpv-user')}/tier`);
    assert.equal(res.status, 200);
    assert.equal(res.body.tier, 'T0');
    const first = res.body.reasons[0];
    assert.equal(first.code, 'privilege_escalation');
    assert.match(first.message, /iam:CreatePolicyVersion/);
    assert.match(first.message, /cpv-user -\[iam:CreatePolicyVersion\]->/);
  });

  void it('a principal blocked by a permissions boundary gets no escalation reason', async () => {
    const res = await server.call('GET', `/v1/identities/${aws('user-boundary-user')}/tier`);
    assert.equal(res.status, 200);
    const codes = res.body.reasons.map((r: { code: string }) => r.code);
    assert.ok(!codes.includes('privilege_escalation'), JSON.stringify(res.body.reasons));
    assert.ok(!codes.includes('admin_equivalent'), JSON.stringify(res.body.reasons));
  });

  void it('listing tiers gives the same graph reasons (one walk for the page)', async () => {
    const res = await server.call('GET', '/v1/tiers?limit=500');
    assert.equal(res.status, 200);
    type T = { identityId: string; tier: string; reasons: { code: string; message: string }[] };
    const byId = new Map<string, T>(res.body.items.map((t: T) => [t.identityId, t]));
    const cpv = byId.get(aws('user-cpv-user'))!;
    assert.equal(cpv.tier, 'T0');
    assert.equal(cpv.reasons[0]?.code, 'privilege_escalation');
    const single = await server.call('GET', `/v1/identities/${aws('user-cpv-user')}/tier`);
    assert.deepEqual(cpv.reasons, single.body.reasons);
    const boundary = byId.get(aws('user-boundary-user'))!;
    assert.ok(!boundary.reasons.some((r) => r.code === 'privilege_escalation'));
  });

  void it('admin by a plain grant is T0 admin_equivalent', async () => {
    const res = await server.call('GET', `/v1/identities/${aws('user-admin-user')}/tier`);
    assert.equal(res.body.tier, 'T0');
    assert.ok(res.body.reasons.some((r: { code: string }) => r.code === 'admin_equivalent'));
  });

  void it('what breaks includes identities the graph finds (a secret on a laptop), besides inventory consumers', async () => {
    const res = await server.call('POST', '/v1/playbooks/dry-run', { body: { alert: leakAlert } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const revoke = res.body.steps.find((s: { action: string }) => s.action === 'revoke_credential');
    const who = revoke.breaks.map((b: { identityId: string }) => b.identityId).sort();
    assert.deepEqual(who, ['dave', 'payments-api']);
    const dave = revoke.breaks.find((b: { identityId: string }) => b.identityId === 'dave');
    assert.match(dave.via, /^graph: /);
  });

  void it('workloads that run code as a role are its dependents (graph runs_as)', async () => {
    const deps = await respond.service().dependencies.dependentsOf(aws('role-LambdaAdminRole'));
    const runner = deps.find((d) => d.identityId === aws('user-passrole-lambda-user'));
    assert.ok(runner, JSON.stringify(deps));
    assert.equal(runner.credentialId, null);
    assert.match(runner.via ?? '', /runs as/);
    assert.ok(!deps.some((d) => d.identityId === aws('user-passrole-lambda-neg-user')));
  });
});

void describe('respond without the graph (inventory fallback)', () => {
  let s: RespondServer;
  before(async () => {
    s = await startRespondServer();
    assert.equal((await s.server.call('POST', '/v1/credentials', { body: LAPTOP_CREDENTIAL })).status, 201);
  });
  after(async () => s.server.stop());

  void it('notes when the active policy set lets an identity write to regulated data', async () => {
    const before = await s.server.call('GET', '/v1/identities/agent-finops/tier');
    assert.ok(!before.body.reasons.some((r: { code: string }) => r.code === 'policy_regulated_write'));
    const pushed = await s.server.call('POST', '/v1/policies', {
      body: {
        policies: 'permit (principal == AiAgent::"agent-finops", action == Action::"write", resource);',
      },
    });
    assert.equal(pushed.status, 201, JSON.stringify(pushed.body));
    const after = await s.server.call('GET', '/v1/identities/agent-finops/tier');
    assert.equal(after.body.tier, 'T0');
    const note = after.body.reasons.find((r: { code: string }) => r.code === 'policy_regulated_write');
    assert.ok(note, JSON.stringify(after.body.reasons));
    assert.match(note.message, /permits write on regulated /);
    const other = await s.server.call('GET', '/v1/identities/agent-support-bot/tier');
    assert.ok(!other.body.reasons.some((r: { code: string }) => r.code === 'policy_regulated_write'));
  });

  void it('tiers and what-breaks come from the inventory alone', async () => {
    const tier = await s.server.call('GET', '/v1/identities/payments-api/tier');
    assert.equal(tier.status, 200);
    assert.equal(tier.body.tier, 'T0');
    assert.ok(!tier.body.reasons.some((r: { code: string }) => r.code === 'privilege_escalation'));
    const res = await s.server.call('POST', '/v1/playbooks/dry-run', { body: { alert: leakAlert } });
    const revoke = res.body.steps.find((x: { action: string }) => x.action === 'revoke_credential');
    assert.deepEqual(
      revoke.breaks.map((b: { identityId: string }) => b.identityId),
      ['payments-api'],
    );
  });
});
