import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ciDeploy,
  ct,
  DAY,
  detect,
  iamUser,
  k8s,
  MIN,
  nightlyEtl,
  rules,
  T0,
} from '../../../test/detect/helpers.js';

const leaked = iamUser('svc-reporting', 'AKIAEXAMPLEREPORT001');
const ip = '203.0.113.50';
const ua = 'Boto3/1.34.0 md/Botocore#1.34.0';

function theftChain(start: number, last: 'persist' | 'pivot') {
  return [
    ct(leaked, 'sts', 'GetCallerIdentity', { time: start, ip, userAgent: ua, id: 'c-1' }),
    ct(leaked, 'iam', 'ListUsers', { time: start + 10_000, ip, userAgent: ua, id: 'c-2' }),
    ct(leaked, 'secretsmanager', 'GetSecretValue', {
      time: start + 60_000,
      ip,
      userAgent: ua,
      id: 'c-3',
      params: { secretId: 'prod/db' },
    }),
    last === 'persist'
      ? ct(leaked, 'iam', 'CreateAccessKey', { time: start + 120_000, ip, userAgent: ua, id: 'c-4' })
      : ct(leaked, 'sts', 'AssumeRole', {
          time: start + 120_000,
          ip,
          userAgent: ua,
          id: 'c-4',
          params: { roleArn: 'arn:aws:iam::111122223333:role/prod-admin', roleSessionName: 'x' },
        }),
  ];
}

describe('api-chain-known-bad', () => {
  it('alerts on enumerate → read secrets → create key with the evidence in order', () => {
    const alerts = detect(theftChain(T0, 'persist')).filter((a) => a.rule_id === 'api-chain-known-bad');
    assert.equal(alerts.length, 1);
    assert.equal(alerts[0]?.severity, 'critical');
    assert.deepEqual(alerts[0]?.techniques, ['T1087.004', 'T1555.006', 'T1098.001']);
    assert.deepEqual(alerts[0]?.event_ids, ['c-2', 'c-3', 'c-4']);
  });

  it('alerts on enumerate → read secrets → assume role', () => {
    const alerts = detect(theftChain(T0, 'pivot'));
    assert.ok(rules(alerts).includes('api-chain-known-bad'));
    assert.ok(alerts.find((a) => a.rule_id === 'api-chain-known-bad')?.techniques.includes('T1078.004'));
  });

  it('treats a Kubernetes request made as another user as the pivot step', () => {
    const sa = 'system:serviceaccount:ci:deployer';
    const alerts = detect([
      k8s(sa, { time: T0, verb: 'list', resource: 'serviceaccounts', namespace: 'prod', id: 'k-1' }),
      k8s(sa, { time: T0 + MIN, verb: 'get', resource: 'secrets', namespace: 'prod', name: 'db', id: 'k-2' }),
      k8s(sa, {
        time: T0 + 2 * MIN,
        verb: 'get',
        resource: 'pods',
        namespace: 'prod',
        impersonatedUser: { username: 'system:admin', groups: ['system:masters'] },
        id: 'k-3',
      }),
    ]).filter((a) => a.rule_id === 'api-chain-known-bad');
    assert.equal(alerts.length, 1);
    assert.deepEqual(alerts[0]?.event_ids, ['k-1', 'k-2', 'k-3']);
    assert.ok(alerts[0]?.techniques.includes('T1078.004'));
  });

  it('does not treat a CI job that checks its identity, reads a secret and assumes a deploy role as a chain', () => {
    const ci = { userIdentity: ciDeploy(T0)[0]!.userIdentity as Record<string, unknown> };
    const alerts = detect([
      ct(ci, 'sts', 'GetCallerIdentity', { time: T0, ip: '140.82.112.4' }),
      ct(ci, 'ec2', 'DescribeRegions', { time: T0 + 1000, ip: '140.82.112.4' }),
      ct(ci, 'secretsmanager', 'GetSecretValue', {
        time: T0 + 2000,
        ip: '140.82.112.4',
        params: { secretId: 'ci/npm-token' },
      }),
      ct(ci, 'sts', 'AssumeRole', {
        time: T0 + 3000,
        ip: '140.82.112.4',
        params: { roleArn: 'arn:aws:iam::222222222222:role/deploy', roleSessionName: 'gha' },
      }),
      ...ciDeploy(T0 + 10_000),
    ]);
    assert.deepEqual(alerts, []);
  });

  it('does not chain steps spread over more than the window, nor out of order', () => {
    const spread = theftChain(T0, 'persist').map((r, i) => ({
      ...r,
      eventTime: new Date(T0 + i * 90 * MIN).toISOString(),
    }));
    assert.deepEqual(
      rules(detect(spread)).filter((r) => r === 'api-chain-known-bad'),
      [],
    );
    const [a, b, c, d] = theftChain(T0, 'persist');
    const reordered = [c, d, a, b].map((r, i) => ({
      ...r,
      eventTime: new Date(T0 + i * 1000).toISOString(),
    }));
    assert.deepEqual(
      rules(detect(reordered)).filter((r) => r === 'api-chain-known-bad'),
      [],
    );
  });
});

describe('api-chain-novel', () => {
  const config = { learningPeriodMs: 3 * DAY };

  it('alerts when a learned identity runs a sequence of never-seen calls', () => {
    const history = [0, 1, 2, 3].flatMap((d) => nightlyEtl(T0 + d * DAY));
    const etl = history[0]!.userIdentity as Record<string, unknown>;
    const actor = { userIdentity: etl };
    const attack = [
      ct(actor, 'ec2', 'DescribeInstances', { time: T0 + 5 * DAY, id: 'n-1' }),
      ct(actor, 'lambda', 'ListFunctions20150331', { time: T0 + 5 * DAY + 1000, id: 'n-2' }),
      ct(actor, 'rds', 'DescribeDBInstances', { time: T0 + 5 * DAY + 2000, id: 'n-3' }),
    ];
    const alerts = detect(attack, { history, config });
    assert.deepEqual(rules(alerts), ['api-chain-novel']);
    assert.deepEqual(alerts[0]?.event_ids, ['n-1', 'n-2', 'n-3']);
  });

  it('alerts on known calls made in an order the identity has never used', () => {
    const history = [0, 1, 2, 3].flatMap((d) => nightlyEtl(T0 + d * DAY));
    const actor = { userIdentity: history[0]!.userIdentity as Record<string, unknown> };
    const t = T0 + 5 * DAY;
    // Every call is one the ETL makes nightly; none follows the call it follows at night.
    const attack = [
      ct(actor, 'athena', 'GetQueryResults', { time: t, id: 'o-1' }),
      ct(actor, 'secretsmanager', 'GetSecretValue', {
        time: t + 1000,
        id: 'o-2',
        params: { secretId: 'prod/etl/warehouse-db' },
      }),
      ct(actor, 's3', 'PutObject', {
        time: t + 2000,
        id: 'o-3',
        params: { bucketName: 'acme-warehouse', key: 'daily.parquet' },
      }),
    ];
    const alerts = detect(attack, { history, config });
    assert.deepEqual(rules(alerts), ['api-chain-novel']);
    assert.deepEqual(alerts[0]?.event_ids, ['o-1', 'o-2', 'o-3']);
  });

  it('stays silent for the same nightly ETL and the same CI deploy after learning', () => {
    const history = [0, 1, 2, 3].flatMap((d) => [
      ...nightlyEtl(T0 + d * DAY),
      ...ciDeploy(T0 + d * DAY + 3600_000, `run-${d}`),
    ]);
    const tonight = [...nightlyEtl(T0 + 5 * DAY), ...ciDeploy(T0 + 5 * DAY + 3600_000, 'run-5')];
    assert.deepEqual(detect(tonight, { history, config }), []);
  });

  it('does not alert while the identity is still learning', () => {
    const etl = { userIdentity: nightlyEtl(T0)[0]!.userIdentity as Record<string, unknown> };
    const records = [
      ...nightlyEtl(T0),
      ct(etl, 'ec2', 'DescribeInstances', { time: T0 + 3600_000 }),
      ct(etl, 'lambda', 'ListFunctions20150331', { time: T0 + 3601_000 }),
      ct(etl, 'rds', 'DescribeDBInstances', { time: T0 + 3602_000 }),
    ];
    assert.deepEqual(detect(records, { config }), []);
  });
});
