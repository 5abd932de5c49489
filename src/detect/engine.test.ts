import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ciDeploy, ct, DAY, detect, iamUser, k8s, nightlyEtl, T0 } from '../../test/detect/helpers.js';
import type { AlertDraft } from './alert.js';
import { AlertCollector, alertFromDraft } from './alert.js';
import { BaselineStore } from './baseline.js';
import type { Detector } from './detector.js';
import { defenseEvasionDetector } from './detectors/defense-evasion.js';
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

describe('DetectionEngine with a failing detector', () => {
  const bad = iamUser('svc-x', 'AKIAEXAMPLESVCX00001');
  const events = () =>
    normalizeValue(
      ct(bad, 'cloudtrail', 'UpdateTrail', { time: T0, id: 'u-1', params: { name: 't' } }),
      'auto',
    );

  it('drops only the result of a detector that throws or drafts an alert without severity', () => {
    const failures: string[] = [];
    const throwing: Detector = {
      rules: ['throws'],
      inspect() {
        throw new TypeError('exp(...).toOperationNode is not a function');
      },
    };
    const incomplete: Detector = {
      rules: ['incomplete'],
      inspect: ({ event }) => [
        {
          rule_id: 'incomplete',
          title: 'x',
          explanation: 'x',
          suggested_response: 'x',
          techniques: [],
          evidence: [event],
        } as unknown as AlertDraft,
      ],
    };
    const engine = new DetectionEngine({
      detectors: [throwing, incomplete, defenseEvasionDetector()],
      onDetectorError: (err, rules, event) => failures.push(`${rules.join()}:${event.id}:${String(err)}`),
    });
    for (const e of events()) engine.process(e);
    assert.deepEqual(
      engine.alerts().map((a) => [a.rule_id, a.severity]),
      [['defense-evasion', 'high']],
    );
    assert.equal(engine.detectorFailures, 2);
    assert.deepEqual(failures, [
      'throws:u-1:TypeError: exp(...).toOperationNode is not a function',
      'incomplete:u-1:Error: detector incomplete produced an alert with severity undefined',
    ]);
  });

  it('raises nothing for an action named after an Object.prototype member', () => {
    const engine = new DetectionEngine({ detectors: [defenseEvasionDetector()] });
    for (const action of ['toString', 'constructor', '__proto__', 'hasOwnProperty']) {
      for (const e of normalizeValue(
        { id: action, time: '2026-11-25T18:00:00Z', identityId: 'a', action },
        'auto',
      ))
        engine.process(e);
    }
    assert.equal(engine.detectorFailures, 0);
    assert.deepEqual(engine.alerts(), []);
  });
});

describe('AlertCollector rollback', () => {
  it('undoes the alerts created and merged since begin(), so a resent event is new again', () => {
    const collector = new AlertCollector();
    const [first] = events2(T0, 's-0');
    const kept = collector.add(first!);
    collector.begin();
    const [merged] = events2(T0 + 60_000, 's-1');
    assert.equal(collector.add(merged!).created, false);
    const [other] = events2(T0, 'o-0', 'DeleteTrail');
    assert.equal(collector.add(other!).created, true);
    collector.rollback();

    assert.deepEqual([kept.alert.count, kept.alert.event_ids], [1, ['s-0']]);
    assert.equal(collector.add(events2(T0, 'o-0', 'DeleteTrail')[0]!).created, true);
    assert.deepEqual(
      collector.list().map((a) => a.event_ids),
      [['s-0'], ['o-0']],
    );
  });

  function events2(time: number, id: string, name = 'StopLogging') {
    const actor = iamUser('svc-y', 'AKIAEXAMPLESVCY00001');
    const detector = defenseEvasionDetector();
    return normalizeValue(ct(actor, 'cloudtrail', name, { time, id, params: { name: 't' } }), 'auto').flatMap(
      (event) =>
        (detector.inspect({ event } as Parameters<Detector['inspect']>[0]) ?? []).map((d) =>
          alertFromDraft(d, 'svc-y'),
        ),
    );
  }
});
