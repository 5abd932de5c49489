/**
 * Two replicas on one PostgreSQL schema: a token minted by one validates on the other (shared encrypted keys),
 * a revocation acknowledged by one is refused by the other as soon as it hears (LISTEN/NOTIFY), a rotation on one is
 * picked up by the other, and a use budget is shared exactly.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { createBrokerModule } from '../../src/broker/index.js';
import { loadConfig } from '../../src/config.js';
import { coreModule } from '../../src/modules/index.js';
import { createPolicyModule } from '../../src/policy/index.js';
import { startBulkhead, type RunningServer } from '../../src/server/start.js';
import { PG_URL, tempDir } from '../helpers/server.js';
import { BROKER_AUD, PAYMENTS_API, startHarness, type Harness } from './harness.js';

void describe('broker: two replicas on PostgreSQL', { timeout: 60_000 }, () => {
  let a: Harness;
  let b: RunningServer;
  let bBroker: ReturnType<typeof createBrokerModule>;
  const bDir = tempDir();

  before(async () => {
    a = await startHarness({ postgres: true });
    const policy = createPolicyModule({ pollMs: 0 });
    bBroker = createBrokerModule({
      pdp: () => policy.runtime().pdp,
      config: a.config,
      masterKey: a.masterKey,
    });
    const config = loadConfig(
      { host: '127.0.0.1', port: 0, dataDir: bDir, demo: false },
      {
        BULKHEAD_ADMIN_TOKEN: a.server.token,
        BULKHEAD_LOG_LEVEL: 'silent',
        BULKHEAD_DATABASE_URL: PG_URL,
        BULKHEAD_DATABASE_SCHEMA: a.server.ctx.config.databaseSchema ?? '',
      },
    );
    b = await startBulkhead(config, {
      log: pino({ level: 'silent' }),
      modules: [coreModule, policy, bBroker],
      now: a.clock.now,
    });
  });
  after(async () => {
    await b.close();
    await a.stop();
    rmSync(bDir, { recursive: true, force: true });
  });

  const validateOnB = async (t: string) => {
    const res = await fetch(`${b.url}/v1/broker/validate`, {
      method: 'POST',
      headers: { authorization: `Bearer ${a.server.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ token: t, action: 'read', resource: 'payments-db', audience: 'payments' }),
    });
    return { status: res.status, body: (await res.json()) as { code?: string; uses_left?: number } };
  };

  void it('shares keys, budget and revocations', async () => {
    const task = await a.createTask(await a.svid(PAYMENTS_API), {
      purpose: 'replicas',
      actions: ['read'],
      resources: ['payments-db'],
      ttl: 600,
      max_uses: 3,
    });
    const t1: string = (await a.mint(await a.svid(PAYMENTS_API), task.body.id as string)).body.access_token;
    const t2: string = (await a.mint(await a.svid(PAYMENTS_API), task.body.id as string)).body.access_token;
    assert.equal((await validateOnB(t1)).status, 200);
    assert.equal(
      (await a.validate({ token: t1, action: 'read', resource: 'payments-db', audience: 'payments' })).status,
      200,
    );

    // B's sweeper is off: only the change feed (LISTEN/NOTIFY) can tell B about A's revocation.
    const heard = new Promise<void>((resolve) => {
      const off = b.ctx.store.feed.subscribe('broker.revocation', () => {
        off();
        resolve();
      });
    });
    assert.equal((await a.form('/oauth2/revoke', { token: t1 })).status, 200);
    await heard; // B's broker heard first (it subscribed first) and put the revocation in force
    assert.equal((await validateOnB(t1)).body.code, 'BULKHEAD_TOKEN_REVOKED');

    assert.equal((await validateOnB(t2)).body.uses_left, 0);
    assert.equal((await validateOnB(t2)).body.code, 'BULKHEAD_TOKEN_USE_BUDGET_EXHAUSTED');

    // A rotation on A: B verifies tokens signed with the new key (unknown kid → reload).
    assert.equal((await a.server.call('POST', '/v1/broker/keys/rotate')).status, 201);
    const task2 = await a.createTask(await a.svid(PAYMENTS_API), {
      purpose: 'after rotation',
      actions: ['read'],
      resources: ['payments-db'],
      ttl: 600,
      max_uses: 3,
    });
    const t3: string = (await a.mint(await a.svid(PAYMENTS_API), task2.body.id as string)).body.access_token;
    a.clock.advance(6); // past B's reload rate limit
    assert.equal((await validateOnB(t3)).status, 200);
    // Completing the task on A ends it for B at once (the budget update checks the task row).
    await a.server.call('POST', `/v1/tasks/${task2.body.id}/complete`, { token: await a.svid(PAYMENTS_API) });
    assert.equal((await validateOnB(t3)).body.code, 'BULKHEAD_TOKEN_TASK_ENDED');
  });

  void it('accepts a client assertion once across replicas', async () => {
    const task = await a.createTask(await a.svid(PAYMENTS_API), {
      purpose: 'assertion replay',
      actions: ['read'],
      resources: ['payments-db'],
      ttl: 600,
      max_uses: 1,
    });
    // Addressed to the issuer, which both replicas accept.
    const params = {
      grant_type: 'client_credentials',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: await a.clientAssertion('agent-finops', { aud: BROKER_AUD }),
      task: task.body.id as string,
    };
    // The proof verifies on A (and is spent there); the task belongs to someone else.
    assert.equal((await a.form('/oauth2/token', params)).body.code, 'BULKHEAD_TASK_IDENTITY_MISMATCH');
    const onB = await fetch(`${b.url}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(params).toString(),
    });
    assert.equal(onB.status, 401);
    assert.equal(((await onB.json()) as { code?: string }).code, 'BULKHEAD_PROOF_REPLAYED');
  });
});
