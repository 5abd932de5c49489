/**
 * Invariant 2's last clause: a refused replay or reuse raises an alert. The broker's `token.*` events reach
 * the detect module on the bus and become alerts with the token's binding as evidence.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { keyPair, PAYMENTS_API, startHarness, type Harness } from './harness.js';

const URL_ = 'https://payments.example/v1/refunds';

void describe('broker → detect: refused misuse raises alerts', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ detect: true });
  });
  after(async () => {
    await h.stop();
  });

  async function alerts(rule: string): Promise<{ rule_id: string }[]> {
    const deadline = Date.now() + 5000;
    for (;;) {
      const res = await h.server.call('GET', `/v1/alerts?rule_id=${rule}`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      if (res.body.items.length > 0 || Date.now() > deadline) return res.body.items as { rule_id: string }[];
      await new Promise((r) => setImmediate(r));
    }
  }

  void it('a DPoP-bound token presented with another key → credential-replay; outside intent → workflow-reuse', async () => {
    const task = await h.createTask(await h.svid(PAYMENTS_API), {
      purpose: 'detect',
      actions: ['read'],
      resources: ['payments-db'],
      ttl: 600,
      max_uses: 10,
    });
    const key = await keyPair();
    const token: string = (await h.mint(await h.svid(PAYMENTS_API), task.body.id as string, key)).body
      .access_token;
    const thief = await keyPair();
    const stolen = await h.validate({
      token,
      action: 'read',
      resource: 'payments-db',
      audience: 'payments',
      method: 'GET',
      url: URL_,
      dpop: await h.dpop(thief, 'GET', URL_, { accessToken: token }),
    });
    assert.equal(stolen.body.code, 'BULKHEAD_DPOP_KEY_MISMATCH');
    const replay = await alerts('credential-replay');
    assert.ok(replay.length >= 1);
    const reuse = await h.validate({
      token,
      action: 'write',
      resource: 'payments-db',
      audience: 'payments',
      method: 'GET',
      url: URL_,
      dpop: await h.dpop(key, 'GET', URL_, { accessToken: token }),
    });
    assert.equal(reuse.body.code, 'BULKHEAD_TOKEN_OUTSIDE_INTENT');
    const wf = await alerts('workflow-reuse');
    assert.ok(wf.length >= 1);
  });
});
