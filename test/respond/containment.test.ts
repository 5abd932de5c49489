import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  eventually,
  FakeBroker,
  startRespondServer,
  whileRevokeFails,
  type RespondServer,
} from './helpers.js';

const SECRET = 'sk_live_example_4f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c';
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

describe('containment end to end', () => {
  let s: RespondServer;
  const broker = new FakeBroker();

  before(async () => {
    s = await startRespondServer({ broker: () => broker });
    const pushed = await s.server.call('POST', '/v1/policies', {
      body: { policies: 'permit (principal, action == Action::"read", resource);' },
    });
    assert.equal(pushed.status, 201);
  });
  after(async () => s.server.stop());

  const decide = (id: string) =>
    s.policy.runtime().pdp.decide({ principal: { id }, action: 'read', resource: { id: 'crm' } });

  it('leaked-key report → alert → playbook → credential revoked, incident timeline and time to contain', async () => {
    const created = await s.server.call('POST', '/v1/credentials', {
      body: {
        id: 'cred-support-leaky',
        identityId: 'agent-support-bot',
        type: 'api_key',
        fingerprint: `sha256:${sha(SECRET)}`,
        scopes: ['crm:read'],
        consumers: ['agent-support-bot', 'agent-finops'],
      },
    });
    assert.equal(created.status, 201);
    const committed = new Date(Date.now() - 3_600_000).toISOString();
    const report = [
      {
        RuleID: 'generic-api-key',
        Secret: SECRET,
        Match: `key=${SECRET}`,
        File: 'config/.env',
        StartLine: 3,
        Commit: 'a1b2c3d4e5f6a7b8',
        Date: committed,
      },
      { RuleID: 'aws-access-token', Secret: 'not-in-the-inventory-0000', File: 'x.txt', StartLine: 1 },
    ];
    const res = await s.server.call('POST', '/v1/leaks', { body: report });
    assert.equal(res.status, 200);
    assert.ok(!JSON.stringify(res.body).includes(SECRET), 'the secret never comes back');
    assert.equal(res.body.findings, 2);
    assert.equal(res.body.unmatched.length, 1);
    const m = res.body.matched[0];
    assert.equal(m.credentialId, 'cred-support-leaky');
    assert.equal(m.state, 'contained');
    assert.ok(m.timeToContainMs < 1000, `time to contain ${m.timeToContainMs} ms`);
    // Leaked: no overlap, and the report names the other workload that used it.
    assert.deepEqual(m.willBreak, ['agent-finops']);

    const cred = await s.server.call('GET', '/v1/credentials/cred-support-leaky');
    assert.equal(cred.body.status, 'revoked');

    const inc = await s.server.call('GET', `/v1/incidents/${m.incidentId}`);
    assert.equal(inc.status, 200);
    assert.equal(inc.body.state, 'contained');
    assert.equal(inc.body.firstEventAt, committed);
    assert.ok(inc.body.timeToDetectMs >= 3_600_000);
    assert.equal(typeof inc.body.timeToContainMs, 'number');
    const kinds = inc.body.timeline.map((t: { kind: string }) => t.kind);
    for (const k of ['alert', 'playbook.started', 'step.done', 'incident.contained'])
      assert.ok(kinds.includes(k), k);
    const steps = inc.body.runs[0].steps;
    assert.equal(steps.find((x: { action: string }) => x.action === 'verify_contained').status, 'done');

    // Every step is in the audit log.
    const audit = await s.server.call('GET', '/v1/audit?limit=200');
    const actions = (audit.body.items as { action: string; targetId: string }[]).map((e) => e.action);
    assert.ok(actions.includes('credential.revoke'));
    assert.ok(actions.includes('respond.step.done'));
    assert.ok(actions.includes('incident.open'));

    // The leak is an alert like any other.
    const alerts = await s.server.call('GET', '/v1/alerts?rule_id=leaked-secret');
    assert.equal(alerts.body.items[0].id, m.alertId);
    assert.equal(alerts.body.items[0].credential, 'cred-support-leaky');

    // Importing the same report again does not open a second incident or revoke twice.
    const again = await s.server.call('POST', '/v1/leaks', { body: report });
    assert.equal(again.body.matched[0].incidentId, m.incidentId);
  });

  it('replayed task token → detection → quarantine: the PDP refuses the identity, tokens are revoked', async () => {
    assert.equal((await decide('payments-api')).decision, true);
    broker.live.set('payments-api', 3);
    s.server.ctx.events.publish({
      id: 'tok-replay-1',
      time: new Date().toISOString(),
      type: 'token.replayed',
      source: 'broker',
      identityId: 'payments-api',
      credentialId: 'jti-replayed-1',
      action: 'payments.refund',
      outcome: 'deny',
      data: { sourceIp: '203.0.113.9', taskId: 'task-42' },
    });
    const inc = await eventually(async () => {
      const r = await s.server.call('GET', '/v1/incidents?identity_id=payments-api');
      const i = (r.body.items as { state: string; id: string }[])[0];
      return i?.state === 'contained' ? i : undefined;
    });
    const detail = await s.server.call('GET', `/v1/incidents/${inc.id}`);
    assert.equal(detail.body.tier, 'T0');
    assert.deepEqual(detail.body.ruleIds, ['credential-replay']);
    const byAction = Object.fromEntries(
      (detail.body.runs[0].steps as { action: string; status: string }[]).map((x) => [x.action, x.status]),
    );
    assert.equal(byAction.quarantine_identity, 'done');
    assert.equal(byAction.revoke_tokens, 'done');
    assert.equal(byAction.verify_contained, 'done');
    assert.equal(byAction.revoke_credential, 'skipped'); // a task token is not an inventory credential
    assert.deepEqual(broker.revocations, ['payments-api']);
    const d = await decide('payments-api');
    assert.equal(d.decision, false);
    assert.equal(d.reasons[0]?.id, 'bulkhead.principal_quarantined');
    assert.ok(detail.body.timeToContainMs < 1000);
  });

  it('verification that keeps failing is retried, then fails loudly and leaves the incident open', async () => {
    broker.live.set('ci-web-build', 2);
    broker.stuck.add('ci-web-build');
    const r = await s.server.call('POST', '/v1/incidents', {
      body: {
        id: 'alert-stuck-1',
        rule_id: 'credential-replay',
        severity: 'critical',
        identity_id: 'ci-web-build',
      },
    });
    assert.equal(r.status, 200);
    assert.equal(r.body.state, 'open');
    assert.equal(r.body.timeToContainMs, null);
    const run = r.body.runs[0];
    assert.equal(run.state, 'failed');
    const verify = run.steps.find((x: { action: string }) => x.action === 'verify_contained');
    assert.equal(verify.status, 'failed');
    assert.equal(verify.attempts, 4); // first try + 3 retries with backoff
    assert.match(verify.result.detail, /still accepted: no live task token of ci-web-build/);
  });

  it('a T3 alert waits for approval; approving runs the step and contains', async () => {
    const r = await s.server.call('POST', '/v1/incidents', {
      body: {
        id: 'alert-t3-1',
        rule_id: 'credential-replay',
        severity: 'high',
        identity_id: 'svc-staging-smoke',
        credential: 'cred-staging-smoke',
      },
    });
    assert.equal(r.status, 200);
    const steps = r.body.runs[0].steps as { stepId: string; status: string; reason: string }[];
    const waiting = steps.filter((x) => x.status === 'awaiting_approval').map((x) => x.stepId);
    assert.deepEqual(waiting, ['revoke-tokens', 'quarantine', 'revoke-credential']);
    assert.equal(r.body.state, 'open');
    const bad = await s.server.call('POST', `/v1/incidents/${r.body.id}/steps/open/approve`);
    assert.equal(bad.body.code, 'BULKHEAD_RESPOND_STEP_NOT_AWAITING_APPROVAL');
    const missing = await s.server.call('POST', `/v1/incidents/${r.body.id}/steps/nope/approve`);
    assert.equal(missing.status, 404);
    await s.server.call('POST', `/v1/incidents/${r.body.id}/steps/revoke-tokens/approve`);
    await s.server.call('POST', `/v1/incidents/${r.body.id}/steps/quarantine/approve`);
    const done = await s.server.call('POST', `/v1/incidents/${r.body.id}/steps/revoke-credential/approve`);
    assert.equal(done.body.state, 'contained');
    const ack = await s.server.call('POST', `/v1/incidents/${r.body.id}/ack`, { body: { owner: 'carol' } });
    assert.equal(ack.body.owner, 'carol');
    const resolved = await s.server.call('POST', `/v1/incidents/${r.body.id}/resolve`, {
      body: { note: 'drill' },
    });
    assert.equal(resolved.body.state, 'resolved', JSON.stringify(resolved.body));
    const twice = await s.server.call('POST', `/v1/incidents/${r.body.id}/resolve`, { body: {} });
    assert.equal(twice.body.code, 'BULKHEAD_RESPOND_BAD_TRANSITION');
  });

  it('stages a revocation that would break another workload instead of cascading', async () => {
    const r = await s.server.call('POST', '/v1/playbooks/dry-run', {
      body: {
        alert: {
          id: 'x',
          rule_id: 'credential-replay',
          severity: 'high',
          identity_id: 'payments-api',
          credential: 'cred-payments-api-db',
        },
      },
    });
    assert.equal(r.status, 200);
    const revoke = (r.body.steps as { action: string; disposition: string; reason: string }[]).find(
      (x) => x.action === 'revoke_credential',
    );
    assert.equal(revoke?.disposition, 'approval');
    assert.match(revoke?.reason ?? '', /staged: would break payments-worker/);
  });

  it('tiers: break-glass is T0 with its reason; bad ids are refused', async () => {
    const t = await s.server.call('GET', '/v1/identities/breakglass-root/tier');
    assert.equal(t.body.tier, 'T0');
    assert.equal(t.body.reasons[0].code, 'break_glass');
    // Third party with confidential (not regulated) reach: T1.
    assert.equal((await s.server.call('GET', '/v1/identities/saas-crm-sync/tier')).body.tier, 'T1');
    assert.equal((await s.server.call('GET', '/v1/identities/nobody/tier')).status, 404);
    const bad = await s.server.call('GET', '/v1/identities/%20bad/tier');
    assert.equal(bad.status, 400);
    const all = await s.server.call('GET', '/v1/tiers?tier=T0');
    assert.ok((all.body.items as { identityId: string }[]).some((x) => x.identityId === 'shared-ops'));
    assert.equal((await s.server.call('GET', '/v1/tiers?tier=T9')).status, 400);
  });

  it('tiers are listed a page at a time: limit, cursor, bad limit and cursor refused', async () => {
    const listed: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const q: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
      const page = await s.server.call('GET', `/v1/tiers?limit=3${q}`);
      assert.equal(page.status, 200, JSON.stringify(page.body));
      const ids = (page.body.items as { identityId: string }[]).map((t) => t.identityId);
      assert.ok(ids.length <= 3);
      assert.deepEqual(ids, [...ids].sort());
      listed.push(...ids);
      cursor = page.body.next_cursor as string | null;
      pages += 1;
    } while (cursor && pages < 100);
    assert.equal(cursor, null);
    const everyone = await s.server.call('GET', '/v1/identities?limit=500');
    assert.deepEqual(
      listed,
      (everyone.body.items as { id: string }[]).map((i) => i.id),
    );
    assert.ok(pages > 1);

    // A tier filter keeps the paging by identity; the T0s of every page are the T0s of the inventory.
    const t0: string[] = [];
    cursor = null;
    do {
      const q: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
      const page = await s.server.call('GET', `/v1/tiers?tier=T0&limit=3${q}`);
      assert.ok((page.body.items as { tier: string }[]).every((t) => t.tier === 'T0'));
      t0.push(...(page.body.items as { identityId: string }[]).map((t) => t.identityId));
      cursor = page.body.next_cursor as string | null;
    } while (cursor);
    assert.ok(t0.includes('shared-ops') && t0.includes('breakglass-root'));

    for (const [query, field] of [
      ['limit=0', 'query.limit'],
      ['limit=501', 'query.limit'],
      ['limit=ten', 'query.limit'],
    ]) {
      const bad = await s.server.call('GET', `/v1/tiers?${query}`);
      assert.equal(bad.status, 400, query);
      assert.equal(bad.body.field, field, query);
    }
    const badCursor = await s.server.call('GET', '/v1/tiers?cursor=not-ours');
    assert.equal(badCursor.status, 400);
    assert.deepEqual([badCursor.body.code, badCursor.body.field], ['BULKHEAD_BAD_CURSOR', 'query.cursor']);
  });

  it('refuses bad input with stable codes and fields', async () => {
    const leak = await s.server.call('POST', '/v1/leaks', { body: { nothing: 'here' } });
    assert.equal(leak.status, 400);
    assert.equal(leak.body.code, 'BULKHEAD_RESPOND_LEAK_REPORT_INVALID');
    const leak2 = await s.server.call('POST', '/v1/leaks', { body: 42 });
    assert.equal(leak2.body.code, 'BULKHEAD_RESPOND_LEAK_REPORT_INVALID');
    const pb = await s.server.call('POST', '/v1/playbooks', {
      body: {
        yaml: 'apiVersion: bulkhead/v1\nkind: Playbook\nid: x\nmatch: {}\nsteps:\n  - action: explode\n',
      },
    });
    assert.equal(pb.status, 400);
    assert.equal(pb.body.code, 'BULKHEAD_RESPOND_PLAYBOOK_INVALID');
    assert.equal(pb.body.problems[0].line, 6);
    const bomb = await s.server.call('POST', '/v1/playbooks', {
      body: {
        yaml: 'a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: [*b,*b,*b,*b,*b,*b,*b,*b,*b]',
      },
    });
    assert.equal(bomb.status, 400);
    assert.deepEqual([bomb.body.code, bomb.body.field], ['BULKHEAD_RESPOND_PLAYBOOK_INVALID', 'body.yaml']);
    const inc = await s.server.call('POST', '/v1/incidents', {
      body: { id: 'a', rule_id: 'r', severity: 'apocalyptic' },
    });
    assert.equal(inc.status, 400);
    assert.equal(inc.body.field, 'body.severity');
    assert.equal(
      (await s.server.call('GET', '/v1/incidents/inc-nope')).body.code,
      'BULKHEAD_RESPOND_INCIDENT_NOT_FOUND',
    );
    assert.equal((await s.server.call('GET', '/v1/incidents?state=exploded')).status, 400);
    assert.equal((await s.server.call('GET', '/v1/incidents', { token: null })).status, 401);
  });

  it('rollback_policy re-activates the previous policy version; isolate_integration keeps only the health check', async () => {
    const v2 = await s.server.call('POST', '/v1/policies', {
      body: { policies: 'permit (principal, action, resource);', comment: 'too broad' },
    });
    assert.equal(v2.status, 201);
    const put = (yaml: string) => s.server.call('POST', '/v1/playbooks', { body: { yaml } });
    const head = (id: string, rule: string) =>
      `apiVersion: bulkhead/v1\nkind: Playbook\nid: ${id}\nmode: enforce\nmatch:\n  rules: [${rule}]\nsteps:\n`;
    assert.equal(
      (
        await put(
          `${head('policy-regression', 'policy-regression')}  - id: rollback\n    action: rollback_policy\n    approval: never\n`,
        )
      ).status,
      201,
    );
    assert.equal(
      (
        await put(
          `${head('vendor-compromise', 'vendor-compromise')}  - id: isolate\n    action: isolate_integration\n    approval: never\n`,
        )
      ).status,
      201,
    );
    const rb = await s.server.call('POST', '/v1/incidents', {
      body: { id: 'alert-policy-1', rule_id: 'policy-regression', severity: 'high' },
    });
    assert.equal(rb.body.runs[0].steps[0].status, 'done');
    const policies = await s.server.call('GET', '/v1/policies');
    assert.equal(policies.body.active, v2.body.version - 1);

    await s.server.call('POST', '/v1/credentials', {
      body: {
        id: 'cred-crm-health',
        identityId: 'saas-crm-sync',
        type: 'token',
        fingerprint: 'sha256:crm-health-check',
        labels: { 'bulkhead.health-check': 'true' },
      },
    });
    const iso = await s.server.call('POST', '/v1/incidents', {
      body: {
        id: 'alert-vendor-1',
        rule_id: 'vendor-compromise',
        severity: 'critical',
        identity_id: 'saas-crm-sync',
      },
    });
    assert.equal(iso.body.runs[0].steps[0].status, 'done');
    const status = async (id: string) => (await s.server.call('GET', `/v1/credentials/${id}`)).body.status;
    assert.equal(await status('cred-crm-sync-oauth'), 'revoked');
    assert.equal(await status('cred-crm-sync-refresh'), 'revoked');
    assert.equal(await status('cred-crm-health'), 'active');
  });

  it('a containment step that failed or found no target is never verified as contained', async () => {
    const yaml = `apiVersion: bulkhead/v1
kind: Playbook
id: must-contain
mode: enforce
match:
  rules: [must-contain]
steps:
  - id: quarantine
    action: quarantine_identity
    approval: never
  - id: revoke
    action: revoke_credential
    approval: never
    retries: 1
  - id: revoke-named
    action: revoke_credential
    approval: never
    with: { credential: cred-not-in-inventory }
  - id: verify
    action: verify_contained
    retries: 1
`;
    assert.equal((await s.server.call('POST', '/v1/playbooks', { body: { yaml } })).status, 201);
    for (const id of ['svc-unrevokable', 'svc-ghost-cred']) {
      const made = await s.server.call('POST', '/v1/identities', {
        body: { id, kind: 'workload', displayName: id, environment: 'prod' },
      });
      assert.equal(made.status, 201);
    }
    const cred = await s.server.call('POST', '/v1/credentials', {
      body: {
        id: 'cred-unrevokable',
        identityId: 'svc-unrevokable',
        type: 'api_key',
        fingerprint: 'fp-unrevokable',
      },
    });
    assert.equal(cred.status, 201);
    const failed = await whileRevokeFails(s.server, () =>
      s.server.call('POST', '/v1/incidents', {
        body: {
          id: 'alert-unrevokable',
          rule_id: 'must-contain',
          severity: 'critical',
          identity_id: 'svc-unrevokable',
          credential: 'cred-unrevokable',
        },
      }),
    );
    assert.equal(failed.status, 200);
    assert.equal(failed.body.state, 'open');
    assert.equal(failed.body.containedAt, null);
    assert.equal(failed.body.runs[0].state, 'failed');
    const steps = (id: string, r: typeof failed) =>
      (r.body.runs[0].steps as { stepId: string; status: string; result: { detail: string } }[]).find(
        (x) => x.stepId === id,
      );
    assert.equal(steps('quarantine', failed)?.status, 'done');
    assert.equal(steps('revoke', failed)?.status, 'failed');
    assert.equal(steps('verify', failed)?.status, 'failed');
    assert.match(
      steps('verify', failed)?.result.detail ?? '',
      /containment did not happen: revoke \(revoke_credential\) failed/,
    );
    assert.equal((await s.server.call('GET', '/v1/credentials/cred-unrevokable')).body.status, 'active');

    // The named credential is not in the inventory: that revocation did not happen either.
    const ghost = await s.server.call('POST', '/v1/incidents', {
      body: {
        id: 'alert-ghost-cred',
        rule_id: 'must-contain',
        severity: 'critical',
        identity_id: 'svc-ghost-cred',
      },
    });
    assert.equal(ghost.body.state, 'open');
    assert.equal(steps('revoke-named', ghost)?.status, 'skipped');
    assert.equal(steps('verify', ghost)?.status, 'failed');
    assert.match(
      steps('verify', ghost)?.result.detail ?? '',
      /revoke-named \(revoke_credential\) skipped: credential cred-not-in-inventory is not in the inventory/,
    );
  });

  it('only an admin may hand in an alert as leaked: a write key cannot skip the staged revoke', async () => {
    const key = await s.server.call('POST', '/v1/admin/keys', {
      body: { name: 'siem-forwarder', scopes: ['write'] },
    });
    assert.equal(key.status, 201);
    const created = await s.server.call('POST', '/v1/credentials', {
      body: {
        id: 'cred-shared-forged',
        identityId: 'payments-api',
        type: 'api_key',
        fingerprint: 'fp-shared-forged',
        consumers: ['payments-api', 'payments-worker'],
      },
    });
    assert.equal(created.status, 201);
    const alert = {
      id: 'alert-forged-leak',
      rule_id: 'credential-replay',
      severity: 'critical',
      identity_id: 'payments-api',
      credential: 'cred-shared-forged',
    };
    const forged = await s.server.call('POST', '/v1/incidents', {
      token: key.body.token,
      body: { ...alert, leaked: true },
    });
    assert.equal(forged.status, 403);
    assert.equal(forged.body.code, 'BULKHEAD_FORBIDDEN');
    assert.equal(forged.body.field, 'body.leaked');
    const byRule = await s.server.call('POST', '/v1/incidents', {
      token: key.body.token,
      body: { ...alert, rule_id: 'leaked-secret' },
    });
    assert.equal(byRule.status, 403);
    assert.equal(byRule.body.field, 'body.rule_id');
    assert.equal((await s.server.call('GET', '/v1/credentials/cred-shared-forged')).body.status, 'active');
    const incidents = await s.server.call('GET', '/v1/incidents?identity_id=payments-api');
    for (const i of incidents.body.items as { alertIds: string[] }[])
      assert.ok(!i.alertIds.includes('alert-forged-leak'), 'the refused alert reached no incident');
  });

  describe('a second alert on an identity with an incident', () => {
    const head = (id: string, approval: string) => `apiVersion: bulkhead/v1
kind: Playbook
id: ${id}
mode: enforce
match:
  rules: [${id}]
steps:
  - id: revoke
    action: revoke_credential
    approval: ${approval}
  - id: verify
    action: verify_contained
`;
    const setUp = async (identity: string, credentials: string[]) => {
      const made = await s.server.call('POST', '/v1/identities', {
        body: { id: identity, kind: 'workload', displayName: identity, environment: 'prod' },
      });
      assert.equal(made.status, 201);
      for (const id of credentials) {
        const c = await s.server.call('POST', '/v1/credentials', {
          body: { id, identityId: identity, type: 'api_key', fingerprint: `fp-${id}` },
        });
        assert.equal(c.status, 201);
      }
    };
    const alert = (id: string, rule: string, identity: string, credential: string) =>
      s.server.call('POST', '/v1/incidents', {
        body: { id, rule_id: rule, severity: 'critical', identity_id: identity, credential },
      });
    const status = async (id: string) => (await s.server.call('GET', `/v1/credentials/${id}`)).body.status;

    it('naming another credential starts a run for it; the contained incident reopens until it is verified', async () => {
      assert.equal(
        (await s.server.call('POST', '/v1/playbooks', { body: { yaml: head('two-keys', 'never') } })).status,
        201,
      );
      await setUp('svc-two-keys', ['cred-key-a', 'cred-key-b']);
      const first = await alert('alert-key-a', 'two-keys', 'svc-two-keys', 'cred-key-a');
      assert.equal(first.body.state, 'contained');
      const second = await alert('alert-key-b', 'two-keys', 'svc-two-keys', 'cred-key-b');
      assert.equal(second.body.id, first.body.id);
      assert.equal(second.body.runs.length, 2);
      assert.equal(await status('cred-key-b'), 'revoked');
      assert.equal(second.body.state, 'contained');
      const kinds = (second.body.timeline as { kind: string }[]).map((t) => t.kind);
      assert.deepEqual(
        kinds.filter((k) => k === 'incident.reopen' || k === 'incident.contained'),
        ['incident.contained', 'incident.reopen', 'incident.contained'],
      );
      // The same credential again adds nothing to contain: no third run.
      const again = await alert('alert-key-a-2', 'two-keys', 'svc-two-keys', 'cred-key-a');
      assert.equal(again.body.runs.length, 2);
    });

    it('a failed run keeps the incident open until a later run on its credential verifies', async () => {
      assert.equal(
        (await s.server.call('POST', '/v1/playbooks', { body: { yaml: head('one-fails', 'never') } })).status,
        201,
      );
      await setUp('svc-one-fails', ['cred-fails-a', 'cred-fails-b']);
      await whileRevokeFails(
        s.server,
        async () => {
          const first = await alert('alert-fails-a', 'one-fails', 'svc-one-fails', 'cred-fails-a');
          assert.equal(first.body.runs[0].state, 'failed');
          assert.equal(first.body.state, 'open');
          // Another credential is contained and verified, but cred-fails-a still works: not contained.
          const second = await alert('alert-fails-b', 'one-fails', 'svc-one-fails', 'cred-fails-b');
          assert.equal(await status('cred-fails-b'), 'revoked');
          assert.equal(second.body.runs[1].state, 'completed');
          assert.equal(await status('cred-fails-a'), 'active');
          assert.equal(second.body.state, 'open');
          assert.equal(second.body.containedAt, null);
        },
        (id) => id === 'cred-fails-a',
      );
      // The same credential again, now revocable: a new run verifies it, and the incident is contained.
      const third = await alert('alert-fails-a-2', 'one-fails', 'svc-one-fails', 'cred-fails-a');
      assert.equal(third.body.runs.length, 3);
      assert.equal(await status('cred-fails-a'), 'revoked');
      assert.equal(third.body.state, 'contained');
    });

    it('a run still waiting for approval keeps the incident open; approvals go to the oldest waiting step', async () => {
      assert.equal(
        (await s.server.call('POST', '/v1/playbooks', { body: { yaml: head('two-staged', 'required') } }))
          .status,
        201,
      );
      await setUp('svc-two-staged', ['cred-staged-a', 'cred-staged-b']);
      const first = await alert('alert-staged-a', 'two-staged', 'svc-two-staged', 'cred-staged-a');
      const second = await alert('alert-staged-b', 'two-staged', 'svc-two-staged', 'cred-staged-b');
      assert.equal(second.body.runs.length, 2);
      const approve = () => s.server.call('POST', `/v1/incidents/${first.body.id}/steps/revoke/approve`);
      const one = await approve();
      assert.equal(await status('cred-staged-a'), 'revoked');
      assert.equal(await status('cred-staged-b'), 'active');
      assert.equal(one.body.runs[0].state, 'completed');
      assert.equal(one.body.state, 'open', 'cred-staged-b is not contained yet');
      const two = await approve();
      assert.equal(await status('cred-staged-b'), 'revoked');
      assert.equal(two.body.state, 'contained');
      assert.equal((await approve()).body.code, 'BULKHEAD_RESPOND_STEP_NOT_AWAITING_APPROVAL');
    });
  });

  it('times written with an offset are compared as instants (first_seen, GET /v1/alerts?since=)', async () => {
    /** `ms` as local time at `offsetMinutes` from UTC, e.g. 2026-06-01T01:00:00-12:00. */
    const withOffset = (ms: number, offsetMinutes: number) => {
      const a = Math.abs(offsetMinutes);
      const hh = String(Math.floor(a / 60)).padStart(2, '0');
      const mm = String(a % 60).padStart(2, '0');
      const local = new Date(ms + offsetMinutes * 60_000).toISOString().slice(0, 19);
      return `${local}${offsetMinutes < 0 ? '-' : '+'}${hh}:${mm}`;
    };
    const now = Date.now();
    const future = withOffset(now + 3 * 3_600_000, -12 * 60); // reads "earlier" than now as text
    const past = withOffset(now - 3_600_000, 5 * 60); // reads "later" than now as text
    const incident = (id: string, firstSeen: string) =>
      s.server.call('POST', '/v1/incidents', {
        body: { id, rule_id: 'offset-check', severity: 'low', first_seen: firstSeen },
      });
    const ahead = await incident('alert-offset-future', future);
    assert.equal(ahead.status, 200);
    assert.equal(ahead.body.firstEventAt, null, 'a first event in the future is not believed');
    assert.equal(ahead.body.timeToDetectMs, null);
    const behind = await incident('alert-offset-past', past);
    assert.equal(behind.body.firstEventAt, new Date(Date.parse(past)).toISOString());
    assert.ok(behind.body.timeToDetectMs >= 3_600_000, `time to detect ${behind.body.timeToDetectMs}`);
    const bad = await incident('alert-offset-bad', '2026-02-31T00:00:00Z');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.field, 'body.first_seen');

    const made = await s.server.call('POST', '/v1/identities', {
      body: { id: 'svc-offset-leak', kind: 'workload', displayName: 'offset', environment: 'prod' },
    });
    assert.equal(made.status, 201);
    const secret = 'sk_live_offset_0a1b2c3d4e5f60718293a4b5c6d7e8f9';
    await s.server.call('POST', '/v1/credentials', {
      body: {
        id: 'cred-offset-leak',
        identityId: 'svc-offset-leak',
        type: 'api_key',
        fingerprint: `sha256:${sha(secret)}`,
      },
    });
    const leak = await s.server.call('POST', '/v1/leaks', {
      body: [{ RuleID: 'generic-api-key', Secret: secret, File: 'offset.env', StartLine: 1 }],
    });
    const alertId = leak.body.matched[0].alertId as string;
    const since = async (t: string) => {
      const r = await s.server.call('GET', `/v1/alerts?rule_id=leaked-secret&since=${encodeURIComponent(t)}`);
      assert.equal(r.status, 200);
      return (r.body.items as { id: string }[]).map((a) => a.id);
    };
    assert.ok(!(await since(future)).includes(alertId), 'raised before since');
    assert.ok((await since(past)).includes(alertId), 'raised after since');
    assert.equal((await s.server.call('GET', '/v1/alerts?since=yesterday')).status, 400);
  });

  it('stores playbook versions, dry-run first', async () => {
    const yaml =
      'apiVersion: bulkhead/v1\nkind: Playbook\nid: my-pb\nmatch:\n  rules: [dormant-credential]\nsteps:\n  - action: revoke_credential\n';
    const v1 = await s.server.call('POST', '/v1/playbooks', { body: { yaml } });
    assert.equal(v1.status, 201);
    assert.equal(v1.body.version, 1);
    assert.equal(v1.body.playbook.mode, 'dry_run');
    const same = await s.server.call('POST', '/v1/playbooks', { body: { yaml } });
    assert.equal(same.body.version, 1);
    const r = await s.server.call('POST', '/v1/incidents', {
      body: {
        id: 'alert-dormant',
        rule_id: 'dormant-credential',
        severity: 'medium',
        identity_id: 'svc-old-billing',
        credential: 'cred-old-billing-key',
      },
    });
    assert.equal(r.body.runs[0].dryRun, true);
    assert.equal(r.body.runs[0].steps[0].status, 'dry_run');
    assert.equal((await s.server.call('GET', '/v1/credentials/cred-old-billing-key')).body.status, 'active');
  });
});
