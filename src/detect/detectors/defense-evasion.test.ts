import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assumedRole, ciDeploy, ct, detect, iamUser, rules, T0 } from '../../../test/detect/helpers.js';

// Stratus Red Team aws.defense-evasion.cloudtrail-stop / -delete / -event-selectors.
const attacker = iamUser('svc-backup', 'AKIAEXAMPLEBACKUP001');

describe('defense-evasion', () => {
  it('alerts on StopLogging with T1562.008 and the CloudTrail event id', () => {
    const alerts = detect([
      ct(attacker, 'cloudtrail', 'StopLogging', {
        time: T0,
        id: 'stop-1',
        ip: '198.51.100.7',
        params: { name: 'arn:aws:cloudtrail:us-east-1:111122223333:trail/org-trail' },
      }),
    ]);
    assert.deepEqual(rules(alerts), ['defense-evasion']);
    assert.equal(alerts[0]?.severity, 'critical');
    assert.deepEqual(alerts[0]?.techniques, ['T1562.008']);
    assert.deepEqual(alerts[0]?.event_ids, ['stop-1']);
    assert.equal(alerts[0]?.credential, 'AKIAEXAMPLEBACKUP001');
    assert.equal(alerts[0]?.identity, 'arn:aws:iam::111122223333:user/svc-backup');
  });

  it('alerts on DeleteTrail, PutEventSelectors and a refused GuardDuty DeleteDetector', () => {
    const alerts = detect([
      ct(attacker, 'cloudtrail', 'PutEventSelectors', {
        time: T0,
        params: { trailName: 'org-trail', eventSelectors: [{ readWriteType: 'ReadOnly' }] },
      }),
      ct(attacker, 'cloudtrail', 'DeleteTrail', { time: T0 + 1000, params: { name: 'org-trail' } }),
      ct(attacker, 'guardduty', 'DeleteDetector', {
        time: T0 + 2000,
        errorCode: 'AccessDenied',
        params: { detectorId: 'abc' },
      }),
    ]);
    assert.deepEqual(rules(alerts), ['defense-evasion', 'defense-evasion', 'defense-evasion']);
    assert.deepEqual(alerts[2]?.techniques, ['T1562.001']);
    assert.match(alerts[2]?.explanation ?? '', /attempt, refused/);
  });

  it('ignores reading trail status and a normal CI deploy', () => {
    const reader = assumedRole('security-audit', 'scanner');
    const alerts = detect([
      ct(reader, 'cloudtrail', 'GetTrailStatus', { time: T0, params: { name: 'org-trail' } }),
      ct(reader, 'cloudtrail', 'DescribeTrails', { time: T0 + 1 }),
      ...ciDeploy(T0 + 10_000),
    ]);
    assert.deepEqual(alerts, []);
  });
});
