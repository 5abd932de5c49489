import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  assumedRole,
  ct,
  DAY,
  detect,
  iamUser,
  nightlyEtl,
  rules,
  T0,
} from '../../../test/detect/helpers.js';

describe('new-source-network', () => {
  const history = Array.from({ length: 8 }, (_, d) => nightlyEtl(T0 + d * DAY)).flat();
  const etl = { userIdentity: nightlyEtl(T0)[0]!.userIdentity as Record<string, unknown> };

  it('alerts when a learned machine identity calls from a network it never used', () => {
    const alerts = detect(
      [
        ct(etl, 's3', 'GetObject', {
          time: T0 + 9 * DAY,
          ip: '185.220.101.4',
          id: 'net-1',
          params: { bucketName: 'acme-raw', key: 'x' },
        }),
      ],
      { history },
    );
    assert.ok(rules(alerts).includes('new-source-network'));
    const a = alerts.find((x) => x.rule_id === 'new-source-network');
    assert.deepEqual(a?.techniques, ['T1078.004']);
    assert.match(a?.explanation ?? '', /185\.220\.101\.0\/24/);
  });

  it('alerts for a long-lived IAM user key of unknown kind', () => {
    const svc = iamUser('svc-reports', 'AKIAEXAMPLEREPORTS01');
    const past = Array.from({ length: 8 }, (_, d) =>
      ct(svc, 's3', 'ListBuckets', { time: T0 + d * DAY, ip: '10.0.5.5' }),
    );
    const alerts = detect([ct(svc, 's3', 'ListBuckets', { time: T0 + 9 * DAY, ip: '45.9.20.1' })], {
      history: past,
    });
    assert.deepEqual(rules(alerts), ['new-source-network']);
  });

  it('stays silent on known networks, AWS service principals, and during learning', () => {
    assert.deepEqual(detect(nightlyEtl(T0 + 9 * DAY), { history }), []);
    assert.deepEqual(
      detect([ct(etl, 's3', 'GetObject', { time: T0 + 9 * DAY, ip: 'athena.amazonaws.com' })], { history }),
      [],
    );
    const nextTask = assumedRole('etl-warehouse', 'ecs-task-9b1c', 'ASIAETLNEXTTASK00001');
    const learning = [
      ...nightlyEtl(T0),
      ct(nextTask, 's3', 'GetObject', { time: T0 + DAY, ip: '185.220.101.4' }),
    ];
    assert.deepEqual(detect(learning), []);
  });
});
