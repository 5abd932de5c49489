/**
 * The store contract: one suite, run against embedded SQLite and a fresh PostgreSQL schema. Both backends
 * must behave identically for every inventory, audit and API-key operation the rest of Bulkhead relies on.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { pino } from 'pino';
import type { AppContext } from '../../src/app-context.js';
import { ApiKeyService, BOOTSTRAP_ENV_KEY_ID } from '../../src/admin/api-keys.js';
import { verifyAuditChain } from '../../src/audit/verify.js';
import { loadConfig } from '../../src/config.js';
import { BulkheadError } from '../../src/errors.js';
import { allModules } from '../../src/modules/index.js';
import { openAppContext } from '../../src/server/context.js';
import { relaxedTransaction, writeInRelaxedChunks } from '../../src/store/durability.js';
import { PG_URL, dropPgSchema, newPgSchemaName, tempDir } from '../helpers/server.js';

const silent = pino({ level: 'silent' });
const meta = { actor: 'test', requestId: 'req-1' };

async function rejectsWith(p: Promise<unknown>, code: string, field?: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof BulkheadError, `expected BulkheadError, got ${String(err)}`);
    assert.equal(err.code, code);
    if (field !== undefined) assert.equal(err.field, field);
    return true;
  });
}

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`store contract: ${backend}`, () => {
    let ctx: AppContext;
    let clock = new Date('2026-06-01T12:00:00.000Z');
    const now = () => clock;
    const dataDir = tempDir();
    const schema = newPgSchemaName();
    const env: NodeJS.ProcessEnv =
      backend === 'postgres' ? { BULKHEAD_DATABASE_URL: PG_URL, BULKHEAD_DATABASE_SCHEMA: schema } : {};
    const config = loadConfig({ dataDir }, env);

    before(async () => {
      ctx = await openAppContext(config, allModules(), silent, now);
    });
    after(async () => {
      await ctx.store.close();
      rmSync(dataDir, { recursive: true, force: true });
      if (backend === 'postgres') await dropPgSchema(schema);
    });

    it('runs on the backend it was asked for, and migrations are idempotent', async () => {
      assert.equal(ctx.dialect, backend);
      const again = await openAppContext(config, allModules(), silent, now);
      await again.store.close();
      await ctx.store.ping();
    });

    it('round-trips an identity with every field', async () => {
      await ctx.inventory.createIdentity(
        {
          id: 'alice',
          kind: 'human',
          displayName: 'Alice',
          owners: [],
          groups: ['eng'],
          environment: 'corp',
          source: 'okta',
          labels: {},
          status: 'active',
        },
        meta,
      );
      const created = await ctx.inventory.createIdentity(
        {
          id: 'payments-api',
          kind: 'workload',
          displayName: 'Payments API',
          spiffeId: 'spiffe://prod.example/ns/payments/sa/api',
          cloudArn: 'arn:aws:iam::123456789012:role/payments',
          k8sServiceAccount: 'payments/api',
          owners: ['alice', 'team:payments', 'alice'],
          groups: ['payments-services'],
          environment: 'prod',
          source: 'k8s',
          labels: { tier: 't0', 'app.kubernetes.io/name': 'api' },
          status: 'active',
          lastSeenAt: '2026-05-30T00:00:00.000Z',
        },
        meta,
      );
      assert.deepEqual(created.owners, ['alice', 'team:payments']);
      const read = await ctx.inventory.getIdentity('payments-api');
      assert.deepEqual(read, created);
      assert.equal(read.createdAt, clock.toISOString());
    });

    it('refuses duplicates, unknown or non-human owners, and a second identity with the same SPIFFE ID', async () => {
      const base = {
        kind: 'workload' as const,
        displayName: 'x',
        owners: [],
        groups: [],
        environment: 'prod',
        source: 'manual',
        labels: {},
        status: 'active' as const,
      };
      await rejectsWith(
        ctx.inventory.createIdentity({ ...base, id: 'payments-api' }, meta),
        'BULKHEAD_CONFLICT',
        'body.id',
      );
      await rejectsWith(
        ctx.inventory.createIdentity({ ...base, id: 'w1', owners: ['team:x', 'ghost'] }, meta),
        'BULKHEAD_VALIDATION_FAILED',
        'body.owners[1]',
      );
      await rejectsWith(
        ctx.inventory.createIdentity({ ...base, id: 'w2', owners: ['payments-api'] }, meta),
        'BULKHEAD_VALIDATION_FAILED',
        'body.owners[0]',
      );
      await rejectsWith(
        ctx.inventory.createIdentity(
          { ...base, id: 'w3', spiffeId: 'spiffe://prod.example/ns/payments/sa/api' },
          meta,
        ),
        'BULKHEAD_CONFLICT',
      );
      assert.equal(
        await ctx.inventory.findIdentity('w1'),
        undefined,
        'a refused write leaves nothing behind',
      );
    });

    it('filters identities by kind, owner, team, environment, status, staleness and ownerlessness', async () => {
      const mk = (id: string, extra: Record<string, unknown>) =>
        ctx.inventory.createIdentity(
          {
            id,
            kind: 'service_account',
            displayName: id,
            owners: [],
            groups: [],
            environment: 'dev',
            source: 'manual',
            labels: {},
            status: 'active',
            ...extra,
          } as never,
          meta,
        );
      await mk('sa-stale', { lastSeenAt: '2026-01-01T00:00:00.000Z', owners: ['alice'] });
      await mk('sa-fresh', { lastSeenAt: '2026-05-31T00:00:00.000Z', owners: ['team:data'] });
      const today = clock;
      clock = new Date('2025-11-01T00:00:00.000Z');
      await mk('sa-never', {});
      await mk('sa-off', { status: 'disabled', environment: 'prod' });
      clock = today;
      await mk('sa-new', { environment: 'staging', kind: 'workload' });
      const ids = async (q: Record<string, unknown>) =>
        (await ctx.inventory.listIdentities({ limit: 100, ...q })).items.map((i) => i.id);
      assert.deepEqual(await ids({ kind: 'service_account' }), [
        'sa-fresh',
        'sa-never',
        'sa-off',
        'sa-stale',
      ]);
      assert.deepEqual(await ids({ owner: 'alice' }), ['payments-api', 'sa-stale']);
      assert.deepEqual(await ids({ owner: 'team:data' }), ['sa-fresh']);
      assert.deepEqual(await ids({ environment: 'prod' }), ['payments-api', 'sa-off']);
      assert.deepEqual(await ids({ status: 'disabled' }), ['sa-off']);
      // Never seen counts as stale once it is older than the window (sa-never); one created today (sa-new) is not.
      assert.deepEqual(await ids({ stale_days: 90, environment: 'staging' }), []);
      assert.deepEqual(await ids({ kind: 'service_account', stale_days: 90 }), [
        'sa-never',
        'sa-off',
        'sa-stale',
      ]);
      assert.deepEqual(await ids({ no_owner: true, kind: 'service_account' }), ['sa-never', 'sa-off']);
    });

    it('pages with cursors: every row exactly once, in id order', async () => {
      for (let i = 0; i < 23; i++) {
        await ctx.inventory.createIdentity(
          {
            id: `page-${String(i).padStart(2, '0')}`,
            kind: 'workload',
            displayName: 'p',
            owners: [],
            groups: [],
            environment: 'pagetest',
            source: 'manual',
            labels: {},
            status: 'active',
          },
          meta,
        );
      }
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await ctx.inventory.listIdentities({ environment: 'pagetest', limit: 10, cursor });
        seen.push(...page.items.map((i) => i.id));
        cursor = page.next_cursor ?? undefined;
        pages++;
      } while (cursor);
      assert.equal(pages, 3);
      assert.equal(seen.length, 23);
      assert.deepEqual(seen, [...seen].sort());
      await rejectsWith(
        ctx.inventory.listIdentities({ limit: 10, cursor: 'not-a-cursor' }),
        'BULKHEAD_BAD_CURSOR',
        'query.cursor',
      );
    });

    it('stores credential metadata with its consumers and never re-activates a revoked credential', async () => {
      const cred = await ctx.inventory.createCredential(
        {
          id: 'cred-db',
          identityId: 'payments-api',
          type: 'password',
          fingerprint: 'sha256:abcd1234',
          status: 'active',
          scopes: ['db:rw'],
          storedIn: ['vault:kv/payments/db'],
          consumers: ['payments-api', 'sa-fresh'],
          source: 'manual',
          labels: {},
          expiresAt: '2026-05-01T00:00:00.000Z',
        },
        meta,
      );
      assert.deepEqual(cred.consumers, ['payments-api', 'sa-fresh']);
      const byConsumer = await ctx.inventory.listCredentials({ consumer: 'sa-fresh', limit: 10 });
      assert.deepEqual(
        byConsumer.items.map((c) => c.id),
        ['cred-db'],
      );
      const expired = await ctx.inventory.listCredentials({ expired: true, limit: 10 });
      assert.deepEqual(
        expired.items.map((c) => c.id),
        ['cred-db'],
      );
      await rejectsWith(
        ctx.inventory.createCredential({ ...cred, id: 'cred-bad', consumers: ['ghost'] }, meta),
        'BULKHEAD_VALIDATION_FAILED',
      );
      await ctx.inventory.revokeCredential('cred-db', meta);
      await rejectsWith(
        ctx.inventory.updateCredential('cred-db', { status: 'active' }, meta),
        'BULKHEAD_CONFLICT',
      );
      assert.equal((await ctx.inventory.getCredential('cred-db')).status, 'revoked');
      await rejectsWith(ctx.inventory.deleteIdentity('payments-api', meta), 'BULKHEAD_CONFLICT', 'params.id');
    });

    it('keeps resources a tree: no unknown parent, no cycle, no orphaned children', async () => {
      const r = (id: string, parentId: string | null) =>
        ctx.inventory.createResource(
          {
            id,
            type: 'database',
            displayName: id,
            sensitivity: 'regulated',
            environment: 'prod',
            owners: ['alice'],
            parentId,
            source: 'manual',
            labels: {},
          },
          meta,
        );
      await r('acct', null);
      await r('db', 'acct');
      await rejectsWith(r('orphan', 'nope'), 'BULKHEAD_VALIDATION_FAILED', 'body.parentId');
      await rejectsWith(
        ctx.inventory.updateResource('acct', { parentId: 'db' }, meta),
        'BULKHEAD_VALIDATION_FAILED',
      );
      await rejectsWith(ctx.inventory.deleteResource('acct', meta), 'BULKHEAD_CONFLICT');
      const regulated = await ctx.inventory.listResources({ sensitivity: 'regulated', limit: 10 });
      assert.deepEqual(
        regulated.items.map((x) => x.id),
        ['acct', 'db'],
      );
    });

    it('audits every change with actor, request id, before and after, in one verifiable chain', async () => {
      clock = new Date('2026-06-02T00:00:00.000Z');
      await ctx.inventory.setIdentityStatus('sa-fresh', 'quarantined', meta, 'leaked');
      const entries = await ctx.audit.list(ctx.db, { limit: 1000, targetId: 'sa-fresh' });
      const last = entries[entries.length - 1]!;
      assert.equal(last.action, 'identity.quarantine');
      assert.equal(last.actor, 'test');
      assert.equal(last.requestId, 'req-1');
      assert.equal((last.before as { status: string }).status, 'active');
      assert.equal((last.after as { status: string }).status, 'quarantined');
      const v = await verifyAuditChain(ctx.db);
      assert.equal(v.ok, true);
    });

    it('keeps the audit chain sequential under concurrent writers', async () => {
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          ctx.inventory.createIdentity(
            {
              id: `conc-${i}`,
              kind: 'workload',
              displayName: 'c',
              owners: [],
              groups: [],
              environment: 'dev',
              source: 'manual',
              labels: {},
              status: 'active',
            },
            meta,
          ),
        ),
      );
      const v = await verifyAuditChain(ctx.db);
      assert.equal(v.ok, true, JSON.stringify(v));
    });

    it('verifies a chain that grows while it is read: entries after the head it read are not a truncation', async () => {
      // A second server on the same store appends an entry after each read the verification makes, as
      // concurrent requests do on a busy server.
      const other = await openAppContext(config, allModules(), silent, now);
      try {
        let appended = 0;
        const busy = ctx.db.withPlugin({
          transformQuery: (args) => args.node,
          transformResult: async (args) => {
            await other.db.transaction().execute((trx) =>
              other.audit.record(trx, {
                actor: 'test',
                action: 'test.append',
                targetType: 'test',
                targetId: `during-verify-${appended}`,
              }),
            );
            appended += 1;
            return args.result;
          },
        });
        const v = await verifyAuditChain(busy);
        assert.equal(v.ok, true, JSON.stringify(v));
        assert.ok(appended >= 2, 'entries were appended between the reads');
        const quiet = await verifyAuditChain(ctx.db);
        assert.ok(
          quiet.ok && v.ok && quiet.headSeq === v.headSeq + appended,
          'the newer entries verify next time',
        );
      } finally {
        await other.store.close();
      }
    });

    it('detects an edited, a deleted and a truncated audit entry', async () => {
      const before = await verifyAuditChain(ctx.db);
      assert.ok(before.ok);
      await sql`update audit_log set actor = 'mallory' where seq = 3`.execute(ctx.db);
      let v = await verifyAuditChain(ctx.db);
      assert.equal(v.ok, false);
      assert.ok(!v.ok && v.problems.some((p) => p.kind === 'hash_mismatch' && p.seq === 3));
      await sql`update audit_log set actor = 'test' where seq = 3`.execute(ctx.db);
      assert.equal(
        (await verifyAuditChain(ctx.db)).ok,
        true,
        'restoring the original content restores the chain',
      );
      const maxSeq = before.ok ? before.headSeq : 0;
      const previous = await ctx.db
        .selectFrom('audit_log')
        .select('hash')
        .where('seq', '=', maxSeq - 1)
        .executeTakeFirstOrThrow();
      await sql`update audit_head set seq = ${maxSeq - 1}, hash = ${previous.hash} where id = 1`.execute(
        ctx.db,
      );
      v = await verifyAuditChain(ctx.db);
      assert.ok(!v.ok && v.problems.some((p) => p.kind === 'head_mismatch'), 'a head moved back is detected');
      await sql`update audit_head set seq = ${maxSeq}, hash = ${before.ok ? before.headHash : ''} where id = 1`.execute(
        ctx.db,
      );
      assert.equal((await verifyAuditChain(ctx.db)).ok, true, 'restoring the head restores the chain');
      await sql`delete from audit_log where seq = 5`.execute(ctx.db);
      v = await verifyAuditChain(ctx.db);
      assert.ok(!v.ok && v.problems.some((p) => p.kind === 'sequence_gap' && p.seq === 6));
      await sql`delete from audit_log where seq = ${maxSeq}`.execute(ctx.db);
      v = await verifyAuditChain(ctx.db);
      assert.ok(!v.ok && v.problems.some((p) => p.kind === 'head_mismatch'));
    });

    it('authenticates API keys by hash, honours scope, expiry and revocation', async () => {
      const { key, token } = await ctx.apiKeys.create(
        { name: 'ci', scopes: ['read'], expiresAt: '2026-06-03T00:00:00.000Z' },
        'test',
      );
      const actor = await ctx.apiKeys.authenticate(token);
      assert.deepEqual(actor?.scopes, ['read']);
      const row = await ctx.db
        .selectFrom('api_keys')
        .selectAll()
        .where('id', '=', key.id)
        .executeTakeFirstOrThrow();
      // The secret is everything after `bh_<id>_` (base64url, which may itself contain `_`).
      const secret = token.slice(`bh_${key.id}_`.length);
      assert.ok(secret.length >= 32 && token === `bh_${key.id}_${secret}`);
      assert.ok(!JSON.stringify(row).includes(secret), 'the secret is not stored');
      assert.equal(row.last_used_at, '2026-06-02T00:00:00.000Z', 'use is recorded (a relaxed commit)');
      assert.equal(await ctx.apiKeys.authenticate(`${token}x`), undefined);
      clock = new Date('2026-06-03T00:00:00.000Z');
      assert.equal(await ctx.apiKeys.authenticate(token), undefined, 'expired at exactly expires_at');
      clock = new Date('2026-06-02T12:00:00.000Z');
      await ctx.apiKeys.revoke(key.id, 'test');
      assert.equal(await ctx.apiKeys.authenticate(token), undefined);
    });

    it("refuses a person's key while that person is not active, at once even from a cached lookup", async () => {
      await ctx.inventory.createIdentity(
        {
          id: 'carol',
          kind: 'human',
          displayName: 'Carol',
          owners: [],
          groups: [],
          environment: 'corp',
          source: 'manual',
          labels: {},
          status: 'active',
        },
        meta,
      );
      const { key, token } = await ctx.apiKeys.create(
        { name: 'carol', scopes: ['write'], identityId: 'carol' },
        'test',
      );
      // A lookup cached for an hour: only the inventory's change notification can end it early.
      const cached = new ApiKeyService(ctx.db, ctx.audit, now, 3_600_000, ctx.store.feed, ctx.inventory);
      const refused = async (status: string) => {
        for (const service of [ctx.apiKeys, cached]) {
          await rejectsWith(service.authenticate(token), 'BULKHEAD_UNAUTHENTICATED');
          await assert.rejects(service.authenticate(token), {
            message: `the identity this key is bound to (carol) ${status}`,
          });
        }
      };
      assert.equal((await cached.authenticate(token))?.identityId, 'carol');
      assert.equal((await ctx.apiKeys.authenticate(token))?.keyId, key.id);
      await ctx.inventory.setIdentityStatus('carol', 'quarantined', meta, 'phished');
      await refused('is quarantined');
      await ctx.inventory.setIdentityStatus('carol', 'active', meta);
      assert.equal((await cached.authenticate(token))?.keyId, key.id, 'reinstated: the key works again');
      assert.equal((await ctx.apiKeys.authenticate(token))?.keyId, key.id);
      await ctx.inventory.setIdentityStatus('carol', 'disabled', meta);
      await refused('is disabled');
      await ctx.inventory.deleteIdentity('carol', meta);
      await refused('no longer exists');
    });

    it('never re-activates a revoked BULKHEAD_ADMIN_TOKEN value, and only the current value works', async () => {
      const first = `env-token-${backend}-first-0123456789`;
      const second = `env-token-${backend}-second-0123456789`;
      const auditHead = async () =>
        Number((await ctx.db.selectFrom('audit_head').select('seq').executeTakeFirstOrThrow()).seq);
      assert.equal(await ctx.apiKeys.ensureEnvAdminToken(first), 'active');
      assert.equal((await ctx.apiKeys.authenticate(first))?.keyId, BOOTSTRAP_ENV_KEY_ID);
      await ctx.apiKeys.revoke(BOOTSTRAP_ENV_KEY_ID, 'test');
      const seq = await auditHead();
      // A restart with the leaked value still set: it stays revoked and nothing is written.
      assert.equal(await ctx.apiKeys.ensureEnvAdminToken(first), 'revoked');
      assert.equal(await ctx.apiKeys.authenticate(first), undefined);
      assert.equal(await auditHead(), seq);
      assert.ok((await ctx.apiKeys.list()).find((k) => k.id === BOOTSTRAP_ENV_KEY_ID)?.revokedAt);
      // A new value works; the revoked one is kept on record under another id.
      assert.equal(await ctx.apiKeys.ensureEnvAdminToken(second), 'active');
      assert.equal((await ctx.apiKeys.authenticate(second))?.keyId, BOOTSTRAP_ENV_KEY_ID);
      assert.equal(await ctx.apiKeys.authenticate(first), undefined);
      const actions = (await ctx.audit.list(ctx.db, { afterSeq: seq, limit: 10 })).map((e) => e.action);
      assert.deepEqual(actions, ['api_key.retire', 'api_key.create']);
      // Setting the leaked value back does not revive it, and the value it replaced stops working too.
      assert.equal(await ctx.apiKeys.ensureEnvAdminToken(first), 'revoked');
      assert.equal(await ctx.apiKeys.authenticate(first), undefined);
      assert.equal(await ctx.apiKeys.authenticate(second), undefined);
      assert.equal(await ctx.apiKeys.ensureEnvAdminToken(second), 'revoked', 'a replaced value is revoked');
      const envKeys = (await ctx.apiKeys.list()).filter((k) => k.id.startsWith(BOOTSTRAP_ENV_KEY_ID));
      assert.equal(envKeys.length, 2);
      assert.ok(envKeys.every((k) => k.revokedAt !== null && k.id !== BOOTSTRAP_ENV_KEY_ID));
    });

    if (backend === 'postgres') {
      it('lets replicas starting together with the same BULKHEAD_ADMIN_TOKEN all start, whether new or changed', async () => {
        const other = await openAppContext(config, allModules(), silent, now);
        try {
          /** Both replicas read the keys before either writes: each waits after its first read for the other. */
          const startTogether = async (token: string) => {
            let arrived = 0;
            let release!: () => void;
            const bothRead = new Promise<void>((resolve) => (release = resolve));
            const replica = (c: AppContext) => {
              let first = true;
              const db = c.db.withPlugin({
                transformQuery: (args) => args.node,
                transformResult: async (args) => {
                  if (first) {
                    first = false;
                    if (++arrived === 2) release();
                    await bothRead;
                  }
                  return args.result;
                },
              });
              return new ApiKeyService(db, c.audit, now, 0, c.store.feed);
            };
            return Promise.all([replica(ctx), replica(other)].map((s) => s.ensureEnvAdminToken(token)));
          };
          // Reads the store on every call: the replicas' revocations reach ctx.apiKeys' cache asynchronously.
          const reader = new ApiKeyService(ctx.db, ctx.audit, now, 0);
          const seq = Number(
            (await ctx.db.selectFrom('audit_head').select('seq').executeTakeFirstOrThrow()).seq,
          );
          const fresh = 'env-token-replicas-fresh-0123456789';
          assert.deepEqual(await startTogether(fresh), ['active', 'active']);
          assert.equal((await reader.authenticate(fresh))?.keyId, BOOTSTRAP_ENV_KEY_ID);
          const changed = 'env-token-replicas-changed-0123456789';
          assert.deepEqual(await startTogether(changed), ['active', 'active']);
          assert.equal((await reader.authenticate(changed))?.keyId, BOOTSTRAP_ENV_KEY_ID);
          assert.equal(await reader.authenticate(fresh), undefined);
          const actions = (await ctx.audit.list(ctx.db, { afterSeq: seq, limit: 10 })).map((e) => e.action);
          assert.deepEqual(
            actions,
            ['api_key.create', 'api_key.retire', 'api_key.create'],
            'each change once',
          );
        } finally {
          await other.store.close();
        }
      });
    }

    it('commits relaxed-durability writes, rolls them back on error and leaves full durability on after', async () => {
      await sql`create table relaxed_probe (id text primary key)`.execute(ctx.db);
      try {
        await writeInRelaxedChunks(ctx.db, ['a', 'b', 'c', 'd', 'e'], 2, (ids) => [
          sql`insert into relaxed_probe (id) values ${sql.join(ids.map((id) => sql`(${id})`))}`.compile(
            ctx.db,
          ),
        ]);
        await assert.rejects(
          relaxedTransaction(ctx.db, async (trx) => {
            await sql`insert into relaxed_probe (id) values ('f')`.execute(trx);
            throw new Error('boom');
          }),
          /boom/,
        );
        const rows = await sql<{ id: string }>`select id from relaxed_probe order by id`.execute(ctx.db);
        assert.deepEqual(
          rows.rows.map((r) => r.id),
          ['a', 'b', 'c', 'd', 'e'],
        );
        if (backend === 'sqlite') {
          const s = await sql<{ synchronous: number }>`pragma synchronous`.execute(ctx.db);
          assert.equal(s.rows[0]?.synchronous, 2, 'synchronous is FULL again');
        } else {
          const s = await sql<{ synchronous_commit: string }>`show synchronous_commit`.execute(ctx.db);
          assert.equal(s.rows[0]?.synchronous_commit, 'on', 'SET LOCAL ended with the transaction');
        }
      } finally {
        await sql`drop table relaxed_probe`.execute(ctx.db);
      }
    });

    it('reuses a key lookup only briefly: a revocation here is immediate, on a replica bounded by the cache time', async () => {
      const { key, token } = await ctx.apiKeys.create({ name: 'pep', scopes: ['read'] }, 'test');
      // Two more servers on the same store: one caches lookups for an hour, one not at all.
      const stale = new ApiKeyService(ctx.db, ctx.audit, now, 3_600_000);
      const uncached = new ApiKeyService(ctx.db, ctx.audit, now, 0);
      assert.equal((await ctx.apiKeys.authenticate(token))?.keyId, key.id);
      assert.equal((await stale.authenticate(token))?.keyId, key.id);
      assert.equal((await uncached.authenticate(token))?.keyId, key.id);
      await ctx.apiKeys.revoke(key.id, 'test');
      assert.equal(await ctx.apiKeys.authenticate(token), undefined, 'revoked through this server: at once');
      assert.equal(await uncached.authenticate(token), undefined, 'another replica reads the store');
      assert.equal(
        (await stale.authenticate(token))?.keyId,
        key.id,
        'a replica that looked the key up within its cache time still accepts it until that time passes',
      );
      // Expiry is checked on every use, cached or not.
      const { token: shortLived } = await ctx.apiKeys.create(
        { name: 'short', scopes: ['read'], expiresAt: new Date(clock.getTime() + 60_000).toISOString() },
        'test',
      );
      assert.ok(await stale.authenticate(shortLived));
      const saved = clock;
      clock = new Date(saved.getTime() + 60_000);
      assert.equal(await stale.authenticate(shortLived), undefined, 'expired while cached');
      clock = saved;
    });
  });
}
