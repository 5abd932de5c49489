import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { findEscalations } from '../../queries/escalations.js';
import { graphFromPlan } from '../preview.js';
import { buildK8sRbacPlan } from './analyze.js';

const fixture = JSON.parse(
  readFileSync(new URL('../../../../test/fixtures/k8s-rbac/rbac-list.json', import.meta.url), 'utf8'),
);

const graphOf = graphFromPlan;

const plan = buildK8sRbacPlan(fixture, { cluster: 'prod-eu' });
const graph = graphOf(plan);
const escalations = findEscalations(graph);
const methodsOf = (p: string) => escalations.filter((e) => e.principal === p).map((e) => e.method);

void describe('k8s-rbac import: escalation paths', () => {
  const positive: [string, string][] = [
    ['ci/deployer', 'k8s:create-pod'],
    ['payments/ns-admin', 'k8s:create-pod'],
    ['tools/binder', 'k8s:bind'],
    ['tools/escalator', 'k8s:escalate'],
    ['tools/impersonator', 'k8s:impersonate'],
    ['tools/sa-impersonator', 'k8s:impersonate'],
    ['monitoring/secret-reader', 'k8s:secrets-read'],
    ['dev/execer', 'k8s:pods-exec'],
    ['tools/token-minter', 'k8s:token-request'],
    ['tools/ns-binder', 'k8s:bind'],
  ];
  for (const [p, m] of positive) {
    void it(`${p} escalates with ${m}`, () => {
      assert.ok(methodsOf(p).includes(m), `${p}: ${JSON.stringify(methodsOf(p))}`);
      const e = escalations.find((x) => x.principal === p && x.method === m)!;
      assert.match(e.principal_id, /^[0-9a-f-]{36}$/);
    });
  }
  const negative: [string, string][] = [
    ['ci/deployer-neg', 'can create pods only where no powerful service account runs'],
    ['tools/binder-neg', 'bind limited by resourceNames to view'],
    ['tools/escalator-neg', 'escalate without update'],
    ['monitoring/cm-reader', 'configmaps, not secrets'],
    ['alice@acme.io', 'view only'],
    ['payments/api', 'no bindings'],
    ['tools/impersonator-neg', 'impersonate limited by resourceNames to a user that does not exist'],
    ['dev/execer-neg', 'pods/exec only where no powerful service account runs'],
    ['tools/token-minter-neg', 'token requests only for a weak service account'],
    ['tools/ns-binder-neg', 'binds cluster-admin only in a namespace with nothing more powerful to run as'],
  ];
  for (const [p, why] of negative) {
    void it(`${p} cannot escalate (${why})`, () => assert.deepEqual(methodsOf(p), []));
  }
  void it('aggregated and wildcard cluster roles make direct admins', () => {
    for (const name of ['tools/agg-user', 'kube-system/admin-sa', 'payments/operator']) {
      const i = plan.identities.find((x) => x.k8sServiceAccount === name)!;
      assert.equal(i.labels['bulkhead.admin'], 'true', name);
    }
    assert.ok(plan.nodes.some((n) => n.key === 'admin:k8s:prod-eu' && n.admin));
  });
  void it('maps service accounts and users into inventory drafts', () => {
    const sa = plan.identities.find((x) => x.k8sServiceAccount === 'ci/deployer')!;
    assert.equal(sa.id, 'k8s-prod-eu-ci-deployer');
    assert.equal(sa.kind, 'service_account');
    assert.ok(plan.identities.some((x) => x.labels['k8s.user'] === 'alice@acme.io' && x.kind === 'human'));
    const labelled = buildK8sRbacPlan({
      items: [
        { kind: 'ServiceAccount', metadata: { name: 'api', namespace: 'pay', labels: { team: 'payments' } } },
      ],
    });
    assert.deepEqual(labelled.identities[0]!.owners, ['team:payments']);
    assert.ok(
      plan.resources.some(
        (r) => r.id === 'k8s.prod-eu.kube-system.secrets' && r.sensitivity === 'confidential',
      ),
    );
  });
  void it('rejects exports that are not a List, names the bad item', () => {
    assert.throws(() => buildK8sRbacPlan({ kind: 'List' }), { code: 'BULKHEAD_IMPORT_INVALID' });
    assert.throws(
      () => buildK8sRbacPlan({ items: [{ kind: 'Role' }] }),
      (e: any) => e.field === 'items[0]',
    );
    const p = buildK8sRbacPlan({ items: [{ kind: 'ConfigMap', metadata: { name: 'x', namespace: 'a' } }] });
    assert.equal(p.warnings[0]!.code, 'UNKNOWN_ELEMENT');
  });
});
