import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** Node keys in a blast radius, across sensitivities. */
function reached(body: { bySensitivity: Record<string, { node: string }[]> }): string[] {
  return Object.values(body.bySensitivity).flatMap((list) => list.map((i) => i.node));
}

void describe('graph updates without holding the inventory in memory', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ demo: true });
  });
  after(async () => {
    await server.stop();
  });

  void it('a person created after a key on their laptop can read it; deleting them removes the path', async () => {
    const stats0 = (await server.call('GET', '/v1/graph/stats')).body;
    let r = await server.call('POST', '/v1/credentials', {
      body: {
        id: 'cred-late-laptop',
        identityId: 'payments-api',
        type: 'api_key',
        fingerprint: 'sha256:late-laptop',
        scopes: ['db:payments-db:rw'],
        storedIn: ['laptop:dev-late/.env'],
      },
    });
    assert.equal(r.status, 201);
    r = await server.call('POST', '/v1/identities', {
      body: { id: 'dev-late', kind: 'human', displayName: 'Late Dev', environment: 'prod' },
    });
    assert.equal(r.status, 201);
    let blast = await server.call('GET', '/v1/graph/blast-radius/dev-late');
    assert.equal(blast.status, 200);
    assert.ok(reached(blast.body).includes('resource:payments-db'), 'laptop -> key -> payments-db');
    const stats1 = (await server.call('GET', '/v1/graph/stats')).body;
    assert.equal(stats1.compactions, stats0.compactions, 'applied incrementally');
    r = await server.call('DELETE', '/v1/identities/dev-late');
    assert.equal(r.status, 204);
    blast = await server.call('GET', '/v1/graph/blast-radius/dev-late');
    assert.equal(blast.status, 404);
    assert.equal(blast.body.code, 'BULKHEAD_GRAPH_NODE_NOT_FOUND');
  });

  void it('resolves a node by ARN, SPIFFE ID and key fingerprint from the store', async () => {
    let r = await server.call('POST', '/v1/identities', {
      body: {
        id: 'svc-aliased',
        kind: 'workload',
        displayName: 'Aliased',
        environment: 'prod',
        cloudArn: 'arn:aws:iam::111122223333:role/aliased',
        spiffeId: 'spiffe://prod.example/ns/x/sa/aliased',
      },
    });
    assert.equal(r.status, 201);
    r = await server.call('POST', '/v1/credentials', {
      body: {
        id: 'cred-aliased',
        identityId: 'svc-aliased',
        type: 'access_key',
        fingerprint: 'AKIAALIASEDEXAMPLE',
      },
    });
    assert.equal(r.status, 201);
    for (const ref of ['arn:aws:iam::111122223333:role/aliased', 'spiffe://prod.example/ns/x/sa/aliased']) {
      const res = await server.call('GET', `/v1/graph/blast-radius/${encodeURIComponent(ref)}`);
      assert.equal(res.status, 200, ref);
      assert.equal(res.body.from, 'identity:svc-aliased');
    }
    const byKey = await server.call('GET', '/v1/graph/blast-radius/AKIAALIASEDEXAMPLE');
    assert.equal(byKey.status, 200);
    assert.equal(byKey.body.from, 'credential:cred-aliased');
    const paths = await server.call('GET', '/v1/graph/paths?from=AKIAALIASEDEXAMPLE&to=svc-aliased');
    assert.equal(paths.status, 200);
    assert.ok(paths.body.paths.length >= 1);
  });
});
