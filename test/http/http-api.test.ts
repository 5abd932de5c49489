/**
 * HTTP end-to-end: a real server on a loopback port. Every registered route is probed with bad input
 * (no token, wrong types, unknown fields, malformed and oversized bodies, bad ids, bad cursors); each must
 * answer 4xx problem+json with a stable code, never 5xx, and the server must keep serving.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { loadConfig } from '../../src/config.js';
import { routeRegistry } from '../../src/http/route.js';
import { startBulkhead } from '../../src/server/start.js';
import { startTestServer, tempDir, type TestServer } from '../helpers/server.js';

function assertProblem(
  res: { status: number; headers: Headers; body: any },
  status: number,
  code?: string,
): void {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/);
  assert.equal(typeof res.body.code, 'string');
  assert.match(res.body.code, /^BULKHEAD_[A-Z_]+$/);
  if (code) assert.equal(res.body.code, code);
  assert.equal(res.body.status, status);
  assert.ok(res.body.request_id);
}

describe('HTTP API', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ demo: true, env: { BULKHEAD_BODY_LIMIT: String(64 * 1024) } });
  });
  after(async () => {
    await server.stop();
  });

  it('serves health, readiness, OpenAPI 3.1 and echoes X-Request-ID', async () => {
    assert.equal((await server.call('GET', '/healthz', { token: null })).status, 200);
    const ready = await server.call('GET', '/readyz', { token: null });
    assert.deepEqual(ready.body, { status: 'ready', store: 'sqlite' });
    const doc = await server.call('GET', '/openapi.json', { token: null });
    assert.equal(doc.body.openapi, '3.1.0');
    assert.ok(doc.body.paths['/v1/identities/{id}'].get);
    assert.ok(doc.body.paths['/v1/identities'].post.requestBody);
    const echoed = await server.call('GET', '/v1/identities/alice', {
      headers: { 'x-request-id': 'trace-abc.123' },
    });
    assert.equal(echoed.headers.get('x-request-id'), 'trace-abc.123');
    const minted = await server.call('GET', '/v1/identities/alice', {
      headers: { 'x-request-id': 'bad id with spaces' },
    });
    assert.notEqual(minted.headers.get('x-request-id'), 'bad id with spaces');
  });

  it('requires a key on every non-public route, and the right scope', async () => {
    const routes = routeRegistry(server.app).filter((r) => r.scope !== 'public');
    assert.ok(routes.length >= 15);
    for (const r of routes) {
      const url = r.url.replace(/:([a-z_]+)/g, 'x');
      const none = await server.call(r.method, url, {
        token: null,
        ...(r.method === 'GET' ? {} : { body: {} }),
      });
      assertProblem(none, 401, 'BULKHEAD_UNAUTHENTICATED');
      assert.equal(none.headers.get('www-authenticate'), 'Bearer realm="bulkhead"');
      const wrong = await server.call(r.method, url, { token: 'bh_nope_0123456789abcdefghij' });
      assertProblem(wrong, 401, 'BULKHEAD_UNAUTHENTICATED');
    }
    const ro = await server.call('POST', '/v1/admin/keys', { body: { name: 'ro', scopes: ['read'] } });
    assert.equal(ro.status, 201);
    assert.match(ro.body.token, /^bh_/);
    assert.equal((await server.call('GET', '/v1/identities', { token: ro.body.token })).status, 200);
    assertProblem(
      await server.call('POST', '/v1/identities', { token: ro.body.token, body: { kind: 'human' } }),
      403,
      'BULKHEAD_FORBIDDEN',
    );
    const machineKey = await server.call('POST', '/v1/admin/keys', {
      body: { name: 'x', scopes: ['write'], identity_id: 'payments-api' },
    });
    assertProblem(machineKey, 400, 'BULKHEAD_VALIDATION_FAILED');
    assert.equal(machineKey.body.field, 'body.identity_id');
    const personal = await server.call('POST', '/v1/admin/keys', {
      body: { name: 'bob', scopes: ['write'], identity_id: 'bob', ttl_seconds: 3600 },
    });
    assert.equal(personal.status, 201);
    assert.equal(personal.body.identityId, 'bob');
    assertProblem(await server.call('GET', '/metrics', { token: null }), 401);
    const metrics = await server.call('GET', '/metrics', { token: ro.body.token });
    // Each request counted under its method, route pattern and status (two 201s on the keys route above).
    const text = String(metrics.body);
    assert.match(
      text,
      /bulkhead_http_request_duration_seconds_count\{method="POST",route="\/v1\/admin\/keys",status="201"\} 2\n/,
    );
    assert.match(
      text,
      /bulkhead_http_request_duration_seconds_count\{method="POST",route="\/v1\/admin\/keys",status="400"\} 1\n/,
    );
    const list = await server.call('GET', '/v1/admin/keys');
    assert.ok(!JSON.stringify(list.body).includes(ro.body.token), 'listing never shows a token');
    await server.call('POST', `/v1/admin/keys/${ro.body.id}/revoke`);
    assertProblem(await server.call('GET', '/v1/identities', { token: ro.body.token }), 401);
  });

  it("refuses a person's key while that person is quarantined or deleted, and says why", async () => {
    const person = await server.call('POST', '/v1/identities', {
      body: { id: 'dana', kind: 'human', displayName: 'Dana', environment: 'corp' },
    });
    assert.equal(person.status, 201);
    const key = await server.call('POST', '/v1/admin/keys', {
      body: { name: 'dana', scopes: ['write'], identity_id: 'dana' },
    });
    assert.equal(key.status, 201);
    const asDana = () => server.call('GET', '/v1/identities/dana', { token: key.body.token });
    assert.equal((await asDana()).status, 200);
    await server.call('POST', '/v1/identities/dana/quarantine', { body: { reason: 'phished' } });
    const quarantined = await asDana();
    assertProblem(quarantined, 401, 'BULKHEAD_UNAUTHENTICATED');
    assert.equal(quarantined.body.detail, 'the identity this key is bound to (dana) is quarantined');
    assertProblem(
      await server.call('POST', '/v1/identities', {
        token: key.body.token,
        body: { kind: 'service_account', displayName: 'backdoor', environment: 'prod' },
      }),
      401,
      'BULKHEAD_UNAUTHENTICATED',
    );
    await server.call('POST', '/v1/identities/dana/enable', { body: {} });
    assert.equal((await asDana()).status, 200, 'reinstated: the key works again');
    assert.equal((await server.call('DELETE', '/v1/identities/dana')).status, 204);
    const deleted = await server.call('GET', '/v1/identities', { token: key.body.token });
    assertProblem(deleted, 401, 'BULKHEAD_UNAUTHENTICATED');
    assert.equal(deleted.body.detail, 'the identity this key is bound to (dana) no longer exists');
  });

  it('answers bad input on every route with 4xx problem+json, never 5xx', async () => {
    const routes = routeRegistry(server.app).filter((r) => r.scope !== 'public');
    // ('..' is not probed: fetch resolves dot segments before sending, so the server never sees it.)
    const badIds = ['has space', 'a'.repeat(300), '.x', '%00', 'x"y', "x'; drop table identities;--"];
    const badBodies: { raw: string; headers?: Record<string, string> }[] = [
      { raw: '{"kind": ' },
      { raw: '[1,2,3]' },
      { raw: '"just a string"' },
      { raw: JSON.stringify({ unknownField: 1, kind: 42, displayName: ['x'], owners: 'alice' }) },
      { raw: JSON.stringify({ name: 1, scopes: 'admin', id: null }) },
      { raw: 'kind=human', headers: { 'content-type': 'application/x-www-form-urlencoded' } },
      { raw: JSON.stringify({ filler: 'x'.repeat(70 * 1024) }) },
    ];
    let probes = 0;
    for (const r of routes) {
      const hasParam = r.url.includes(':');
      for (const id of hasParam ? badIds : ['']) {
        const url = hasParam ? r.url.replace(/:([a-z_]+)/g, encodeURIComponent(id)) : r.url;
        if (r.method === 'GET') {
          for (const q of [
            '?limit=0',
            '?limit=abc',
            '?cursor=%%%',
            '?cursor=eyJhZnRlciI6MX0',
            '?bogus=1',
            '',
          ]) {
            const res = await server.call('GET', url + q);
            probes++;
            assert.ok(res.status < 500, `${r.method} ${url}${q} -> ${res.status}`);
            if (res.status >= 400) assertProblem(res, res.status);
            else assert.ok(!hasParam && (q === '' || r.url === '/metrics'), `${url}${q} accepted`);
          }
        } else {
          for (const b of badBodies) {
            const res = await server.call(r.method, url, {
              raw: b.raw,
              ...(b.headers ? { headers: b.headers } : {}),
            });
            probes++;
            assert.ok(
              res.status >= 400 && res.status < 500,
              `${r.method} ${url} ${b.raw.slice(0, 40)} -> ${res.status}`,
            );
            assertProblem(res, res.status);
          }
        }
      }
    }
    assert.ok(probes > 300, `probed ${probes} requests`);
    assert.equal((await server.call('GET', '/readyz', { token: null })).status, 200, 'still serving');
  });

  it('names the offending field and gives stable codes for the classic mistakes', async () => {
    const res = await server.call('POST', '/v1/identities', {
      body: { kind: 'workload', displayName: 'x', environment: 'prod', owners: ['alice', 'bad owner'] },
    });
    assertProblem(res, 400, 'BULKHEAD_VALIDATION_FAILED');
    assert.equal(res.body.field, 'body.owners[1]');
    const unknown = await server.call('POST', '/v1/identities', {
      body: { kind: 'workload', displayName: 'x', environment: 'prod', colour: 'red' },
    });
    assertProblem(unknown, 400, 'BULKHEAD_VALIDATION_FAILED');
    assert.equal(unknown.body.field, 'body');
    assert.match(unknown.body.detail, /colour/);
    assertProblem(
      await server.call('POST', '/v1/identities', { raw: '{"kind":' }),
      400,
      'BULKHEAD_MALFORMED_JSON',
    );
    assertProblem(
      await server.call('POST', '/v1/identities', { raw: JSON.stringify({ x: 'y'.repeat(100 * 1024) }) }),
      413,
      'BULKHEAD_BODY_TOO_LARGE',
    );
    assertProblem(
      await server.call('POST', '/v1/identities', {
        raw: '<x/>',
        headers: { 'content-type': 'application/xml' },
      }),
      415,
      'BULKHEAD_UNSUPPORTED_MEDIA_TYPE',
    );
    assertProblem(await server.call('GET', '/v1/identities/nobody'), 404, 'BULKHEAD_NOT_FOUND');
    assertProblem(await server.call('GET', '/v1/nothing-here'), 404, 'BULKHEAD_ROUTE_NOT_FOUND');
    const cursor = await server.call('GET', '/v1/identities?cursor=bm90LWpzb24');
    assertProblem(cursor, 400, 'BULKHEAD_BAD_CURSOR');
    assert.equal(cursor.body.field, 'query.cursor');
    const limit = await server.call('GET', '/v1/identities?limit=100000');
    assertProblem(limit, 400, 'BULKHEAD_VALIDATION_FAILED');
    assert.equal(limit.body.field, 'query.limit');
  });

  it('refuses strings that are not well-formed Unicode, wherever they sit, and keeps the audit chain whole', async () => {
    // A lone surrogate escape: SQLite would store U+FFFD, so the audit hash would no longer match.
    const lone = await server.call('POST', '/v1/identities', {
      raw: '{"id":"sur-1","kind":"human","displayName":"a\\ud800b","environment":"dev"}',
    });
    assertProblem(lone, 400, 'BULKHEAD_VALIDATION_FAILED');
    assert.equal(lone.body.field, 'body.displayName');
    const nested = await server.call('POST', '/access/v1/evaluation', {
      raw: '{"subject":{"type":"identity","id":"alice"},"action":{"name":"read"},"resource":{"type":"database","id":"payments-db"},"context":{"tags":["ok","\\udc00"]}}',
    });
    assertProblem(nested, 400, 'BULKHEAD_VALIDATION_FAILED');
    assert.equal(nested.body.field, 'body.context.tags[1]');
    const key = await server.call('POST', '/v1/broker/revocations', {
      raw: '{"kind":"token","target":"t","\\ud800":1}',
    });
    assertProblem(key, 400, 'BULKHEAD_VALIDATION_FAILED');
    assertProblem(
      await server.call('POST', '/v1/broker/revocations', { raw: '{"kind":"token","target":"\\ud800"}' }),
      400,
      'BULKHEAD_VALIDATION_FAILED',
    );
    // Deeper than any call stack: answered, not crashed.
    const deep = await server.call('POST', '/v1/identities', {
      raw: `${'['.repeat(20_000)}"\\ud800"${']'.repeat(20_000)}`,
    });
    assertProblem(deep, 400, 'BULKHEAD_VALIDATION_FAILED');
    // A proper pair, escaped or not, is text: stored and read back unchanged.
    const pair = await server.call('POST', '/v1/identities', {
      raw: '{"id":"sur-2","kind":"human","displayName":"a\\ud83d\\ude00b 😀","environment":"dev"}',
    });
    assert.equal(pair.status, 201, JSON.stringify(pair.body));
    const back = await server.call('GET', '/v1/identities/sur-2');
    assert.equal(back.body.displayName, 'a😀b 😀');
    assert.equal((await server.call('GET', '/v1/identities/sur-1')).status, 404);
    const verify = await server.call('POST', '/v1/audit/verify');
    assert.equal(verify.body.ok, true, JSON.stringify(verify.body));
  });

  it('answers requests the HTTP parser rejects in problem+json too', async () => {
    const { hostname, port } = new URL(server.url);
    const raw = (request: Buffer) =>
      new Promise<{ head: string; body: any }>((resolve, reject) => {
        const socket = connect(Number(port), hostname, () => socket.end(request));
        let text = '';
        socket.on('data', (d: Buffer) => (text += d.toString('utf8')));
        socket.on('error', reject);
        socket.on('close', () => {
          const [head = '', body = ''] = text.split('\r\n\r\n');
          resolve({ head, body: body ? JSON.parse(body) : undefined });
        });
      });
    const badByte = await raw(
      Buffer.concat([
        Buffer.from('GET /v1/identities/caf'),
        Buffer.from([0xe9]),
        Buffer.from(' HTTP/1.1\r\nHost: x\r\n\r\n'),
      ]),
    );
    assert.match(badByte.head, /^HTTP\/1\.1 400 /);
    assert.match(badByte.head, /content-type: application\/problem\+json/i);
    assert.equal(badByte.body.code, 'BULKHEAD_VALIDATION_FAILED');
    assert.equal(badByte.body.field, 'request');
    const huge = await raw(
      Buffer.from(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`),
    );
    assert.match(huge.head, /^HTTP\/1\.1 431 /);
    assert.equal(huge.body.code, 'BULKHEAD_HEADERS_TOO_LARGE');
    assert.equal(huge.body.status, 431);
    assert.equal((await server.call('GET', '/readyz', { token: null })).status, 200, 'still serving');
  });

  it('creates, filters, pages, disables and audits identities over HTTP', async () => {
    const created = await server.call('POST', '/v1/identities', {
      body: {
        id: 'agent-new',
        kind: 'ai_agent',
        displayName: 'New agent',
        environment: 'dev',
        owners: ['grace'],
      },
      headers: { 'x-request-id': 'create-agent-new' },
    });
    assert.equal(created.status, 201);
    assert.equal(created.body.status, 'active');
    const agents = await server.call('GET', '/v1/identities?kind=ai_agent&owner=grace');
    assert.deepEqual(
      agents.body.items.map((i: any) => i.id),
      ['agent-new'],
    );
    const ownerless = await server.call('GET', '/v1/identities?no_owner=true&environment=prod&limit=2');
    assert.equal(ownerless.body.items.length, 2);
    assert.ok(ownerless.body.next_cursor);
    const page2 = await server.call(
      'GET',
      `/v1/identities?no_owner=true&environment=prod&limit=2&cursor=${ownerless.body.next_cursor}`,
    );
    assert.ok(page2.body.items.every((i: any) => i.owners.length === 0 && i.id > ownerless.body.items[1].id));
    const disabled = await server.call('POST', '/v1/identities/agent-new/disable', {
      body: { reason: 'test' },
    });
    assert.equal(disabled.body.status, 'disabled');
    const audit = await server.call('GET', '/v1/audit?target_id=agent-new');
    assert.deepEqual(
      audit.body.items.map((e: any) => e.action),
      // The broker revokes the disabled identity's tokens before the disable call returns.
      ['identity.create', 'identity.disable', 'broker.revoke.identity'],
    );
    assert.equal(audit.body.items[0].requestId, 'create-agent-new');
    assert.equal(audit.body.items[0].actor, 'api_key:bootstrap-env');
    const verify = await server.call('POST', '/v1/audit/verify');
    assert.equal(verify.body.ok, true);
  });
});

describe('readiness', () => {
  it('reports 503 problem+json when the store stops answering, while liveness stays up', async () => {
    const server = await startTestServer();
    try {
      assert.equal((await server.call('GET', '/readyz', { token: null })).status, 200);
      await server.ctx.store.close();
      const res = await server.call('GET', '/readyz', { token: null });
      assertProblem(res, 503, 'BULKHEAD_STORE_UNAVAILABLE');
      assert.equal((await server.call('GET', '/healthz', { token: null })).status, 200);
    } finally {
      await server.app.close();
    }
  });
});

describe('BULKHEAD_ADMIN_TOKEN', () => {
  it('stays revoked across a restart with the same value, and the start-up says so', async () => {
    const dataDir = tempDir();
    const token = 'env-admin-token-0123456789abcdef';
    const config = loadConfig(
      { host: '127.0.0.1', port: 0, dataDir, demo: false },
      { BULKHEAD_ADMIN_TOKEN: token },
    );
    const start = () => startBulkhead(config, { log: pino({ level: 'silent' }) });
    const listKeys = (url: string, bearer: string) =>
      fetch(`${url}/v1/admin/keys`, { headers: { authorization: `Bearer ${bearer}` } });
    try {
      let running = await start();
      try {
        assert.deepEqual(running.warnings, []);
        const { token: ops } = await running.ctx.apiKeys.create({ name: 'ops', scopes: ['admin'] }, 'test');
        const revoked = await fetch(`${running.url}/v1/admin/keys/bootstrap-env/revoke`, {
          method: 'POST',
          headers: { authorization: `Bearer ${ops}` },
        });
        assert.equal(revoked.status, 200);
        assert.equal((await listKeys(running.url, token)).status, 401);
      } finally {
        await running.close();
      }
      running = await start();
      try {
        assert.equal((await listKeys(running.url, token)).status, 401, 'the revoked value is not revived');
        assert.equal(running.warnings.length, 1);
        assert.match(
          running.warnings[0]!,
          /BULKHEAD_ADMIN_TOKEN is a revoked API key .* Set it to a new value/,
        );
        const entries = await running.ctx.audit.list(running.ctx.db, {
          limit: 100,
          targetId: 'bootstrap-env',
        });
        assert.deepEqual(
          entries.map((e) => e.action),
          ['api_key.create', 'api_key.revoke'],
        );
      } finally {
        await running.close();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
