import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { PdpClient } from '../../src/policy/pep/client.js';
import { expressAuthorization } from '../../src/policy/pep/express.js';
import { requireAuthorization } from '../../src/policy/pep/fastify.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const req = (who: string, action = 'read') => ({
  subject: { type: 'identity', id: who },
  action: { name: action },
  resource: { type: 'api', id: 'orders' },
});

void describe('PEP SDK', () => {
  let server: TestServer;
  let hang: Server;
  let hangUrl = '';
  let app: FastifyInstance;
  before(async () => {
    server = await startTestServer();
    await server.call('POST', '/v1/identities', {
      body: { id: 'svc', kind: 'workload', displayName: 's', environment: 'prod' },
    });
    await server.call('POST', '/v1/policies', {
      body: {
        policies:
          '@id("svc-reads") permit (principal, action == Action::"read", resource) when { principal.id == "svc" };',
      },
    });
    // accepts connections and never answers: the PEP must give up and deny
    hang = createServer(() => undefined);
    await new Promise<void>((resolve) => hang.listen(0, '127.0.0.1', resolve));
    const addr = hang.address();
    hangUrl = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;

    const client = new PdpClient({ baseUrl: server.url, token: server.token, timeoutMs: 2000 });
    app = Fastify();
    app.get(
      '/orders',
      { preHandler: requireAuthorization(client, (r) => req(String(r.headers['x-caller'] ?? ''))) },
      async (r) => ({ ok: true, cached: r.pdpDecision?.cached }),
    );
    await app.ready();
  });
  after(async () => {
    await app.close();
    hang.close();
    await server.stop();
  });

  void it('asks the PDP and caches the answer for a short TTL', async () => {
    let now = 0;
    let calls = 0;
    const client = new PdpClient({
      baseUrl: server.url,
      token: server.token,
      cacheTtlMs: 1000,
      clock: () => now,
      fetch: async (...a) => {
        calls++;
        return fetch(...a);
      },
    });
    const first = await client.evaluate(req('svc'));
    assert.equal(first.decision, true);
    assert.equal(first.cached, false);
    const second = await client.evaluate(req('svc'));
    assert.equal(second.cached, true);
    assert.equal(calls, 1);
    now = 1001;
    assert.equal((await client.evaluate(req('svc'))).cached, false);
    assert.equal(calls, 2);
    assert.equal((await client.evaluate(req('svc', 'write'))).decision, false);
  });

  void it('fails closed on timeout, unreachable PDP, HTTP errors and garbage answers', async () => {
    const slow = new PdpClient({ baseUrl: hangUrl, timeoutMs: 50 });
    assert.deepEqual(await slow.evaluate(req('svc')), {
      decision: false,
      reason: 'pdp_timeout',
      cached: false,
    });
    const gone = new PdpClient({ baseUrl: 'http://127.0.0.1:1', timeoutMs: 500 });
    assert.equal((await gone.evaluate(req('svc'))).reason, 'pdp_unreachable');
    const noToken = new PdpClient({ baseUrl: server.url });
    assert.equal((await noToken.evaluate(req('svc'))).reason, 'pdp_error');
    const garbage = new PdpClient({
      baseUrl: server.url,
      fetch: async () => new Response(JSON.stringify({ decision: 'yes' }), { status: 200 }),
    });
    assert.equal((await garbage.evaluate(req('svc'))).reason, 'pdp_bad_response');
    const notJson = new PdpClient({
      baseUrl: server.url,
      fetch: async () => new Response('<html>', { status: 200 }),
    });
    assert.equal((await notJson.evaluate(req('svc'))).decision, false);
  });

  void it('Fastify hook: lets allowed requests through, answers 403 problem+json otherwise', async () => {
    const ok = await app.inject({ method: 'GET', url: '/orders', headers: { 'x-caller': 'svc' } });
    assert.equal(ok.statusCode, 200);
    const denied = await app.inject({ method: 'GET', url: '/orders', headers: { 'x-caller': 'mallory' } });
    assert.equal(denied.statusCode, 403);
    assert.match(String(denied.headers['content-type']), /application\/problem\+json/);
    assert.equal(denied.json().code, 'BULKHEAD_POLICY_DENIED');
    assert.equal(denied.json().context.reasons[0].id, 'bulkhead.unknown_principal');
  });

  void it('Fastify hook: a PDP that does not answer in time means 403', async () => {
    const local = Fastify();
    local.get(
      '/x',
      {
        preHandler: requireAuthorization(new PdpClient({ baseUrl: hangUrl, timeoutMs: 50 }), () =>
          req('svc'),
        ),
      },
      async () => ({ ok: true }),
    );
    const res = await local.inject({ method: 'GET', url: '/x' });
    assert.equal(res.statusCode, 403);
    assert.equal(res.json().detail, 'pdp_timeout');
    const throwing = Fastify();
    throwing.get(
      '/y',
      {
        preHandler: requireAuthorization(new PdpClient({ baseUrl: server.url }), () => {
          throw new Error('cannot describe');
        }),
      },
      async () => ({ ok: true }),
    );
    assert.equal((await throwing.inject({ method: 'GET', url: '/y' })).statusCode, 403);
    await local.close();
    await throwing.close();
  });

  void it('Express-style middleware: next() on allow, 403 problem+json on deny or PDP failure', async () => {
    const client = new PdpClient({ baseUrl: server.url, token: server.token });
    const run = async (mw: ReturnType<typeof expressAuthorization>, caller: string) => {
      const res = { statusCode: 200, headers: {} as Record<string, string>, body: '' };
      const passed = await new Promise<boolean>((resolve) => {
        mw(
          { headers: { 'x-caller': caller } },
          {
            get statusCode() {
              return res.statusCode;
            },
            set statusCode(v: number) {
              res.statusCode = v;
            },
            setHeader: (n: string, v: string) => (res.headers[n] = v),
            end: (b: string) => {
              res.body = b;
              resolve(false);
            },
          },
          () => resolve(true),
        );
      });
      return { passed, res };
    };
    const mw = expressAuthorization(client, (r) => req(String(r.headers['x-caller'])));
    assert.equal((await run(mw, 'svc')).passed, true);
    const denied = await run(mw, 'mallory');
    assert.equal(denied.passed, false);
    assert.equal(denied.res.statusCode, 403);
    assert.equal(denied.res.headers['content-type'], 'application/problem+json');
    assert.equal(JSON.parse(denied.res.body).code, 'BULKHEAD_POLICY_DENIED');
    const down = expressAuthorization(new PdpClient({ baseUrl: hangUrl, timeoutMs: 50 }), () => req('svc'));
    const timedOut = await run(down, 'svc');
    assert.equal(timedOut.passed, false);
    assert.equal(JSON.parse(timedOut.res.body).detail, 'pdp_timeout');
  });
});
