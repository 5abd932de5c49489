/**
 * Input nested too deep for Cedar, or too big a bundle, is refused before it reaches cedar-wasm. A file of its own: without the
 * limit, the first deep policy corrupts the process's shared Wasm instance for every later test in it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { coreModule } from '../../src/modules/index.js';
import { evaluateCedar } from '../../src/policy/engine.js';
import { createPolicyModule } from '../../src/policy/index.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const POLICIES = `@id("agents-read")
permit (principal, action == Action::"read", resource) when { resource.environment == "dev" };`;

const when = (condition: string) => `permit (principal, action, resource) when { ${condition} };`;
/** Each of these overflowed cedar-wasm's stack (measured: from ~115 brackets or ~360 chained operators). */
const TOO_DEEP = [
  when(`${'('.repeat(3000)}true${')'.repeat(3000)}`),
  when(`${'('.repeat(200)}true${')'.repeat(200)}`),
  when(`${'['.repeat(150)}${']'.repeat(150)} == []`),
  when(`context${'.a'.repeat(1000)} == 1`),
  when(`${'if true then '.repeat(400)}true${' else false'.repeat(400)}`),
  when(Array.from({ length: 20_000 }, () => 'true').join(' && ')),
];

void describe('policy text, bundle and JSON limits', () => {
  let server: TestServer;
  const mod = createPolicyModule({ pollMs: 0 });
  const evaluation = (resource: string, extra: Record<string, unknown> = {}) =>
    server.call('POST', '/access/v1/evaluation', {
      body: {
        subject: { type: 'identity', id: 'agent-1' },
        action: { name: 'read' },
        resource: { type: 'database', id: resource },
        ...extra,
      },
    });

  before(async () => {
    server = await startTestServer({ modules: [coreModule, mod] });
    const post = async (path: string, body: unknown) => {
      const res = await server.call('POST', path, { body });
      assert.equal(res.status, 201, `${path}: ${JSON.stringify(res.body)}`);
    };
    await post('/v1/identities', { id: 'agent-1', kind: 'ai_agent', displayName: 'A', environment: 'dev' });
    for (const id of ['db-1', 'db-2', 'db-3']) {
      await post('/v1/resources', {
        id,
        type: 'database',
        displayName: id,
        sensitivity: 'internal',
        environment: 'dev',
      });
    }
    await post('/v1/policies', { policies: POLICIES });
  });
  after(async () => {
    await server.stop();
  });

  void it('refuses deeply nested Cedar text with a 400 naming the field, and Cedar keeps working', async () => {
    for (const policies of [...TOO_DEEP, ...TOO_DEEP]) {
      const res = await server.call('POST', '/v1/policies/validate', { body: { policies } });
      assert.equal(res.status, 400, `${policies.slice(0, 60)} → ${JSON.stringify(res.body).slice(0, 300)}`);
      assert.match(res.headers.get('content-type') ?? '', /application\/problem\+json/);
      assert.equal(res.body.code, 'BULKHEAD_POLICY_INVALID');
      assert.equal(res.body.field, 'body.policies');
      assert.match(res.body.detail, /the limit is 64/);
      assert.equal(res.body.errors[0].line, 1);
    }
    const pushed = await server.call('POST', '/v1/policies', { body: { policies: TOO_DEEP[0] } });
    assert.equal(pushed.status, 400);
    assert.equal(pushed.body.field, 'body.policies');
    assert.equal(mod.runtime().pdp.activeVersion, 1);

    const valid = await server.call('POST', '/v1/policies/validate', {
      body: { policies: `${POLICIES}\n${when(`${'('.repeat(60)}true${')'.repeat(60)}`)}` },
    });
    assert.equal(valid.status, 200, JSON.stringify(valid.body));
    assert.equal(valid.body.valid, true);
    // Uncached decisions: Cedar itself is still sound.
    for (const id of ['db-1', 'db-2']) {
      const res = await evaluation(id);
      assert.equal(res.status, 200);
      assert.equal(res.body.decision, true, JSON.stringify(res.body));
    }
  });

  void it('refuses AuthZEN properties and context nested deeper than the limit', async () => {
    const deep = JSON.parse(`${'{"a":'.repeat(100)}1${'}'.repeat(100)}`) as unknown;
    const cases: [Record<string, unknown>, RegExp][] = [
      [
        { subject: { type: 'identity', id: 'agent-1', properties: { p: deep } } },
        /^body\.subject\.properties\.p\./,
      ],
      [{ action: { name: 'read', properties: { p: deep } } }, /^body\.action\.properties\.p\./],
      [{ context: { p: deep } }, /^body\.context\.p\./],
    ];
    for (const [extra, field] of cases) {
      const res = await evaluation('db-3', extra);
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal(res.body.code, 'BULKHEAD_AUTHZEN_BAD_REQUEST');
      assert.match(res.body.field, field);
    }
    const search = await server.call('POST', '/access/v1/search/resource', {
      body: {
        subject: { type: 'identity', id: 'agent-1' },
        action: { name: 'read' },
        resource: { type: 'database', properties: { p: deep } },
      },
    });
    assert.equal(search.status, 400);
    assert.match(search.body.field, /^body\.resource\.properties\.p\./);
    const shallow = await evaluation('db-3', { context: { p: JSON.parse('{"a":{"b":[1]}}') as unknown } });
    assert.equal(shallow.body.decision, true);
  });

  void it('refuses a bundle of more than 5,000 policies before Cedar parses it', async () => {
    const bundle = (n: number) => ({
      policies: Array.from({ length: n }, () => 'permit (principal, action, resource);').join('\n'),
    });
    for (const path of ['/v1/policies/validate', '/v1/policies']) {
      const res = await server.call('POST', path, { body: bundle(5001) });
      assert.equal(res.status, 400, `${path}: ${JSON.stringify(res.body).slice(0, 300)}`);
      assert.equal(res.body.code, 'BULKHEAD_POLICY_INVALID');
      assert.equal(res.body.field, 'body.policies');
      assert.match(res.body.detail, /5001 policies; the limit is 5000/);
    }
    const atLimit = await server.call('POST', '/v1/policies/validate', { body: bundle(5000) });
    assert.equal(atLimit.status, 200);
    assert.equal(atLimit.body.valid, true);
    assert.equal(mod.runtime().pdp.activeVersion, 1);
  });

  void it("answers a Cedar failure with a short reason, never Cedar's own text", () => {
    const set = mod.runtime().pdp.activeSet;
    assert.ok(set);
    const outcome = evaluateCedar(set, {
      principal: { type: 'AiAgent', id: 'agent-1' },
      action: 'read',
      resource: { type: 'Resource', id: 'db-1' },
      context: {},
      // Cedar refuses an extension function it does not have.
      entities: [
        {
          uid: { type: 'Resource', id: 'db-1' },
          attrs: { environment: { __extn: { fn: 'no_such_function', arg: 'x' } } },
          parents: [],
        },
      ],
    });
    assert.equal(outcome.kind, 'deny');
    assert.deepEqual(outcome.reasons, [
      { id: 'bulkhead.engine_error', message: 'the policy engine could not evaluate this request' },
    ]);
    assert.ok(outcome.kind === 'deny' && outcome.engineFailure !== undefined);
  });
});
