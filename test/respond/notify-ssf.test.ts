import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { createDetectModule } from '../../src/detect/index.js';
import { SET_EVENT_TYPES } from '../../src/detect/ssf.js';
import { coreModule } from '../../src/modules/index.js';
import { createPolicyModule } from '../../src/policy/index.js';
import { createRespondModule } from '../../src/respond/index.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { startRespondServer, type RespondServer } from './helpers.js';

const PLAYBOOK = `apiVersion: bulkhead/v1
kind: Playbook
id: tell-receivers
mode: enforce
priority: 5
match:
  rules: [ssf-test]
escalation: { T0: auto, T1: auto, T2: auto, T3: auto }
steps:
  - id: open
    action: open_incident
  - id: page
    action: notify
    retries: 1
    with: { channel: page }
`;

type Step = { stepId: string; status: string; result: { outcome: string; detail: string; data?: any } };
const stepOf = (incident: { runs: { steps: Step[] }[] }, id: string) =>
  incident.runs.flatMap((r) => r.steps).find((s) => s.stepId === id)!;

/** An RFC 8935 push receiver: records each SET, answers with `status`. */
class Receiver {
  readonly sets: { contentType: string | undefined; body: string }[] = [];
  status = 202;
  private server: Server | undefined;
  url = '';
  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        this.sets.push({ contentType: req.headers['content-type'], body });
        res.writeHead(this.status, { 'content-type': 'application/json' });
        res.end(this.status === 202 ? '' : JSON.stringify({ err: 'invalid_request', description: 'test' }));
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/ssf`;
  }
  stop(): Promise<void> {
    return new Promise((r) => this.server?.close(() => r()));
  }
}

void describe('notify pushes a Security Event Token through detection’s SSF sender', () => {
  const receiver = new Receiver();
  let server: TestServer;
  let detect: ReturnType<typeof createDetectModule>;
  before(async () => {
    await receiver.start();
    const policy = createPolicyModule({ pollMs: 0 });
    detect = createDetectModule({
      ssf: {
        receivers: [{ url: receiver.url, audience: 'https://siem.example' }],
        issuer: 'https://bulkhead.example',
      },
    });
    const respond = createRespondModule({
      pdp: () => policy.runtime().pdp,
      detect: () => detect.service(),
      retryBaseMs: 1,
      rotationTickMs: 0,
    });
    server = await startTestServer({ demo: true, modules: [coreModule, policy, detect, respond] });
    assert.ok((await server.call('POST', '/v1/playbooks', { body: { yaml: PLAYBOOK } })).status < 300);
  });
  after(async () => {
    await server.stop();
    await receiver.stop();
  });

  async function verify(set: string) {
    const jwks = createLocalJWKSet(detect.service().signer!.jwks());
    assert.equal(decodeProtectedHeader(set).typ, 'secevent+jwt');
    const { payload } = await jwtVerify(set, jwks, {
      issuer: 'https://bulkhead.example',
      audience: 'https://siem.example',
    });
    return payload as { txn: string; sub_id: { format: string; id: string }; events: Record<string, any> };
  }

  void it('an alert on a credential → RISC credential-compromise, signed with the JWKS detection publishes', async () => {
    const res = await server.call('POST', '/v1/incidents', {
      body: { id: 'a-ssf-1', rule_id: 'ssf-test', severity: 'high', credential: 'cred-payments-api-db' },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const step = stepOf(res.body, 'page');
    assert.equal(step.status, 'done', JSON.stringify(step));
    assert.match(step.result.detail, /pushed credential-compromise SET to 1 of 1 SSF receiver/);
    assert.equal(receiver.sets.length, 1);
    assert.equal(receiver.sets[0]!.contentType, 'application/secevent+jwt');
    const p = await verify(receiver.sets[0]!.body);
    assert.deepEqual(p.sub_id, { format: 'opaque', id: 'cred-payments-api-db' });
    const event = p.events[SET_EVENT_TYPES['credential-compromise']];
    assert.ok(event, JSON.stringify(p.events));
    assert.equal(event.credential_type, 'api_key');
    assert.match(p.txn, /^run-[0-9a-f]+:page$/);
    // The JWKS route serves the same key.
    const jwks = await server.call('GET', '/v1/ssf/jwks.json');
    assert.equal(jwks.body.keys[0].kid, decodeProtectedHeader(receiver.sets[0]!.body).kid);
  });

  void it('an alert on an identity only → CAEP session-revoked about the identity', async () => {
    const before = receiver.sets.length;
    const res = await server.call('POST', '/v1/incidents', {
      body: { id: 'a-ssf-2', rule_id: 'ssf-test', severity: 'high', identity_id: 'agent-support-bot' },
    });
    assert.equal(stepOf(res.body, 'page').status, 'done');
    const p = await verify(receiver.sets[before]!.body);
    assert.deepEqual(p.sub_id, { format: 'opaque', id: 'agent-support-bot' });
    assert.ok(p.events[SET_EVENT_TYPES['session-revoked']]);
  });

  void it('a receiver that refuses the SET: the step is retried and then fails loudly', async () => {
    receiver.status = 400;
    const before = receiver.sets.length;
    const res = await server.call('POST', '/v1/incidents', {
      body: { id: 'a-ssf-3', rule_id: 'ssf-test', severity: 'high', identity_id: 'payments-worker' },
    });
    receiver.status = 202;
    const step = stepOf(res.body, 'page');
    assert.equal(step.status, 'failed', JSON.stringify(step));
    assert.match(step.result.detail, /SET push failed/);
    assert.equal(receiver.sets.length - before, 2, 'first attempt + 1 retry');
  });
});

void describe('notify with no receivers at all', () => {
  let s: RespondServer;
  before(async () => {
    s = await startRespondServer();
    assert.ok((await s.server.call('POST', '/v1/playbooks', { body: { yaml: PLAYBOOK } })).status < 300);
  });
  after(async () => s.server.stop());

  void it('is skipped, not reported as delivered', async () => {
    const res = await s.server.call('POST', '/v1/incidents', {
      body: { id: 'a-ssf-none', rule_id: 'ssf-test', severity: 'high', identity_id: 'payments-worker' },
    });
    const step = stepOf(res.body, 'page');
    assert.equal(step.status, 'skipped');
    assert.match(step.result.detail, /no notification receiver configured/);
  });
});
