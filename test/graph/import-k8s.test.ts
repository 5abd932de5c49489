import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { cli } from '../helpers/cli.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const FIXTURE = new URL('../fixtures/k8s-rbac/rbac-list.json', import.meta.url);

void describe('k8s-rbac import end to end', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ demo: false });
  });
  after(async () => {
    await server.stop();
  });

  void it('imports with the CLI, lists escalations by namespace/sa, re-import removes deleted accounts', async () => {
    const { code, out, err } = await cli(server, [
      'import',
      'k8s-rbac',
      FIXTURE.pathname,
      '--cluster',
      'prod-eu',
      '--json',
    ]);
    assert.equal(code, 0, err);
    const report = JSON.parse(out);
    assert.equal(report.scope, 'k8s-rbac:prod-eu');
    assert.equal(report.principals.created.length, 24);
    const esc = (await server.call('GET', '/v1/graph/escalations')).body;
    const deployer = esc.find((e: any) => e.principal === 'ci/deployer');
    assert.equal(deployer.method, 'k8s:create-pod');
    assert.equal(deployer.target, 'payments/operator');
    const blast = await server.call('GET', '/v1/graph/blast-radius/monitoring%2Fsecret-reader');
    assert.equal(blast.status, 200);
    assert.ok(blast.body.admin.length >= 1);

    const doc = JSON.parse(readFileSync(FIXTURE, 'utf8'));
    doc.items = doc.items.filter(
      (i: any) => !(i.kind === 'ServiceAccount' && i.metadata.name === 'deployer'),
    );
    const res = await server.call('POST', '/v1/graph/imports/k8s-rbac?cluster=prod-eu', { body: doc });
    assert.equal(res.status, 200);
    assert.deepEqual(
      res.body.principals.removed.map((p: any) => p.name),
      ['ci/deployer'],
    );
    const bad = await server.call('POST', '/v1/graph/imports/k8s-rbac?cluster=bad%20name', { body: doc });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.field, 'query.cluster');
  });
});

void describe('k8s-rbac import of hostile names', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ demo: false });
  });
  after(async () => {
    await server.stop();
  });

  const sa = (namespace: string, name: string, uid: string) => ({
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: { name, namespace, uid },
  });
  const list = (items: unknown[]) => ({ apiVersion: 'v1', kind: 'List', items });

  void it('an aggregation selector on a label named toString does not match unlabelled roles', async () => {
    const doc = list([
      sa('apps', 'viewer', 'u-viewer'),
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRole',
        metadata: { name: 'aggregated' },
        aggregationRule: {
          clusterRoleSelectors: [{ matchExpressions: [{ key: 'toString', operator: 'Exists' }] }],
        },
        rules: [],
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRole',
        metadata: { name: 'everything' },
        rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }],
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: 'viewer' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'aggregated' },
        subjects: [{ kind: 'ServiceAccount', name: 'viewer', namespace: 'apps' }],
      },
    ]);
    const res = await server.call('POST', '/v1/graph/imports/k8s-rbac?cluster=hostile', { body: doc });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const blast = await server.call('GET', '/v1/graph/blast-radius/apps%2Fviewer');
    assert.equal(blast.status, 200);
    assert.deepEqual(blast.body.admin, []);
  });

  void it('rejects two service accounts with one namespace/name, naming the duplicate; nothing is applied', async () => {
    const before = await server.call('GET', '/v1/identities?source=k8s-rbac&limit=100');
    assert.equal(before.body.items.length, 1);
    let res = await server.call('POST', '/v1/graph/imports/k8s-rbac?cluster=hostile', {
      body: list([sa('apps', 'new', 'u1'), sa('ns', 'sa', 'u2'), sa('ns', 'sa', 'u3')]),
    });
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.equal(res.body.code, 'BULKHEAD_IMPORT_INVALID');
    assert.equal(res.body.field, 'items[2].metadata.name');
    assert.match(res.body.detail, /duplicate service account ns\/sa/);

    // User `x` and service account `user/x` only collide once made into ids: caught before writing too.
    res = await server.call('POST', '/v1/graph/imports/k8s-rbac?cluster=hostile', {
      body: list([
        sa('user', 'x', 'u4'),
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'ClusterRole',
          metadata: { name: 'view' },
          rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }],
        },
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'ClusterRoleBinding',
          metadata: { name: 'x' },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' },
          subjects: [{ kind: 'User', name: 'x' }],
        },
      ]),
    });
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.equal(res.body.code, 'BULKHEAD_IMPORT_INVALID');
    assert.equal(res.body.field, 'identities[1]');

    const after = await server.call('GET', '/v1/identities?source=k8s-rbac&limit=100');
    assert.deepEqual(after.body.items, before.body.items);
  });
});
