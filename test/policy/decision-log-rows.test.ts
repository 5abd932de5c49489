import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { coreModule } from '../../src/modules/index.js';
import { DECISION_LOG_COLUMNS, type DecisionRecord } from '../../src/policy/decision-log.js';
import { createPolicyModule } from '../../src/policy/index.js';
import { policyDb } from '../../src/policy/tables.js';
import { insertRowsQuery } from '../../src/store/durability.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** Every column written by a flush reads back as recorded, over full chunks and a shorter last one. */
for (const backend of ['sqlite', 'postgres'] as const)
  void describe(`decision log rows (${backend})`, () => {
    let server: TestServer;
    const mod = createPolicyModule({ pollMs: 0 });

    before(async () => {
      server = await startTestServer({ modules: [coreModule, mod], postgres: backend === 'postgres' });
    });
    after(async () => {
      await server.stop();
    });

    void it('writes each queued decision with all its fields (61 rows: two full commits and a tail)', async () => {
      const log = mod.runtime().decisionLog;
      await log.flush();
      const shared = [{ id: 'p-shared' }];
      const records: DecisionRecord[] = Array.from({ length: 61 }, (_, i) => ({
        principal: `rows-${i % 7}`,
        action: i % 2 === 0 ? 'read' : 'write',
        resource: `res-${i}`,
        contextDigest: `digest-${i}`,
        decision: i % 3 !== 0,
        // Shared lists (serialised once) and lists of their own, with and without messages.
        reasons: i % 4 === 0 ? shared : [{ id: `p-${i}`, ...(i % 5 === 0 ? { message: `m ${i} "q"` } : {}) }],
        obligations: i % 6 === 0 ? [{ type: 'step_up', max_auth_age_minutes: i, policy: `p-${i}` }] : [],
        policyVersion: i % 10 === 0 ? null : i,
        latencyUs: i + 0.4,
        cached: false,
        at: new Date(Date.UTC(2026, 10, 25, 10, 0, i)),
      }));
      for (const r of records) log.record(r);
      await log.flush();
      const rows = await log.list({ limit: 500 });
      const mine = new Map(rows.filter((r) => r.principal.startsWith('rows-')).map((r) => [r.resource, r]));
      assert.equal(mine.size, 61);
      for (const [i, r] of records.entries()) {
        const got = mine.get(r.resource);
        assert.ok(got, `row ${i} missing`);
        assert.equal(got.at, r.at!.toISOString());
        assert.equal(got.principal, r.principal);
        assert.equal(got.action, r.action);
        assert.equal(got.contextDigest, r.contextDigest);
        assert.equal(got.decision, r.decision ? 'allow' : 'deny');
        assert.deepEqual(got.reasons, r.reasons);
        assert.deepEqual(got.obligations, r.obligations);
        assert.equal(got.policyVersion, r.policyVersion ?? 0);
        assert.equal(got.latencyUs, i);
        assert.match(got.id, /^dec-[0-9a-f]{16}-[0-9a-z]+$/);
      }
      assert.equal(new Set(rows.map((r) => r.id)).size, rows.length, 'decision ids are unique');
    });

    void it('a batch written twice (retried after the SQLite worker died having committed it) adds no row and fails on nothing', async () => {
      const db = policyDb(server.ctx.db);
      const cols = DECISION_LOG_COLUMNS;
      const row = (id: string) => [
        id,
        '2026-11-25T10:00:00.000Z',
        'dup',
        'read',
        id,
        'd',
        'allow',
        '[]',
        '[]',
        1,
        5,
      ];
      const values = [...row('dup-1'), ...row('dup-2')];
      const count = async () =>
        Number(
          (
            await db
              .selectFrom('policy_decisions')
              .select((eb) => eb.fn.countAll().as('n'))
              .where('principal', '=', 'dup')
              .executeTakeFirstOrThrow()
          ).n,
        );
      await db.executeQuery(insertRowsQuery(db, 'policy_decisions', cols, values, { skipExisting: true }));
      await db.executeQuery(insertRowsQuery(db, 'policy_decisions', cols, values, { skipExisting: true }));
      assert.equal(await count(), 2);
      await assert.rejects(
        db.executeQuery(insertRowsQuery(db, 'policy_decisions', cols, values)),
        /unique|duplicate/i,
        'without skipExisting a repeated key is an error',
      );
      assert.equal(await count(), 2);
    });

    void it('refuses values that do not fill whole rows, and identifiers that are not plain names', () => {
      const db = policyDb(server.ctx.db);
      assert.throws(() => insertRowsQuery(db, 'policy_decisions', ['id', 'at'], ['x']), /do not fill rows/);
      assert.throws(() => insertRowsQuery(db, 'policy_decisions', ['id'], []), /do not fill rows/);
      assert.throws(() => insertRowsQuery(db, 'policy_decisions', [], []), /do not fill rows/);
      assert.throws(() => insertRowsQuery(db, 'policy"; drop table x; --', ['id'], ['x']), /bad identifier/);
      const q = insertRowsQuery(db, 'policy_decisions', ['id', 'at'], ['a', 'b', 'c', 'd']);
      assert.deepEqual(q.parameters, ['a', 'b', 'c', 'd']);
      assert.match(q.sql, backend === 'postgres' ? /\(\$1, \$2\), \(\$3, \$4\)$/ : /\(\?, \?\), \(\?, \?\)$/);
    });
  });
