import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ACCOUNT,
  assumedRole,
  ct,
  DAY,
  detect,
  k8s,
  normalize,
  rules,
  T0,
} from '../../../test/detect/helpers.js';

const app = assumedRole('payments-api', 'i-0abc', 'ASIAEXAMPLEPAYMENTS1');
const roleArn = (name: string, account = ACCOUNT) => `arn:aws:iam::${account}:role/${name}`;

function assume(
  actor: ReturnType<typeof assumedRole>,
  target: string,
  time: number,
  issued: string,
  id?: string,
) {
  return ct(actor, 'sts', 'AssumeRole', {
    time,
    id,
    params: { roleArn: target, roleSessionName: 'hop' },
    response: { credentials: { accessKeyId: issued, expiration: 'Mar 2, 2026, 10:00:00 AM' } },
  });
}

describe('lateral movement', () => {
  const history = [0, 1, 2, 3, 4, 5, 6, 7].map((d) =>
    assume(app, roleArn('ledger-reader'), T0 + d * DAY, `ASIAHIST${d}`),
  );

  it('alerts on a new assume-role edge for a learned identity', () => {
    const alerts = detect([assume(app, roleArn('prod-admin'), T0 + 8 * DAY, 'ASIANEW1', 'edge-1')], {
      history,
    });
    assert.deepEqual(rules(alerts), ['lateral-new-edge']);
    assert.ok(alerts[0]?.techniques.includes('T1021.007'));
    assert.deepEqual(alerts[0]?.event_ids, ['edge-1']);
  });

  it('stays silent on the learned edge', () => {
    assert.deepEqual(
      detect([assume(app, roleArn('ledger-reader'), T0 + 8 * DAY, 'ASIAOK')], { history }),
      [],
    );
  });

  it('alerts on fan-out to many roles across accounts', () => {
    const t = T0 + 8 * DAY;
    const spray = ['111111111111', '222222222222', '333333333333', '444444444444', '555555555555'].map(
      (acct, i) => assume(app, roleArn('OrganizationAccountAccessRole', acct), t + i * 1000, `ASIASPRAY${i}`),
    );
    const alerts = detect(spray);
    assert.deepEqual(rules(alerts), ['lateral-fan-out']);
    assert.equal(alerts[0]?.count, 2);
  });

  it('alerts on a service account exec-ing into pods across namespaces', () => {
    const sa = 'system:serviceaccount:monitoring:grafana-agent';
    const alerts = detect(
      ['payments', 'ledger', 'checkout', 'fraud'].map((ns, i) =>
        k8s(sa, {
          time: T0 + i * 1000,
          verb: 'create',
          resource: 'pods',
          subresource: 'exec',
          namespace: ns,
          name: `${ns}-0`,
          id: `exec-${i}`,
        }),
      ),
    );
    assert.deepEqual(rules(alerts), ['lateral-fan-out']);
    assert.deepEqual(alerts[0]?.event_ids, ['exec-0', 'exec-1', 'exec-2', 'exec-3']);
  });

  it('alerts when a learned service account starts impersonating a user (real audit event shape)', () => {
    const sa = 'system:serviceaccount:ci:deployer';
    const history = [0, 1, 2, 3, 4, 5, 6, 7].map((d) =>
      k8s(sa, { time: T0 + d * DAY, verb: 'get', resource: 'deployments', namespace: 'ci', name: 'app' }),
    );
    // As the API server writes it for `kubectl --as=system:admin --as-group=system:masters get secrets`:
    // the request's own verb, the requester in `user`, the impersonated user beside it.
    const impersonated = {
      kind: 'Event',
      apiVersion: 'audit.k8s.io/v1',
      level: 'Metadata',
      auditID: 'imp-1',
      stage: 'ResponseComplete',
      requestURI: '/api/v1/namespaces/kube-system/secrets?limit=500',
      verb: 'list',
      user: {
        username: sa,
        uid: '6c1d2b53-0f4e-4c55-9a59-2f0e1d4c8a11',
        groups: ['system:serviceaccounts', 'system:serviceaccounts:ci', 'system:authenticated'],
      },
      impersonatedUser: { username: 'system:admin', groups: ['system:masters', 'system:authenticated'] },
      sourceIPs: ['10.244.1.17'],
      userAgent: 'kubectl/v1.29.2 (linux/amd64) kubernetes/4b8e819',
      objectRef: { resource: 'secrets', namespace: 'kube-system', apiVersion: 'v1' },
      responseStatus: { metadata: {}, code: 200 },
      requestReceivedTimestamp: new Date(T0 + 8 * DAY).toISOString(),
      stageTimestamp: new Date(T0 + 8 * DAY + 12).toISOString(),
      annotations: { 'authorization.k8s.io/decision': 'allow', 'authorization.k8s.io/reason': '' },
    };
    const [event] = normalize([impersonated]);
    assert.equal(event?.actor.name, sa);
    assert.equal(event?.action, 'k8s:list:secrets');
    assert.equal(event?.impersonating, 'system:admin');

    const alerts = detect([impersonated], { history }).filter((a) => a.rule_id === 'lateral-new-edge');
    assert.equal(alerts.length, 1);
    assert.deepEqual(alerts[0]?.event_ids, ['imp-1']);
    assert.match(alerts[0]?.explanation ?? '', /impersonated system:admin/);
    // Once learned, the same impersonation is a known edge.
    const again = k8s(sa, {
      time: T0 + 9 * DAY,
      verb: 'get',
      resource: 'pods',
      namespace: 'ci',
      impersonatedUser: { username: 'system:admin' },
    });
    assert.deepEqual(
      rules(detect([again], { history: [...history, impersonated] })).filter((r) => r.startsWith('lateral')),
      [],
    );
    // A refused impersonation reached nobody.
    const denied = { ...impersonated, auditID: 'imp-2', responseStatus: { metadata: {}, code: 403 } };
    assert.deepEqual(
      rules(detect([denied], { history })).filter((r) => r.startsWith('lateral')),
      [],
    );
  });

  it('alerts on a three-deep role-assumption chain followed through issued session keys', () => {
    const a = assumedRole('payments-api', 'i-0abc', 'ASIAHOP0');
    const b = assumedRole('ledger', 'hop', 'ASIAHOP1');
    const c = assumedRole('billing', 'hop', 'ASIAHOP2');
    const alerts = detect([
      assume(a, roleArn('ledger'), T0, 'ASIAHOP1'),
      assume(b, roleArn('billing'), T0 + 1000, 'ASIAHOP2', 'chain-3'),
      assume(c, roleArn('prod-admin'), T0 + 2000, 'ASIAHOP3', 'chain-4'),
    ]);
    assert.deepEqual(rules(alerts), ['lateral-role-chain']);
    assert.deepEqual(alerts[0]?.event_ids, ['chain-3', 'chain-4']);
    assert.equal(alerts[0]?.count, 2);
  });

  it('accepts the usual two-hop CI pattern (OIDC role assumes one deploy role per account)', () => {
    const oidc = {
      userIdentity: {
        type: 'WebIdentityUser',
        principalId: 'token.actions.githubusercontent.com:repo:acme/payments',
        userName: 'repo:acme/payments:ref:refs/heads/main',
        identityProvider: 'token.actions.githubusercontent.com',
      },
    };
    const ci = assumedRole('github-oidc', 'gha-1', 'ASIACI1');
    const alerts = detect([
      ct(oidc, 'sts', 'AssumeRoleWithWebIdentity', {
        time: T0,
        params: { roleArn: roleArn('github-oidc') },
        response: { credentials: { accessKeyId: 'ASIACI1' } },
      }),
      assume(ci, roleArn('deploy', '222222222222'), T0 + 1000, 'ASIADEP1'),
      assume(ci, roleArn('deploy', '333333333333'), T0 + 2000, 'ASIADEP2'),
    ]);
    assert.deepEqual(alerts, []);
  });
});
