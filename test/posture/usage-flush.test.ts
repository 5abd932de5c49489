/**
 * Counted uses reach the store in relaxed upserts that add up across flushes, on both backends (on SQLite
 * file stores they run on the store's worker thread).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { createPostureModule } from '../../src/posture/index.js';
import { coreModule } from '../../src/modules/index.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

for (const postgres of [false, true]) {
  void describe(`posture usage counts (${postgres ? 'postgres' : 'sqlite'})`, () => {
    const posture = createPostureModule();
    let server: TestServer;
    before(async () => {
      server = await startTestServer({ demo: false, postgres, modules: [coreModule, posture] });
    });
    after(async () => {
      await server.stop();
    });

    const use = (id: string, time: string, outcome: 'allow' | 'deny' = 'allow') =>
      server.ctx.events.publish({
        id,
        time,
        type: 'decision',
        source: 'policy',
        identityId: 'svc-a',
        action: 'read',
        resource: 'db-1',
        outcome,
      });

    const row = async () =>
      server.ctx.db
        .withTables<{
          posture_usage: { identity_id: string; count: number; first_seen: string; last_seen: string };
        }>()
        .selectFrom('posture_usage')
        .select(['count', 'first_seen', 'last_seen'])
        .where('identity_id', '=', 'svc-a')
        .executeTakeFirst();

    void it('adds counts across flushes, keeps the first time and the latest time', async () => {
      use('e1', '2026-03-01T10:00:00.000Z');
      use('e2', '2026-03-01T12:00:00.000Z');
      use('e3', '2026-03-01T11:00:00.000Z', 'deny'); // a refused request is not a use
      await posture.service()!.flush();
      assert.deepEqual(await row(), {
        count: 2,
        first_seen: '2026-03-01T10:00:00.000Z',
        last_seen: '2026-03-01T12:00:00.000Z',
      });
      use('e4', '2026-03-01T09:00:00.000Z'); // arrives late: last_seen stays the latest
      use('e5', '2026-03-01T11:30:00.000Z');
      await posture.service()!.flush();
      const r = await row();
      assert.equal(Number(r?.count), 4);
      assert.equal(r?.first_seen, '2026-03-01T10:00:00.000Z');
      assert.equal(r?.last_seen, '2026-03-01T12:00:00.000Z');
    });

    void it('a flush that fails does not stop later ones', async () => {
      await sql`alter table posture_usage rename to posture_usage_away`.execute(server.ctx.db);
      use('e6', '2026-03-02T10:00:00.000Z');
      await assert.rejects(posture.service()!.flush(), /posture_usage/);
      await sql`alter table posture_usage_away rename to posture_usage`.execute(server.ctx.db);
      use('e7', '2026-03-02T11:00:00.000Z');
      await posture.service()!.flush();
      const r = await row();
      // The failed batch (e6) is dropped: usage counts are statistics, not changes.
      assert.equal(Number(r?.count), 5);
      assert.equal(r?.last_seen, '2026-03-02T11:00:00.000Z');
    });
  });
}
