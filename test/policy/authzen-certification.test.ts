/**
 * The AuthZEN 1.0 certification scenario (certification-scenario-1_0.md in the shared test data): its
 * fixture loaded as inventory + Cedar policies, the eight validated decisions, search requirements S1-S6
 * and the structural checks this PDP can be held to.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { FIXTURES } from './interop-fixture.js';

const record1 = { type: 'record', id: 'record-1' };
const record2 = { type: 'record', id: 'record-2', properties: { status: 'archived' } };
const alice = { type: 'user', id: 'alice' };
const bob = { type: 'user', id: 'bob' };
const bobAdmin = { ...bob, properties: { role: 'admin' } };

void describe('AuthZEN 1.0 certification scenario', () => {
  let server: TestServer;
  const evaluate = (body: unknown) => server.call('POST', '/access/v1/evaluation', { body });
  before(async () => {
    server = await startTestServer();
    const post = async (path: string, body: unknown) => {
      const res = await server.call('POST', path, { body });
      assert.ok(res.status < 300, `${path}: ${JSON.stringify(res.body)}`);
    };
    await post('/v1/identities', {
      id: 'alice',
      kind: 'human',
      displayName: 'Alice',
      environment: 'cert',
      groups: ['editor'],
    });
    await post('/v1/identities', {
      id: 'bob',
      kind: 'human',
      displayName: 'Bob',
      environment: 'cert',
      labels: { role: 'admin' },
    });
    for (const [id, status] of [
      ['record-1', 'active'],
      ['record-2', 'archived'],
    ]) {
      await post('/v1/resources', {
        id,
        type: 'record',
        displayName: id!,
        sensitivity: 'internal',
        environment: 'cert',
        labels: { status: status! },
      });
    }
    await post('/v1/policies', {
      policies: readFileSync(join(FIXTURES, 'certification-policies.cedar'), 'utf8'),
    });
  });
  after(async () => {
    await server.stop();
  });

  void it('the eight fixture decisions (C.1.4 rules 1-8)', async () => {
    const cases: [unknown, boolean][] = [
      [{ subject: alice, action: { name: 'read' }, resource: record1 }, true],
      [{ subject: alice, action: { name: 'write' }, resource: record1 }, true],
      [{ subject: bob, action: { name: 'read' }, resource: record1 }, true],
      [{ subject: bob, action: { name: 'write' }, resource: record1 }, false],
      [{ subject: alice, action: { name: 'write' }, resource: record2 }, false],
      [{ subject: bobAdmin, action: { name: 'write' }, resource: record2 }, true],
      [{ subject: alice, action: { name: 'delete', properties: { soft: true } }, resource: record1 }, true],
      [{ subject: alice, action: { name: 'delete', properties: { soft: false } }, resource: record1 }, false],
    ];
    let matched = 0;
    for (const [body, expected] of cases) {
      const res = await evaluate(body);
      assert.equal(res.status, 200);
      if (res.body.decision === expected) matched++;
      else assert.fail(`${JSON.stringify(body)} → ${JSON.stringify(res.body)}`);
    }
    console.log(`[authzen] certification fixture: ${matched}/${cases.length} decisions match`);
  });

  void it('accepts additional properties and ignores unknown fields; context optional', async () => {
    const extra = await evaluate({
      subject: { ...alice, properties: { department: 'Sales', role: 'manager' } },
      action: { name: 'read', properties: { method: 'GET' } },
      resource: { ...record1, properties: { status: 'active', owner: 'bob' } },
    });
    assert.equal(extra.body.decision, true);
    const unknown = await evaluate({
      subject: alice,
      action: { name: 'read' },
      resource: record1,
      foo: 'bar',
      futureField: { nested: true },
    });
    assert.equal(unknown.status, 200);
    assert.equal(unknown.body.decision, true);
    const ctx = await evaluate({
      subject: alice,
      action: { name: 'read' },
      resource: record1,
      context: { time: 'now' },
    });
    assert.equal(ctx.body.decision, true);
    const again = await evaluate({ subject: alice, action: { name: 'read' }, resource: record1 });
    assert.equal(again.body.decision, true, 'idempotent');
  });

  void it('batches: fixture decisions, properties, inheritance, per-item errors', async () => {
    const res = await server.call('POST', '/access/v1/evaluations', {
      body: {
        subject: alice,
        context: { time: 'now' },
        evaluations: [
          { action: { name: 'read' }, resource: record1 },
          { action: { name: 'write' }, resource: record2 },
          { subject: bobAdmin, action: { name: 'write' }, resource: record2 },
          { action: { name: 'delete', properties: { soft: true } }, resource: record1 },
          { action: { name: 'read' } },
        ],
      },
    });
    assert.equal(res.status, 200);
    assert.deepEqual(
      res.body.evaluations.map((e: { decision: boolean }) => e.decision),
      [true, false, true, true, false],
    );
    const emptyArray = await server.call('POST', '/access/v1/evaluations', {
      body: { subject: alice, action: { name: 'read' }, resource: record1, evaluations: [] },
    });
    assert.equal(emptyArray.body.decision, true);
  });

  void it('search requirements S1-S6', async () => {
    const ids = (res: { body: { results: Record<string, string>[] } }) =>
      res.body.results.map((r) => r.id ?? r.name);
    const s1 = await server.call('POST', '/access/v1/search/subject', {
      body: { subject: { type: 'user' }, action: { name: 'read' }, resource: record1 },
    });
    assert.deepEqual(ids(s1).sort(), ['alice', 'bob']);
    const s2 = await server.call('POST', '/access/v1/search/resource', {
      body: { subject: alice, action: { name: 'read' }, resource: { type: 'record' } },
    });
    assert.ok(ids(s2).includes('record-1'));
    const s3 = await server.call('POST', '/access/v1/search/action', {
      body: { subject: alice, resource: record1 },
    });
    assert.ok(ids(s3).includes('read') && ids(s3).includes('write'));
    const s4 = await server.call('POST', '/access/v1/search/subject', {
      body: { subject: { type: 'user' }, action: { name: 'write' }, resource: record2 },
    });
    assert.ok(ids(s4).includes('bob'));
    const s5 = await server.call('POST', '/access/v1/search/resource', {
      body: { subject: bobAdmin, action: { name: 'write' }, resource: { type: 'record' } },
    });
    assert.ok(ids(s5).includes('record-2'));
    const s6 = await server.call('POST', '/access/v1/search/action', {
      body: { subject: bobAdmin, resource: record2 },
    });
    assert.ok(ids(s6).includes('write'));
    const unknownId = await server.call('POST', '/access/v1/search/resource', {
      body: {
        subject: { type: 'user', id: 'nobody' },
        action: { name: 'read' },
        resource: { type: 'record' },
      },
    });
    assert.deepEqual(unknownId.body.results, []);
  });
});
