/**
 * Strings that are not well-formed UTF-16 never reach Cedar. A file of its own: without the check, each one
 * leaks some of cedar-wasm's stack, and a few thousand corrupt the process's shared instance.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { coreModule } from '../../src/modules/index.js';
import { createPolicyModule } from '../../src/policy/index.js';
import { compileBundle } from '../../src/policy/policy-bundle.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const POLICIES = `@id("dev-reads")
permit (principal, action == Action::"read", resource) when { resource.environment == "dev" };`;

void describe('unpaired UTF-16 surrogates', () => {
  let server: TestServer;
  const mod = createPolicyModule({ pollMs: 0 });
  const pdp = () => mod.runtime().pdp;
  const good = {
    subject: { type: 'identity', id: 'agent-1' },
    action: { name: 'read' },
    resource: { type: 'database', id: 'db-1' },
  };

  before(async () => {
    server = await startTestServer({ modules: [coreModule, mod] });
    const post = async (path: string, body: unknown) => {
      const res = await server.call('POST', path, { body });
      assert.equal(res.status, 201, `${path}: ${JSON.stringify(res.body)}`);
    };
    await post('/v1/identities', { id: 'agent-1', kind: 'ai_agent', displayName: 'A', environment: 'dev' });
    for (const id of ['db-1', 'db-2']) {
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

  void it('in-process decisions deny them with a reason, and Cedar keeps working', async () => {
    const requests = [
      { resource: { id: '\ud800' } },
      { resource: { id: 'db-1', type: 'x\udc00' } },
      { resource: { id: 'db-1', properties: { owner: 'a\ud800b' } } },
      { resource: { id: 'db-1' }, principal: { id: 'agent-1', properties: { '\udfff': 'x' } } },
      { resource: { id: 'db-1' }, actionProperties: { p: ['\ud800'] } },
      { resource: { id: 'db-1' }, context: { justification: '\ud800' } },
    ];
    for (const r of requests) {
      const d = await pdp().decide({ principal: { id: 'agent-1' }, action: 'read', ...r });
      assert.equal(d.decision, false);
      assert.equal(d.reasons[0]?.id, 'bulkhead.malformed_request', JSON.stringify(d.reasons));
      assert.match(d.reasons[0]?.message ?? '', /unpaired UTF-16 surrogate/);
    }
    // Distinct ids, so none is answered from the decision cache.
    for (let i = 0; i < 3000; i++) {
      const d = await pdp().decide({
        principal: { id: 'agent-1' },
        action: 'read',
        resource: { id: `r${i}\ud800` },
      });
      assert.equal(d.reasons[0]?.id, 'bulkhead.malformed_request');
    }
    const ok = await pdp().decide({ principal: { id: 'agent-1' }, action: 'read', resource: { id: 'db-2' } });
    assert.equal(ok.decision, true, JSON.stringify(ok.reasons));
  });

  void it('the AuthZEN API answers them with a 400 naming the field', async () => {
    const cases: [string, Record<string, unknown>, string][] = [
      ['evaluation', { ...good, resource: { type: 'database', id: '\ud800' } }, 'body.resource.id'],
      [
        'evaluation',
        { ...good, subject: { ...good.subject, properties: { p: ['\udc00'] } } },
        'body.subject.properties.p[0]',
      ],
      ['evaluation', { ...good, context: { '\ud800': 1 } }, 'body.context'],
      [
        'evaluations',
        { ...good, evaluations: [{}, { action: { name: 'r\ud800' } }] },
        'body.evaluations[1].action.name',
      ],
      [
        'search/subject',
        { ...good, subject: { type: 'identity' }, resource: { type: 'database', id: '\ud800' } },
        'body.resource.id',
      ],
      ['search/resource', { ...good, resource: { type: 'd\ud800' } }, 'body.resource.type'],
      [
        'search/action',
        { subject: good.subject, resource: { type: 'database', id: '\udbff' } },
        'body.resource.id',
      ],
    ];
    for (const [endpoint, body, field] of cases) {
      const res = await server.call('POST', `/access/v1/${endpoint}`, { body });
      assert.equal(res.status, 400, `${endpoint} ${field}: ${JSON.stringify(res.body)}`);
      // Refused by the HTTP layer's JSON parser (src/well-formed.ts) before AuthZEN parsing; the PDP's own
      // check covers in-process callers (above).
      assert.equal(res.body.code, 'BULKHEAD_VALIDATION_FAILED');
      assert.equal(res.body.field, field);
    }
    const paired = await server.call('POST', '/access/v1/evaluation', {
      body: { ...good, context: { justification: 'ok 😀' } },
    });
    assert.equal(paired.status, 200);
    assert.equal(paired.body.decision, true);
  });

  void it('policy text with one is a 400 on validate and push, pointing at it', async () => {
    const policies = `${POLICIES}\n@id("x") permit (principal, action, resource) when { "\ud800" == "a" };`;
    for (const path of ['/v1/policies/validate', '/v1/policies']) {
      const res = await server.call('POST', path, { body: { policies } });
      assert.equal(res.status, 400, `${path}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.code, 'BULKHEAD_VALIDATION_FAILED');
      assert.equal(res.body.field, 'body.policies');
    }
    assert.equal(pdp().activeVersion, 1);
    // In process (no HTTP layer in front), the bundle compiler refuses it itself and points at it.
    const compiled = compileBundle({ policies, actions: [], requiredContext: {} });
    assert.ok(!compiled.ok);
    assert.deepEqual([compiled.errors[0]?.line, compiled.errors[0]?.column], [3, 55]);
  });
});
