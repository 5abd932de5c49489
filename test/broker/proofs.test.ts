/**
 * Workload identity proofs against per-issuer trust bundles: JWT-SVIDs (JWKS file), CI OIDC tokens (JWKS from
 * a local HTTP server), Kubernetes projected SA tokens (inline JWKS), RFC 7523 client assertions. Each failure
 * mode has its own code.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { Broker } from '../../src/broker/service.js';
import {
  BROKER_AUD,
  keyPair,
  PAYMENTS_API,
  POLICIES,
  SPIFFE_TD,
  startHarness,
  SUPPORT_BOT,
  type Harness,
} from './harness.js';
import { requestWithHost } from '../helpers/host-request.js';

const TASK = { purpose: 'proof test', actions: ['read'], resources: ['payments-db'], ttl: 600, max_uses: 5 };

void describe('broker: workload identity proofs', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h.stop();
  });

  async function proveAs(proof: string): Promise<{ status: number; body: any }> {
    return h.createTask(proof, TASK);
  }
  function refused(res: { status: number; body: any }, code: string): void {
    assert.equal(
      res.status,
      code === 'BULKHEAD_TRUST_BUNDLE_UNAVAILABLE' ? 503 : 401,
      JSON.stringify(res.body),
    );
    assert.equal(res.body.code, code);
  }

  void it('JWT-SVID: default mapping by the inventory SPIFFE ID, and a configured rule', async () => {
    const a = await proveAs(await h.svid(PAYMENTS_API));
    assert.equal(a.status, 201, JSON.stringify(a.body));
    assert.equal(a.body.identity, 'payments-api');
    assert.equal(a.body.subject, PAYMENTS_API);
    const b = await proveAs(await h.svid(SUPPORT_BOT));
    assert.equal(b.body.identity, 'agent-support-bot');
  });

  void it('Kubernetes projected service-account token mapped by namespace claim', async () => {
    const r = await proveAs(
      await h.k8sToken('system:serviceaccount:cert-manager:cert-manager', 'cert-manager'),
    );
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.identity, 'k8s-cert-manager');
    refused(
      await proveAs(await h.k8sToken('system:serviceaccount:default:x', 'default')),
      'BULKHEAD_PROOF_UNMAPPED',
    );
  });

  void it('CI OIDC token (JWKS fetched from a URL) mapped by repository and ref; the workflow is kept', async () => {
    const claims = {
      sub: 'repo:acmepay/payments:ref:refs/heads/main',
      repository: 'acmepay/payments',
      ref: 'refs/heads/main',
      workflow: 'deploy',
    };
    const r = await proveAs(await h.ciToken(claims));
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.identity, 'ci-payments-deploy');
    assert.equal(r.body.workflow, 'deploy');
    const branch = await h.ciToken({ ...claims, ref: 'refs/heads/feature' });
    refused(await proveAs(branch), 'BULKHEAD_PROOF_UNMAPPED');
  });

  void it('RFC 7523 private_key_jwt for an identity with a registered key; an assertion is single-use', async () => {
    const assertion = await h.clientAssertion('agent-finops', { aud: BROKER_AUD });
    const task = await h.createTask(await h.svid(PAYMENTS_API), TASK);
    // The finops agent is not permitted by the test policy to read, so use the token endpoint path: the proof
    // verifies (identity mismatch is the next check).
    const r = await h.mint(assertion, task.body.id as string);
    assert.equal(r.body.code, 'BULKHEAD_TASK_IDENTITY_MISMATCH');
    const again = await h.mint(assertion, task.body.id as string);
    assert.equal(again.status, 401);
    assert.equal(again.body.error, 'invalid_client');
    assert.equal(again.body.code, 'BULKHEAD_PROOF_REPLAYED');
    const wrongAud = await h.mint(
      await h.clientAssertion('agent-finops', { aud: 'https://elsewhere' }),
      task.body.id as string,
    );
    assert.equal(wrongAud.body.code, 'BULKHEAD_PROOF_WRONG_AUDIENCE');
  });

  void it('refuses unknown issuer, bad signature, wrong audience, expired, unmapped, malformed, missing', async () => {
    refused(await proveAs(await h.svid('spiffe://other.example/ns/x/sa/y')), 'BULKHEAD_PROOF_UNKNOWN_ISSUER');
    const stranger = await keyPair();
    const foreign = await new SignJWT({ repository: 'acmepay/payments', ref: 'refs/heads/main' })
      .setProtectedHeader({ alg: 'EdDSA' })
      .setIssuer('https://ci.evil')
      .setSubject('x')
      .setAudience(BROKER_AUD)
      .setExpirationTime(h.clock.seconds + 60)
      .sign(stranger.privateKey);
    refused(await proveAs(foreign), 'BULKHEAD_PROOF_UNKNOWN_ISSUER');
    refused(
      await proveAs(
        await h.svid(PAYMENTS_API, {
          key: { ...stranger, publicJwk: { ...stranger.publicJwk, kid: h.spiffe.publicJwk.kid } },
        }),
      ),
      'BULKHEAD_PROOF_BAD_SIGNATURE',
    );
    refused(
      await proveAs(await h.svid(PAYMENTS_API, { aud: 'https://someone-else' })),
      'BULKHEAD_PROOF_WRONG_AUDIENCE',
    );
    // Frozen clock boundary: valid one second before exp, refused at exp.
    assert.equal((await proveAs(await h.svid(PAYMENTS_API, { exp: h.clock.seconds + 1 }))).status, 201);
    refused(await proveAs(await h.svid(PAYMENTS_API, { exp: h.clock.seconds })), 'BULKHEAD_PROOF_EXPIRED');
    refused(await proveAs(await h.svid(`spiffe://${SPIFFE_TD}/ns/nobody/sa/x`)), 'BULKHEAD_PROOF_UNMAPPED');
    refused(await proveAs('not-a-jwt'), 'BULKHEAD_PROOF_MALFORMED');
    refused(await h.server.call('POST', '/v1/tasks', { body: TASK, token: null }), 'BULKHEAD_PROOF_MISSING');
    const noExp = await new SignJWT({})
      .setProtectedHeader({ alg: 'EdDSA', kid: h.spiffe.publicJwk.kid ?? '' })
      .setSubject(PAYMENTS_API)
      .setAudience(BROKER_AUD)
      .sign(h.spiffe.privateKey);
    refused(await proveAs(noExp), 'BULKHEAD_PROOF_CLAIM_INVALID');
  });
});

void describe('broker: a client assertion is single-use across broker instances', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h.stop();
  });

  void it('refuses a replay on a second broker instance on the same database (another replica, a restart)', async () => {
    const task = await h.createTask(await h.svid(PAYMENTS_API), TASK);
    const assertion = await h.clientAssertion('agent-finops');
    // The proof verifies (and its jti is spent); the task belongs to someone else.
    assert.equal(
      (await h.mint(assertion, task.body.id as string)).body.code,
      'BULKHEAD_TASK_IDENTITY_MISMATCH',
    );
    const fresh = new Broker(h.broker.runtime().deps);
    await assert.rejects(fresh.proveWorkload(assertion, h.tokenUrl), { code: 'BULKHEAD_PROOF_REPLAYED' });
    // A new assertion is fine on the fresh instance; once expired, the sweeper forgets the jtis.
    await fresh.proveWorkload(await h.clientAssertion('agent-finops'), h.tokenUrl);
    const count = async () =>
      (await h.broker.runtime().deps.db.selectFrom('broker_client_assertions').select('jti').execute())
        .length;
    assert.equal(await count(), 2);
    h.clock.advance(61);
    await h.broker.runtime().sweep();
    assert.equal(await count(), 0);
  });

  void it('refuses an assertion valid for longer than 300 s (exact boundary)', async () => {
    const at = h.clock.seconds;
    const ok = await h.broker
      .runtime()
      .proveWorkload(await h.clientAssertion('agent-finops', { iat: at, exp: at + 300 }), h.tokenUrl);
    assert.equal(ok.identity.id, 'agent-finops');
    await assert.rejects(
      h.broker
        .runtime()
        .proveWorkload(await h.clientAssertion('agent-finops', { iat: at, exp: at + 301 }), h.tokenUrl),
      { code: 'BULKHEAD_PROOF_LIFETIME_TOO_LONG' },
    );
    // Backdating iat does not help, and neither does leaving it out.
    await assert.rejects(
      h.broker
        .runtime()
        .proveWorkload(await h.clientAssertion('agent-finops', { iat: at - 200, exp: at + 200 }), h.tokenUrl),
      { code: 'BULKHEAD_PROOF_LIFETIME_TOO_LONG' },
    );
    const noIat = await new SignJWT({})
      .setProtectedHeader({ alg: 'EdDSA', kid: h.client.publicJwk.kid ?? '' })
      .setIssuer('agent-finops')
      .setSubject('agent-finops')
      .setAudience(h.tokenUrl)
      .setJti('no-iat')
      .setExpirationTime(at + 3600)
      .sign(h.client.privateKey);
    const res = await h.mint(noIat, 'task-x');
    assert.equal(res.status, 401, JSON.stringify(res.body));
    assert.equal(res.body.code, 'BULKHEAD_PROOF_LIFETIME_TOO_LONG');
  });
});

void describe('broker: a URL trust bundle that cannot be fetched', () => {
  void it('fails closed with its own code (503), not as a bad proof', async () => {
    const h = await startHarness();
    try {
      h.jwksServer.closeAllConnections();
      await new Promise<void>((r) => h.jwksServer.close(() => r()));
      const claims = { sub: 'x', repository: 'acmepay/payments', ref: 'refs/heads/main' };
      const res = await h.createTask(await h.ciToken(claims), TASK);
      assert.equal(res.status, 503, JSON.stringify(res.body));
      assert.equal(res.body.code, 'BULKHEAD_TRUST_BUNDLE_UNAVAILABLE');
    } finally {
      h.jwksServer.listen(0, '127.0.0.1');
      await h.stop();
    }
  });
});

/** A form POST with a chosen Host header (fetch does not let a test set it). */
function postWithHost(
  h: Harness,
  path: string,
  host: string,
  body: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: any }> {
  return requestWithHost(h.server.url, 'POST', path, host, body, headers);
}

function tokenForm(assertion: string, task: string): string {
  return new URLSearchParams({
    grant_type: 'client_credentials',
    client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
    client_assertion: assertion,
    task,
  }).toString();
}

const FINOPS_READ = `${POLICIES}
@id("finops-read")
permit (principal, action == Action::"read", resource) when { principal.id == "agent-finops" };`;

void describe('broker: the audiences a client assertion may name come from configuration', () => {
  async function finopsTask(h: Harness): Promise<string> {
    const push = await h.server.call('POST', '/v1/policies', {
      body: { policies: FINOPS_READ, actions: ['read', 'write', 'delete'] },
    });
    assert.equal(push.status, 201, JSON.stringify(push.body));
    const task = await h.server.call('POST', '/v1/tasks', { body: { ...TASK, identity: 'agent-finops' } });
    assert.equal(task.status, 201, JSON.stringify(task.body));
    return task.body.id as string;
  }

  void it('refuses an assertion and a DPoP proof for another server even when the Host header names it', async () => {
    const h = await startHarness();
    try {
      const task = await finopsTask(h);
      const other = 'http://other-as.internal';
      const form = { 'content-type': 'application/x-www-form-urlencoded' };
      const foreign = await h.clientAssertion('agent-finops', { aud: `${other}/oauth2/token` });
      const spoofed = await postWithHost(
        h,
        '/oauth2/token',
        'other-as.internal',
        tokenForm(foreign, task),
        form,
      );
      assert.equal(spoofed.status, 401, JSON.stringify(spoofed.body));
      assert.equal(spoofed.body.code, 'BULKHEAD_PROOF_WRONG_AUDIENCE');

      const taskBody = JSON.stringify({
        purpose: 'x',
        actions: ['read'],
        resources: ['payments-db'],
        max_uses: 1,
      });
      const declare = await postWithHost(h, '/v1/tasks', 'other-as.internal', taskBody, {
        'content-type': 'application/json',
        authorization: `Bearer ${await h.clientAssertion('agent-finops', { aud: `${other}/v1/tasks` })}`,
      });
      assert.equal(declare.status, 401, JSON.stringify(declare.body));
      assert.equal(declare.body.code, 'BULKHEAD_PROOF_WRONG_AUDIENCE');
      // The refusal names what is accepted: the endpoint under the configured (here: listening) URL.
      assert.ok(
        String(declare.body.detail).includes(`${h.server.url}/v1/tasks`),
        String(declare.body.detail),
      );
      assert.ok(!String(declare.body.detail).includes(other), String(declare.body.detail));

      const credentials = await postWithHost(h, `/v1/tasks/${task}/credentials`, 'other-as.internal', '', {
        authorization: `Bearer ${await h.clientAssertion('agent-finops', { aud: `${other}/v1/tasks/${task}/credentials` })}`,
      });
      assert.equal(credentials.status, 401, JSON.stringify(credentials.body));
      assert.equal(credentials.body.code, 'BULKHEAD_PROOF_WRONG_AUDIENCE');

      // DPoP htu is checked against the configured URL too, whatever Host says.
      const ours = await h.clientAssertion('agent-finops');
      const dpop = await h.dpop(await keyPair(), 'POST', `${other}/oauth2/token`);
      const bound = await postWithHost(h, '/oauth2/token', 'other-as.internal', tokenForm(ours, task), {
        ...form,
        dpop,
      });
      assert.equal(bound.body.code, 'BULKHEAD_DPOP_HTU_MISMATCH', JSON.stringify(bound.body));

      // The default public URL is the one the server listens on: the harness's assertions keep working.
      const honest = await h.mint(await h.clientAssertion('agent-finops'), task, await keyPair());
      assert.equal(honest.status, 200, JSON.stringify(honest.body));
      assert.equal(honest.body.token_type, 'DPoP');
    } finally {
      await h.stop();
    }
  });

  void it('accepts assertions and DPoP proofs addressed to BULKHEAD_PUBLIC_URL, not to the listening URL', async () => {
    const h = await startHarness({ env: { BULKHEAD_PUBLIC_URL: 'https://bulkhead.example/' } });
    try {
      const task = await finopsTask(h);
      const meta = await h.server.call('GET', '/.well-known/oauth-authorization-server');
      assert.equal(meta.body.token_endpoint, 'https://bulkhead.example/oauth2/token');
      assert.equal(h.tokenUrl, 'https://bulkhead.example/oauth2/token');
      const minted = await h.mint(await h.clientAssertion('agent-finops'), task, await keyPair());
      assert.equal(minted.status, 200, JSON.stringify(minted.body));
      assert.equal(minted.body.token_type, 'DPoP');
      const listening = await h.mint(
        await h.clientAssertion('agent-finops', { aud: `${h.server.url}/oauth2/token` }),
        task,
      );
      assert.equal(listening.body.code, 'BULKHEAD_PROOF_WRONG_AUDIENCE');
    } finally {
      await h.stop();
    }
  });
});
