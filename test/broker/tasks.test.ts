/**
 * Task lifecycle: the PDP decides (deny, or approval → pending_approval → active), the sweeper expires tasks
 * on an injected clock and revokes their tokens, operators revoke, quarantining an identity kills its tokens
 * (delegated ones included), and the CLI drives it all.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { cli } from '../helpers/cli.js';
import { TaskService, type DecisionPoint } from '../../src/broker/tasks/task-service.js';
import { keyPair, PAYMENTS_API, startHarness, SUPPORT_BOT, type Harness } from './harness.js';

void describe('broker: task lifecycle', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h.stop();
  });

  const base = { purpose: 'lifecycle', actions: ['read'], resources: ['payments-db'], ttl: 600, max_uses: 5 };

  async function validate(token: string) {
    return h.validate({ token, action: 'read', resource: 'payments-db', audience: 'payments' });
  }
  async function mintBearer(taskId: string, proof?: string) {
    const r = await h.mint(proof ?? (await h.svid(PAYMENTS_API)), taskId);
    return r;
  }

  void it('the PDP refuses a task outside policy, naming the pair and the reasons', async () => {
    const r = await h.createTask(await h.svid(SUPPORT_BOT), { ...base, actions: ['write'] });
    assert.equal(r.status, 403);
    assert.equal(r.body.code, 'BULKHEAD_TASK_DENIED');
    assert.equal(r.body.action, 'write');
    assert.equal(r.body.principal, 'agent-support-bot');
    const obo = await h.createTask(await h.svid(SUPPORT_BOT), { ...base, on_behalf_of: 'alice' });
    assert.equal(obo.body.code, 'BULKHEAD_TASK_DENIED');
    assert.equal(obo.body.principal, 'alice');
    const ttl = await h.createTask(await h.svid(PAYMENTS_API), { ...base, ttl: 10_000_000 });
    assert.equal(ttl.body.field, 'body.ttl');
    const bad = await h.createTask(await h.svid(PAYMENTS_API), { ...base, max_uses: 0 });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.field, 'body.max_uses');
  });

  void it('approval_required → pending_approval; once the owner approves, the task goes live', async () => {
    const r = await h.createTask(await h.svid(PAYMENTS_API), { ...base, resources: ['customer-db'] });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.status, 'pending_approval');
    const approvalId: string = r.body.pending_approvals[0].approval_id;
    const early = await mintBearer(r.body.id as string);
    assert.equal(early.body.code, 'BULKHEAD_TASK_PENDING_APPROVAL');
    // Approvals are given with an API key bound to the approving person (never a name in the body).
    const heidi = (
      await h.server.ctx.apiKeys.create({ name: 'heidi', scopes: ['write'], identityId: 'heidi' }, 'test')
    ).token;
    const ok = await h.server.call('POST', `/v1/approvals/${approvalId}/approve`, {
      token: heidi,
    });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    const minted = await mintBearer(r.body.id as string);
    assert.equal(minted.status, 200, JSON.stringify(minted.body));
    const task = await h.server.call('GET', `/v1/tasks/${r.body.id}`);
    assert.equal(task.body.status, 'active');
    assert.deepEqual(task.body.pending_approvals, []);
    // A denied approval denies the task.
    const d = await h.createTask(await h.svid(PAYMENTS_API), {
      ...base,
      resources: ['customer-db'],
      purpose: 'd',
    });
    const denyId: string = d.body.pending_approvals[0].approval_id;
    assert.notEqual(denyId, approvalId);
    const denied = await h.server.call('POST', `/v1/approvals/${denyId}/deny`, { token: heidi });
    assert.equal(denied.status, 200, JSON.stringify(denied.body));
    const after = await h.server.call('POST', `/v1/tasks/${d.body.id}/activate`);
    assert.equal(after.body.status, 'denied');
  });

  void it('the sweeper expires a task at its ttl (injected clock) and revokes its tokens', async () => {
    const r = await h.createTask(await h.svid(PAYMENTS_API), { ...base, ttl: 60 });
    const token: string = (await mintBearer(r.body.id as string)).body.access_token;
    assert.equal((await validate(token)).status, 200);
    h.clock.advance(59);
    assert.equal((await h.broker.runtime().sweep()).expired, 0);
    h.clock.advance(1);
    assert.equal((await h.broker.runtime().sweep()).expired, 1);
    const t = await h.server.call('GET', `/v1/tasks/${r.body.id}`);
    assert.equal(t.body.status, 'expired');
    const rows = await h.broker
      .runtime()
      .deps.db.selectFrom('broker_revocations')
      .selectAll()
      .where('target', '=', r.body.id as string)
      .execute();
    assert.equal(rows.length, 1);
    assert.equal(rows[0]?.kind, 'task');
    assert.ok(
      h.events.some(
        (e) => e.type === 'token.revoked' && e.data?.taskId === r.body.id && e.data?.status === 'expired',
      ),
    );
    const v = await validate(token);
    assert.equal(v.status, 401);
    assert.ok(['BULKHEAD_TOKEN_EXPIRED', 'BULKHEAD_TOKEN_TASK_ENDED'].includes(v.body.code as string));
  });

  void it('an operator revokes a task; revoking twice is a conflict', async () => {
    const r = await h.createTask(await h.svid(PAYMENTS_API), base);
    const token: string = (await mintBearer(r.body.id as string)).body.access_token;
    const rev = await h.server.call('POST', `/v1/tasks/${r.body.id}/revoke`, {
      body: { reason: 'suspicious' },
    });
    assert.equal(rev.body.status, 'revoked');
    assert.equal((await validate(token)).body.code, 'BULKHEAD_TOKEN_TASK_ENDED');
    const again = await h.server.call('POST', `/v1/tasks/${r.body.id}/revoke`, { body: {} });
    assert.equal(again.status, 409);
    assert.equal(again.body.code, 'BULKHEAD_TASK_NOT_ACTIVE');
    const audit = await h.server.call('GET', '/v1/audit?limit=200');
    const actions = (audit.body.items as { action: string }[]).map((e) => e.action);
    assert.ok(actions.includes('broker.task.revoked'), actions.join(','));
  });

  void it('a pending task revoked while its approvals are being checked stays revoked', async () => {
    const b = h.broker.runtime();
    // The PDP asks for an approval at creation and grants the pair once shown the approval.
    const pdp: DecisionPoint = {
      decide: (req) =>
        Promise.resolve({
          decision: req.context?.approval_id !== undefined,
          reasons: [],
          obligations:
            req.context?.approval_id !== undefined
              ? []
              : [{ type: 'approval_required', policy: 'race', approval_id: 'apr-race' }],
          policyVersion: 1,
          cached: false,
        }),
    };
    // The approval lookup is held open until the operator's revoke has committed.
    let lookupStarted!: () => void;
    const lookingUp = new Promise<void>((resolve) => (lookupStarted = resolve));
    let answer!: (a: { status: string }) => void;
    const verdict = new Promise<{ status: string }>((resolve) => (answer = resolve));
    const tasks = new TaskService({
      db: b.deps.db,
      audit: b.deps.audit,
      events: b.deps.events,
      now: b.deps.now,
      pdp: () => pdp,
      approvals: () => ({
        get: () => {
          lookupStarted();
          return verdict;
        },
      }),
      revocations: b.revocations,
      limits: { maxTtlSeconds: 86_400, defaultTtlSeconds: 900, defaultAudience: 'payments' },
    });
    const task = await tasks.create({
      identityId: 'payments-api',
      subject: PAYMENTS_API,
      purpose: 'race',
      actions: ['read'],
      resources: ['payments-db'],
      maxUses: 5,
      createdBy: 'test',
    });
    assert.equal(task.status, 'pending_approval');
    const refreshing = tasks.refreshApprovals(task.id);
    await lookingUp;
    assert.equal(
      (await tasks.end(task.id, 'revoked', 'test', undefined, 'operator revoke')).status,
      'revoked',
    );
    answer({ status: 'approved' });
    assert.equal((await refreshing).status, 'revoked');
    assert.equal((await tasks.get(task.id)).status, 'revoked');
    assert.equal((await mintBearer(task.id)).body.code, 'BULKHEAD_TASK_NOT_ACTIVE');
    const trail = await b.deps.audit.list(h.server.ctx.db, { limit: 100, targetId: task.id });
    const moves = trail.map((e) => e.action);
    assert.deepEqual(moves, ['broker.task.create', 'broker.task.revoked', 'broker.revoke.task']);
  });

  void it('quarantining an identity revokes the tokens it holds before it returns; fresh tokens work once reinstated', async () => {
    const r = await h.createTask(await h.svid(PAYMENTS_API), base);
    const token: string = (await mintBearer(r.body.id as string)).body.access_token;
    assert.equal((await validate(token)).status, 200);
    const stored = async () =>
      (
        await h.broker
          .runtime()
          .deps.db.selectFrom('broker_revocations')
          .select('id')
          .where('kind', '=', 'identity')
          .where('target', '=', 'payments-api')
          .execute()
      ).length;
    const before = await stored();
    await h.server.ctx.inventory.setIdentityStatus('payments-api', 'quarantined', { actor: 'test' });
    // No waiting: the revocation is stored and in force by the time the quarantine call returns.
    assert.equal(h.broker.runtime().revocations.match('x', 'x', ['payments-api'], 0), 'identity');
    assert.equal(await stored(), before + 1);
    assert.equal((await validate(token)).body.code, 'BULKHEAD_TOKEN_REVOKED');
    const blocked = await mintBearer(r.body.id as string);
    assert.equal(blocked.body.code, 'BULKHEAD_PROOF_IDENTITY_INACTIVE');
    await h.server.ctx.inventory.setIdentityStatus('payments-api', 'active', { actor: 'test' });
    h.clock.advance(1);
    const fresh: string = (await mintBearer(r.body.id as string)).body.access_token;
    assert.equal((await validate(fresh)).status, 200);
  });

  /** A task of payments-api, its token, and a child of that token exchanged by agent-support-bot. */
  async function delegated(): Promise<{ subject: string; child: string }> {
    const r = await h.createTask(await h.svid(PAYMENTS_API), { ...base, max_uses: 100 });
    const subject: string = (await mintBearer(r.body.id as string)).body.access_token;
    const child = await h.form('/oauth2/token', {
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      subject_token: subject,
      actor_token_type: 'urn:ietf:params:oauth:token-type:jwt',
      actor_token: await h.svid(SUPPORT_BOT),
    });
    assert.equal(child.status, 200, JSON.stringify(child.body));
    return { subject, child: child.body.access_token as string };
  }

  void it('quarantining an actor that holds only delegated tokens revokes them; it works again once reinstated', async () => {
    const { subject, child } = await delegated();
    assert.equal((await validate(child)).status, 200);
    await h.server.ctx.inventory.setIdentityStatus('agent-support-bot', 'quarantined', { actor: 'test' });
    const refused = await validate(child);
    assert.equal(refused.body.code, 'BULKHEAD_TOKEN_REVOKED');
    assert.equal(refused.body.revoked_by, 'identity');
    assert.equal((await validate(subject)).status, 200);
    await h.server.ctx.inventory.setIdentityStatus('agent-support-bot', 'active', { actor: 'test' });
    h.clock.advance(1);
    assert.equal((await validate((await delegated()).child)).status, 200);
  });

  void it('quarantining a task owner revokes the tokens exchanged from its tokens, and they cannot be exchanged again', async () => {
    const { subject, child } = await delegated();
    await h.server.ctx.inventory.setIdentityStatus('payments-api', 'quarantined', { actor: 'test' });
    assert.equal((await validate(subject)).body.code, 'BULKHEAD_TOKEN_REVOKED');
    const refused = await validate(child);
    assert.equal(refused.body.code, 'BULKHEAD_TOKEN_REVOKED');
    assert.equal(refused.body.revoked_by, 'identity');
    const again = await h.form('/oauth2/token', {
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      subject_token: child,
      actor_token_type: 'urn:ietf:params:oauth:token-type:jwt',
      actor_token: await h.svid(SUPPORT_BOT),
    });
    assert.equal(again.body.code, 'BULKHEAD_TOKEN_REVOKED');
    await h.server.ctx.inventory.setIdentityStatus('payments-api', 'active', { actor: 'test' });
    h.clock.advance(1);
  });

  void it('revocation by credential reaches the inventory and is durable', async () => {
    const creds = await h.server.ctx.inventory.listCredentials({ identity_id: 'payments-api', limit: 1 });
    const cred = creds.items[0];
    assert.ok(cred);
    const r = await h.server.call('POST', '/v1/broker/revocations', {
      body: { kind: 'credential', target: cred.id },
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal((await h.server.ctx.inventory.getCredential(cred.id)).status, 'revoked');
    const missing = await h.server.call('POST', '/v1/broker/revocations', {
      body: { kind: 'credential', target: 'nope' },
    });
    assert.equal(missing.status, 404);
  });

  void it('revocation entries are forgotten once every token they cover has expired (bounded set)', async () => {
    const b = h.broker.runtime();
    const r = await h.server.call('POST', '/v1/broker/revocations', {
      body: { kind: 'token', target: 'jti-bounded' },
    });
    assert.equal(r.status, 201);
    assert.ok(b.revocations.has('token', 'jti-bounded'));
    h.clock.advance(300 + 59);
    await b.sweep();
    assert.ok(b.revocations.has('token', 'jti-bounded'));
    h.clock.advance(2);
    await b.sweep();
    assert.ok(!b.revocations.has('token', 'jti-bounded'));
  });

  void it('CLI: task create/list/show/complete, token introspect/revoke, broker keys rotate (--json)', async () => {
    const run = (...argv: string[]) => cli(h.server, argv);
    const created = await run(
      'task',
      'create',
      '--identity',
      'payments-api',
      '--purpose',
      'cli',
      '--action',
      'read',
      '--resource',
      'payments-db',
      '--max-uses',
      '3',
      '--ttl',
      '600',
      '--json',
    );
    assert.equal(created.code, 0, created.err);
    const task = JSON.parse(created.out) as { id: string; status: string };
    assert.equal(task.status, 'active');
    const list = await run('task', 'list', '--identity', 'payments-api', '--json');
    assert.ok((JSON.parse(list.out) as { id: string }[]).some((t) => t.id === task.id));
    const show = await run('task', 'show', task.id);
    assert.match(show.out, /uses:\s+0\/3/);
    const key = await keyPair();
    const token: string = (await h.mint(await h.svid(PAYMENTS_API), task.id, key)).body.access_token;
    const intro = await run('token', 'introspect', token, '--json');
    assert.equal(intro.code, 0, intro.err);
    assert.equal(JSON.parse(intro.out).active, true);
    assert.equal((await run('token', 'revoke', token)).code, 0);
    const gone = await run('token', 'introspect', token, '--json');
    assert.equal(gone.code, 2);
    assert.equal(JSON.parse(gone.out).active, false);
    const done = await run('task', 'complete', task.id, '--json');
    assert.equal(JSON.parse(done.out).status, 'completed');
    const missing = await run('task', 'show', 'task-nope');
    assert.notEqual(missing.code, 0);
    assert.match(missing.err, /BULKHEAD_TASK_NOT_FOUND/);
    const rotated = await run('broker', 'keys', 'rotate', '--json');
    assert.equal(rotated.code, 0, rotated.err);
    const keys = await run('broker', 'keys', 'list', '--json');
    assert.equal(
      (JSON.parse(keys.out) as { status: string }[]).filter((k) => k.status === 'active').length,
      1,
    );
  });
});
