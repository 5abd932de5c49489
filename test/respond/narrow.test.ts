import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { cli } from '../helpers/cli.js';
import { createDetectModule } from '../../src/detect/index.js';
import { createGraphModule } from '../../src/graph/index.js';
import { coreModule } from '../../src/modules/index.js';
import { createPolicyModule } from '../../src/policy/index.js';
import { createPostureModule } from '../../src/posture/index.js';
import { createRespondModule } from '../../src/respond/index.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { startRespondServer, type RespondServer } from './helpers.js';

const PLAYBOOK = `apiVersion: bulkhead/v1
kind: Playbook
id: over-privileged
mode: enforce
priority: 5
match:
  rules: [over-privilege]
escalation: { T0: auto, T1: auto, T2: auto, T3: auto }
steps:
  - id: open
    action: open_incident
  - id: narrow
    action: narrow_permissions
`;

const alert = (id: string, identity: string) => ({
  id,
  rule_id: 'over-privilege',
  severity: 'high',
  identity_id: identity,
});

async function seed(server: TestServer, identity: string, prefix: string) {
  const call = (...a: Parameters<TestServer['call']>) => server.call(...a);
  const i = await call('POST', '/v1/identities', {
    body: { id: identity, kind: 'service_account', displayName: identity, environment: 'prod' },
  });
  assert.equal(i.status, 201, JSON.stringify(i.body));
  for (const [id, scopes] of [
    [`${prefix}-main`, ['crm:read', 'tickets:write', 'db:payments-db:rw']],
    [`${prefix}-idle`, ['status-page:read']],
  ] as const) {
    const c = await call('POST', '/v1/credentials', {
      body: { id, identityId: identity, type: 'api_key', fingerprint: `sha256:${id}`, scopes: [...scopes] },
    });
    assert.equal(c.status, 201, JSON.stringify(c.body));
  }
  assert.equal((await call('POST', '/v1/playbooks', { body: { yaml: PLAYBOOK } })).status < 300, true);
}

type Step = { stepId: string; status: string; result: { outcome: string; detail: string } };
const stepOf = (incident: { runs: { steps: Step[] }[] }, id: string) =>
  incident.runs.flatMap((r) => r.steps).find((s) => s.stepId === id)!;

void describe('narrow_permissions with granted-vs-used (posture)', () => {
  let server: TestServer;
  before(async () => {
    const policy = createPolicyModule({ pollMs: 0 });
    const detect = createDetectModule({ ssf: { receivers: [] } });
    const posture = createPostureModule();
    const respond = createRespondModule({
      pdp: () => policy.runtime().pdp,
      detect: () => detect.service(),
      usage: () => posture.service(),
      retryBaseMs: 1,
      rotationTickMs: 0,
    });
    server = await startTestServer({
      demo: true,
      modules: [coreModule, policy, detect, respond, createGraphModule(), posture],
    });
    await seed(server, 'svc-narrow', 'cred-narrow');
    const quiet = await server.call('POST', '/v1/identities', {
      body: { id: 'svc-quiet', kind: 'service_account', displayName: 'quiet', environment: 'prod' },
    });
    assert.equal(quiet.status, 201);
    const qc = await server.call('POST', '/v1/credentials', {
      body: {
        id: 'cred-quiet',
        identityId: 'svc-quiet',
        type: 'api_key',
        fingerprint: 'sha256:cred-quiet',
        scopes: ['crm:read', 'tickets:write'],
      },
    });
    assert.equal(qc.status, 201);
    // svc-narrow was seen reading the CRM, and nothing else.
    server.ctx.events.publish({
      id: 'ev-narrow-1',
      time: new Date().toISOString(),
      type: 'decision',
      source: 'pdp',
      identityId: 'svc-narrow',
      action: 'read',
      resource: 'crm',
      outcome: 'allow',
    });
  });
  after(async () => server.stop());

  void it('dry run shows the scope diff and changes nothing', async () => {
    const res = await server.call('POST', '/v1/playbooks/dry-run', {
      body: { alert: alert('a-dry', 'svc-narrow') },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const step = res.body.steps.find((s: { action: string }) => s.action === 'narrow_permissions');
    assert.equal(step.preview.usageData, true);
    assert.deepEqual(step.preview.changes, [
      {
        credentialId: 'cred-narrow-main',
        before: ['crm:read', 'tickets:write', 'db:payments-db:rw'],
        after: ['crm:read'],
        removed: ['tickets:write', 'db:payments-db:rw'],
      },
    ]);
    assert.deepEqual(step.preview.unusedCredentials, ['cred-narrow-idle']);
    assert.match(step.reason, /would narrow cred-narrow-main: -tickets:write -db:payments-db:rw/);
    const cred = await server.call('GET', '/v1/credentials/cred-narrow-main');
    assert.equal(cred.body.scopes.length, 3);
    const blast = await server.call('GET', '/v1/graph/blast-radius/svc-narrow');
    assert.ok(JSON.stringify(blast.body).includes('resource:payments-db'));
  });

  void it('narrows to the used subset, audited with the previous scopes, and restores them', async () => {
    const res = await server.call('POST', '/v1/incidents', { body: alert('a-narrow', 'svc-narrow') });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const step = stepOf(res.body, 'narrow');
    assert.equal(step.status, 'done', JSON.stringify(step));
    let cred = await server.call('GET', '/v1/credentials/cred-narrow-main');
    assert.deepEqual(cred.body.scopes, ['crm:read']);
    assert.equal(cred.body.labels['bulkhead.narrowed-by'], res.body.id);
    const idle = await server.call('GET', '/v1/credentials/cred-narrow-idle');
    assert.deepEqual(
      idle.body.scopes,
      ['status-page:read'],
      'a credential with no recorded use is left alone',
    );
    const audit = await server.call('GET', '/v1/audit?target_type=credential&target_id=cred-narrow-main');
    const narrow = audit.body.items.find((e: { action: string }) => e.action === 'credential.narrow');
    assert.ok(narrow, JSON.stringify(audit.body.items.map((e: { action: string }) => e.action)));
    assert.deepEqual(narrow.before.scopes, ['crm:read', 'tickets:write', 'db:payments-db:rw']);
    assert.deepEqual(narrow.after.scopes, ['crm:read']);
    // The graph follows the inventory: payments-db is out of the blast radius.
    const blast = await server.call('GET', '/v1/graph/blast-radius/svc-narrow');
    assert.equal(blast.status, 200);
    assert.ok(
      !JSON.stringify(blast.body).includes('resource:payments-db'),
      JSON.stringify(blast.body.totals),
    );
    // The tier follows: the regulated write scope is gone.
    const tier = await server.call('GET', '/v1/identities/svc-narrow/tier');
    assert.ok(!tier.body.reasons.some((r: { message: string }) => /db:payments-db:rw/.test(r.message)));

    const restored = await server.call('POST', `/v1/incidents/${res.body.id}/steps/narrow/restore`);
    assert.equal(restored.status, 200, JSON.stringify(restored.body));
    assert.deepEqual(restored.body.restored, ['cred-narrow-main']);
    cred = await server.call('GET', '/v1/credentials/cred-narrow-main');
    assert.deepEqual(cred.body.scopes, ['crm:read', 'tickets:write', 'db:payments-db:rw']);
    assert.equal(cred.body.labels['bulkhead.narrowed-by'], undefined);
    const { code, out } = await cli(server, ['incidents', 'restore', res.body.id, 'narrow', '--json']);
    assert.equal(code, 0);
    const again = JSON.parse(out);
    assert.deepEqual(again.restored, []);
    assert.equal(again.skipped[0].why, 'already has its previous scopes');
    const audit2 = await server.call('GET', '/v1/audit?target_type=credential&target_id=cred-narrow-main');
    assert.ok(audit2.body.items.some((e: { action: string }) => e.action === 'credential.restore'));
  });

  void it('no usage data: the step reports it and changes nothing', async () => {
    const res = await server.call('POST', '/v1/incidents', { body: alert('a-quiet', 'svc-quiet') });
    const step = stepOf(res.body, 'narrow');
    assert.equal(step.status, 'skipped');
    assert.match(step.result.detail, /no usage data/);
    const cred = await server.call('GET', '/v1/credentials/cred-quiet');
    assert.deepEqual(cred.body.scopes, ['crm:read', 'tickets:write']);
    const restore = await server.call('POST', `/v1/incidents/${res.body.id}/steps/narrow/restore`);
    assert.equal(restore.status, 409);
    assert.equal(restore.body.code, 'BULKHEAD_RESPOND_NOTHING_TO_RESTORE');
    const bad = await server.call('POST', `/v1/incidents/${res.body.id}/steps/open/restore`);
    assert.equal(bad.status, 404);
    assert.equal(bad.body.code, 'BULKHEAD_RESPOND_STEP_NOT_FOUND');
  });
});

void describe('narrow_permissions without a usage source', () => {
  let s: RespondServer;
  before(async () => {
    s = await startRespondServer();
    await seed(s.server, 'svc-narrow', 'cred-narrow');
  });
  after(async () => s.server.stop());

  void it('is skipped with "no usage data", never a silent success', async () => {
    const res = await s.server.call('POST', '/v1/incidents', { body: alert('a-none', 'svc-narrow') });
    const step = stepOf(res.body, 'narrow');
    assert.equal(step.status, 'skipped');
    assert.match(step.result.detail, /no usage data/);
    const cred = await s.server.call('GET', '/v1/credentials/cred-narrow-main');
    assert.equal(cred.body.scopes.length, 3);
  });
});
