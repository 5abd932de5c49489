/**
 * Containment with the real broker: a stolen task token replayed with another DPoP key is refused, detection
 * raises credential-replay, the playbook revokes the identity's tokens and tasks and quarantines it, and the
 * legitimate holder's token is refused from then on (validation and introspection), with time to contain.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { keyPair, PAYMENTS_API, startHarness, type Harness } from '../broker/harness.js';

const URL_ = 'https://payments.example/v1/refunds';

describe('containment through the broker', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ respond: true });
  });
  after(async () => {
    await h.stop();
  });

  async function incidentFor(identityId: string): Promise<any> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const res = await h.server.call('GET', '/v1/incidents');
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const found = res.body.items.find((i: any) => i.identityId === identityId && i.state === 'contained');
      if (found || Date.now() > deadline) return found;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  it('a replayed task token ends with every token of the identity refused', async () => {
    const task = await h.createTask(await h.svid(PAYMENTS_API), {
      purpose: 'refund batch',
      actions: ['read'],
      resources: ['payments-db'],
      ttl: 600,
      max_uses: 100,
    });
    assert.equal(task.status, 201, JSON.stringify(task.body));
    const key = await keyPair();
    const minted = await h.mint(await h.svid(PAYMENTS_API), task.body.id as string, key);
    assert.equal(minted.status, 200, JSON.stringify(minted.body));
    const token: string = minted.body.access_token;
    const use = async (k: typeof key) =>
      h.validate({
        token,
        action: 'read',
        resource: 'payments-db',
        audience: 'payments',
        method: 'GET',
        url: URL_,
        dpop: await h.dpop(k, 'GET', URL_, { accessToken: token }),
      });
    assert.equal((await use(key)).status, 200, 'the legitimate holder can use it');

    const thief = await keyPair();
    const stolen = await use(thief);
    assert.equal(stolen.body.code, 'BULKHEAD_DPOP_KEY_MISMATCH');

    const incident = await incidentFor('payments-api');
    assert.ok(incident, 'a contained incident for payments-api');
    assert.ok(incident.ruleIds.includes('credential-replay'));
    assert.equal(typeof incident.timeToContainMs, 'number');

    const after = await use(key);
    assert.equal(after.status, 401, JSON.stringify(after.body));
    // Refused because its task was revoked (checked first) and its identity's tokens were revoked.
    assert.ok(
      ['BULKHEAD_TOKEN_TASK_ENDED', 'BULKHEAD_TOKEN_REVOKED'].includes(after.body.code),
      after.body.code,
    );
    const introspected = await h.form(
      '/oauth2/introspect',
      { token },
      { authorization: `Bearer ${h.server.token}` },
    );
    assert.equal(introspected.status, 200, JSON.stringify(introspected.body));
    assert.equal(introspected.body.active, false);
    const t = await h.server.call('GET', `/v1/tasks/${task.body.id as string}`);
    assert.equal(t.body.status, 'revoked');
    assert.equal((await h.server.ctx.inventory.getIdentity('payments-api')).status, 'quarantined');
    // A fresh proof cannot start new work while the identity is quarantined.
    const again = await h.createTask(await h.svid(PAYMENTS_API), {
      purpose: 'after containment',
      actions: ['read'],
      resources: ['payments-db'],
      ttl: 60,
      max_uses: 1,
    });
    assert.ok(again.status >= 400, JSON.stringify(again.body));
  });
});
