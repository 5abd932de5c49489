import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assumedRole, ct, detect, MIN, nightlyEtl, rules, T0 } from '../../../test/detect/helpers.js';

function tokenUse(i: number, data: Record<string, unknown>) {
  return {
    id: `tok-${i}`,
    time: new Date(T0 + i * 1000).toISOString(),
    type: 'token.used',
    source: 'broker',
    identityId: 'payments-api',
    credentialId: 'jti-abc',
    action: 'payments.refund',
    outcome: 'allow',
    data,
  };
}

describe('credential-replay', () => {
  it('alerts when instance-role session keys are used from outside (Stratus aws.credential-access.ec2-steal-instance-credentials)', () => {
    const role = assumedRole('payments-ec2', 'i-0123456789abcdef0', 'ASIAEXAMPLEINSTANCE1');
    const alerts = detect([
      ct(role, 'ec2', 'DescribeInstances', { time: T0, ip: '10.20.30.40' }),
      ct(role, 'sts', 'GetCallerIdentity', {
        time: T0 + 5 * MIN,
        ip: '198.51.100.23',
        userAgent: 'aws-cli/2.15.0',
        id: 'stolen-1',
      }),
    ]);
    assert.ok(rules(alerts).includes('credential-replay'));
    const a = alerts.find((x) => x.rule_id === 'credential-replay')!;
    assert.deepEqual(a.techniques, ['T1552.005', 'T1550.001']);
    assert.deepEqual(a.event_ids, ['stolen-1']);
    assert.equal(a.credential, 'ASIAEXAMPLEINSTANCE1');
    assert.equal(a.signal, 'session-revoked');
  });

  it('alerts when a DPoP-bound token is presented with another key', () => {
    const alerts = detect([tokenUse(1, { boundJkt: 'jkt-A', presentedJkt: 'jkt-B', sourceIp: '10.1.1.1' })]);
    assert.deepEqual(rules(alerts), ['credential-replay']);
    assert.deepEqual(alerts[0]?.techniques, ['T1550.001']);
  });

  it('alerts on a broker replay report', () => {
    const alerts = detect([{ ...tokenUse(1, {}), type: 'token.replayed', outcome: 'deny' }]);
    assert.deepEqual(rules(alerts), ['credential-replay']);
  });

  it('stays silent for long-lived keys, same-network reuse, AWS service calls, and matching DPoP keys', () => {
    const alerts = detect([
      ...nightlyEtl(T0),
      tokenUse(500, { boundJkt: 'jkt-A', presentedJkt: 'jkt-A', sourceIp: '10.1.1.1' }),
      tokenUse(501, { boundJkt: 'jkt-A', presentedJkt: 'jkt-A', sourceIp: '10.1.1.2' }),
    ]);
    assert.deepEqual(alerts, []);
  });
});
