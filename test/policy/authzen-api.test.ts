import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { requestWithHost } from '../helpers/host-request.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { loadInteropScenarios } from './interop-fixture.js';

const RICK = 'CiRmZDA2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs';
const JERRY = 'CiRmZDQ2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs';
const todo = (owner: string) => ({ type: 'todo', id: `t-${owner}`, properties: { ownerID: owner } });

void describe('AuthZEN API behaviour', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
    await loadInteropScenarios(server);
  });
  after(async () => {
    await server.stop();
  });

  void it('publishes PDP metadata at the well-known URL without a token', async () => {
    const res = await server.call('GET', '/.well-known/authzen-configuration', { token: null });
    assert.equal(res.status, 200);
    assert.equal(res.body.policy_decision_point, server.url);
    assert.equal(res.body.access_evaluation_endpoint, `${server.url}/access/v1/evaluation`);
    assert.equal(res.body.search_action_endpoint, `${server.url}/access/v1/search/action`);
    // Built from the server's own URL, whatever Host the request names.
    const spoofed = await requestWithHost(
      server.url,
      'GET',
      '/.well-known/authzen-configuration',
      'evil.example',
    );
    assert.equal(spoofed.status, 200);
    assert.equal(spoofed.body.access_evaluation_endpoint, `${server.url}/access/v1/evaluation`);
  });

  void it('lists the AuthZEN and policy routes in /openapi.json', async () => {
    const res = await server.call('GET', '/openapi.json');
    assert.equal(res.status, 200);
    for (const path of [
      '/access/v1/evaluation',
      '/access/v1/evaluations',
      '/access/v1/search/subject',
      '/v1/policies',
    ]) {
      assert.ok(path in res.body.paths, path);
    }
  });

  void it('echoes X-Request-ID and returns reasons in the decision context', async () => {
    const res = await server.call('POST', '/access/v1/evaluation', {
      headers: { 'x-request-id': 'bfe9eb29-ab87-4ca3-be83-a1d5d8305716' },
      body: {
        subject: { type: 'user', id: RICK },
        action: { name: 'can_create_todo' },
        resource: { type: 'todo', id: '1' },
      },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-request-id'), 'bfe9eb29-ab87-4ca3-be83-a1d5d8305716');
    assert.equal(res.body.decision, true);
    assert.deepEqual(res.body.context.reasons, [{ id: 'todo-create' }]);
    assert.equal(res.body.context.policy_version, 1);
  });

  void it('rejects malformed requests with 400 problem+json naming the field', async () => {
    const good = {
      subject: { type: 'user', id: RICK },
      action: { name: 'can_read_todos' },
      resource: { type: 'todo', id: '1' },
    };
    const cases: [unknown, string][] = [
      [{ action: good.action, resource: good.resource }, 'body.subject'],
      [{ subject: good.subject, resource: good.resource }, 'body.action'],
      [{ subject: good.subject, action: good.action }, 'body.resource'],
      [{ ...good, subject: { id: RICK } }, 'body.subject.type'],
      [{ ...good, subject: { type: 'user' } }, 'body.subject.id'],
      [{ ...good, action: {} }, 'body.action.name'],
      [{ ...good, resource: { id: '1' } }, 'body.resource.type'],
      [{ ...good, resource: { type: 'todo' } }, 'body.resource.id'],
      [{ ...good, subject: 'alice' }, 'body.subject'],
      [{ ...good, action: { name: 123 } }, 'body.action.name'],
      [{ ...good, subject: { type: 'martian', id: RICK } }, 'body.subject.type'],
      [{ ...good, context: { risk_score: 'high' } }, 'body.context.risk_score'],
      // A future auth_time (here milliseconds, as Date.now() gives) would pass any step-up as "just now".
      [{ ...good, context: { auth_time: Date.now() } }, 'body.context.auth_time'],
      [{ ...good, context: { auth_time: Math.floor(Date.now() / 1000) + 3600 } }, 'body.context.auth_time'],
      [{ ...good, context: { auth_time: '2026-11-25T10:00:00' } }, 'body.context.auth_time'],
      [[good], 'body'],
    ];
    for (const [body, field] of cases) {
      const res = await server.call('POST', '/access/v1/evaluation', { body });
      assert.equal(res.status, 400, `${JSON.stringify(body)} → ${res.status}`);
      assert.match(res.headers.get('content-type') ?? '', /application\/problem\+json/);
      assert.equal(res.body.field, field, JSON.stringify(res.body));
      if (field.startsWith('body.context.')) assert.equal(res.body.code, 'BULKHEAD_AUTHZEN_BAD_REQUEST');
    }
    const malformed = await server.call('POST', '/access/v1/evaluation', { raw: '{"subject": ' });
    assert.equal(malformed.status, 400);
    const empty = await server.call('POST', '/access/v1/evaluation', { raw: '' });
    assert.equal(empty.status, 400);
  });

  void it('evaluations: defaults, per-item overrides, bad items deny without failing the batch', async () => {
    const res = await server.call('POST', '/access/v1/evaluations', {
      body: {
        subject: { type: 'user', id: JERRY },
        action: { name: 'can_read_todos' },
        resource: { type: 'todo', id: '1' },
        evaluations: [
          {},
          { action: { name: 'can_create_todo' } },
          { subject: { type: 'user', id: RICK }, action: { name: 'can_create_todo' } },
          { resource: { type: 'todo' } },
          { subject: { type: 'martian', id: RICK } },
        ],
      },
    });
    assert.equal(res.status, 200);
    assert.deepEqual(
      res.body.evaluations.map((e: { decision: boolean }) => e.decision),
      [true, false, true, false, false],
    );
    assert.equal(res.body.evaluations[3].context.reason, 'bad_request');
  });

  void it('evaluations without an array answer like a single evaluation', async () => {
    const res = await server.call('POST', '/access/v1/evaluations', {
      body: {
        subject: { type: 'user', id: RICK },
        action: { name: 'can_read_todos' },
        resource: { type: 'todo', id: '1' },
      },
    });
    assert.equal(res.status, 200);
    assert.equal(res.body.decision, true);
  });

  void it('evaluations_semantic: execute_all, deny_on_first_deny, permit_on_first_permit', async () => {
    const base = {
      subject: { type: 'user', id: JERRY },
      evaluations: [
        { action: { name: 'can_read_todos' }, resource: todo('x') },
        { action: { name: 'can_delete_todo' }, resource: todo('x') },
        { action: { name: 'can_read_todos' }, resource: todo('y') },
      ],
    };
    const run = async (semantic?: string) => {
      const body = semantic ? { ...base, options: { evaluations_semantic: semantic } } : base;
      const res = await server.call('POST', '/access/v1/evaluations', { body });
      assert.equal(res.status, 200);
      return res.body.evaluations as { decision: boolean; context?: { reason?: string } }[];
    };
    assert.deepEqual(
      (await run()).map((e) => e.decision),
      [true, false, true],
    );
    assert.deepEqual(
      (await run('execute_all')).map((e) => e.decision),
      [true, false, true],
    );
    const dofd = await run('deny_on_first_deny');
    assert.deepEqual(
      dofd.map((e) => e.decision),
      [true, false],
    );
    assert.equal(dofd[1]?.context?.reason, 'deny_on_first_deny');
    assert.deepEqual(
      (await run('permit_on_first_permit')).map((e) => e.decision),
      [true],
    );
    const bad = await server.call('POST', '/access/v1/evaluations', {
      body: { ...base, options: { evaluations_semantic: 'sometimes' } },
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.field, 'body.options.evaluations_semantic');
  });

  void it('refuses oversize batches with 400', async () => {
    const evaluations = Array.from({ length: 201 }, () => ({ resource: { type: 'todo', id: '1' } }));
    const res = await server.call('POST', '/access/v1/evaluations', {
      body: { subject: { type: 'user', id: RICK }, action: { name: 'can_read_todos' }, evaluations },
    });
    assert.equal(res.status, 400);
    assert.equal(res.body.code, 'BULKHEAD_AUTHZEN_BATCH_TOO_LARGE');
  });

  void it('unknown principals are denied with a reason, never an error', async () => {
    const res = await server.call('POST', '/access/v1/evaluation', {
      body: {
        subject: { type: 'user', id: 'nobody' },
        action: { name: 'can_read_todos' },
        resource: { type: 'todo', id: '1' },
      },
    });
    assert.equal(res.status, 200);
    assert.equal(res.body.decision, false);
    assert.equal(res.body.context.reasons[0].id, 'bulkhead.unknown_principal');
  });

  void it('search: unknown types give empty results; pagination tokens walk the result set', async () => {
    const unknown = await server.call('POST', '/access/v1/search/subject', {
      body: {
        subject: { type: 'martian' },
        action: { name: 'view' },
        resource: { type: 'record', id: '101' },
      },
    });
    assert.equal(unknown.status, 200);
    assert.deepEqual(unknown.body.results, []);
    const seen: string[] = [];
    const req = {
      subject: { type: 'user', id: 'alice' },
      action: { name: 'view' },
      resource: { type: 'record' },
    };
    let token: string | undefined;
    for (let i = 0; i < 10; i++) {
      const res = await server.call('POST', '/access/v1/search/resource', {
        body: { ...req, page: { limit: 7, ...(token ? { token } : {}) } },
      });
      assert.equal(res.status, 200);
      seen.push(...res.body.results.map((r: { id: string }) => r.id));
      token = res.body.page.next_token;
      if (!token) break;
    }
    assert.equal(seen.length, 20);
    assert.equal(new Set(seen).size, 20);
    const changed = await server.call('POST', '/access/v1/search/resource', {
      body: { ...req, action: { name: 'edit' }, page: { limit: 7, token: 'bm9wZQ' } },
    });
    assert.equal(changed.status, 400);
    const missing = await server.call('POST', '/access/v1/search/resource', {
      body: { action: { name: 'view' } },
    });
    assert.equal(missing.status, 400);
  });
});
