import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { cli } from '../helpers/cli.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

void describe('graph API on the demo org', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ demo: true });
  });
  after(async () => {
    await server.stop();
  });

  void it('blast radius of a secrets-sync account reaches regulated data through the vault', async () => {
    const res = await server.call('GET', '/v1/graph/blast-radius/svc-secrets-sync');
    assert.equal(res.status, 200);
    const regulated = res.body.bySensitivity.regulated.map((i: { node: string }) => i.node);
    assert.ok(regulated.includes('resource:vault-kv-payments'));
    assert.ok(regulated.includes('resource:payments-db'));
    const db = res.body.bySensitivity.regulated.find(
      (i: { node: string }) => i.node === 'resource:payments-db',
    );
    assert.equal(db.path[0].from, 'identity:svc-secrets-sync');
    assert.equal(db.path.at(-1).to, 'resource:payments-db');
  });

  void it('unknown identity is a 404 with a stable code; a bad target is a 400 naming the field', async () => {
    const res = await server.call('GET', '/v1/graph/blast-radius/nobody-here');
    assert.equal(res.status, 404);
    assert.equal(res.body.code, 'BULKHEAD_GRAPH_NODE_NOT_FOUND');
    const bad = await server.call('GET', '/v1/graph/paths?from=alice&to=nowhere');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.code, 'BULKHEAD_GRAPH_BAD_TARGET');
    assert.equal(bad.body.field, 'query.to');
  });

  void it('updates incrementally when the inventory changes', async () => {
    const before = await server.call('GET', '/v1/graph/escalations');
    assert.ok(!before.body.some((e: { principal: string }) => e.principal === 'svc-dev-sandbox-2'));
    const stats0 = (await server.call('GET', '/v1/graph/stats')).body;
    let r = await server.call('POST', '/v1/identities', {
      body: {
        id: 'svc-dev-sandbox-2',
        kind: 'service_account',
        displayName: 'x',
        environment: 'prod',
        owners: ['grace'],
      },
    });
    assert.equal(r.status, 201);
    r = await server.call('POST', '/v1/credentials', {
      body: {
        id: 'cred-sbx2',
        identityId: 'svc-dev-sandbox-2',
        type: 'access_key',
        fingerprint: 'AKIAEXAMPLE2',
        scopes: ['aws:*'],
        consumers: ['search-indexer'],
      },
    });
    assert.equal(r.status, 201);
    const esc = await server.call('GET', '/v1/graph/escalations');
    const hit = esc.body.find((e: { principal: string }) => e.principal === 'search-indexer');
    assert.ok(hit, 'a consumer of an admin key can escalate');
    assert.equal(hit.method, 'credential-theft');
    assert.equal(hit.target_id, 'admin:aws:prod');
    const stats1 = (await server.call('GET', '/v1/graph/stats')).body;
    assert.equal(stats1.compactions, stats0.compactions, 'no full rebuild for one change');
    r = await server.call('POST', '/v1/credentials/cred-sbx2/revoke', { body: {} });
    assert.equal(r.status, 200);
    const after = await server.call('GET', '/v1/graph/escalations');
    assert.ok(!after.body.some((e: { principal: string }) => e.principal === 'search-indexer'));
  });

  void it('paths to admin name each step', async () => {
    const res = await server.call('GET', '/v1/graph/paths?from=alice&to=admin&k=2');
    assert.equal(res.status, 200);
    assert.ok(res.body.paths.length >= 1);
    for (const p of res.body.paths) assert.ok(p.steps.every((s: { via: string }) => s.via.length > 0));
  });

  void it('CLI: blast-radius, paths, escalations, choke-points with --json and human output', async () => {
    let r = await cli(server, ['blast-radius', 'svc-secrets-sync', '--json']);
    assert.equal(r.code, 0, r.err);
    assert.equal(JSON.parse(r.out).from, 'identity:svc-secrets-sync');
    r = await cli(server, ['blast-radius', 'svc-secrets-sync']);
    assert.match(r.out, /REGULATED/);
    r = await cli(server, ['paths', '--from', 'alice', '--to', 'regulated', '--json']);
    assert.equal(r.code, 0, r.err);
    assert.ok(JSON.parse(r.out).paths.length > 0);
    r = await cli(server, ['escalations', '--json']);
    const list = JSON.parse(r.out);
    assert.ok(Array.isArray(list));
    for (const e of list)
      assert.deepEqual(
        Object.keys(e).filter((k) => ['principal', 'principal_id', 'target', 'method', 'path'].includes(k))
          .length,
        5,
      );
    r = await cli(server, ['choke-points']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /pairs/);
    r = await cli(server, ['blast-radius', 'nobody']);
    assert.equal(r.code, 1);
    assert.match(r.err, /BULKHEAD_GRAPH_NODE_NOT_FOUND/);
  });
});
