/**
 * Inventory writes racing each other on PostgreSQL (READ COMMITTED, several pooled connections). The
 * interleavings are forced, not hoped for: a separate connection holds the row lock while the writers start,
 * and is released only once every writer is seen waiting on it.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { pino } from 'pino';
import type { AppContext } from '../../src/app-context.js';
import type { AuditEntry } from '../../src/audit/audit-log.js';
import { loadConfig } from '../../src/config.js';
import { identityCreateSchema } from '../../src/inventory/schemas.js';
import { allModules } from '../../src/modules/index.js';
import { openAppContext } from '../../src/server/context.js';
import {
  PG_URL,
  dropPgSchema,
  newPgSchemaName,
  startTestServer,
  tempDir,
  type TestServer,
} from '../helpers/server.js';

const meta = { actor: 'test', requestId: 'req-1' };

/**
 * Runs `writes` while another connection, in a transaction, has run `hold` (taken a row lock, written a key
 * without committing). Each write starts once the ones before it wait on that transaction (polled, with a
 * deadline), so they reach the database in order; then the transaction ends with `end` and they finish.
 */
async function whileHeld<T>(
  hold: string,
  params: unknown[],
  end: 'commit' | 'rollback',
  writes: (() => Promise<T>)[],
): Promise<PromiseSettledResult<T>[]> {
  const holder = new pg.Client({ connectionString: PG_URL });
  await holder.connect();
  try {
    await holder.query('begin');
    await holder.query(hold, params);
    const pid = (await holder.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
    const running: Promise<T>[] = [];
    for (const write of writes) {
      running.push(write());
      await waitUntilBlocked(holder, pid, running.length);
    }
    await holder.query(end);
    return await Promise.allSettled(running);
  } finally {
    await holder.end();
  }
}

/** Waits until `n` sessions wait on `pid`, directly or behind another waiter (a tuple lock queue). */
async function waitUntilBlocked(holder: pg.Client, pid: number, n: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    // Inside a transaction pg_stat_activity is read once and cached; each poll must look again.
    await holder.query('select pg_stat_clear_snapshot()');
    const waiting = await holder.query<{ pid: number; blockers: number[] }>(
      "select pid, pg_blocking_pids(pid) as blockers from pg_stat_activity where wait_event_type = 'Lock'",
    );
    const blocked = new Set([pid]);
    for (let grew = true; grew;) {
      grew = false;
      for (const w of waiting.rows) {
        if (!blocked.has(w.pid) && w.blockers.some((b) => blocked.has(b))) {
          blocked.add(w.pid);
          grew = true;
        }
      }
    }
    if (blocked.size - 1 >= n) return;
    assert.ok(Date.now() < deadline, 'writers never waited on the held transaction');
  }
}

describe('inventory on PostgreSQL: concurrent writes', () => {
  let ctx: AppContext;
  const dataDir = tempDir();
  const schema = newPgSchemaName();
  const config = loadConfig({ dataDir }, { BULKHEAD_DATABASE_URL: PG_URL, BULKHEAD_DATABASE_SCHEMA: schema });

  before(async () => {
    ctx = await openAppContext(config, allModules(), pino({ level: 'silent' }));
  });
  after(async () => {
    await ctx.store.close();
    rmSync(dataDir, { recursive: true, force: true });
    await dropPgSchema(schema);
  });

  const rowLock = (table: string) => `select id from "${schema}"."${table}" where id = $1 for update`;

  async function auditOf(id: string): Promise<AuditEntry[]> {
    return ctx.audit.list(ctx.store.db, { targetId: id, limit: 50 });
  }

  const createWorkload = (id: string) =>
    ctx.inventory.createIdentity(
      identityCreateSchema.parse({ id, kind: 'service_account', displayName: 'x', environment: 'prod' }),
      meta,
    );

  it('keeps both of two concurrent PATCHes, and their audit entries chain', async () => {
    await createWorkload('svc-race');
    const results = await whileHeld(rowLock('identities'), ['svc-race'], 'commit', [
      () => ctx.inventory.updateIdentity('svc-race', { displayName: 'renamed' }, meta),
      () => ctx.inventory.updateIdentity('svc-race', { environment: 'staging' }, meta),
    ]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'fulfilled'],
    );
    const final = await ctx.inventory.getIdentity('svc-race');
    assert.equal(final.displayName, 'renamed');
    assert.equal(final.environment, 'staging');
    const updates = (await auditOf('svc-race')).filter((e) => e.action === 'identity.update');
    assert.equal(updates.length, 2);
    assert.deepEqual(updates[1]!.before, updates[0]!.after);
  });

  it('does not let a concurrent PATCH undo a quarantine or a revoke', async () => {
    await createWorkload('svc-q');
    await whileHeld(rowLock('identities'), ['svc-q'], 'commit', [
      () => ctx.inventory.setIdentityStatus('svc-q', 'quarantined', meta, 'compromised'),
      () => ctx.inventory.updateIdentity('svc-q', { displayName: 'renamed' }, meta),
    ]);
    const identity = await ctx.inventory.getIdentity('svc-q');
    assert.equal(identity.status, 'quarantined');
    assert.equal(identity.displayName, 'renamed');
    assert.equal(identity.labels['bulkhead.status-reason'], 'compromised');

    await ctx.inventory.createCredential(
      {
        id: 'cred-q',
        identityId: 'svc-q',
        type: 'api_key',
        fingerprint: 'AKIA-q',
        status: 'active',
        scopes: [],
        storedIn: [],
        consumers: [],
        source: 'manual',
        labels: {},
      },
      meta,
    );
    await whileHeld(rowLock('credentials'), ['cred-q'], 'commit', [
      () => ctx.inventory.revokeCredential('cred-q', meta),
      () => ctx.inventory.updateCredential('cred-q', { scopes: ['s3:get'] }, meta),
    ]);
    const credential = await ctx.inventory.getCredential('cred-q');
    assert.equal(credential.status, 'revoked');
    assert.deepEqual(credential.scopes, ['s3:get']);
  });

  it('does not delete a person while a concurrent create names them as owner', async () => {
    const person = {
      kind: 'human' as const,
      environment: 'corp',
      owners: [],
      groups: [],
      source: 'manual',
      labels: {},
      status: 'active' as const,
    };
    await ctx.inventory.createIdentity({ ...person, id: 'bob', displayName: 'Bob' }, meta);
    // The create has checked its owner and inserted when it queues for the audit chain's head; the delete
    // starts then, so it cannot see the create's uncommitted owner row.
    const [create, remove] = await whileHeld<unknown>(
      `select seq from "${schema}".audit_head where id = 1 for update`,
      [],
      'commit',
      [
        () =>
          ctx.inventory.createIdentity(
            {
              id: 'svc-bob',
              kind: 'service_account',
              displayName: 'x',
              environment: 'prod',
              owners: ['bob'],
              groups: [],
              source: 'manual',
              labels: {},
              status: 'active',
            },
            meta,
          ),
        () => ctx.inventory.deleteIdentity('bob', meta),
      ],
    );
    assert.equal(create!.status, 'fulfilled');
    assert.equal(remove!.status, 'rejected');
    assert.equal((remove as PromiseRejectedResult).reason.code, 'BULKHEAD_CONFLICT');
    assert.equal((await ctx.inventory.getIdentity('bob')).id, 'bob');
  });
});

describe('inventory on PostgreSQL: concurrent creates over HTTP', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ postgres: true });
    const seed = await server.call('POST', '/v1/identities', {
      body: { id: 'seed', kind: 'workload', displayName: 'Seed', environment: 'prod' },
    });
    assert.equal(seed.status, 201);
  });
  after(async () => {
    await server.stop();
  });

  /** Creates run while another transaction holds the contested key uncommitted, then rolls it back. */
  async function createsRacing(
    hold: string,
    params: unknown[],
    bodies: unknown[],
    field: string,
  ): Promise<number[]> {
    const results = await whileHeld(
      hold,
      params,
      'rollback',
      bodies.map((body) => () => server.call('POST', '/v1/identities', { body })),
    );
    return results.map((r) => {
      assert.equal(r.status, 'fulfilled');
      const res = r.value;
      if (res.status === 409) {
        assert.equal(res.body.code, 'BULKHEAD_CONFLICT');
        assert.equal(res.body.field, field);
      }
      return res.status;
    });
  }

  it('answers concurrent creates of one id with one 201 and 409s, never a 500', async () => {
    const schema = server.ctx.store.schema;
    const body = { id: 'dup', kind: 'service_account', displayName: 'Dup', environment: 'prod' };
    const statuses = await createsRacing(
      `update "${schema}".identities set id = 'dup' where id = 'seed'`,
      [],
      [body, body, body],
      'body.id',
    );
    assert.deepEqual(statuses.sort(), [201, 409, 409]);
  });

  it('answers concurrent creates with one SPIFFE ID with one 201 and a 409 naming the field', async () => {
    const schema = server.ctx.store.schema;
    const spiffeId = 'spiffe://acme.org/svc';
    const statuses = await createsRacing(
      `update "${schema}".identities set spiffe_id = $1 where id = 'seed'`,
      [spiffeId],
      ['sp-1', 'sp-2'].map((id) => ({
        id,
        kind: 'workload',
        displayName: 'S',
        environment: 'prod',
        spiffeId,
      })),
      'body.spiffeId',
    );
    assert.deepEqual(statuses.sort(), [201, 409]);
  });
});
