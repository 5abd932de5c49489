import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { coreModule } from '../../src/modules/index.js';
import { identityCreateSchema, resourceCreateSchema } from '../../src/inventory/schemas.js';
import cedar from '../../src/policy/cedar.js';
import { evaluateCedar } from '../../src/policy/engine.js';
import { EntityIndex } from '../../src/policy/entity-index.js';
import { FULL_FOOTPRINT } from '../../src/policy/footprint.js';
import { createPolicyModule } from '../../src/policy/index.js';
import type { ApprovalStore } from '../../src/policy/approvals.js';
import { PolicyDecisionPoint, type PdpOptions } from '../../src/policy/service.js';
import { policyDb } from '../../src/policy/tables.js';
import { personalKeys, startTestServer, type TestServer } from '../helpers/server.js';

const POLICIES = `
@id("dev-anyone-reads")
permit (principal, action == Action::"read", resource) when { resource.environment == "dev" };

@id("engineers-prod")
permit (principal in Group::"engineers", action in [Action::"read", Action::"write"], resource)
when { resource.environment == "prod" };

@id("after-hours-prod-write")
forbid (principal, action == Action::"write", resource)
when { resource.environment == "prod" && (context.hour < 7 || context.hour >= 19) };

@id("prod-write-needs-recent-mfa")
@obligation("step_up")
@max_auth_age_minutes("15")
forbid (principal is Human, action == Action::"write", resource)
when { resource.environment == "prod" }
unless { context has auth_age_minutes && context.auth_age_minutes <= 15 };

@id("regulated-needs-approval")
@obligation("approval_required")
@approval_ttl_minutes("5")
forbid (principal, action, resource)
when { resource.sensitivity == "regulated" }
unless { context.approved };

@id("risky-needs-justification")
@obligation("justification_required")
forbid (principal, action == Action::"read", resource)
when { context has risk_score && context.risk_score > 50 }
unless { context has justification };

@id("overflow-probe")
forbid (principal, action == Action::"invoke", resource)
when { context has risk_score && context.risk_score * 9223372036854775807 > 0 };

@id("invoke")
permit (principal, action == Action::"invoke", resource);
`;

for (const backend of ['sqlite', 'postgres'] as const)
  void describe(`policy decision point (${backend})`, () => {
    let server: TestServer;
    let clock = new Date('2026-11-25T10:00:00Z');
    const mod = createPolicyModule({ pollMs: 0 });
    const pdp = () => mod.runtime().pdp;
    const meta = { actor: 'test' };
    const decide = (
      principal: string,
      action: string,
      resource: string,
      context: Record<string, unknown> = {},
    ) =>
      pdp().decide({
        principal: { id: principal },
        action,
        resource: { id: resource },
        context,
      });

    /** A second PDP on the same store and indexes, with its own options (and no decision log). */
    const standalonePdp = (options: PdpOptions, approvals: ApprovalStore = mod.runtime().approvals) =>
      new PolicyDecisionPoint(
        {
          db: policyDb(server.ctx.db),
          audit: server.ctx.audit,
          log: server.ctx.log,
          events: server.ctx.events,
          now: () => clock,
          index: mod.runtime().index,
          approvals,
          decisionLog: undefined,
        },
        options,
      );

    before(async () => {
      server = await startTestServer({
        modules: [coreModule, mod],
        now: () => clock,
        postgres: backend === 'postgres',
      });
      const inv = server.ctx.inventory;
      for (const i of [
        { id: 'alice', kind: 'human', displayName: 'Alice', environment: 'prod', groups: ['engineers'] },
        { id: 'bob', kind: 'human', displayName: 'Bob', environment: 'prod', groups: [] },
        {
          id: 'deployer',
          kind: 'workload',
          displayName: 'Deployer',
          environment: 'prod',
          groups: ['engineers'],
        },
      ]) {
        await inv.createIdentity(identityCreateSchema.parse(i), meta);
      }
      for (const r of [
        { id: 'dev-db', type: 'database', displayName: 'dev', sensitivity: 'internal', environment: 'dev' },
        {
          id: 'prod-db',
          type: 'database',
          displayName: 'prod',
          sensitivity: 'confidential',
          environment: 'prod',
        },
        {
          id: 'card-vault',
          type: 'database',
          displayName: 'cards',
          sensitivity: 'regulated',
          environment: 'prod',
          owners: ['bob'],
        },
        {
          id: 'card-table',
          type: 'table',
          displayName: 'cards table',
          sensitivity: 'regulated',
          environment: 'prod',
          owners: ['bob'],
          parentId: 'card-vault',
        },
      ]) {
        await inv.createResource(resourceCreateSchema.parse(r), meta);
      }
      const res = await server.call('POST', '/v1/policies', {
        body: { policies: POLICIES, requiredContext: { deploy: ['task_id'] }, comment: 'initial' },
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
    });
    after(async () => {
      await server.stop();
    });

    void it('activates the pushed version', async () => {
      assert.equal(pdp().activeVersion, 1);
    });

    void it('table: prod vs dev, groups, after hours', async () => {
      const cases: [string, string, string, string, boolean][] = [
        ['10:00', 'bob', 'read', 'dev-db', true],
        ['10:00', 'bob', 'read', 'prod-db', false],
        ['10:00', 'alice', 'read', 'prod-db', true],
        ['10:00', 'deployer', 'write', 'prod-db', true],
        ['22:00', 'deployer', 'write', 'prod-db', false],
        ['06:59', 'deployer', 'write', 'prod-db', false],
        ['07:00', 'deployer', 'write', 'prod-db', true],
        ['22:00', 'alice', 'read', 'prod-db', true],
      ];
      for (const [time, who, action, resource, expected] of cases) {
        clock = new Date(`2026-11-25T${time}:00Z`);
        const d = await decide(who, action, resource);
        assert.equal(
          d.decision,
          expected,
          `${time} ${who} ${action} ${resource}: ${JSON.stringify(d.reasons)}`,
        );
      }
      clock = new Date('2026-11-25T22:00:00Z');
      const d = await decide('deployer', 'write', 'prod-db');
      assert.deepEqual(
        d.reasons.map((r) => r.id),
        ['after-hours-prod-write'],
      );
      clock = new Date('2026-11-25T10:00:00Z');
    });

    void it('human writing to prod without recent MFA gets step_up; with it, allowed', async () => {
      const stale = await decide('alice', 'write', 'prod-db', { auth_time: clock.getTime() / 1000 - 3600 });
      assert.equal(stale.decision, false);
      assert.deepEqual(stale.obligations, [
        { type: 'step_up', policy: 'prod-write-needs-recent-mfa', max_auth_age_minutes: 15 },
      ]);
      const none = await decide('alice', 'write', 'prod-db');
      assert.equal(none.obligations[0]?.type, 'step_up');
      const fresh = await decide('alice', 'write', 'prod-db', {
        auth_time: new Date(clock.getTime() - 60_000).toISOString(),
      });
      assert.equal(fresh.decision, true);
      // A future auth_time is not "just authenticated": it is refused, never an allow.
      for (const auth_time of [
        clock.getTime() / 1000 + 365 * 86_400,
        clock.getTime(),
        '2026-11-25T09:59:00',
      ]) {
        await assert.rejects(decide('alice', 'write', 'prod-db', { auth_time }), {
          code: 'BULKHEAD_VALIDATION_FAILED',
          field: 'context.auth_time',
        });
      }
    });

    void it('a deny that no obligation can lift carries no obligations', async () => {
      clock = new Date('2026-11-25T22:00:00Z');
      const d = await decide('alice', 'write', 'prod-db');
      assert.equal(d.decision, false);
      assert.deepEqual(d.obligations, []);
      clock = new Date('2026-11-25T10:00:00Z');
    });

    void it('justification_required until a justification is given', async () => {
      const d = await decide('bob', 'read', 'dev-db', { risk_score: 80 });
      assert.equal(d.decision, false);
      assert.deepEqual(d.obligations, [
        { type: 'justification_required', policy: 'risky-needs-justification' },
      ]);
      assert.equal(
        (await decide('bob', 'read', 'dev-db', { risk_score: 80, justification: 'INC-42' })).decision,
        true,
      );
      for (const justification of ['', '   ', '\t\n\u00a0']) {
        const blank = await decide('bob', 'read', 'dev-db', { risk_score: 80, justification });
        assert.equal(blank.decision, false, JSON.stringify(justification));
        assert.deepEqual(blank.obligations, [
          { type: 'justification_required', policy: 'risky-needs-justification' },
        ]);
      }
    });

    void it('disabled and quarantined principals are always denied; unknown principals too', async () => {
      await server.ctx.inventory.createIdentity(
        identityCreateSchema.parse({
          id: 'carol',
          kind: 'human',
          displayName: 'C',
          environment: 'prod',
          groups: ['engineers'],
        }),
        meta,
      );
      assert.equal((await decide('carol', 'read', 'prod-db')).decision, true);
      await server.ctx.inventory.setIdentityStatus('carol', 'disabled', meta);
      const d = await decide('carol', 'read', 'prod-db');
      assert.equal(d.decision, false, 'cached allow must not survive the disable');
      assert.equal(d.reasons[0]?.id, 'bulkhead.principal_disabled');
      await server.ctx.inventory.setIdentityStatus('carol', 'quarantined', meta);
      assert.equal(
        (await decide('carol', 'read', 'prod-db')).reasons[0]?.id,
        'bulkhead.principal_quarantined',
      );
      assert.equal((await decide('nobody', 'read', 'dev-db')).reasons[0]?.id, 'bulkhead.unknown_principal');
    });

    void it('engine errors, missing required context and unknown actions deny with a reason', async () => {
      const overflow = await decide('bob', 'invoke', 'dev-db', { risk_score: 2 });
      assert.equal(overflow.decision, false);
      assert.equal(overflow.reasons[0]?.id, 'bulkhead.engine_error');
      assert.equal((await decide('bob', 'invoke', 'dev-db')).decision, true);
      const missing = await decide('deployer', 'deploy', 'prod-db');
      assert.equal(missing.reasons[0]?.id, 'bulkhead.missing_attribute');
      assert.equal((await decide('bob', 'frobnicate', 'dev-db')).reasons[0]?.id, 'bulkhead.unknown_action');
    });

    void it('denies everything, cached answers included, while the entity index has a hole it cannot refill', async (t) => {
      const allowed = await decide('bob', 'invoke', 'dev-db');
      assert.equal(allowed.decision, true);
      t.mock.method(
        mod.runtime().index,
        'unavailable',
        () => 'resource dev-db: connection refused; retrying',
      );
      const d = await decide('bob', 'invoke', 'dev-db');
      assert.equal(d.decision, false);
      assert.deepEqual(
        d.reasons.map((r) => r.id),
        ['bulkhead.index_unavailable'],
      );
      t.mock.restoreAll();
      assert.equal((await decide('bob', 'invoke', 'dev-db')).decision, true);
    });

    void it('does not cache a deny caused by a Cedar failure: the next request asks again', async (t) => {
      const pdp = standalonePdp({ cacheSize: 10, cacheTtlMs: 60_000 });
      await pdp.start(0);
      t.after(() => pdp.stop());
      const invoke = { principal: { id: 'bob' }, action: 'invoke', resource: { id: 'dev-db' } };
      const real = cedar.statefulIsAuthorized;
      try {
        cedar.statefulIsAuthorized = () => {
          throw new Error('wasm trap');
        };
        const failed = await pdp.decide(invoke);
        assert.deepEqual(
          failed.reasons.map((r) => r.id),
          ['bulkhead.engine_error'],
        );
      } finally {
        cedar.statefulIsAuthorized = real;
      }
      const again = await pdp.decide(invoke);
      assert.equal(again.decision, true, JSON.stringify(again.reasons));
      assert.equal(again.cached, false);
      assert.equal((await pdp.decide(invoke)).cached, true, 'a real answer is cached');
    });

    void it('reads the time of day in the configured time zone (BULKHEAD_POLICY_TIMEZONE)', async () => {
      const tokyo = standalonePdp({ cacheSize: 10, cacheTtlMs: 1000, timeZone: 'Asia/Tokyo' });
      await tokyo.start(0);
      const write = { principal: { id: 'deployer' }, action: 'write', resource: { id: 'prod-db' } };
      try {
        clock = new Date('2026-11-25T14:00:00Z'); // 14:00 UTC is 23:00 in Tokyo: after hours there only
        assert.equal((await decide('deployer', 'write', 'prod-db')).decision, true);
        const d = await tokyo.decide(write);
        assert.equal(d.decision, false);
        assert.deepEqual(
          d.reasons.map((x) => x.id),
          ['after-hours-prod-write'],
        );
        clock = new Date('2026-11-24T23:00:00Z'); // 08:00 the next morning in Tokyo, 23:00 in UTC
        assert.equal((await tokyo.decide(write)).decision, true);
        assert.equal((await decide('deployer', 'write', 'prod-db')).decision, false);
      } finally {
        tokyo.stop();
        clock = new Date('2026-11-25T10:00:00Z');
      }
      assert.throws(
        () =>
          new PolicyDecisionPoint(tokyo['deps'], { cacheSize: 1, cacheTtlMs: 1, timeZone: 'Mars/Olympus' }),
        /unknown time zone "Mars\/Olympus"/,
      );
    });

    void it('an evaluation over the time budget is a deny (engine_timeout)', async () => {
      const slow = standalonePdp({ cacheSize: 10, cacheTtlMs: 1000, decisionTimeoutMs: -1 });
      await slow.start(0);
      const d = await slow.decide({ principal: { id: 'bob' }, action: 'read', resource: { id: 'dev-db' } });
      slow.stop();
      assert.equal(d.decision, false);
      assert.equal(d.reasons[0]?.id, 'bulkhead.engine_timeout');
    });

    void it('a wrongly typed context attribute is bad input, not a decision', async () => {
      await assert.rejects(decide('bob', 'read', 'dev-db', { risk_score: 'high' }), {
        code: 'BULKHEAD_VALIDATION_FAILED',
      });
    });

    void it('picks up a change written by another replica (no local onChange) on the next poll', async () => {
      await server.ctx.inventory.createIdentity(
        identityCreateSchema.parse({
          id: 'dave',
          kind: 'human',
          displayName: 'D',
          environment: 'prod',
          groups: ['engineers'],
        }),
        meta,
      );
      assert.equal((await decide('dave', 'read', 'prod-db')).decision, true);
      // another replica quarantines dave: the row changes, this process hears nothing
      await server.ctx.db
        .updateTable('identities')
        .set({ status: 'quarantined', updated_at: new Date(Date.now() + 1000).toISOString() })
        .where('id', '=', 'dave')
        .execute();
      assert.equal((await decide('dave', 'read', 'prod-db')).decision, true, 'stale until the poll');
      assert.ok((await mod.runtime().index.pollChanges(server.ctx.db)) >= 1);
      const d = await decide('dave', 'read', 'prod-db');
      assert.equal(d.decision, false);
      assert.equal(d.reasons[0]?.id, 'bulkhead.principal_quarantined');
    });

    void it('caches decisions and clears the cache on inventory change', async () => {
      const a = await decide('alice', 'read', 'dev-db');
      const b = await decide('alice', 'read', 'dev-db');
      assert.equal(a.cached, false);
      assert.equal(b.cached, true);
      await server.ctx.inventory.updateIdentity('alice', { groups: ['engineers', 'x'] }, meta);
      assert.equal((await decide('alice', 'read', 'dev-db')).cached, false);
    });

    const keyOf = personalKeys(() => server);

    void it('regulated data needs an owner approval: one-time grant bound to the exact request', async () => {
      const first = await decide('alice', 'read', 'card-table');
      assert.equal(first.decision, false);
      const ob = first.obligations[0];
      assert.ok(ob && ob.type === 'approval_required' && ob.approval_id);
      assert.deepEqual(ob.approvers, ['bob']);
      const approvalId = ob.approval_id;
      // a non-owner cannot approve
      const notOwner = await server.call('POST', `/v1/approvals/${approvalId}/approve`, {
        token: await keyOf('alice'),
      });
      assert.equal(notOwner.status, 403);
      assert.equal(notOwner.body.code, 'BULKHEAD_APPROVER_NOT_OWNER');
      // an unbound key (automation, the bootstrap admin) cannot approve, and nobody can approve in another's name
      const unbound = await server.call('POST', `/v1/approvals/${approvalId}/approve`, {
        body: { approver: 'bob' },
      });
      assert.equal(unbound.status, 403);
      assert.equal(unbound.body.code, 'BULKHEAD_FORBIDDEN');
      const impersonating = await server.call('POST', `/v1/approvals/${approvalId}/approve`, {
        token: await keyOf('alice'),
        body: { approver: 'bob' },
      });
      assert.equal(impersonating.status, 403);
      assert.equal(impersonating.body.field, 'body.approver');
      // using the id before approval does nothing
      assert.equal(
        (await decide('alice', 'read', 'card-table', { approval_id: approvalId })).decision,
        false,
      );
      const ok = await server.call('POST', `/v1/approvals/${approvalId}/approve`, {
        token: await keyOf('bob'),
      });
      assert.equal(ok.status, 200);
      assert.equal(ok.body.status, 'approved');
      // bound to principal/action/resource
      assert.equal(
        (await decide('alice', 'write', 'card-table', { approval_id: approvalId })).decision,
        false,
      );
      assert.equal(
        (await decide('deployer', 'read', 'card-table', { approval_id: approvalId })).decision,
        false,
      );
      assert.equal(
        (await decide('alice', 'read', 'card-vault', { approval_id: approvalId })).decision,
        false,
      );
      const granted = await decide('alice', 'read', 'card-table', { approval_id: approvalId });
      assert.equal(granted.decision, true, JSON.stringify(granted));
      // one-time
      assert.equal(
        (await decide('alice', 'read', 'card-table', { approval_id: approvalId })).decision,
        false,
      );
      const again = await server.call('POST', `/v1/approvals/${approvalId}/approve`, {
        token: await keyOf('bob'),
      });
      assert.equal(again.status, 409);
    });

    void it('approval grants expire, and denied approvals grant nothing', async () => {
      const req = await decide('deployer', 'read', 'card-vault');
      const ob = req.obligations[0];
      assert.ok(ob && ob.type === 'approval_required' && ob.approval_id);
      await server.call('POST', `/v1/approvals/${ob.approval_id}/approve`, { token: await keyOf('bob') });
      const start = clock;
      clock = new Date(start.getTime() + 5 * 60_000 + 1000);
      assert.equal(
        (await decide('deployer', 'read', 'card-vault', { approval_id: ob.approval_id })).decision,
        false,
      );
      const status = await server.call('GET', `/v1/approvals/${ob.approval_id}`);
      assert.equal(status.body.status, 'expired');
      clock = start;

      const second = await decide('deployer', 'write', 'card-vault');
      const ob2 = second.obligations.find((o) => o.type === 'approval_required');
      assert.ok(ob2 && ob2.type === 'approval_required' && ob2.approval_id);
      const denied = await server.call('POST', `/v1/approvals/${ob2.approval_id}/deny`, {
        token: await keyOf('bob'),
      });
      assert.equal(denied.body.status, 'denied');
      assert.equal(
        (await decide('deployer', 'write', 'card-vault', { approval_id: ob2.approval_id })).decision,
        false,
      );
    });

    void it('rejects an invalid policy with Cedar error and location; the old version stays active', async () => {
      const bad = await server.call('POST', '/v1/policies', {
        body: { policies: 'permit (principal, action, resource)\nwhen { resource.colour == "red" };' },
      });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.code, 'BULKHEAD_POLICY_INVALID');
      assert.equal(bad.body.errors[0].line, 2);
      assert.match(bad.body.errors[0].message, /colour/);
      const syntax = await server.call('POST', '/v1/policies', { body: { policies: 'permit (principal,' } });
      assert.equal(syntax.status, 400);
      assert.equal(syntax.body.errors[0].line, 1);
      assert.equal(pdp().activeVersion, 1);
      const list = await server.call('GET', '/v1/policies');
      assert.equal(list.body.items.length, 1);
    });

    void it('activation is audited and switches atomically between versions', async () => {
      const v2 = await server.call('POST', '/v1/policies', {
        body: { policies: 'permit (principal, action == Action::"read", resource);', activate: false },
      });
      assert.equal(v2.status, 201);
      assert.equal(v2.body.active, false);
      assert.equal(pdp().activeVersion, 1);
      const act = await server.call('POST', `/v1/policies/${v2.body.version}/activate`);
      assert.equal(act.status, 200);
      assert.equal(pdp().activeVersion, v2.body.version);
      assert.equal((await decide('bob', 'read', 'prod-db')).decision, true);
      const audit = await server.call('GET', '/v1/audit?limit=200');
      const actions = (audit.body.items as { action: string }[]).map((e) => e.action);
      assert.ok(actions.includes('policy.activate'));
      assert.ok(actions.includes('policy.push'));
      await server.call('POST', '/v1/policies/1/activate');
      assert.equal((await decide('bob', 'read', 'prod-db')).decision, false);
    });

    void it('never serves one request the cached entry of another whose parts differ only in separators', async () => {
      clock = new Date('2026-11-25T10:00:00Z');
      // Joined with '|', both keys would read "...|a|b||...": resource id "a", type "b|" and resource id "a|b".
      const first = await pdp().decide({
        principal: { id: 'bob' },
        action: 'read',
        resource: { id: 'a', type: 'b|' },
      });
      const again = await pdp().decide({
        principal: { id: 'bob' },
        action: 'read',
        resource: { id: 'a', type: 'b|' },
      });
      assert.equal(first.cached, false);
      assert.equal(again.cached, true, 'the first decision was cached');
      const other = await pdp().decide({ principal: { id: 'bob' }, action: 'read', resource: { id: 'a|b' } });
      assert.equal(other.cached, false, 'a different request is decided, not looked up');
    });

    void it('equal cached decisions share one frozen result; a new policy version empties the cache', async () => {
      clock = new Date('2026-11-25T10:00:00Z');
      const bob = await decide('bob', 'read', 'dev-db');
      const dave = await decide('deployer', 'read', 'dev-db');
      assert.equal(bob.decision, true);
      assert.deepEqual(bob.reasons, [{ id: 'dev-anyone-reads' }]);
      assert.equal(dave.reasons, bob.reasons, 'one reason list for both');
      assert.throws(() => bob.reasons.push({ id: 'forged' }), TypeError);
      assert.throws(() => {
        (bob as { decision: boolean }).decision = false;
      }, TypeError);
      const again = await decide('bob', 'read', 'dev-db');
      assert.equal(again.cached, true);
      assert.equal(again.decision, true);
      assert.deepEqual(again.reasons, [{ id: 'dev-anyone-reads' }]);
      assert.equal(again.reasons, bob.reasons, 'the cached result shares the reason list');
      assert.throws(() => {
        (again as { cached: boolean }).cached = false;
      }, TypeError);
      assert.equal(await decide('bob', 'read', 'dev-db'), again, 'every hit serves the one cached object');
      assert.equal(bob.cached, false, 'the first answer still says it was decided');

      const first = pdp().activeSet!;
      const slice = first.slices.get('read')!.get('Human')!;
      const reasonsOf = (setId: string) => {
        const r = evaluateCedar({ ...first, slices: new Map(), fullSetId: setId }, query);
        return r.reasons.map((x) => x.id);
      };
      const index = pdp().index;
      const bobIdentity = index.resolveIdentity('bob')!;
      const devDb = index.resourceSlice({ id: 'dev-db' }, FULL_FOOTPRINT);
      const query = {
        principal: EntityIndex.principalUid(bobIdentity),
        action: 'read',
        resource: devDb.uid,
        context: {},
        entities: index.requestEntities(bobIdentity, devDb, undefined, undefined, FULL_FOOTPRINT),
      };
      assert.deepEqual(reasonsOf(slice.fullSetId), ['dev-anyone-reads'], 'the slice bob reads with');
      // Same principal, action and resource under another version: decided again, not served from the cache.
      const v = await server.call('POST', '/v1/policies', {
        body: { policies: POLICIES.replace('"dev-anyone-reads"', '"dev-reads-v2"') },
      });
      assert.equal(v.status, 201);
      // The PDP has moved on and nothing else in this process holds the first version: Cedar's copy is emptied.
      assert.deepEqual(reasonsOf(slice.fullSetId), ['bulkhead.no_permit']);
      assert.deepEqual(reasonsOf(first.fullSetId), ['bulkhead.no_permit']);
      const next = await decide('bob', 'read', 'dev-db');
      assert.equal(next.cached, false);
      assert.deepEqual(next.reasons, [{ id: 'dev-reads-v2' }]);
      assert.equal(next.policyVersion, v.body.version);
      const back = await server.call('POST', '/v1/policies/1/activate');
      assert.equal(back.status, 200);
      const old = await decide('bob', 'read', 'dev-db');
      assert.equal(old.cached, false);
      assert.deepEqual(old.reasons, [{ id: 'dev-anyone-reads' }]);
    });

    void it('warms the engine in the background: yields to decisions, decides nothing, stops with the PDP', async () => {
      const published: unknown[] = [];
      const off = server.ctx.events.subscribe('decision', (e) => published.push(e));
      const p = standalonePdp({ cacheSize: 100, cacheTtlMs: 60_000 });
      try {
        // On the module's PDP, which logs decisions: the warm-up publishes and caches nothing.
        const cachedBefore = pdp().cacheSize;
        assert.equal(await pdp().warmUpEngine(40), 40);
        assert.equal(published.length, 0, 'no decision events');
        assert.equal(pdp().cacheSize, cachedBefore, 'nothing cached');

        await p.start(0);
        let finished = false;
        const long = p.warmUpEngine(20_000).then((n) => {
          finished = true;
          return n;
        });
        // A turn of the event loop (where requests arrive) comes round while the warm-up is still running.
        await new Promise((resolve) => setImmediate(resolve));
        assert.equal(finished, false, 'the warm-up yields to the event loop');
        const d = await p.decide({ principal: { id: 'bob' }, action: 'read', resource: { id: 'dev-db' } });
        assert.equal(d.decision, true);
        assert.equal(finished, false, 'the decision was answered while the warm-up was still running');
        p.stop();
        const ran = await long;
        assert.ok(ran > 0 && ran < 20_000, `stopped after ${ran} evaluations`);
        assert.equal(await p.warmUpEngine(10), 0, 'a stopped PDP warms nothing');
        assert.equal(p.cacheSize, 1, 'only the real decision was cached');
      } finally {
        off();
        p.stop();
      }
    });

    void it('concurrent pushes get distinct versions', async () => {
      const push = (n: number) =>
        server.call('POST', '/v1/policies', {
          body: {
            policies: `@id("p${n}") permit (principal, action == Action::"read", resource);`,
            activate: false,
          },
        });
      const results = await Promise.all([push(1), push(2), push(3)]);
      assert.deepEqual(
        results.map((r) => r.status),
        [201, 201, 201],
      );
      assert.equal(new Set(results.map((r) => r.body.version)).size, 3);
    });

    void it('a decision waiting on an approval lookup while the version changes is decided under the new one', async () => {
      clock = new Date('2026-11-25T10:00:00Z');
      let open!: () => void;
      const gate = new Promise<void>((resolve) => (open = resolve));
      // Only the lookup is slow; the grant is not usable, so the request is decided as if it had none.
      const slowLookup = Object.assign(Object.create(mod.runtime().approvals) as ApprovalStore, {
        isUsableGrant: async () => {
          await gate;
          return false;
        },
      });
      const p = standalonePdp({ cacheSize: 10, cacheTtlMs: 1000 }, slowLookup);
      const version = (id: string) =>
        p.push(
          { policies: POLICIES.replace('"dev-anyone-reads"', `"${id}"`), actions: [], requiredContext: {} },
          { activate: true },
          meta,
        );
      const restore = pdp().activeVersion!;
      try {
        // Only this PDP holds the first version, so moving on empties its Cedar sets.
        await version('dev-reads-waiting');
        await p.start(0);
        const pending = p.decide({
          principal: { id: 'bob' },
          action: 'read',
          resource: { id: 'dev-db' },
          context: { approval_id: 'apr-none' },
        });
        const next = await version('dev-reads-next');
        open();
        const d = await pending;
        assert.equal(d.decision, true, JSON.stringify(d));
        assert.deepEqual(
          d.reasons.map((r) => r.id),
          ['dev-reads-next'],
        );
        assert.equal(d.policyVersion, next.version);
      } finally {
        p.stop();
        assert.equal((await server.call('POST', `/v1/policies/${restore}/activate`)).status, 200);
      }
    });
  });
