/**
 * The mission test: "if a credential can be replayed, reused, or delegated outside its original task, we
 * have failed." Each case is an attack; each must be refused with its own stable code and leave a `token.*`
 * event behind for detection. Every case first shows the same request succeeds without the attack, so a
 * refusal cannot come from a broken set-up.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { keyPair, PAYMENTS_API, startHarness, SUPPORT_BOT, type Harness, type KeyPair } from './harness.js';

const RESOURCE_URL = 'https://payments.example/v1/refunds';
const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const AT = 'urn:ietf:params:oauth:token-type:access_token';
const JWT = 'urn:ietf:params:oauth:token-type:jwt';

void describe('mission: a task token is useless outside its task', () => {
  let h: Harness;
  let key: KeyPair;

  before(async () => {
    h = await startHarness();
    key = await keyPair();
  });
  after(async () => {
    await h.stop();
  });
  beforeEach(() => {
    h.events.length = 0;
  });

  async function task(body: Record<string, unknown> = {}): Promise<string> {
    const res = await h.createTask(await h.svid(PAYMENTS_API), {
      purpose: 'refund batch',
      actions: ['read', 'write'],
      resources: ['payments-db'],
      ttl: 3600,
      max_uses: 100,
      ...body,
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body.id as string;
  }

  async function mint(taskId: string, dpopKey: KeyPair | null = key): Promise<string> {
    const res = await h.mint(await h.svid(PAYMENTS_API), taskId, dpopKey ?? undefined);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.access_token as string;
  }

  async function use(
    token: string,
    o: { key?: KeyPair | null; action?: string; resource?: string; audience?: string; dpop?: string } = {},
  ) {
    const k = o.key === undefined ? key : o.key;
    const dpop = o.dpop ?? (k ? await h.dpop(k, 'POST', RESOURCE_URL, { accessToken: token }) : undefined);
    return h.validate({
      token,
      action: o.action ?? 'read',
      resource: o.resource ?? 'payments-db',
      audience: o.audience ?? 'payments',
      method: 'POST',
      url: RESOURCE_URL,
      ...(dpop ? { dpop } : {}),
    });
  }

  function refusedWith(res: { status: number; body: any }, code: string, eventType = 'token.refused'): void {
    assert.ok(res.status === 401 || res.status === 403, `status ${res.status}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.code, code);
    const ev = h.events.find((e) => e.type === eventType && e.data?.code === code);
    assert.ok(
      ev,
      `no ${eventType} event with ${code}: ${JSON.stringify(h.events.map((e) => [e.type, e.data?.code]))}`,
    );
  }

  function exchange(params: Record<string, string>, headers: Record<string, string> = {}) {
    return h.form(
      '/oauth2/token',
      { grant_type: EXCHANGE, subject_token_type: AT, actor_token_type: JWT, ...params },
      headers,
    );
  }

  void it('replay without the DPoP key: no proof, or a proof by another key', async () => {
    const token = await mint(await task());
    assert.equal((await use(token)).status, 200);
    refusedWith(await use(token, { key: null }), 'BULKHEAD_DPOP_REQUIRED', 'token.replay');
    const thief = await keyPair();
    const stolen = await use(token, { key: thief });
    refusedWith(stolen, 'BULKHEAD_DPOP_KEY_MISMATCH', 'token.replay');
    const ev = h.events.find((e) => e.data?.code === 'BULKHEAD_DPOP_KEY_MISMATCH');
    assert.equal(ev?.data?.boundJkt, decodeJwt(token).cnf && (decodeJwt(token).cnf as { jkt: string }).jkt);
    assert.ok(ev?.data?.presentedJkt && ev.data.presentedJkt !== ev.data.boundJkt);
  });

  void it('DPoP proof replay (same jti) and a proof made for another token (ath)', async () => {
    const token = await mint(await task());
    const proof = await h.dpop(key, 'POST', RESOURCE_URL, { accessToken: token });
    assert.equal((await use(token, { dpop: proof })).status, 200);
    refusedWith(await use(token, { dpop: proof }), 'BULKHEAD_DPOP_REPLAY', 'token.replay');
    const other = await mint(await task());
    const forOther = await h.dpop(key, 'POST', RESOURCE_URL, { accessToken: other });
    refusedWith(await use(token, { dpop: forOther }), 'BULKHEAD_DPOP_ATH_MISMATCH');
  });

  void it('a token used for an action or a resource outside its declared intent', async () => {
    const token = await mint(await task({ actions: ['read'] }));
    assert.equal((await use(token)).status, 200);
    refusedWith(await use(token, { action: 'write' }), 'BULKHEAD_TOKEN_OUTSIDE_INTENT');
    refusedWith(await use(token, { resource: 'ledger-db' }), 'BULKHEAD_TOKEN_OUTSIDE_INTENT');
    const ev = h.events.find((e) => e.data?.code === 'BULKHEAD_TOKEN_OUTSIDE_INTENT');
    assert.deepEqual(ev?.data?.intentActions, ['read']);
    assert.equal(ev?.action, 'write');
  });

  void it('a token used after its task completed, and minting for a completed task', async () => {
    const id = await task();
    const token = await mint(id);
    assert.equal((await use(token)).status, 200);
    const done = await h.server.call('POST', `/v1/tasks/${id}/complete`, {
      token: await h.svid(PAYMENTS_API),
    });
    assert.equal(done.status, 200, JSON.stringify(done.body));
    assert.equal(done.body.status, 'completed');
    refusedWith(await use(token), 'BULKHEAD_TOKEN_TASK_ENDED');
    const again = await h.mint(await h.svid(PAYMENTS_API), id, key);
    assert.equal(again.status, 400);
    assert.equal(again.body.error, 'invalid_grant');
    assert.equal(again.body.code, 'BULKHEAD_TASK_NOT_ACTIVE');
    const intro = await h.form(
      '/oauth2/introspect',
      { token },
      { authorization: `Bearer ${h.server.token}` },
    );
    assert.deepEqual(intro.body, { active: false });
  });

  void it('a token used beyond the task use budget (max_uses), across tokens of the task', async () => {
    const id = await task({ max_uses: 2 });
    const a = await mint(id);
    const b = await mint(id);
    assert.equal((await use(a)).status, 200);
    assert.equal((await use(b)).status, 200);
    refusedWith(await use(a), 'BULKHEAD_TOKEN_USE_BUDGET_EXHAUSTED');
    refusedWith(await use(b), 'BULKHEAD_TOKEN_USE_BUDGET_EXHAUSTED');
  });

  void it('an exchange that widens the intent, another task, the audience, or the chain depth', async () => {
    const id = await task({ actions: ['read', 'write'] });
    const subject = await mint(id, null);
    const actor = async () => h.svid(SUPPORT_BOT);
    const narrow = JSON.stringify([
      { type: 'urn:bulkhead:task', actions: ['read'], locations: ['payments-db'] },
    ]);
    const ok = await exchange({
      subject_token: subject,
      actor_token: await actor(),
      authorization_details: narrow,
    });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    const delegated: any = decodeJwt(ok.body.access_token);
    assert.equal(delegated.sub, PAYMENTS_API);
    assert.equal(delegated.act.sub, SUPPORT_BOT);
    assert.equal(delegated.task, id);
    assert.deepEqual(delegated.authorization_details[0].actions, ['read']);
    assert.equal(ok.body.issued_token_type, AT);

    const widen = JSON.stringify([
      { type: 'urn:bulkhead:task', actions: ['delete'], locations: ['payments-db'] },
    ]);
    const w = await exchange({
      subject_token: subject,
      actor_token: await actor(),
      authorization_details: widen,
    });
    assert.equal(w.status, 400);
    assert.equal(w.body.error, 'invalid_scope');
    assert.equal(w.body.code, 'BULKHEAD_EXCHANGE_WIDENS');
    const wr = JSON.stringify([{ type: 'urn:bulkhead:task', actions: ['read'], locations: ['customer-db'] }]);
    const w2 = await exchange({
      subject_token: subject,
      actor_token: await actor(),
      authorization_details: wr,
    });
    assert.equal(w2.body.code, 'BULKHEAD_EXCHANGE_WIDENS');
    const aud = await exchange({ subject_token: subject, actor_token: await actor(), audience: 'ledger' });
    assert.equal(aud.body.code, 'BULKHEAD_EXCHANGE_WIDENS');
    // The actor's own rights cap the result: the support bot may not write even though the subject may.
    const writeOnly = JSON.stringify([
      { type: 'urn:bulkhead:task', actions: ['write'], locations: ['payments-db'] },
    ]);
    const denied = await exchange({
      subject_token: subject,
      actor_token: await actor(),
      authorization_details: writeOnly,
    });
    assert.equal(denied.body.code, 'BULKHEAD_EXCHANGE_ACTOR_DENIED');

    const otherTask = await task();
    const t = await exchange({ subject_token: subject, actor_token: await actor(), task: otherTask });
    assert.equal(t.status, 400);
    assert.equal(t.body.code, 'BULKHEAD_EXCHANGE_TASK_MISMATCH');
    assert.ok(
      h.events.some((e) => e.type === 'token.refused' && e.data?.code === 'BULKHEAD_EXCHANGE_WIDENS'),
    );
    assert.ok(
      h.events.some((e) => e.type === 'token.refused' && e.data?.code === 'BULKHEAD_EXCHANGE_TASK_MISMATCH'),
    );

    // Depth: the default limit is 3 actors.
    let tok: string = ok.body.access_token;
    for (let depth = 2; depth <= 3; depth++) {
      const r = await exchange({ subject_token: tok, actor_token: await actor() });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      tok = r.body.access_token;
    }
    const deep = await exchange({ subject_token: tok, actor_token: await actor() });
    assert.equal(deep.body.code, 'BULKHEAD_EXCHANGE_DEPTH_EXCEEDED');

    // Revoking the subject token revokes what was exchanged from it.
    const child: string = ok.body.access_token;
    assert.equal((await use(child, { key: null })).status, 200);
    assert.equal((await h.form('/oauth2/revoke', { token: subject })).status, 200);
    refusedWith(await use(child, { key: null }), 'BULKHEAD_TOKEN_REVOKED');
  });

  void it('a DPoP-bound subject token cannot be exchanged by someone without its key', async () => {
    const subject = await mint(await task());
    const thief = await keyPair();
    const r = await exchange(
      { subject_token: subject, actor_token: await h.svid(SUPPORT_BOT) },
      { dpop: await h.dpop(thief, 'POST', h.tokenUrl) },
    );
    assert.equal(r.body.code, 'BULKHEAD_DPOP_KEY_MISMATCH');
    const none = await exchange({ subject_token: subject, actor_token: await h.svid(SUPPORT_BOT) });
    assert.equal(none.body.code, 'BULKHEAD_DPOP_REQUIRED');
  });

  void it('an expired token (frozen clock: valid one second before exp, refused at exp)', async () => {
    const token = await mint(await task());
    const exp = decodeJwt(token).exp ?? 0;
    h.clock.ms = (exp - 1) * 1000;
    assert.equal((await use(token)).status, 200);
    h.clock.ms = exp * 1000;
    refusedWith(await use(token), 'BULKHEAD_TOKEN_EXPIRED');
  });

  void it('a token signed by a rotated-out key: valid during the overlap, refused after it', async () => {
    const token = await mint(await task());
    const rotated = await h.server.call('POST', '/v1/broker/keys/rotate');
    assert.equal(rotated.status, 201, JSON.stringify(rotated.body));
    const jwks = await h.server.call('GET', '/.well-known/jwks.json', { token: null });
    assert.equal(jwks.body.keys.length, 2);
    assert.equal((await use(token)).status, 200);
    const fresh = await mint(await task());
    assert.equal((await use(fresh)).status, 200);
    h.clock.advance(901); // default overlap 900 s
    refusedWith(await use(token), 'BULKHEAD_TOKEN_KEY_UNKNOWN');
    const after1 = await h.server.call('GET', '/.well-known/jwks.json', { token: null });
    assert.equal(after1.body.keys.length, 1);
  });

  void it('a token presented to the wrong audience, a forged signature, a revoked token', async () => {
    const token = await mint(await task());
    refusedWith(await use(token, { audience: 'ledger' }), 'BULKHEAD_TOKEN_WRONG_AUDIENCE');
    const [hd, pl, sig] = token.split('.');
    const forged = `${hd}.${Buffer.from(JSON.stringify({ ...decodeJwt(token), aud: 'ledger' })).toString('base64url')}.${sig}`;
    refusedWith(await use(forged, { audience: 'ledger' }), 'BULKHEAD_TOKEN_BAD_SIGNATURE');
    assert.ok(pl);
    assert.equal((await use(token)).status, 200);
    assert.equal((await h.form('/oauth2/revoke', { token })).status, 200);
    refusedWith(await use(token), 'BULKHEAD_TOKEN_REVOKED');
    assert.ok(h.events.some((e) => e.type === 'token.revoked'));
  });

  void it("another workload cannot mint with someone else's task", async () => {
    const id = await task();
    const res = await h.mint(await h.svid(SUPPORT_BOT), id, key);
    assert.equal(res.body.code, 'BULKHEAD_TASK_IDENTITY_MISMATCH');
  });
});
