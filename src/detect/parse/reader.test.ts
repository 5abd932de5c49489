import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assumedRole, ct, iamUser, k8s, T0 } from '../../../test/detect/helpers.js';
import type { NormalizedEvent } from '../event.js';
import type { ParseIssue } from './issues.js';
import { readEvents, type InputFormat } from './reader.js';

async function* chunks(text: string, size = 7): AsyncGenerator<Buffer> {
  const buf = Buffer.from(text);
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

async function read(text: string, format: InputFormat = 'auto', size = 7, maxLineBytes?: number) {
  const events: NormalizedEvent[] = [];
  const issues: ParseIssue[] = [];
  const stats = await readEvents(
    chunks(text, size),
    { format, maxLineBytes },
    {
      event: (e) => events.push(e),
      issue: (i) => issues.push(i),
    },
  );
  return { events, issues, stats };
}

const user = iamUser('svc-reporting', 'AKIAIOSFODNN7EXAMPLE');
const r1 = ct(user, 'iam', 'ListUsers', { time: T0, id: 'ev-1' });
const r2 = ct(assumedRole('etl', 'job-1', 'ASIAQNZGKEXAMPLE0001'), 'sts', 'AssumeRole', {
  time: T0 + 1000,
  id: 'ev-2',
  params: { roleArn: 'arn:aws:iam::111122223333:role/target', roleSessionName: 'x' },
  response: { credentials: { accessKeyId: 'ASIANEWSESSION000001', expiration: 'x' } },
});

describe('readEvents: CloudTrail', () => {
  it('streams a {"Records":[...]} file across arbitrary chunk boundaries', async () => {
    const file = JSON.stringify({ Records: [r1, r2] }, null, 2);
    for (const size of [1, 3, 64, 100_000]) {
      const { events, issues } = await read(file, 'cloudtrail', size);
      assert.deepEqual(issues, []);
      assert.deepEqual(
        events.map((e) => e.id),
        ['ev-1', 'ev-2'],
      );
    }
  });

  it('normalizes actor, credential, action, targets and session keys', async () => {
    const { events } = await read(JSON.stringify({ Records: [r1, r2] }));
    const [a, b] = events;
    assert.equal(a?.actor.name, 'arn:aws:iam::111122223333:user/svc-reporting');
    assert.equal(a?.actor.type, 'IAMUser');
    assert.deepEqual(a?.credential, { id: 'AKIAIOSFODNN7EXAMPLE', temporary: false });
    assert.equal(a?.action, 'iam:ListUsers');
    assert.equal(a?.src.network, '10.20.30.0/24');
    assert.equal(b?.actor.principal, 'arn:aws:iam::111122223333:role/etl');
    assert.equal(b?.credential?.temporary, true);
    assert.deepEqual(b?.targets, ['arn:aws:iam::111122223333:role/target']);
    assert.equal(b?.params.issuedAccessKeyId, 'ASIANEWSESSION000001');
  });

  it('reads one record per line, and a Records object per line', async () => {
    const lines = `${JSON.stringify(r1)}\n\n${JSON.stringify({ Records: [r2] })}\r\n`;
    const { events, issues } = await read(lines, 'cloudtrail');
    assert.deepEqual(issues, []);
    assert.deepEqual(
      events.map((e) => e.id),
      ['ev-1', 'ev-2'],
    );
  });

  it('reports a line carrying an unpaired UTF-16 surrogate and keeps the lines around it', async () => {
    const bad = JSON.stringify({ ...r2, userAgent: 'x' }).replace('"userAgent":"x"', '"userAgent":"\\ud800"');
    const { events, issues } = await read(`${JSON.stringify(r1)}\n${bad}\n`, 'cloudtrail');
    assert.deepEqual(
      events.map((e) => e.id),
      ['ev-1'],
    );
    assert.equal(issues.length, 1);
    assert.equal(issues[0]?.code, 'BULKHEAD_DETECT_INVALID_EVENT');
    assert.equal(issues[0]?.index, 2);
    assert.match(issues[0]?.message ?? '', /^line\.userAgent: strings must be well-formed Unicode/);
  });

  it('reports a truncated Records file and keeps the complete records', async () => {
    const file = JSON.stringify({ Records: [r1, r2] });
    const { events, issues } = await read(file.slice(0, file.length - 40), 'cloudtrail');
    assert.deepEqual(
      events.map((e) => e.id),
      ['ev-1'],
    );
    assert.equal(issues[0]?.code, 'BULKHEAD_DETECT_MALFORMED_JSON');
    assert.equal(issues[0]?.unit, 'record');
    assert.equal(issues[0]?.index, 2);
  });

  it('skips an oversized record inside a Records file', async () => {
    const big = { ...r1, eventID: 'big', requestParameters: { policyDocument: 'x'.repeat(5000) } };
    const file = JSON.stringify({ Records: [big, r2] });
    const { events, issues } = await read(file, 'cloudtrail', 512, 2048);
    assert.deepEqual(
      events.map((e) => e.id),
      ['ev-2'],
    );
    assert.equal(issues[0]?.code, 'BULKHEAD_DETECT_LINE_TOO_LONG');
  });
});

describe('readEvents: bad input', () => {
  it('reports truncated JSON, wrong types and unknown shapes per line, keeping good lines', async () => {
    const lines = [
      JSON.stringify(r1),
      '{"eventVersion":"1.09","eventSource":"iam.amazonaws.com","eventName":',
      JSON.stringify({ ...r1, eventID: 'typed', eventTime: 12345 }),
      JSON.stringify({ ...r1, eventID: 'ui', userIdentity: 'root' }),
      JSON.stringify({ hello: 'world' }),
      '[1,2,3]',
      JSON.stringify(r2),
    ].join('\n');
    const { events, issues, stats } = await read(lines);
    assert.deepEqual(
      events.map((e) => e.id),
      ['ev-1', 'ev-2'],
    );
    assert.deepEqual(
      issues.map((i) => [i.index, i.code]),
      [
        [2, 'BULKHEAD_DETECT_MALFORMED_JSON'],
        [3, 'BULKHEAD_DETECT_INVALID_EVENT'],
        [4, 'BULKHEAD_DETECT_INVALID_EVENT'],
        [5, 'BULKHEAD_DETECT_UNKNOWN_FORMAT'],
        [6, 'BULKHEAD_DETECT_UNKNOWN_FORMAT'],
      ],
    );
    assert.equal(stats.issues, 5);
    assert.equal(stats.events, 2);
  });

  it('accepts unknown event names (normalized, not rejected)', async () => {
    const { events, issues } = await read(
      JSON.stringify(ct(user, 'newservice', 'DoSomethingNew', { time: T0 })),
    );
    assert.deepEqual(issues, []);
    assert.equal(events[0]?.action, 'newservice:DoSomethingNew');
  });

  it('skips a 100 MB line without buffering it and processes the next line', async () => {
    const before = process.memoryUsage().rss;
    let peak = before;
    async function* huge(): AsyncGenerator<Buffer> {
      const block = Buffer.alloc(1024 * 1024, 0x61);
      yield Buffer.from(`${JSON.stringify(r1)}\n{"x":"`);
      for (let i = 0; i < 100; i++) {
        yield block;
        peak = Math.max(peak, process.memoryUsage().rss);
      }
      yield Buffer.from(`"}\n${JSON.stringify(r2)}\n`);
    }
    const events: string[] = [];
    const issues: ParseIssue[] = [];
    await readEvents(
      huge(),
      { format: 'auto' },
      { event: (e) => events.push(e.id), issue: (i) => issues.push(i) },
    );
    assert.deepEqual(events, ['ev-1', 'ev-2']);
    assert.equal(issues.length, 1);
    assert.equal(issues[0]?.code, 'BULKHEAD_DETECT_LINE_TOO_LONG');
    assert.equal(issues[0]?.index, 2);
    assert.ok(peak - before < 50 * 1024 * 1024, `RSS grew by ${(peak - before) / 1e6} MB`);
  });
});

describe('readEvents: Kubernetes audit and Bulkhead NDJSON', () => {
  it('normalizes a service-account audit event and skips non-final stages', async () => {
    const done = k8s('system:serviceaccount:external-secrets:sync', {
      time: T0,
      verb: 'get',
      resource: 'secrets',
      namespace: 'payments',
      name: 'db-password',
      id: 'audit-1',
      extra: {
        'authentication.kubernetes.io/credential-id': ['JTI=abc'],
        'authentication.kubernetes.io/pod-name': ['sync-0'],
      },
    });
    const started = { ...done, stage: 'RequestReceived', auditID: 'audit-0' };
    const { events, issues, stats } = await read(
      `${JSON.stringify(started)}\n${JSON.stringify(done)}\n`,
      'k8s-audit',
    );
    assert.deepEqual(issues, []);
    assert.equal(stats.skipped, 1);
    const e = events[0]!;
    assert.equal(e.id, 'audit-1');
    assert.equal(e.actor.type, 'ServiceAccount');
    assert.equal(e.actor.principal, 'external-secrets/sync');
    assert.equal(e.actor.sessionName, 'sync-0');
    assert.equal(e.credential?.id, 'JTI=abc');
    assert.equal(e.action, 'k8s:get:secrets');
    assert.equal(e.resource, 'payments/secrets/db-password');
  });

  it('rejects a Kubernetes event without a user', async () => {
    const bad = { ...k8s('x', { time: T0, verb: 'get' }), user: null };
    const { issues } = await read(JSON.stringify(bad), 'k8s-audit');
    assert.equal(issues[0]?.code, 'BULKHEAD_DETECT_INVALID_EVENT');
  });

  it('normalizes Bulkhead events and validates their types', async () => {
    const good = {
      id: 'bh-1',
      time: new Date(T0).toISOString(),
      type: 'token.used',
      source: 'broker',
      identityId: 'payments-api',
      credentialId: 'jti-1',
      action: 'payments.refund',
      resource: 'payments-db',
      outcome: 'allow',
      data: { sourceIp: '10.1.2.3', workflow: 'refunds', intentActions: ['payments.refund'] },
    };
    const bad = { ...good, id: 'bh-2', outcome: 'maybe' };
    const { events, issues } = await read(`${JSON.stringify(good)}\n${JSON.stringify(bad)}\n`, 'ndjson');
    assert.equal(events.length, 1);
    const e = events[0]!;
    assert.equal(e.actor.identityId, 'payments-api');
    assert.equal(e.credential?.temporary, true);
    assert.deepEqual(e.token?.intentActions, ['payments.refund']);
    assert.equal(e.service, 'payments');
    assert.equal(issues[0]?.code, 'BULKHEAD_DETECT_INVALID_EVENT');
  });
});
