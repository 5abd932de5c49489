import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt, decodeProtectedHeader, jwtVerify, createLocalJWKSet } from 'jose';
import { BROKER_AUD, keyPair, PAYMENTS_API, startHarness, type Harness } from './harness.js';

for (const backend of ['sqlite', 'postgres'] as const) {
  void describe(`broker: tasks, tokens, validation (end to end, ${backend})`, () => {
    let h: Harness;
    before(async () => {
      h = await startHarness({ postgres: backend === 'postgres' });
    });
    after(async () => {
      await h.stop();
    });

    void it('publishes a JWKS and OAuth metadata', async () => {
      const jwks = await h.server.call('GET', '/.well-known/jwks.json', { token: null });
      assert.equal(jwks.status, 200);
      assert.equal(jwks.body.keys.length, 1);
      assert.equal(jwks.body.keys[0].crv, 'Ed25519');
      assert.equal(jwks.body.keys[0].d, undefined);
      const meta = await h.server.call('GET', '/.well-known/oauth-authorization-server', { token: null });
      assert.equal(meta.body.issuer, BROKER_AUD);
      assert.equal(meta.body.token_endpoint, h.tokenUrl);
      assert.ok(meta.body.grant_types_supported.includes('urn:ietf:params:oauth:grant-type:token-exchange'));
    });

    void it('declares a task, mints a DPoP-bound token and validates it within budget', async () => {
      const proof = await h.svid(PAYMENTS_API);
      const task = await h.createTask(proof, {
        purpose: 'refund batch 42',
        actions: ['read'],
        resources: ['payments-db'],
        ttl: 600,
        max_uses: 2,
      });
      assert.equal(task.status, 201, JSON.stringify(task.body));
      assert.equal(task.body.status, 'active');
      assert.equal(task.body.identity, 'payments-api');
      const key = await keyPair();
      const minted = await h.mint(await h.svid(PAYMENTS_API), task.body.id, key);
      assert.equal(minted.status, 200, JSON.stringify(minted.body));
      assert.equal(minted.body.token_type, 'DPoP');
      assert.ok(minted.body.expires_in <= 300);
      const token: string = minted.body.access_token;
      const header = decodeProtectedHeader(token);
      assert.equal(header.alg, 'EdDSA');
      assert.equal(header.typ, 'at+jwt');
      const claims: any = decodeJwt(token);
      assert.equal(claims.sub, PAYMENTS_API);
      assert.equal(claims.aud, 'payments');
      assert.equal(claims.task, task.body.id);
      assert.equal(claims.exp - claims.iat, 300);
      assert.ok(claims.cnf.jkt);
      assert.deepEqual(claims.authorization_details[0].actions, ['read']);
      assert.deepEqual(claims.authorization_details[0].locations, ['payments-db']);
      // Verifiable by anyone with the JWKS.
      const jwks = await h.server.call('GET', '/.well-known/jwks.json', { token: null });
      await jwtVerify(token, createLocalJWKSet(jwks.body), { currentDate: h.clock.now() });

      const url = 'https://payments.example/refunds?batch=42';
      const ok = await h.validate({
        token,
        action: 'read',
        resource: 'payments-db',
        audience: 'payments',
        dpop: await h.dpop(key, 'GET', url, { accessToken: token }),
        method: 'GET',
        url,
      });
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.equal(ok.body.uses_left, 1);
      const intro = await h.form(
        '/oauth2/introspect',
        { token },
        { authorization: `Bearer ${h.server.token}` },
      );
      assert.equal(intro.body.active, true);
      assert.equal(intro.body.uses_left, 1);
      assert.ok(h.events.some((e) => e.type === 'token.issued' && e.data?.taskId === task.body.id));
      assert.ok(h.events.some((e) => e.type === 'token.used' && e.data?.boundJkt === claims.cnf.jkt));
    });
    void it('validation names the audience: without it or for another one, no use is spent', async () => {
      const task = await h.createTask(await h.svid(PAYMENTS_API), {
        purpose: 'audience',
        actions: ['read'],
        resources: ['payments-db'],
        ttl: 600,
        max_uses: 3,
        audience: 'payments',
      });
      const token: string = (await h.mint(await h.svid(PAYMENTS_API), task.body.id as string)).body
        .access_token;
      const check = { token, action: 'read', resource: 'payments-db' };
      const missing = await h.validate(check);
      assert.equal(missing.status, 400, JSON.stringify(missing.body));
      assert.equal(missing.body.code, 'BULKHEAD_VALIDATION_FAILED');
      assert.equal(missing.body.field, 'body.audience');
      const other = await h.validate({ ...check, audience: 'ledger' });
      assert.equal(other.body.code, 'BULKHEAD_TOKEN_WRONG_AUDIENCE');
      assert.equal((await h.server.call('GET', `/v1/tasks/${task.body.id}`)).body.uses, 0);
      const ok = await h.validate({ ...check, audience: 'payments' });
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.equal(ok.body.uses_left, 2);
    });

    void it('spends the use budget atomically under concurrency, revokes durably, expires by the sweeper', async () => {
      const proof = await h.svid(PAYMENTS_API);
      const task = await h.createTask(proof, {
        purpose: 'race',
        actions: ['read'],
        resources: ['payments-db'],
        ttl: 60,
        max_uses: 5,
      });
      const minted = await h.mint(await h.svid(PAYMENTS_API), task.body.id as string);
      const token: string = minted.body.access_token;
      const results = await Promise.all(
        Array.from({ length: 12 }, () =>
          h.validate({ token, action: 'read', resource: 'payments-db', audience: 'payments' }),
        ),
      );
      assert.equal(results.filter((r) => r.status === 200).length, 5);
      assert.ok(
        results
          .filter((r) => r.status !== 200)
          .every((r) => r.body.code === 'BULKHEAD_TOKEN_USE_BUDGET_EXHAUSTED'),
      );
      const rev = await h.server.call('POST', '/v1/broker/revocations', {
        body: { kind: 'identity', target: 'payments-api', reason: 'test' },
      });
      assert.equal(rev.status, 201, JSON.stringify(rev.body));
      h.clock.advance(60);
      assert.equal((await h.broker.runtime().sweep()).expired >= 1, true);
      const t = await h.server.call('GET', `/v1/tasks/${task.body.id}`);
      assert.equal(t.body.status, 'expired');
    });
    void it('token endpoint: OAuth errors for bad requests; require_dpop refuses bearer minting', async () => {
      const bad = async (params: Record<string, string>, raw?: string) => {
        if (raw !== undefined) {
          const res = await fetch(h.tokenUrl, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: raw,
          });
          return { status: res.status, body: (await res.json()) as Record<string, unknown> };
        }
        return h.form('/oauth2/token', params);
      };
      let r = await bad({});
      assert.equal(r.status, 400);
      assert.equal(r.body.error, 'invalid_request');
      r = await bad({ grant_type: 'password', username: 'x' });
      assert.equal(r.body.error, 'unsupported_grant_type');
      r = await bad({ grant_type: 'client_credentials', client_assertion_type: 'nope' });
      assert.equal(r.body.field, 'client_assertion_type');
      r = await bad(
        {},
        'grant_type=client_credentials&grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer',
      );
      assert.equal(r.body.error, 'invalid_request');
      assert.equal(r.body.field, 'grant_type');
      const json = await h.server.call('POST', '/oauth2/token', {
        body: { grant_type: 'client_credentials' },
      });
      assert.equal(json.status, 400);
      assert.equal(json.body.error, 'invalid_request');
      r = await bad({
        grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
        assertion: await h.svid(PAYMENTS_API),
      });
      assert.equal(r.body.field, 'task');
      r = await bad({
        grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
        assertion: await h.svid(PAYMENTS_API),
        task: 'task-missing',
      });
      assert.equal(r.body.code, 'BULKHEAD_TASK_NOT_FOUND');
      const task = await h.createTask(await h.svid(PAYMENTS_API), {
        purpose: 'dpop only',
        actions: ['read'],
        resources: ['payments-db'],
        max_uses: 1,
      });
      const config = h.broker.runtime().deps.config;
      config.require_dpop = true;
      try {
        const bearer = await h.mint(await h.svid(PAYMENTS_API), task.body.id as string);
        assert.equal(bearer.body.code, 'BULKHEAD_DPOP_REQUIRED');
        assert.equal(bearer.body.error, 'invalid_dpop_proof');
        const bound = await h.mint(await h.svid(PAYMENTS_API), task.body.id as string, await keyPair());
        assert.equal(bound.status, 200);
        assert.equal(bound.body.token_type, 'DPoP');
      } finally {
        config.require_dpop = false;
      }
    });
  });
}
