import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { TaskTokenVerifier } from '../../src/broker/pep/task-token-verifier.js';
import { BROKER_AUD, keyPair, PAYMENTS_API, startHarness, type Harness, type KeyPair } from './harness.js';

const URL_ = 'https://payments.example/v1/refunds';

void describe('PEP task-token verifier (local checks + broker for revocation and budget)', () => {
  let h: Harness;
  let key: KeyPair;
  let calls: string[];
  let verifier: TaskTokenVerifier;

  before(async () => {
    h = await startHarness();
    key = await keyPair();
    calls = [];
    verifier = new TaskTokenVerifier({
      brokerUrl: h.server.url,
      apiKey: h.server.token,
      issuer: BROKER_AUD,
      audience: 'payments',
      now: h.clock.now,
      fetch: (input, init) => {
        calls.push(input instanceof Request ? input.url : input.toString());
        return fetch(input, init);
      },
    });
  });
  after(async () => {
    await h.stop();
  });

  async function mint(maxUses = 5): Promise<string> {
    const task = await h.createTask(await h.svid(PAYMENTS_API), {
      purpose: 'pep',
      actions: ['read'],
      resources: ['payments-db'],
      ttl: 600,
      max_uses: maxUses,
    });
    return (await h.mint(await h.svid(PAYMENTS_API), task.body.id as string, key)).body
      .access_token as string;
  }
  const req = async (token: string, o: { action?: string; k?: KeyPair } = {}) => ({
    token,
    action: o.action ?? 'read',
    resource: 'payments-db',
    method: 'GET',
    url: URL_,
    dpop: await h.dpop(o.k ?? key, 'GET', URL_, { accessToken: token }),
  });

  void it('accepts a good token and spends one use at the broker', async () => {
    const token = await mint(2);
    const r = await verifier.check(await req(token));
    assert.equal(r.ok, true);
    assert.equal(r.ok && r.usesLeft, 1);
    assert.equal(r.ok && r.claims.sub, PAYMENTS_API);
  });

  void it('refuses locally, without a broker call or a spent use: forged, outside intent, foreign DPoP key', async () => {
    const token = await mint(1);
    await verifier.check(await req(await mint()));
    calls.length = 0;
    const [hd, , sig] = token.split('.');
    const forged = `${hd}.${Buffer.from(JSON.stringify({ ...decodeJwt(token), aud: 'payments' })).toString('base64url')}x.${sig}`;
    const f = await verifier.check(await req(forged));
    assert.equal(!f.ok && f.code, 'BULKHEAD_TOKEN_BAD_SIGNATURE');
    const o = await verifier.check(await req(token, { action: 'write' }));
    assert.deepEqual(o, { ok: false, status: 403, code: 'BULKHEAD_TOKEN_OUTSIDE_INTENT', local: true });
    const k = await verifier.check(await req(token, { k: await keyPair() }));
    assert.equal(!k.ok && k.code, 'BULKHEAD_DPOP_KEY_MISMATCH');
    assert.deepEqual(calls, []);
    // The budget of 1 is still there.
    const ok = await verifier.check(await req(token));
    assert.equal(ok.ok, true);
  });

  void it('revocation and budget come from the broker; a broker outage fails closed', async () => {
    const token = await mint(1);
    assert.equal((await verifier.check(await req(token))).ok, true);
    const over = await verifier.check(await req(token));
    assert.deepEqual(over, {
      ok: false,
      status: 403,
      code: 'BULKHEAD_TOKEN_USE_BUDGET_EXHAUSTED',
      local: false,
    });
    const t2 = await mint();
    await h.form('/oauth2/revoke', { token: t2 });
    const rev = await verifier.check(await req(t2));
    assert.equal(!rev.ok && rev.code, 'BULKHEAD_TOKEN_REVOKED');
    const down = new TaskTokenVerifier({
      brokerUrl: 'http://127.0.0.1:1',
      apiKey: 'x',
      issuer: BROKER_AUD,
      audience: 'payments',
      timeoutMs: 500,
    });
    const r = await down.check(await req(await mint()));
    assert.deepEqual(r, { ok: false, status: 503, code: 'BULKHEAD_BROKER_UNAVAILABLE', local: false });
  });
});
