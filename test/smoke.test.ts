import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from './helpers/server.js';

describe('server smoke', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ demo: true });
  });
  after(async () => {
    await server.stop();
  });

  it('answers with the admin token and lists demo identities', async () => {
    const res = await server.call('GET', '/v1/identities?kind=ai_agent');
    assert.equal(res.status, 200);
    assert.deepEqual(
      res.body.items.map((i: { id: string }) => i.id),
      ['agent-code-reviewer', 'agent-finops', 'agent-support-bot'],
    );
  });

  it('refuses a missing token with 401 problem+json', async () => {
    const res = await server.call('GET', '/v1/identities', { token: null });
    assert.equal(res.status, 401);
    assert.match(res.headers.get('content-type') ?? '', /application\/problem\+json/);
    assert.equal(res.body.code, 'BULKHEAD_UNAUTHENTICATED');
  });
});

describe('server smoke on PostgreSQL', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ demo: true, postgres: true });
  });
  after(async () => {
    await server.stop();
  });

  it('boots on a fresh schema with demo data, serves, audits and verifies', async () => {
    assert.deepEqual((await server.call('GET', '/readyz', { token: null })).body, {
      status: 'ready',
      store: 'postgres',
    });
    const res = await server.call('GET', '/v1/identities?stale_days=90&no_owner=true');
    assert.ok(res.body.items.some((i: { id: string }) => i.id === 'svc-old-billing'));
    const verify = await server.call('POST', '/v1/audit/verify');
    assert.equal(verify.body.ok, true);
    assert.ok(verify.body.entries > 140);
  });
});
