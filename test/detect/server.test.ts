import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { sql } from 'kysely';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { runCli } from '../../src/cli/main.js';
import { createDetectModule } from '../../src/detect/index.js';
import { DetectService } from '../../src/detect/service.js';
import type { DetectTables } from '../../src/detect/tables.js';
import type { BulkheadEvent } from '../../src/events/bus.js';
import { coreModule } from '../../src/modules/index.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { ct, iamUser, root, T0 } from './helpers.js';

const ndjson = (records: unknown[]) => records.map((r) => JSON.stringify(r)).join('\n') + '\n';
const NDJSON = { 'content-type': 'application/x-ndjson' };

interface Received {
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

describe('detect server mode', () => {
  let server: TestServer;
  let receiver: Server;
  const received: Received[] = [];
  const raised: BulkheadEvent[] = [];
  const detect = createDetectModule({
    ssf: { receivers: [], issuer: 'https://bulkhead.test' },
    bodyLimitBytes: 256 * 1024,
    maxDecodedBytes: 1024 * 1024,
    maxLineBytes: 64 * 1024,
  });

  before(async () => {
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        received.push({ headers: req.headers, body });
        res.writeHead(202).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const port = (receiver.address() as AddressInfo).port;
    server = await startTestServer({ demo: true, modules: [coreModule, detect] });
    detect
      .service()
      .setReceivers([{ url: `http://127.0.0.1:${port}/ssf`, audience: 'https://receiver.test' }]);
    server.ctx.events.subscribe('alert.raised', (e) => raised.push(e));
  });

  after(async () => {
    await server.stop();
    await new Promise<void>((r) => receiver.close(() => r()));
  });

  it('ingests NDJSON, reports bad lines without dropping good ones, and stores alerts', async () => {
    const bad = iamUser('svc-x', 'AKIAEXAMPLESVCX00001');
    const body = [
      JSON.stringify(
        ct(bad, 'cloudtrail', 'StopLogging', { time: T0, id: 'ev-stop-1', params: { name: 'org-trail' } }),
      ),
      '{"eventVersion":"1.09","eventSource":',
      JSON.stringify({ id: 'x', time: 'yesterday', identityId: 'payments-api' }),
      JSON.stringify(ct(bad, 's3', 'ListBuckets', { time: T0 + 1000, id: 'ev-ok-2' })),
    ].join('\n');
    const res = await server.call('POST', '/v1/events', { raw: body, headers: NDJSON });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.accepted, 2);
    assert.equal(res.body.rejected, 2);
    assert.deepEqual(
      res.body.errors.map((e: any) => [e.index, e.code]),
      [
        [2, 'BULKHEAD_DETECT_MALFORMED_JSON'],
        [3, 'BULKHEAD_DETECT_INVALID_EVENT'],
      ],
    );
    assert.deepEqual(
      res.body.alerts.map((a: any) => [a.rule_id, a.created]),
      [['defense-evasion', true]],
    );
    const list = await server.call('GET', '/v1/alerts?rule_id=defense-evasion');
    assert.equal(list.status, 200);
    const alert = list.body.items[0];
    assert.equal(alert.identity, 'arn:aws:iam::111122223333:user/svc-x');
    assert.equal(alert.credential, 'AKIAEXAMPLESVCX00001');
    assert.deepEqual(alert.techniques, ['T1562.008']);
    assert.deepEqual(alert.event_ids, ['ev-stop-1']);
    assert.equal(alert.unmanaged, true);
    assert.ok(!('dedup_key' in alert));
    await detect.service().idle();
    assert.ok(raised.some((e) => e.type === 'alert.raised' && e.id === alert.id && e.source === 'detect'));
  });

  it('records unknown actors as discovered, unmanaged identities', async () => {
    const res = await server.call('GET', '/v1/identities?source=discovered&limit=100');
    const found = res.body.items.find((i: any) => i.cloudArn === 'arn:aws:iam::111122223333:user/svc-x');
    assert.ok(found, 'discovered identity missing');
    assert.equal(found.labels.unmanaged, 'true');
    assert.equal(found.kind, 'service_account');
  });

  it('deduplicates the ongoing pattern across batches and accepts gzip', async () => {
    const bad = iamUser('svc-x', 'AKIAEXAMPLESVCX00001');
    const gz = gzipSync(
      Buffer.from(
        ndjson([
          ct(bad, 'cloudtrail', 'StopLogging', {
            time: T0 + 60_000,
            id: 'ev-stop-2',
            params: { name: 'org-trail' },
          }),
        ]),
      ),
    );
    const res = await fetch(`${server.url}/v1/events`, {
      method: 'POST',
      headers: { ...NDJSON, 'content-encoding': 'gzip', authorization: `Bearer ${server.token}` },
      body: gz,
    });
    assert.equal(res.status, 200);
    const body = (await res.json()) as any;
    assert.deepEqual(
      body.alerts.map((a: any) => [a.rule_id, a.created]),
      [['defense-evasion', false]],
    );
    const list = await server.call('GET', '/v1/alerts?rule_id=defense-evasion');
    assert.equal(list.body.items.length, 1);
    assert.equal(list.body.items[0].count, 2);
    assert.deepEqual(list.body.items[0].event_ids, ['ev-stop-1', 'ev-stop-2']);
  });

  it('rejects bad bodies with stable codes', async () => {
    const json = await server.call('POST', '/v1/events', { body: { id: 'x' } });
    assert.equal(json.status, 415);
    assert.equal(json.body.code, 'BULKHEAD_UNSUPPORTED_MEDIA_TYPE');
    const badGzip = await server.call('POST', '/v1/events', {
      raw: 'not gzip',
      headers: { ...NDJSON, 'content-encoding': 'gzip' },
    });
    assert.equal(badGzip.status, 400);
    assert.equal(badGzip.body.code, 'BULKHEAD_DETECT_BAD_ENCODING');
    const bomb = gzipSync(Buffer.alloc(4 * 1024 * 1024, 0x20));
    const bombRes = await fetch(`${server.url}/v1/events`, {
      method: 'POST',
      headers: { ...NDJSON, 'content-encoding': 'gzip', authorization: `Bearer ${server.token}` },
      body: bomb,
    });
    assert.equal(bombRes.status, 413);
    assert.equal(((await bombRes.json()) as any).code, 'BULKHEAD_BODY_TOO_LARGE');
    const big = await server.call('POST', '/v1/events', { raw: 'x'.repeat(300 * 1024), headers: NDJSON });
    assert.equal(big.status, 413);
    const longLine = await server.call('POST', '/v1/events', {
      raw: `${'y'.repeat(100 * 1024)}\n${JSON.stringify(ct(iamUser('a'), 's3', 'ListBuckets', { time: T0 }))}\n`,
      headers: NDJSON,
    });
    assert.equal(longLine.status, 200);
    assert.equal(longLine.body.accepted, 1);
    assert.equal(longLine.body.errors[0].code, 'BULKHEAD_DETECT_LINE_TOO_LONG');
    const anon = await server.call('POST', '/v1/events', { raw: '{}', headers: NDJSON, token: null });
    assert.equal(anon.status, 401);
    const badQuery = await server.call('GET', '/v1/alerts?severity=urgent');
    assert.equal(badQuery.status, 400);
    assert.equal(badQuery.body.field, 'query.severity');
  });

  it('reads decision events from the bus and resolves them against the inventory', async () => {
    server.ctx.events.publish({
      id: 'dec-1',
      time: new Date().toISOString(),
      type: 'decision',
      source: 'policy',
      identityId: 'agent-support-bot',
      action: 'iam.create_key',
      resource: 'aws-account',
      outcome: 'deny',
    });
    await detect.service().idle();
    const list = await server.call('GET', '/v1/alerts?identity_id=agent-support-bot');
    assert.deepEqual(
      list.body.items.map((a: any) => a.rule_id),
      ['agent-tool-escalation'],
    );
    assert.deepEqual(list.body.items[0].event_ids, ['dec-1']);
  });

  it('handles a burst of bus events together, skipping an unusable one', async () => {
    const decision = (id: string, identityId: string | undefined) => ({
      id,
      time: new Date().toISOString(),
      type: 'decision',
      source: 'policy',
      identityId,
      action: 'iam.create_key',
      resource: 'aws-account',
      outcome: 'deny' as const,
    });
    const before = (await server.call('GET', '/v1/alerts?identity_id=agent-support-bot')).body.items[0];
    server.ctx.events.publish(decision('dec-b1', 'agent-support-bot'));
    server.ctx.events.publish({ ...decision('dec-bad', undefined), time: 'not a time' });
    server.ctx.events.publish(decision('dec-b2', 'agent-support-bot'));
    await detect.service().idle();
    const after = (await server.call('GET', '/v1/alerts?identity_id=agent-support-bot')).body.items[0];
    assert.deepEqual(after.event_ids, [...before.event_ids, 'dec-b1', 'dec-b2']);
  });

  it('reads token events from the bus: a DPoP key mismatch is a replay', async () => {
    server.ctx.events.publish({
      id: 'tok-use-1',
      time: new Date().toISOString(),
      type: 'token.used',
      source: 'broker',
      identityId: 'payments-api',
      credentialId: 'jti-bus-1',
      action: 'payments.refund',
      outcome: 'allow',
      data: { boundJkt: 'jkt-A', presentedJkt: 'jkt-EVIL', sourceIp: '10.9.8.7' },
    });
    await detect.service().idle();
    const list = await server.call('GET', '/v1/alerts?rule_id=credential-replay');
    assert.equal(list.body.items.length, 1);
    assert.equal(list.body.items[0].identity_id, 'payments-api');
    assert.equal(list.body.items[0].credential, 'jti-bus-1');
  });

  it('pushes a signed RISC credential-compromise SET (RFC 8417 / RFC 8935) for a break-glass use', async () => {
    const before = received.length;
    const res = await server.call('POST', '/v1/events', {
      raw: ndjson([
        ct(root(), 'iam', 'CreateUser', { time: T0 + 5000, id: 'root-1', params: { userName: 'x' } }),
      ]),
      headers: NDJSON,
    });
    assert.equal(res.status, 200);
    await detect.service().idle();
    const pushed = received.slice(before);
    assert.equal(pushed.length, 1);
    assert.equal(pushed[0]!.headers['content-type'], 'application/secevent+jwt');
    const jwks = await server.call('GET', '/v1/ssf/jwks.json', { token: null });
    const set = pushed[0]!.body;
    assert.equal(decodeProtectedHeader(set).typ, 'secevent+jwt');
    const { payload } = await jwtVerify(set, createLocalJWKSet(jwks.body), {
      issuer: 'https://bulkhead.test',
      audience: 'https://receiver.test',
      typ: 'secevent+jwt',
    });
    const events = payload.events as Record<string, any>;
    const risc = events['https://schemas.openid.net/secevent/risc/event-type/credential-compromise'];
    assert.ok(risc, JSON.stringify(payload));
    assert.equal(typeof payload.jti, 'string');
    assert.deepEqual(payload.sub_id, { format: 'opaque', id: 'breakglass-root' });
    assert.ok(detect.service().deliveries.some((d) => d.ok && d.status === 202));
  });

  it('persists baselines so a restarted service does not re-learn from zero', async () => {
    await detect.service().flush();
    const again = new DetectService({ ...server.ctx, now: () => new Date(T0 + 120_000) }, {});
    await again.start();
    assert.ok(again.engine.baselines.identity('breakglass-root'));
    assert.ok(again.engine.baselines.credential('AKIAEXAMPLESVCX00001'));
    // The open defense-evasion pattern is adopted: new evidence extends the stored alert.
    const bad = iamUser('svc-x', 'AKIAEXAMPLESVCX00001');
    const report = await again.ingest(
      Buffer.from(
        ndjson([
          ct(bad, 'cloudtrail', 'StopLogging', {
            time: T0 + 90_000,
            id: 'ev-stop-3',
            params: { name: 'org-trail' },
          }),
        ]),
      ),
      'auto',
    );
    assert.deepEqual(
      report.alerts.map((a) => [a.rule_id, a.created]),
      [['defense-evasion', false]],
    );
    await again.stop();
    const list = await server.call('GET', '/v1/alerts?rule_id=defense-evasion');
    assert.equal(list.body.items[0].count, 3);
  });

  it('lists alerts from the CLI', async () => {
    let stdout = '';
    const code = await runCli(['alerts', 'list', '--severity', 'critical', '--json'], {
      stdout: (t) => (stdout += t),
      stderr: () => undefined,
      env: { BULKHEAD_URL: server.url, BULKHEAD_TOKEN: server.token },
    });
    assert.equal(code, 0);
    const items = JSON.parse(stdout);
    assert.ok(items.length >= 2);
    assert.ok(items.every((a: any) => a.severity === 'critical'));
    assert.ok(items.some((a: any) => a.rule_id === 'break-glass-use'));
  });
});

describe('detect server mode on PostgreSQL', () => {
  it('stores and deduplicates alerts the same way', async () => {
    const server = await startTestServer({
      postgres: true,
      modules: [coreModule, createDetectModule({ ssf: { receivers: [] } })],
    });
    try {
      const bad = iamUser('svc-pg', 'AKIAEXAMPLEPG0000001');
      for (const id of ['pg-1', 'pg-2']) {
        const res = await server.call('POST', '/v1/events', {
          raw: ndjson([ct(bad, 'cloudtrail', 'DeleteTrail', { time: T0, id, params: { name: 't' } })]),
          headers: NDJSON,
        });
        assert.equal(res.status, 200);
      }
      const list = await server.call('GET', '/v1/alerts');
      assert.equal(list.body.items.length, 1);
      assert.equal(list.body.items[0].count, 2);
      assert.equal(list.body.items[0].severity, 'critical');
    } finally {
      await server.stop();
    }
  });
});

describe('detect actor resolution while the inventory changes', () => {
  it('loads an operator change that lands while detection records a discovered identity', async () => {
    const detect = createDetectModule({ ssf: { receivers: [] } });
    const server = await startTestServer({ demo: true, modules: [coreModule, detect] });
    const post = (records: unknown[]) =>
      server.call('POST', '/v1/events', { raw: ndjson(records), headers: NDJSON });
    const now = new Date().toISOString();
    try {
      assert.equal(
        (await post([{ id: 'warm', time: now, identityId: 'payments-api', action: 'x.read' }])).status,
        200,
      );
      const inventory = server.ctx.inventory;
      const createIdentity = inventory.createIdentity.bind(inventory);
      // The interleaving: detection's own write commits, then an operator's key lands before it returns.
      inventory.createIdentity = async (...args) => {
        const created = await createIdentity(...args);
        await inventory.createCredential(
          {
            identityId: 'ledger-service',
            type: 'api_key',
            fingerprint: 'AKIANEWKEY0000000001',
            status: 'active',
            scopes: [],
            storedIn: [],
            consumers: ['ledger-service'],
            source: 'manual',
            labels: {},
            expiresAt: null,
          },
          { actor: 'operator' },
        );
        return created;
      };
      await post([{ id: 'u1', time: now, identityId: 'someone-unknown', action: 'x.read' }]);
      inventory.createIdentity = createIdentity;

      const key = 'AKIANEWKEY0000000001';
      const res = await post([
        {
          id: 'k1',
          time: now,
          identityId: key,
          credentialId: key,
          action: 'x.read',
          data: { actorName: key },
        },
      ]);
      assert.equal(res.status, 200);
      const discovered = await server.call('GET', '/v1/identities?source=discovered&limit=100');
      const names = discovered.body.items.map((i: any) => i.displayName);
      assert.ok(names.includes('someone-unknown'));
      assert.ok(!names.includes(key), 'the new key of ledger-service was taken for an unknown actor');
      assert.equal(detect.service().engine.baselines.identity('ledger-service')?.lastAction, 'x.read');
    } finally {
      await server.stop();
    }
  });
});

describe('detect memory and inventory limits', () => {
  for (const postgres of [false, true]) {
    it(`evicts baselines beyond the cap to the store and reads them back when the actor returns${postgres ? ' (PostgreSQL)' : ''}`, async () => {
      const detect = createDetectModule({
        ssf: { receivers: [] },
        limits: { maxIdentityBaselines: 2, maxCredentialBaselines: 2 },
      });
      const server = await startTestServer({ demo: true, postgres, modules: [coreModule, detect] });
      const post = async (identityIds: string[]) => {
        const res = await server.call('POST', '/v1/events', {
          raw: ndjson(
            identityIds.map((identityId, i) => ({
              id: `${identityId}-${i}-${Math.random()}`,
              time: new Date(T0 + i * 1000).toISOString(),
              identityId,
              action: 'x.read',
            })),
          ),
          headers: NDJSON,
        });
        assert.equal(res.status, 200);
      };
      try {
        const service = detect.service();
        const baselines = service.engine.baselines;
        await post(['payments-api', 'payments-api']);
        await service.flush();
        await post(['ledger-service', 'agent-finops']);
        assert.deepEqual([...baselines.identities.keys()], ['ledger-service', 'agent-finops']);
        await post(['payments-api']);
        assert.equal(baselines.identity('payments-api')?.events, 3);
        assert.ok(baselines.identities.size <= 2);
        await service.flush();
        const rows = await server.ctx.db
          .withTables<DetectTables>()
          .selectFrom('detect_baselines')
          .select(['key', 'state'])
          .where('kind', '=', 'identity')
          .execute();
        const state = (key: string) => JSON.parse(rows.find((r) => r.key === key)?.state ?? 'null');
        assert.equal(state('payments-api')?.events, 3);
        assert.equal(state('ledger-service')?.events, 1);
        assert.equal(state('agent-finops')?.events, 1);
      } finally {
        await server.stop();
      }
    });
  }

  it('inventories at most N new actors a minute; the others still raise alerts', async () => {
    let clock = Date.parse('2026-03-02T10:00:00Z');
    const detect = createDetectModule({ ssf: { receivers: [] }, limits: { discoveriesPerMinute: 2 } });
    const server = await startTestServer({
      demo: true,
      modules: [coreModule, detect],
      now: () => new Date(clock),
    });
    const stopLogging = (i: number) =>
      ct(iamUser(`svc-flood-${i}`, `AKIAFLOOD${String(i).padStart(11, '0')}`), 'cloudtrail', 'StopLogging', {
        time: T0 + i * 1000,
        id: `flood-${i}`,
        params: { name: 'org-trail' },
      });
    const discovered = async () =>
      ((await server.call('GET', '/v1/identities?source=discovered&limit=100')).body.items as any[])
        .map((i) => i.displayName as string)
        .filter((n) => n.includes('svc-flood-'))
        .sort();
    try {
      const res = await server.call('POST', '/v1/events', {
        raw: ndjson([0, 1, 2, 3].map(stopLogging)),
        headers: NDJSON,
      });
      assert.equal(res.status, 200);
      assert.deepEqual(
        res.body.alerts.map((a: any) => [a.rule_id, a.created]),
        [0, 1, 2, 3].map(() => ['defense-evasion', true]),
      );
      assert.deepEqual(await discovered(), [
        'arn:aws:iam::111122223333:user/svc-flood-0',
        'arn:aws:iam::111122223333:user/svc-flood-1',
      ]);
      assert.equal(detect.service().discoveriesDeferred, 2);
      const alerts = await server.call('GET', '/v1/alerts?rule_id=defense-evasion');
      assert.ok(alerts.body.items.every((a: any) => a.unmanaged === true));

      clock += 60_000;
      await server.call('POST', '/v1/events', { raw: ndjson([stopLogging(2)]), headers: NDJSON });
      assert.equal((await discovered()).length, 3);
      assert.equal(detect.service().discoveriesDeferred, 2);
    } finally {
      await server.stop();
    }
  });
});

describe('detect batches with hostile input or a failing store', () => {
  const event = (id: string, identityId: string, action: string) => ({
    id,
    time: '2026-11-25T18:00:00Z',
    identityId,
    action,
    resource: 'trail-1',
  });

  it('stores and announces the other alerts of a batch holding an Object.prototype action', async () => {
    const server = await startTestServer({
      demo: true,
      modules: [coreModule, createDetectModule({ ssf: { receivers: [] } })],
    });
    const raised: BulkheadEvent[] = [];
    server.ctx.events.subscribe('alert.raised', (e) => raised.push(e));
    try {
      const res = await server.call('POST', '/v1/events', {
        raw: ndjson([
          event('ev-ctor-1', 'agent-finops', 'constructor'),
          event('ev-de-1', 'checkout-web', 'cloudtrail:UpdateTrail'),
          event('ev-ctor-2', 'agent-finops', 'toString'),
          event('ev-ctor-3', 'agent-finops', '__proto__'),
        ]),
        headers: NDJSON,
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.accepted, 4);
      const evasion = res.body.alerts.filter((a: any) => a.rule_id === 'defense-evasion');
      assert.deepEqual(
        evasion.map((a: any) => a.created),
        [true],
      );
      const stored = await server.call('GET', '/v1/alerts?rule_id=defense-evasion');
      assert.deepEqual(
        stored.body.items.map((a: any) => [a.identity_id, a.severity, a.event_ids]),
        [['checkout-web', 'high', ['ev-de-1']]],
      );
      assert.ok(raised.some((e) => e.id === evasion[0].id && e.action === 'defense-evasion'));
    } finally {
      await server.stop();
    }
  });

  it('announces an alert as new when its event is resent after the alert failed to be stored', async () => {
    const server = await startTestServer({
      demo: true,
      modules: [coreModule, createDetectModule({ ssf: { receivers: [] } })],
    });
    const raised: BulkheadEvent[] = [];
    server.ctx.events.subscribe('alert.raised', (e) => raised.push(e));
    const post = () =>
      server.call('POST', '/v1/events', {
        raw: ndjson([event('ev-de-2', 'checkout-web', 'cloudtrail:StopLogging')]),
        headers: NDJSON,
      });
    try {
      await sql`CREATE TRIGGER detect_alerts_fail BEFORE INSERT ON detect_alerts
        BEGIN SELECT RAISE(ABORT, 'disk full'); END`.execute(server.ctx.db);
      assert.equal((await post()).status, 500);
      assert.equal(raised.length, 0);
      await sql`DROP TRIGGER detect_alerts_fail`.execute(server.ctx.db);

      const res = await post();
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.deepEqual(
        res.body.alerts.map((a: any) => [a.rule_id, a.created]),
        [['defense-evasion', true]],
      );
      const stored = await server.call('GET', '/v1/alerts?rule_id=defense-evasion');
      assert.deepEqual(
        stored.body.items.map((a: any) => [a.count, a.event_ids]),
        [[1, ['ev-de-2']]],
      );
      assert.deepEqual(
        raised.map((e) => e.action),
        ['defense-evasion'],
      );
    } finally {
      await server.stop();
    }
  });
});
