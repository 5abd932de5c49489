/** The `bulkhead` CLI against a real server: output, --json, one-line errors and exit codes. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { runCliWith } from '../helpers/cli.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const cli = runCliWith;

describe('bulkhead CLI', () => {
  let server: TestServer;
  let env: NodeJS.ProcessEnv;
  before(async () => {
    server = await startTestServer({ demo: true });
    env = { BULKHEAD_URL: server.url, BULKHEAD_TOKEN: server.token, BULKHEAD_DATA_DIR: server.dataDir };
  });
  after(async () => {
    await server.stop();
  });

  it('prints help listing the core commands', async () => {
    const r = await cli(['--help'], env);
    assert.equal(r.code, 0);
    for (const c of ['serve', 'identities', 'audit', 'admin']) assert.match(r.out, new RegExp(`\\b${c}\\b`));
    const sub = await cli(['identities', 'list', '--help'], env);
    assert.match(sub.out, /--stale-days/);
    assert.match(sub.out, /--json/);
  });

  it('lists identities as a table and as JSON, following cursors with --all', async () => {
    const table = await cli(['identities', 'list', '--kind', 'break_glass'], env);
    assert.equal(table.code, 0, table.err);
    assert.match(table.out, /^ID\s+KIND/m);
    assert.match(table.out, /breakglass-root/);
    const json = await cli(['identities', 'list', '--all', '--limit', '7', '--json'], env);
    const parsed = JSON.parse(json.out);
    assert.equal(parsed.items.length, 50);
    assert.equal(parsed.next_cursor, null);
    const stale = JSON.parse(
      (await cli(['identities', 'list', '--stale-days', '90', '--ownerless', '--json'], env)).out,
    );
    assert.ok(stale.items.length > 0);
    assert.ok(stale.items.every((i: any) => i.owners.length === 0));
  });

  it('creates, shows and disables an identity', async () => {
    const created = await cli(
      [
        'identities',
        'create',
        '--id',
        'etl-2',
        '--kind',
        'service_account',
        '--name',
        'ETL two',
        '--env',
        'prod',
        '--owner',
        'dave',
        '--label',
        'team=data',
        '--json',
      ],
      env,
    );
    assert.equal(created.code, 0, created.err);
    assert.deepEqual(JSON.parse(created.out).labels, { team: 'data' });
    const shown = JSON.parse((await cli(['identities', 'show', 'etl-2', '--json'], env)).out);
    assert.equal(shown.displayName, 'ETL two');
    const disabled = await cli(['identities', 'disable', 'etl-2', '--reason', 'rotating'], env);
    assert.equal(disabled.code, 0);
    assert.match(disabled.out, /disabled etl-2/);
    assert.equal((await server.ctx.inventory.getIdentity('etl-2')).status, 'disabled');
  });

  it('lists and shows credentials and resources, and revokes a credential', async () => {
    const creds = JSON.parse(
      (await cli(['credentials', 'list', '--consumer', 'payments-worker', '--json'], env)).out,
    );
    assert.deepEqual(
      creds.items.map((c: any) => c.id),
      ['cred-payments-api-db', 'cred-payments-worker-bank', 'cred-payments-worker-ledger'],
    );
    const shown = await cli(['credentials', 'show', 'cred-payments-api-db'], env);
    assert.match(shown.out, /fingerprint\s+sha256:/);
    const revoked = await cli(
      ['credentials', 'revoke', 'cred-old-billing-key', '--reason', 'decommissioned', '--json'],
      env,
    );
    assert.equal(JSON.parse(revoked.out).status, 'revoked');
    const regulated = await cli(
      ['resources', 'list', '--sensitivity', 'regulated', '--parent', 'payments-db'],
      env,
    );
    assert.match(regulated.out, /payments-db\.cards/);
    assert.doesNotMatch(regulated.out, /payments-db\.transactions/);
    const badType = await cli(['credentials', 'list', '--type', 'magic'], env);
    assert.notEqual(badType.code, 0);
    const missing = await cli(['resources', 'show', 'nope'], env);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /BULKHEAD_NOT_FOUND/);
  });

  it('fails with one readable line and a non-zero exit code', async () => {
    const missing = await cli(['identities', 'show', 'nobody'], env);
    assert.equal(missing.code, 1);
    assert.equal(missing.err.trim().split('\n').length, 1);
    assert.match(missing.err, /BULKHEAD_NOT_FOUND/);
    const badOwner = await cli(
      [
        'identities',
        'create',
        '--id',
        'x',
        '--kind',
        'workload',
        '--name',
        'x',
        '--env',
        'prod',
        '--owner',
        'payments-api',
      ],
      env,
    );
    assert.equal(badOwner.code, 1);
    assert.match(badOwner.err, /field body\.owners\[0\]/);
    const noToken = await cli(['identities', 'list'], { BULKHEAD_URL: server.url });
    assert.equal(noToken.code, 1);
    assert.match(noToken.err, /BULKHEAD_UNAUTHENTICATED.*set BULKHEAD_TOKEN/);
    const unreachable = await cli(['identities', 'list'], {
      BULKHEAD_URL: 'http://127.0.0.1:1',
      BULKHEAD_TOKEN: 'x',
    });
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.err, /cannot reach/);
    const badChoice = await cli(['identities', 'list', '--kind', 'robot'], env);
    assert.notEqual(badChoice.code, 0);
    assert.match(badChoice.err, /Allowed choices/);
    const badLimit = await cli(['identities', 'list', '--limit', '0'], env);
    assert.notEqual(badLimit.code, 0);
    assert.match(badLimit.err, /--limit must be an integer/);
  });

  it('creates a scoped admin token that works and is shown once', async () => {
    const r = await cli(
      ['admin', 'token', 'create', '--name', 'reader', '--scope', 'read', '--ttl', '3600', '--json'],
      env,
    );
    assert.equal(r.code, 0, r.err);
    const key = JSON.parse(r.out);
    assert.deepEqual(key.scopes, ['read']);
    assert.ok(key.expiresAt);
    const asReader = { ...env, BULKHEAD_TOKEN: key.token };
    assert.equal((await cli(['identities', 'list', '--json'], asReader)).code, 0);
    const denied = await cli(['identities', 'disable', 'alice'], asReader);
    assert.equal(denied.code, 1);
    assert.match(denied.err, /BULKHEAD_FORBIDDEN/);
    const listed = await cli(['admin', 'token', 'list', '--json'], env);
    assert.ok(!listed.out.includes(key.token));
  });

  it('catches a consistently rewritten chain through an external anchor', async () => {
    const first = JSON.parse((await cli(['audit', 'verify', '--json'], env)).out);
    assert.equal(first.ok, true);
    const anchor = `${first.headSeq}:${first.headHash}`;
    assert.equal((await cli(['audit', 'verify', '--anchor', anchor], env)).code, 0);
    // Rewrite the anchored entry and recompute every hash from there on, as an attacker with DB access could.
    const { hashAuditRow } = await import('../../src/audit/audit-log.js');
    const rows = await server.ctx.db
      .selectFrom('audit_log')
      .selectAll()
      .where('seq', '>=', first.headSeq)
      .orderBy('seq')
      .execute();
    let prev = (
      await server.ctx.db
        .selectFrom('audit_log')
        .select('hash')
        .where('seq', '=', first.headSeq - 1)
        .executeTakeFirstOrThrow()
    ).hash;
    for (const row of rows) {
      const edited = { ...row, actor: row.seq === first.headSeq ? 'mallory' : row.actor, prev_hash: prev };
      const hash = hashAuditRow(edited);
      await server.ctx.db
        .updateTable('audit_log')
        .set({ actor: edited.actor, prev_hash: prev, hash })
        .where('seq', '=', row.seq)
        .execute();
      prev = hash;
    }
    await server.ctx.db.updateTable('audit_head').set({ hash: prev }).where('id', '=', 1).execute();
    assert.equal(
      (await cli(['audit', 'verify'], env)).code,
      0,
      'without the anchor the rewrite is consistent',
    );
    const caught = await cli(['audit', 'verify', '--anchor', anchor, '--json'], env);
    assert.equal(caught.code, 2);
    assert.equal(JSON.parse(caught.out).problems[0].kind, 'anchor_mismatch');
    const bad = await cli(['audit', 'verify', '--anchor', 'nope'], env);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /--anchor must be/);
    // Put the original actor back so the next test starts from a consistent chain.
    await sql`update audit_log set actor = 'api_key:bootstrap-env' where actor = 'mallory'`.execute(
      server.ctx.db,
    );
  });

  it('verifies the audit log through the server and locally, and exits 2 on tampering', async () => {
    const ok = await cli(['audit', 'verify', '--json'], env);
    assert.equal(ok.code, 2, 'the previous test left a rewritten chain whose hashes no longer match');
    await sql`delete from audit_log`.execute(server.ctx.db);
    await server.ctx.db
      .updateTable('audit_head')
      .set({ seq: 0, hash: '0'.repeat(64) })
      .where('id', '=', 1)
      .execute();
    await cli(
      [
        'identities',
        'create',
        '--id',
        'etl-3',
        '--kind',
        'service_account',
        '--name',
        'ETL two',
        '--env',
        'prod',
      ],
      env,
    );
    const clean = await cli(['audit', 'verify', '--json'], env);
    assert.equal(JSON.parse(clean.out).ok, true);
    await sql`update audit_log set after = replace(after, 'ETL two', 'ETL 2') where target_id = 'etl-3'`.execute(
      server.ctx.db,
    );
    const remote = await cli(['audit', 'verify'], env);
    assert.equal(remote.code, 2);
    assert.match(remote.out, /TAMPERED/);
    const local = await cli(['audit', 'verify', '--data-dir', server.dataDir, '--json'], {});
    assert.equal(local.code, 2);
    const result = JSON.parse(local.out);
    assert.equal(result.ok, false);
    assert.ok(result.problems.some((p: any) => p.kind === 'hash_mismatch'));
    const noStore = await cli(['audit', 'verify', '--data-dir', '/nonexistent/bulkhead'], {});
    assert.equal(noStore.code, 1);
    assert.match(noStore.err, /no Bulkhead store/);
  });
});
