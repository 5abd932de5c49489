import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ct, detect, iamUser, identity, nightlyEtl, root, rules, T0 } from '../../../test/detect/helpers.js';

describe('break-glass-use / shared-account-use', () => {
  it('alerts on any root activity (Stratus aws.initial-access.console-login-without-mfa on root)', () => {
    const alerts = detect([
      ct(root(), 'signin', 'ConsoleLogin', {
        time: T0,
        id: 'login-1',
        userAgent: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)',
        response: { ConsoleLogin: 'Success' },
        eventType: 'AwsConsoleSignIn',
      }),
    ]);
    assert.deepEqual(rules(alerts), ['break-glass-use']);
    assert.equal(alerts[0]?.severity, 'critical');
    assert.deepEqual(alerts[0]?.techniques, ['T1078.004']);
  });

  it('alerts on inventory break-glass and shared identities, deduplicating an ongoing session', () => {
    const inventory = {
      identities: [
        identity({
          id: 'breakglass-admin',
          kind: 'break_glass',
          cloudArn: 'arn:aws:iam::111122223333:user/breakglass',
        }),
        identity({
          id: 'ops-shared',
          kind: 'shared_account',
          cloudArn: 'arn:aws:iam::111122223333:user/ops',
        }),
      ],
      credentials: [],
    };
    const bg = iamUser('breakglass', 'AKIAEXAMPLEBREAK0001');
    const shared = iamUser('ops', 'AKIAEXAMPLESHARED001');
    const alerts = detect(
      [
        ct(bg, 'iam', 'ListRoles', { time: T0, id: 'bg-1' }),
        ct(bg, 'iam', 'GetRole', { time: T0 + 60_000, id: 'bg-2' }),
        ct(shared, 'ec2', 'DescribeInstances', { time: T0 + 120_000, id: 'sh-1' }),
      ],
      { inventory },
    );
    assert.deepEqual(rules(alerts), ['break-glass-use', 'shared-account-use']);
    assert.equal(alerts[0]?.count, 2);
    assert.deepEqual(alerts[0]?.event_ids, ['bg-1', 'bg-2']);
    assert.equal(alerts[0]?.identity_id, 'breakglass-admin');
  });

  it('stays silent for ordinary workloads (nightly ETL)', () => {
    assert.deepEqual(detect(nightlyEtl(T0)), []);
  });
});
