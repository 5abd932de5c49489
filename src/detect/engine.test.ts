import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ciDeploy, ct, DAY, detect, iamUser, k8s, nightlyEtl, T0 } from '../../test/detect/helpers.js';
import { BaselineStore } from './baseline.js';
import { DetectionEngine } from './engine.js';
import { normalizeValue } from './parse/reader.js';

function k8sWorkloadDay(start: number) {
  const sa = 'system:serviceaccount:external-secrets:sync';
  return Array.from({ length: 6 }, (_, i) =>
    k8s(sa, {
      time: start + i * 60_000,
      verb: 'get',
      resource: 'secrets',
      namespace: 'payments',
      name: `s-${i % 3}`,
    }),
  );
}

describe('DetectionEngine on benign traffic', () => {
  it('raises nothing for a month of CI deploys, nightly ETL and an operator syncing secrets', () => {
    const month = Array.from({ length: 30 }, (_, d) => [
      ...nightlyEtl(T0 + d * DAY),
      ...ciDeploy(T0 + d * DAY + 4 * 3600_000, `run-${d}`),
      ...k8sWorkloadDay(T0 + d * DAY + 6 * 3600_000),
    ]).flat();
    assert.deepEqual(detect(month, { config: { learningPeriodMs: 7 * DAY } }), []);
  });
});

describe('DetectionEngine baselines', () => {
  it('round-trips baselines through the file format so a restart does not re-learn', () => {
    const engine = new DetectionEngine({ config: { learningPeriodMs: 2 * DAY } });
    for (const r of [0, 1, 2, 3].flatMap((d) => nightlyEtl(T0 + d * DAY))) {
      for (const e of normalizeValue(r, 'auto')) engine.process(e);
    }
    const file = JSON.parse(JSON.stringify(engine.baselines.toFile()));
    const restored = new BaselineStore(2 * DAY);
    restored.loadFile(file);
    const again = new DetectionEngine({ config: { learningPeriodMs: 2 * DAY }, baselines: restored });
    const etl = { userIdentity: nightlyEtl(T0)[0]!.userIdentity as Record<string, unknown> };
    const odd = [
      ct(etl, 'ec2', 'DescribeInstances', { time: T0 + 5 * DAY }),
      ct(etl, 'lambda', 'ListFunctions20150331', { time: T0 + 5 * DAY + 1 }),
      ct(etl, 'rds', 'DescribeDBInstances', { time: T0 + 5 * DAY + 2 }),
    ];
    for (const r of odd) for (const e of normalizeValue(r, 'auto')) again.process(e);
    assert.deepEqual(
      again.alerts().map((a) => a.rule_id),
      ['api-chain-novel'],
    );
    assert.throws(() => restored.loadFile({ version: 2 }), /baseline file/);
  });

  it('deduplicates an ongoing pattern and opens a new alert after the dedup window', () => {
    const bad = iamUser('svc-x', 'AKIAEXAMPLESVCX00001');
    const records = [0, 10, 20, 200].map((m, i) =>
      ct(bad, 'cloudtrail', 'StopLogging', {
        time: T0 + m * 60_000,
        id: `s-${i}`,
        params: { name: 'trail' },
      }),
    );
    const alerts = detect(records);
    assert.equal(alerts.length, 2);
    assert.equal(alerts[0]?.count, 3);
    assert.deepEqual(alerts[0]?.event_ids, ['s-0', 's-1', 's-2']);
    assert.equal(alerts[0]?.first_seen, new Date(T0).toISOString());
    assert.equal(alerts[0]?.last_seen, new Date(T0 + 20 * 60_000).toISOString());
    assert.equal(alerts[1]?.count, 1);
  });
});
