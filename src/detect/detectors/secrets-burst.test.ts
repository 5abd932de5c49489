import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ACCOUNT,
  assumedRole,
  ct,
  detect,
  k8s,
  nightlyEtl,
  rules,
  T0,
  DAY,
} from '../../../test/detect/helpers.js';

const role = assumedRole('lambda-billing', 'billing-fn', 'ASIAEXAMPLEBILLING01');

describe('secrets-access-burst', () => {
  it('alerts once when an identity reads 20 secrets in a minute (Stratus aws.credential-access.secretsmanager-retrieve-secrets)', () => {
    const records = [ct(role, 'secretsmanager', 'ListSecrets', { time: T0, ip: '203.0.113.9' })];
    for (let i = 0; i < 20; i++) {
      records.push(
        ct(role, 'secretsmanager', 'GetSecretValue', {
          time: T0 + 1000 + i * 500,
          ip: '203.0.113.9',
          id: `gsv-${i}`,
          params: { secretId: `stratus-red-team-retrieve-secret-${i}` },
          resources: [{ ARN: `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:stratus-${i}` }],
        }),
      );
    }
    const alerts = detect(records).filter((a) => a.rule_id === 'secrets-access-burst');
    assert.equal(alerts.length, 1);
    assert.deepEqual(alerts[0]?.techniques, ['T1555.006']);
    assert.equal(alerts[0]?.count, 11);
    assert.ok(alerts[0]?.event_ids.includes('gsv-0'));
    assert.ok(alerts[0]?.event_ids.includes('gsv-19'));
  });

  it('counts the secrets of one BatchGetSecretValue call', () => {
    const ids = Array.from({ length: 12 }, (_, i) => `s-${i}`);
    const alerts = detect([
      ct(role, 'secretsmanager', 'BatchGetSecretValue', { time: T0, params: { secretIdList: ids } }),
    ]);
    assert.deepEqual(rules(alerts), ['secrets-access-burst']);
  });

  it('alerts on a cluster-wide secret list (Stratus k8s.credential-access.dump-secrets)', () => {
    const alerts = detect([
      k8s('system:serviceaccount:monitoring:prometheus', {
        time: T0,
        verb: 'list',
        resource: 'secrets',
        id: 'ls-1',
      }),
    ]);
    assert.deepEqual(rules(alerts), ['secrets-access-burst']);
    assert.deepEqual(alerts[0]?.techniques, ['T1552.007']);
  });

  it('does not alert on the nightly ETL reading its one secret every night, nor on slow reads', () => {
    const nights = [0, 1, 2, 3].flatMap((d) => nightlyEtl(T0 + d * DAY));
    const slow = [];
    for (let i = 0; i < 12; i++) {
      slow.push(
        ct(role, 'secretsmanager', 'GetSecretValue', {
          time: T0 + i * 30 * 60_000,
          params: { secretId: `s-${i}` },
        }),
      );
    }
    assert.deepEqual(detect([...nights, ...slow]), []);
  });
});
