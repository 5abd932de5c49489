import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { runCli } from '../../src/cli/main.js';
import { tempDir } from '../helpers/server.js';
import { ciDeploy, ct, DAY, iamUser, k8s, nightlyEtl, T0 } from './helpers.js';

const dir = tempDir('bulkhead-detect-cli-');
after(() => rmSync(dir, { recursive: true, force: true }));

async function cli(args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, {
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    env: {},
  });
  return { code, stdout, stderr };
}

const leaked = iamUser('svc-reporting', 'AKIAEXAMPLEREPORT001');
const attack = [
  ct(leaked, 'sts', 'GetCallerIdentity', { time: T0, ip: '203.0.113.5', id: 'ev-a1' }),
  ct(leaked, 'iam', 'ListUsers', { time: T0 + 1000, ip: '203.0.113.5', id: 'ev-a2' }),
  ct(leaked, 'secretsmanager', 'GetSecretValue', {
    time: T0 + 2000,
    ip: '203.0.113.5',
    id: 'ev-a3',
    params: { secretId: 'prod/db' },
  }),
  ct(leaked, 'iam', 'CreateAccessKey', {
    time: T0 + 3000,
    ip: '203.0.113.5',
    id: 'ev-a4',
    params: { userName: 'admin-alice' },
  }),
  ct(leaked, 'cloudtrail', 'StopLogging', {
    time: T0 + 4000,
    ip: '203.0.113.5',
    id: 'ev-a5',
    params: { name: 'org-trail' },
  }),
];

describe('bulkhead detect (offline)', () => {
  it('prints a JSON array of alerts with the documented fields for a CloudTrail Records file', async () => {
    const file = join(dir, 'attack.json');
    writeFileSync(file, JSON.stringify({ Records: attack }));
    const { code, stdout, stderr } = await cli(['detect', file, '--format', 'cloudtrail', '--json']);
    assert.equal(code, 0, stderr);
    const alerts = JSON.parse(stdout);
    assert.ok(Array.isArray(alerts));
    assert.deepEqual(alerts.map((a: any) => a.rule_id).sort(), [
      'api-chain-known-bad',
      'defense-evasion',
      'nhi-privilege-change',
    ]);
    for (const a of alerts) {
      for (const k of [
        'rule_id',
        'severity',
        'techniques',
        'identity',
        'credential',
        'event_ids',
        'first_seen',
        'last_seen',
        'explanation',
        'suggested_response',
      ]) {
        assert.ok(k in a, `missing ${k}`);
      }
      assert.match(a.severity, /^(low|medium|high|critical)$/);
      assert.equal(a.identity, 'arn:aws:iam::111122223333:user/svc-reporting');
      assert.equal(a.credential, 'AKIAEXAMPLEREPORT001');
      assert.ok(!('dedup_key' in a));
    }
    const chain = alerts.find((a: any) => a.rule_id === 'api-chain-known-bad');
    assert.deepEqual(chain.event_ids, ['ev-a2', 'ev-a3', 'ev-a4']);
    assert.match(stderr, /5 events, 0 bad lines skipped, 3 alerts/);
  });

  it('reads several files in several formats, reports bad lines on stderr and keeps going', async () => {
    const lines = join(dir, 'lines.jsonl');
    writeFileSync(
      lines,
      `${JSON.stringify(attack[4])}\n{"truncated":\n${JSON.stringify({ ...attack[0], eventTime: 5 })}\n`,
    );
    const audit = join(dir, 'audit.log');
    writeFileSync(
      audit,
      `${JSON.stringify(k8s('system:serviceaccount:monitoring:prometheus', { time: T0, verb: 'list', resource: 'secrets', id: 'k-1' }))}\n`,
    );
    const { code, stdout, stderr } = await cli(['detect', lines, audit, '--json']);
    assert.equal(code, 0, stderr);
    assert.deepEqual(
      JSON.parse(stdout).map((a: any) => a.rule_id),
      ['secrets-access-burst', 'defense-evasion'],
    );
    assert.match(stderr, /lines\.jsonl:line 2: BULKHEAD_DETECT_MALFORMED_JSON/);
    assert.match(stderr, /lines\.jsonl:line 3: BULKHEAD_DETECT_INVALID_EVENT/);
  });

  it('learns a baseline from history, saves it, and compares new files against it', async () => {
    const history = join(dir, 'history.jsonl');
    const days = Array.from({ length: 10 }, (_, d) => [
      ...nightlyEtl(T0 + d * DAY),
      ...ciDeploy(T0 + d * DAY + 3600_000, `r${d}`),
    ]).flat();
    writeFileSync(history, days.map((r) => JSON.stringify(r)).join('\n'));
    const baseline = join(dir, 'baseline.json');
    const learn = await cli([
      'detect',
      history,
      '--save-baseline',
      baseline,
      '--learning-days',
      '3',
      '--json',
    ]);
    assert.equal(learn.code, 0, learn.stderr);
    assert.deepEqual(JSON.parse(learn.stdout), []);
    assert.equal(JSON.parse(readFileSync(baseline, 'utf8')).version, 1);

    const today = join(dir, 'today.jsonl');
    const etl = { userIdentity: nightlyEtl(T0)[0]!.userIdentity as Record<string, unknown> };
    const odd = [
      ...nightlyEtl(T0 + 11 * DAY),
      ct(etl, 'ec2', 'DescribeInstances', { time: T0 + 11 * DAY + 3600_000, id: 'n1' }),
      ct(etl, 'lambda', 'ListFunctions20150331', { time: T0 + 11 * DAY + 3601_000, id: 'n2' }),
      ct(etl, 'rds', 'DescribeDBInstances', { time: T0 + 11 * DAY + 3602_000, id: 'n3' }),
    ];
    writeFileSync(today, odd.map((r) => JSON.stringify(r)).join('\n'));
    const run = await cli(['detect', today, '--baseline', baseline, '--learning-days', '3', '--json']);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(
      JSON.parse(run.stdout).map((a: any) => a.rule_id),
      ['api-chain-novel'],
    );
    const without = await cli(['detect', today, '--learning-days', '3', '--json']);
    assert.deepEqual(JSON.parse(without.stdout), []);
  });

  it('reads gzipped CloudTrail files and reports a corrupt one without losing the others', async () => {
    const good = join(dir, 'trail.json.gz');
    writeFileSync(good, gzipSync(Buffer.from(JSON.stringify({ Records: attack }))));
    const corrupt = join(dir, 'corrupt.json.gz');
    writeFileSync(corrupt, gzipSync(Buffer.from(JSON.stringify({ Records: attack }))).subarray(0, 60));
    const { code, stdout, stderr } = await cli(['detect', corrupt, good, '--json']);
    assert.equal(code, 0, stderr);
    assert.equal(JSON.parse(stdout).length, 3);
    assert.match(stderr, /corrupt\.json\.gz:line 0: BULKHEAD_DETECT_UNREADABLE_INPUT/);
  });

  it('fails with one line for a missing file, a bad format or a bad baseline', async () => {
    const missing = await cli(['detect', join(dir, 'nope.json')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /cannot read/);
    const file = join(dir, 'attack.json');
    const fmt = await cli(['detect', file, '--format', 'xml']);
    assert.equal(fmt.code, 1);
    assert.match(fmt.stderr, /--format must be one of/);
    const badBaseline = join(dir, 'bad-baseline.json');
    writeFileSync(badBaseline, '{"version":7}');
    const bb = await cli(['detect', file, '--baseline', badBaseline]);
    assert.equal(bb.code, 1);
    assert.match(bb.stderr, /baseline/);
  });

  it('prints a human table without --json', async () => {
    const { code, stdout } = await cli(['detect', join(dir, 'attack.json')]);
    assert.equal(code, 0);
    assert.match(stdout, /^SEVERITY\s+RULE/);
    assert.match(stdout, /defense-evasion/);
  });
});
