import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { createGraphModule } from '../../src/graph/index.js';
import { coreModule } from '../../src/modules/index.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const iam = JSON.parse(
  readFileSync(new URL('../fixtures/aws-iam/escalation-account.json', import.meta.url), 'utf8'),
);
const k8s = JSON.parse(readFileSync(new URL('../fixtures/k8s-rbac/rbac-list.json', import.meta.url), 'utf8'));

void describe('graph, imports and posture on PostgreSQL', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ postgres: true, demo: true });
  });
  after(async () => {
    await server.stop();
  });

  void it('imports IAM and RBAC exports, re-imports idempotently, answers graph and posture queries', async () => {
    let res = await server.call('POST', '/v1/graph/imports/aws-iam', { body: iam });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.principals.created.length, 55);
    res = await server.call('POST', '/v1/graph/imports/aws-iam', { body: iam });
    assert.equal(res.body.principals.unchanged, 55);
    res = await server.call('POST', '/v1/graph/imports/k8s-rbac?cluster=pg', { body: k8s });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const esc = (await server.call('GET', '/v1/graph/escalations')).body;
    assert.ok(esc.some((e: any) => e.principal === 'cpv-user' && e.method === 'iam:CreatePolicyVersion'));
    assert.ok(esc.some((e: any) => e.principal === 'tools/binder' && e.method === 'k8s:bind'));
    const posture = await server.call('GET', '/v1/posture');
    assert.equal(posture.status, 200);
    assert.ok(posture.body.org.findings > 0);
    const trend = await server.call('GET', '/v1/posture/trend');
    assert.equal(trend.body.items.length, 1);
    const imports = await server.call('GET', '/v1/graph/imports');
    assert.equal(imports.body.items.length, 3);
  });
});

void describe('two replicas on one PostgreSQL store', () => {
  let a: TestServer | undefined;
  let b: TestServer | undefined;
  const modules = () => [coreModule, createGraphModule({ resyncMs: 100 })];
  before(async () => {
    a = await startTestServer({ postgres: true, modules: modules() });
    // b runs on a's schema (a's stop drops it).
    b = await startTestServer({
      postgres: true,
      // Same store, same admin key (the env admin key is one row per store).
      env: { BULKHEAD_DATABASE_SCHEMA: a.ctx.config.databaseSchema ?? '', BULKHEAD_ADMIN_TOKEN: a.token },
      modules: modules(),
    });
  });
  after(async () => {
    // Stop whichever started (a failed start must not leak a's schema).
    await b?.stop();
    await a?.stop();
  });

  void it("a replica's graph picks up another replica's inventory writes and imports", async () => {
    assert.ok(a && b);
    let r = await a.call('POST', '/v1/identities', {
      body: { id: 'svc-r1', kind: 'service_account', displayName: 'r1', environment: 'prod', owners: [] },
    });
    assert.equal(r.status, 201);
    r = await a.call('POST', '/v1/credentials', {
      body: {
        id: 'cred-r1',
        identityId: 'svc-r1',
        type: 'access_key',
        fingerprint: 'AKIAR1',
        scopes: ['aws:*'],
      },
    });
    assert.equal(r.status, 201);
    r = await a.call('POST', '/v1/graph/imports/aws-iam', { body: iam });
    assert.equal(r.status, 200);
    const deadline = Date.now() + 10_000;
    let seen = false;
    while (!seen && Date.now() < deadline) {
      const radius = await b.call('GET', '/v1/graph/blast-radius/svc-r1', { token: a.token });
      const esc = await b.call('GET', '/v1/graph/escalations?principal=cpv-user', { token: a.token });
      seen =
        radius.status === 200 && radius.body.totals.admin > 0 && esc.status === 200 && esc.body.length > 0;
      if (!seen) await new Promise((res) => setImmediate(res));
    }
    assert.ok(seen, 'replica b converged');
  });
});
