import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cli } from '../helpers/cli.js';
import { startTestServer, tempDir, type TestServer } from '../helpers/server.js';
import { FIXTURES } from './interop-fixture.js';

void describe('bulkhead policy / approvals CLI', () => {
  let server: TestServer;
  const dir = tempDir('bulkhead-policy-cli-');
  let token = '';
  const run = (...argv: string[]) => cli(server, argv, token || server.token);
  /** Runs as the person an API key is bound to (approvals take the approver from the key). */
  const runAs = async (person: string, ...argv: string[]) => {
    token = (await server.ctx.apiKeys.create({ name: person, scopes: ['write'], identityId: person }, 'test'))
      .token;
    try {
      return await run(...argv);
    } finally {
      token = '';
    }
  };
  const file = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };

  before(async () => {
    server = await startTestServer();
    for (const body of [
      { id: 'ann', kind: 'human', displayName: 'Ann', environment: 'prod' },
      { id: 'cy', kind: 'human', displayName: 'Cy', environment: 'prod' },
      { id: 'bot', kind: 'ai_agent', displayName: 'Bot', environment: 'prod' },
    ]) {
      assert.equal((await server.call('POST', '/v1/identities', { body })).status, 201);
    }
    const res = await server.call('POST', '/v1/resources', {
      body: {
        id: 'ledger',
        type: 'database',
        displayName: 'L',
        sensitivity: 'regulated',
        environment: 'prod',
        owners: ['ann'],
      },
    });
    assert.equal(res.status, 201);
  });
  after(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  void it('validate: passes a good file, points at line and column of a bad one (exit 1)', async () => {
    const good = file('good.cedar', '@id("read") permit (principal, action == Action::"read", resource);\n');
    const ok = await run('policy', 'validate', good, '--json');
    assert.equal(ok.code, 0);
    assert.deepEqual(JSON.parse(ok.out).policyIds, ['read']);
    const bad = file(
      'bad.cedar',
      '@id("x")\npermit (principal, action, resource)\n  when { resource.nope };\n',
    );
    const r = await run('policy', 'validate', bad);
    assert.equal(r.code, 1);
    assert.match(r.out, /bad\.cedar:3:\d+: \[x\] .*nope/);
    const unknownAction = await run(
      'policy',
      'validate',
      file('ua.cedar', 'permit (principal, action == Action::"fly", resource);'),
    );
    assert.equal(unknownAction.code, 1);
    assert.equal((await run('policy', 'validate', join(dir, 'ua.cedar'), '--action', 'fly')).code, 0);
  });

  void it('push, list, diff', async () => {
    const v1 = file('v1.cedar', '@id("read") permit (principal, action == Action::"read", resource);\n');
    const p1 = await run('policy', 'push', v1, '--comment', 'first', '--json');
    assert.equal(p1.code, 0, p1.err);
    assert.equal(JSON.parse(p1.out).version, 1);
    const v2 = file(
      'v2.json',
      JSON.stringify({
        policies:
          '@id("read") permit (principal is Human, action == Action::"read", resource);\n' +
          '@id("ledger-approval") @obligation("approval_required") forbid (principal, action, resource) ' +
          'when { resource.sensitivity == "regulated" } unless { context.approved };\n' +
          '@id("audit") permit (principal, action == Action::"audit", resource);',
        actions: ['audit'],
      }),
    );
    assert.equal((await run('policy', 'push', v2)).code, 0);
    const bad = await run('policy', 'push', file('bad2.cedar', 'permit (principal,'));
    assert.equal(bad.code, 1);
    assert.match(bad.err, /BULKHEAD_POLICY_INVALID/);
    const list = await run('policy', 'list', '--json');
    const items = JSON.parse(list.out).items as { version: number; active: boolean }[];
    assert.deepEqual(
      items.map((i) => [i.version, i.active]),
      [
        [2, true],
        [1, false],
      ],
    );
    const human = await run('policy', 'list');
    assert.match(human.out, /VERSION/);
    const diff = await run('policy', 'diff', '1', '--json');
    assert.deepEqual(JSON.parse(diff.out), {
      added: ['ledger-approval', 'audit'],
      removed: [],
      changed: ['read'],
      actionsAdded: ['audit'],
      actionsRemoved: [],
    });
    const text = await run('policy', 'diff', '1', '2');
    assert.match(text.out, /^\+ ledger-approval$/m);
    assert.match(text.out, /^~ read$/m);
  });

  void it('test: replays AuthZEN cases and fails on a mismatch', async () => {
    const cases = file(
      'cases.json',
      JSON.stringify({
        evaluation: [
          {
            request: {
              subject: { type: 'user', id: 'ann' },
              action: { name: 'read' },
              resource: { type: 'doc', id: 'd' },
            },
            expected: true,
          },
          {
            request: {
              subject: { type: 'identity', id: 'bot' },
              action: { name: 'read' },
              resource: { type: 'doc', id: 'd' },
            },
            expected: false,
          },
        ],
      }),
    );
    const ok = await run('policy', 'test', cases, '--json');
    assert.equal(ok.code, 0, ok.out + ok.err);
    assert.deepEqual(JSON.parse(ok.out), { total: 2, passed: 2, failures: [] });
    const wrong = file(
      'wrong.json',
      JSON.stringify([
        {
          request: {
            subject: { type: 'user', id: 'ann' },
            action: { name: 'audit' },
            resource: { type: 'doc', id: 'd' },
          },
          expected: false,
        },
      ]),
    );
    const r = await run('policy', 'test', wrong);
    assert.equal(r.code, 1);
    assert.match(r.out, /0\/1 decisions match/);
    // the interop fixture format is accepted as is
    const interop = await run('policy', 'test', join(FIXTURES, 'api-gateway-decisions.json'), '--json');
    assert.equal(JSON.parse(interop.out).total, 25);
  });

  void it('approvals list / approve / deny', async () => {
    const d = await server.call('POST', '/access/v1/evaluation', {
      body: {
        subject: { type: 'user', id: 'cy' },
        action: { name: 'read' },
        resource: { type: 'database', id: 'ledger' },
      },
    });
    assert.equal(d.body.decision, false);
    const approvalId = d.body.context.obligations[0].approval_id as string;
    const list = await run('approvals', 'list', '--status', 'pending', '--json');
    assert.deepEqual(
      JSON.parse(list.out).items.map((a: { id: string }) => a.id),
      [approvalId],
    );
    const wrong = await runAs('bot', 'approvals', 'approve', approvalId);
    assert.equal(wrong.code, 1);
    assert.match(wrong.err, /BULKHEAD_APPROVER_NOT_HUMAN/);
    const unbound = await run('approvals', 'approve', approvalId, '--as', 'ann');
    assert.equal(unbound.code, 1);
    assert.match(unbound.err, /BULKHEAD_FORBIDDEN.*bound to a person/);
    const ok = await runAs('ann', 'approvals', 'approve', approvalId, '--as', 'ann');
    assert.equal(ok.code, 0);
    assert.match(ok.out, /approved \(one-time grant until/);
    const granted = await server.call('POST', '/access/v1/evaluation', {
      body: {
        subject: { type: 'user', id: 'cy' },
        action: { name: 'read' },
        resource: { type: 'database', id: 'ledger' },
        context: { approval_id: approvalId },
      },
    });
    assert.equal(granted.body.decision, true);
    const again = await runAs('ann', 'approvals', 'deny', approvalId);
    assert.equal(again.code, 1);
    assert.match(again.err, /BULKHEAD_APPROVAL_NOT_PENDING/);
  });
});
