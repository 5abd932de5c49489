/**
 * Names a caller or policy author chooses (`constructor`, `toString`, `__proto__`) are looked up as names,
 * never as properties every object inherits.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readBundle } from '../../src/policy/cli.js';
import { startTestServer, tempDir, type TestServer } from '../helpers/server.js';

const PROTO_NAMES = ['constructor', 'toString', 'hasOwnProperty', '__proto__'];

void describe('names that are also Object.prototype members', () => {
  let server: TestServer;
  const evaluation = (action: string, subjectType = 'identity') =>
    server.call('POST', '/access/v1/evaluation', {
      body: {
        subject: { type: subjectType, id: 'agent-1' },
        action: { name: action },
        resource: { type: 'database', id: 'db-1' },
      },
    });

  before(async () => {
    server = await startTestServer();
    const post = async (path: string, body: unknown) => {
      const res = await server.call('POST', path, { body });
      assert.equal(res.status, 201, `${path}: ${JSON.stringify(res.body)}`);
    };
    await post('/v1/identities', { id: 'agent-1', kind: 'ai_agent', displayName: 'A', environment: 'dev' });
    await post('/v1/resources', {
      id: 'db-1',
      type: 'database',
      displayName: 'db-1',
      sensitivity: 'internal',
      environment: 'dev',
    });
  });
  after(async () => {
    await server.stop();
  });

  void it('policy ids and action names: a __proto__ forbid still forbids', async () => {
    const res = await server.call('POST', '/v1/policies', {
      body: {
        actions: ['constructor', 'toString'],
        requiredContext: { read: ['task_id'] },
        policies: `@id("constructor") permit (principal, action in [Action::"constructor", Action::"toString"], resource);
@id("toString") permit (principal, action == Action::"write", resource);
@id("__proto__") forbid (principal, action in [Action::"toString", Action::"write"], resource);`,
      },
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.deepEqual(res.body.policyIds, ['constructor', 'toString', '__proto__']);
    const allowed = await evaluation('constructor');
    assert.equal(allowed.body.decision, true, JSON.stringify(allowed.body));
    assert.deepEqual(allowed.body.context.reasons, [{ id: 'constructor' }]);
    for (const action of ['toString', 'write']) {
      const denied = await evaluation(action);
      assert.equal(denied.body.decision, false, JSON.stringify(denied.body));
      assert.deepEqual(denied.body.context.reasons, [{ id: '__proto__' }]);
    }
    const undeclared = await evaluation('hasOwnProperty');
    assert.equal(undeclared.body.context.reasons[0].id, 'bulkhead.unknown_action');
  });

  void it('an unknown subject type is a 400 on evaluation and finds nobody on search', async () => {
    for (const type of PROTO_NAMES) {
      const res = await evaluation('constructor', type);
      assert.equal(res.status, 400, `${type}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.code, 'BULKHEAD_AUTHZEN_BAD_REQUEST');
      assert.equal(res.body.field, 'body.subject.type');
      const search = await server.call('POST', '/access/v1/search/subject', {
        body: {
          subject: { type },
          action: { name: 'constructor' },
          resource: { type: 'database', id: 'db-1' },
        },
      });
      assert.equal(search.status, 200, `${type}: ${JSON.stringify(search.body)}`);
      assert.deepEqual(search.body.results, []);
    }
  });

  void it('requiredContext names only real context attributes', async () => {
    for (const attr of PROTO_NAMES) {
      const res = await server.call('POST', '/v1/policies/validate', {
        body: { policies: 'permit (principal, action, resource);', requiredContext: { read: [attr] } },
      });
      assert.equal(res.status, 200);
      assert.equal(res.body.valid, false, attr);
      assert.match(res.body.errors[0].message, /unknown context attribute/);
    }
  });

  void it('the CLI reads --require for an action named constructor', () => {
    const file = join(tempDir(), 'p.cedar');
    writeFileSync(file, 'permit (principal, action, resource);');
    const bundle = readBundle(file, { require: ['constructor=task_id', 'constructor=ticket'] });
    assert.deepEqual(bundle.requiredContext, { constructor: ['task_id', 'ticket'] });
  });
});
