import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
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
