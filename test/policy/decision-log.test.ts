import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { BulkheadEvent } from '../../src/events/bus.js';
import { identityCreateSchema } from '../../src/inventory/schemas.js';
import { coreModule } from '../../src/modules/index.js';
import { createPolicyModule } from '../../src/policy/index.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

void describe('decision log', () => {
  let server: TestServer;
  let clock = new Date('2026-11-25T10:00:00Z');
  const mod = createPolicyModule({ pollMs: 0, decisionLog: { allowSampleRate: 0, retentionDays: 7 } });
  const events: BulkheadEvent[] = [];
  const evaluate = (action: string, headers: Record<string, string> = {}, riskScore = 10, subject = 'svc') =>
    server.call('POST', '/access/v1/evaluation', {
      headers,
      body: {
        subject: { type: 'identity', id: subject },
        action: { name: action },
        resource: { type: 'api', id: 'orders', properties: { path: '/orders' } },
        context: { risk_score: riskScore, ignored: 'x' },
      },
    });

  before(async () => {
    server = await startTestServer({ modules: [coreModule, mod], now: () => clock });
    server.ctx.events.subscribe('decision', (e) => events.push(e));
    await server.ctx.inventory.createIdentity(
      identityCreateSchema.parse({
        id: 'svc',
        kind: 'service_account',
        displayName: 'svc',
        environment: 'prod',
      }),
      { actor: 'test' },
    );
    const res = await server.call('POST', '/v1/policies', {
      body: { policies: '@id("reads") permit (principal, action == Action::"read", resource);' },
    });
    assert.equal(res.status, 201);
  });
  after(async () => {
    await server.stop();
  });

  void it('publishes every decision as a `decision` event with digest, reasons, version and latency', async () => {
    events.length = 0;
    assert.equal((await evaluate('read', { 'x-request-id': 'req-1' })).body.decision, true);
    assert.equal((await evaluate('write')).body.decision, false);
    assert.equal(events.length, 2);
    const [allow, deny] = events;
    assert.equal(allow?.type, 'decision');
    assert.equal(allow?.source, 'policy');
    assert.equal(allow?.identityId, 'svc');
    assert.equal(allow?.action, 'read');
    assert.equal(allow?.resource, 'orders');
    assert.equal(allow?.outcome, 'allow');
    assert.deepEqual(allow?.data?.reasons, [{ id: 'reads' }]);
    assert.equal(allow?.data?.policy_version, 1);
    assert.equal(allow?.data?.request_id, 'req-1');
    assert.match(String(allow?.data?.context_digest), /^[0-9a-f]{32}$/);
    assert.equal(typeof allow?.data?.latency_us, 'number');
    assert.equal(deny?.outcome, 'deny');
    assert.equal(
      deny?.data?.context_digest,
      allow?.data?.context_digest,
      'unknown context keys do not change it',
    );
  });

  void it('persists according to sampling: allows sampled out at rate 0, denies kept', async () => {
    const res = await server.call('GET', '/v1/decisions?principal=svc');
    assert.equal(res.status, 200);
    const decisions = res.body.items.map(
      (d: { decision: string; action: string }) => `${d.decision}:${d.action}`,
    );
    assert.ok(decisions.includes('deny:write'));
    assert.ok(!decisions.some((d: string) => d.startsWith('allow')));
    assert.equal(res.body.items[0].policyVersion, 1);
  });

  void it('purges rows older than the retention', async () => {
    const log = mod.runtime().decisionLog;
    clock = new Date('2026-12-10T10:00:00Z');
    await evaluate('write');
    await log.flush();
    assert.equal(await log.purge(), 1, 'the November deny is older than 7 days');
    const res = await server.call('GET', '/v1/decisions?principal=svc');
    assert.equal(res.body.items.length, 1);
  });

  void it('gives a cached decision the digest of its context, and a refused one too', async () => {
    events.length = 0;
    await evaluate('read', {}, 20);
    await evaluate('read', {}, 20);
    await evaluate('read', {}, 30);
    await evaluate('read', {}, 20, 'nobody');
    const [first, hit, other, refused] = events;
    assert.equal(first?.data?.cached, false);
    assert.equal(hit?.data?.cached, true, 'the second one came from the cache');
    assert.match(String(first?.data?.context_digest), /^[0-9a-f]{32}$/);
    assert.equal(hit?.data?.context_digest, first?.data?.context_digest);
    assert.notEqual(other?.data?.context_digest, first?.data?.context_digest, 'another risk score');
    assert.equal((refused?.data?.reasons as { id: string }[])[0]?.id, 'bulkhead.unknown_principal');
    assert.equal(refused?.data?.context_digest, first?.data?.context_digest, 'same context, refused');
  });

  void it('answers a non-JSON content type on the AuthZEN API with 400', async () => {
    const res = await server.call('POST', '/access/v1/evaluation', {
      raw: 'subject=svc',
      headers: { 'content-type': 'text/plain' },
    });
    assert.equal(res.status, 400);
    assert.equal(res.body.code, 'BULKHEAD_AUTHZEN_BAD_REQUEST');
  });
});
