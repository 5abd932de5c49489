import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ACCOUNT, assumedRole, ct, DAY, detect, k8s, rules, T0 } from '../../../test/detect/helpers.js';

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
