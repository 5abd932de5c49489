import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../../src/cli/main.js';
import { startRespondServer, whileRevokeFails, type RespondServer } from './helpers.js';

describe('dependency-aware rotation', () => {
  let s: RespondServer;
  before(async () => {
    s = await startRespondServer();
  });
  after(async () => s.server.stop());

  async function cli(args: string[]) {
    let stdout = '';
    let stderr = '';
    const code = await runCli(args, {
      stdout: (t) => (stdout += t),
      stderr: (t) => (stderr += t),
      env: { BULKHEAD_URL: s.server.url, BULKHEAD_TOKEN: s.server.token },
    });
    return { code, stdout, stderr };
  }

  it('shows which workloads break before rotating', async () => {
    const r = await s.server.call('POST', '/v1/rotations', {
      body: { credential_id: 'cred-payments-api-db', dry_run: true },
    });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.willBreak, ['payments-api', 'payments-worker']);
    const c = await cli(['rotate', 'cred-payments-api-db', '--dry-run', '--json']);
    assert.equal(c.code, 0);
    assert.deepEqual(JSON.parse(c.stdout).consumers, ['payments-api', 'payments-worker']);
  });

  it('two consumers, one switches and one does not: the report names the second', async () => {
    const start = await s.server.call('POST', '/v1/rotations', {
      body: { credential_id: 'cred-payments-api-db', overlap_minutes: 30 },
    });
    assert.equal(start.status, 200);
    const rot = start.body;
    assert.equal(rot.state, 'overlap');
    // The old credential stays valid during the overlap; the new one exists with the same consumers.
    assert.equal((await s.server.call('GET', '/v1/credentials/cred-payments-api-db')).body.status, 'active');
    const fresh = await s.server.call('GET', `/v1/credentials/${rot.newCredentialId}`);
    assert.deepEqual(fresh.body.consumers, ['payments-api', 'payments-worker']);
    // Starting again returns the same rotation (idempotent).
    const again = await s.server.call('POST', '/v1/rotations', {
      body: { credential_id: 'cred-payments-api-db' },
    });
    assert.equal(again.body.id, rot.id);

    // payments-api switches (uses the new credential); payments-worker keeps using the old one.
    const t = Date.now();
    s.server.ctx.events.publish({
      id: 'use-1',
      time: new Date(t).toISOString(),
      type: 'credential.used',
      source: 'test',
      identityId: 'payments-api',
      credentialId: rot.newCredentialId,
    });
    s.server.ctx.events.publish({
      id: 'use-2',
      time: new Date(t + 1000).toISOString(),
      type: 'credential.used',
      source: 'test',
      identityId: 'payments-worker',
      credentialId: 'cred-payments-api-db',
    });
    await s.respond.service().idle();

    const early = await s.server.call('POST', `/v1/rotations/${rot.id}/complete`, { body: {} });
    assert.equal(early.body.code, 'BULKHEAD_RESPOND_ROTATION_STATE');

    const done = await cli(['rotations', 'complete', rot.id, '--force', '--json']);
    assert.equal(done.code, 2, done.stderr);
    const report = JSON.parse(done.stdout).report;
    assert.deepEqual(report.switched, ['payments-api']);
    assert.deepEqual(
      report.stillOnOld.map((x: { consumer: string }) => x.consumer),
      ['payments-worker'],
    );
    assert.equal(report.dependentsSafe, false);
    assert.equal((await s.server.call('GET', '/v1/credentials/cred-payments-api-db')).body.status, 'revoked');
  });

  it('a leaked credential skips the overlap and lists what will break', async () => {
    const r = await s.server.call('POST', '/v1/rotations', {
      body: { credential_id: 'cred-notify-sms', leaked: true },
    });
    assert.equal(r.body.state, 'immediate');
    assert.deepEqual(r.body.consumers, ['notification-svc', 'svc-mobile-push']);
    assert.deepEqual(
      r.body.report.stillOnOld.map((x: { consumer: string }) => x.consumer),
      ['notification-svc', 'svc-mobile-push'],
    );
    assert.equal((await s.server.call('GET', '/v1/credentials/cred-notify-sms')).body.status, 'revoked');
  });

  it('a leaked rotation whose revoke failed revokes on the retry before reporting it done', async () => {
    const created = await s.server.call('POST', '/v1/credentials', {
      body: {
        id: 'cred-leak-retry',
        identityId: 'payments-api',
        type: 'api_key',
        fingerprint: 'fp-leak-retry',
      },
    });
    assert.equal(created.status, 201);
    const first = await whileRevokeFails(s.server, () =>
      s.server.call('POST', '/v1/rotations', { body: { credential_id: 'cred-leak-retry', leaked: true } }),
    );
    assert.equal(first.status, 500);
    assert.equal((await s.server.call('GET', '/v1/credentials/cred-leak-retry')).body.status, 'active');
    const retry = await s.server.call('POST', '/v1/rotations', {
      body: { credential_id: 'cred-leak-retry', leaked: true },
    });
    assert.equal(retry.status, 200);
    assert.equal(retry.body.state, 'immediate');
    assert.equal((await s.server.call('GET', '/v1/credentials/cred-leak-retry')).body.status, 'revoked');
    const audit = await s.server.call('GET', '/v1/audit?target_id=cred-leak-retry');
    const revokes = (audit.body.items as { action: string }[]).filter(
      (e) => e.action === 'credential.revoke',
    );
    assert.equal(revokes.length, 1);
  });

  it('CLI: playbooks put reports the line of a mistake; dry-run shows the plan', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bulkhead-pb-'));
    try {
      const file = join(dir, 'bad.yaml');
      writeFileSync(
        file,
        'apiVersion: bulkhead/v1\nkind: Playbook\nid: bad\nmatch: {}\nsteps:\n  - action: nuke\n',
      );
      const bad = await cli(['playbooks', 'put', file]);
      assert.notEqual(bad.code, 0);
      assert.match(bad.stderr, /BULKHEAD_RESPOND_PLAYBOOK_INVALID/);
      assert.match(bad.stderr, /line 6/);
      const dry = await cli([
        'playbooks',
        'dry-run',
        '--rule',
        'credential-replay',
        '--identity',
        'payments-api',
        '--credential',
        'cred-payments-api-psp',
        '--json',
      ]);
      assert.equal(dry.code, 0, dry.stderr);
      const plan = JSON.parse(dry.stdout);
      assert.equal(plan.playbook.id, 'credential-misuse');
      assert.equal(plan.tier.tier, 'T0');
      const human = await cli(['playbooks', 'list']);
      assert.match(human.stdout, /leaked-credential/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses to rotate what is not active or does not exist', async () => {
    const revoked = await s.server.call('POST', '/v1/rotations', {
      body: { credential_id: 'cred-legacy-soap' },
    });
    assert.equal(revoked.body.code, 'BULKHEAD_RESPOND_ROTATION_STATE');
    const missing = await s.server.call('POST', '/v1/rotations', { body: { credential_id: 'cred-nope' } });
    assert.equal(missing.body.code, 'BULKHEAD_RESPOND_ROTATION_STATE');
    assert.equal(missing.body.field, 'body.credential_id');
    const bad = await s.server.call('POST', '/v1/rotations', {
      body: { credential_id: 'x', overlap_minutes: -1 },
    });
    assert.equal(bad.status, 400);
    assert.equal((await s.server.call('GET', '/v1/rotations/rot-nope')).status, 404);
    const c = await cli(['rotate', 'x', '--overlap-minutes', 'soon']);
    assert.notEqual(c.code, 0);
    assert.match(c.stderr, /overlap-minutes/);
  });
});
