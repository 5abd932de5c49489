/**
 * Replicas pick up each other's revocations by polling the table. A row stamped before the newest one already
 * polled (a slower concurrent commit, or a replica whose clock is a little behind) is still loaded: the poll
 * looks back an overlap window and de-duplicates by id.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { POLL_OVERLAP_MS, PURGE_AFTER_MS } from '../../src/broker/revocation/revocation-set.js';
import { PAYMENTS_API, startHarness, type Harness } from './harness.js';

for (const postgres of [false, true]) {
  void describe(`broker: revocation polling across replicas (${postgres ? 'PostgreSQL' : 'SQLite'})`, () => {
    let h: Harness;
    before(async () => {
      h = await startHarness({ postgres });
    });
    after(async () => {
      await h.stop();
    });

    /** A row as another replica writes it, stamped by that replica's clock. */
    async function otherReplicaRevokes(id: string, target: string, stampedMs: number): Promise<void> {
      await h.broker
        .runtime()
        .deps.db.insertInto('broker_revocations')
        .values({
          id,
          kind: 'token',
          target,
          revoked_at: new Date(stampedMs).toISOString(),
          expires_at: new Date(h.clock.ms + 600_000).toISOString(),
          reason: null,
          actor: 'replica-b',
        })
        .execute();
    }

    void it('loads a row stamped before the current watermark that committed after the last poll', async () => {
      const revocations = h.broker.runtime().revocations;
      const task = await h.createTask(await h.svid(PAYMENTS_API), {
        purpose: 'revocation poll',
        actions: ['read'],
        resources: ['payments-db'],
        ttl: 600,
        max_uses: 10,
      });
      assert.equal(task.status, 201, JSON.stringify(task.body));
      const minted = await h.mint(await h.svid(PAYMENTS_API), task.body.id as string);
      assert.equal(minted.status, 200, JSON.stringify(minted.body));
      const token = minted.body.access_token as string;
      const jti = decodeJwt(token).jti ?? '';

      await otherReplicaRevokes('rev-newer', 'some-other-jti', h.clock.ms);
      assert.equal(await revocations.poll(), 1);
      // Stamped earlier than the row just polled, visible only now.
      await otherReplicaRevokes('rev-late', jti, h.clock.ms - POLL_OVERLAP_MS / 2);
      assert.equal(await revocations.poll(), 1);
      assert.equal(revocations.has('token', jti), true);
      // Rows in the overlap are read again but not counted (or applied) twice.
      assert.equal(await revocations.poll(), 0);

      const res = await h.validate({ token, action: 'read', resource: 'payments-db', audience: 'payments' });
      assert.equal(res.status, 401, JSON.stringify(res.body));
      assert.equal(res.body.code, 'BULKHEAD_TOKEN_REVOKED');
    });

    void it('the sweeper deletes stored rows an hour past their expiry, and only those', async () => {
      const db = h.broker.runtime().deps.db;
      const row = (id: string, expiresAt: string | null) => ({
        id,
        kind: 'identity' as const,
        target: id,
        revoked_at: new Date(h.clock.ms - 7_200_000).toISOString(),
        expires_at: expiresAt,
        reason: null,
        actor: 'test',
      });
      await db
        .insertInto('broker_revocations')
        .values([
          row('rev-long-expired', new Date(h.clock.ms - PURGE_AFTER_MS - 1).toISOString()),
          row('rev-just-expired', new Date(h.clock.ms - PURGE_AFTER_MS + 1000).toISOString()),
          row('rev-live', new Date(h.clock.ms + 60_000).toISOString()),
          row('rev-forever', null),
        ])
        .execute();
      await h.broker.runtime().sweep();
      const left = await db
        .selectFrom('broker_revocations')
        .select('id')
        .where('id', 'in', ['rev-long-expired', 'rev-just-expired', 'rev-live', 'rev-forever'])
        .orderBy('id')
        .execute();
      assert.deepEqual(
        left.map((r) => r.id),
        ['rev-forever', 'rev-just-expired', 'rev-live'],
      );
    });
  });
}
