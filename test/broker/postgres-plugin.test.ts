/**
 * The PostgreSQL downstream plugin against the machine's PostgreSQL: the task's role can log in and do exactly
 * what the intent grants while the task is active; when the task completes (or expires) its sessions end and
 * it can no longer log in.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { PG_URL } from '../helpers/server.js';
import { PAYMENTS_API, startHarness, type Harness } from './harness.js';

const SCHEMA = `bh_plug_${randomBytes(5).toString('hex')}`;

function roleUrl(user: string, password: string): string {
  const u = new URL(PG_URL);
  u.username = user;
  u.password = password;
  return u.toString();
}

async function roleExists(admin: pg.Client, role: string): Promise<boolean> {
  return ((await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role])).rowCount ?? 0) > 0;
}

void describe('broker: PostgreSQL dynamic credentials', () => {
  let h: Harness;
  const admin = new pg.Client({ connectionString: PG_URL });

  before(async () => {
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${SCHEMA}`);
    await admin.query(`CREATE TABLE ${SCHEMA}.refunds (id int)`);
    await admin.query(`CREATE TABLE ${SCHEMA}.secrets (id int)`);
    await admin.query(`INSERT INTO ${SCHEMA}.refunds VALUES (1), (2)`);
    h = await startHarness({
      config: {
        downstream: {
          postgres: [
            {
              resource: 'payments-db',
              url: PG_URL,
              privileges: { read: ['SELECT'], write: ['INSERT', 'UPDATE'] },
              tables: [`${SCHEMA}.refunds`],
            },
          ],
        },
      },
    });
  });
  after(async () => {
    await h.stop();
    await admin.query(`DROP SCHEMA ${SCHEMA} CASCADE`);
    await admin.end();
  });

  async function credentials(taskId: string) {
    return h.server.call('POST', `/v1/tasks/${taskId}/credentials`, { token: await h.svid(PAYMENTS_API) });
  }

  void it('grants exactly the intent while active; no login after completion', async () => {
    const task = await h.createTask(await h.svid(PAYMENTS_API), {
      purpose: 'refund report',
      actions: ['read'],
      resources: ['payments-db'],
      ttl: 600,
      max_uses: 5,
    });
    assert.equal(task.status, 201, JSON.stringify(task.body));
    const res = await credentials(task.body.id as string);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const cred = res.body.items[0] as {
      principal: string;
      secret: string;
      grants: string[];
      expires_at: string;
    };
    assert.match(cred.principal, /^bh_task_[0-9a-f]{16}$/);
    assert.deepEqual(cred.grants, [`SELECT ON ${SCHEMA}.refunds`]);
    const validUntil = await admin.query('SELECT rolvaliduntil FROM pg_roles WHERE rolname = $1', [
      cred.principal,
    ]);
    assert.equal(new Date(validUntil.rows[0].rolvaliduntil as string).toISOString(), cred.expires_at);
    // The secret is not stored anywhere in the broker's tables.
    const rows = await h.broker.runtime().deps.db.selectFrom('broker_downstream').selectAll().execute();
    assert.ok(!JSON.stringify(rows).includes(cred.secret));

    const session = new pg.Client({ connectionString: roleUrl(cred.principal, cred.secret) });
    await session.connect();
    session.on('error', () => undefined);
    assert.equal((await session.query(`SELECT count(*)::int AS n FROM ${SCHEMA}.refunds`)).rows[0].n, 2);
    await assert.rejects(session.query(`INSERT INTO ${SCHEMA}.refunds VALUES (3)`), { code: '42501' });
    await assert.rejects(session.query(`SELECT * FROM ${SCHEMA}.secrets`), { code: '42501' });
    const again = await credentials(task.body.id as string);
    assert.equal(again.status, 409);

    const done = await h.server.call('POST', `/v1/tasks/${task.body.id}/complete`, {
      token: await h.svid(PAYMENTS_API),
    });
    assert.equal(done.status, 200, JSON.stringify(done.body));
    await assert.rejects(session.query('SELECT 1'));
    await session.end().catch(() => undefined);
    assert.equal(await roleExists(admin, cred.principal), false);
    const late = new pg.Client({ connectionString: roleUrl(cred.principal, cred.secret) });
    await assert.rejects(late.connect());
    await late.end().catch(() => undefined);
  });

  void it('the sweeper drops the role when the task expires; write intent grants INSERT/UPDATE', async () => {
    const task = await h.createTask(await h.svid(PAYMENTS_API), {
      purpose: 'refund fix',
      actions: ['read', 'write'],
      resources: ['payments-db'],
      ttl: 60,
      max_uses: 5,
    });
    const res = await credentials(task.body.id as string);
    const cred = res.body.items[0] as { principal: string; secret: string; grants: string[] };
    assert.deepEqual(cred.grants, [`SELECT, INSERT, UPDATE ON ${SCHEMA}.refunds`]);
    const session = new pg.Client({ connectionString: roleUrl(cred.principal, cred.secret) });
    await session.connect();
    await session.query(`INSERT INTO ${SCHEMA}.refunds VALUES (3)`);
    await assert.rejects(session.query(`DELETE FROM ${SCHEMA}.refunds`), { code: '42501' });
    await session.end();
    h.clock.advance(60);
    await h.broker.runtime().sweep();
    assert.equal(await roleExists(admin, cred.principal), false);
  });
});
