import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import type { AuditLog } from '../../src/audit/audit-log.js';
import { RespondService, type AlertInput } from '../../src/respond/service.js';
import { eventually, startRespondServer } from './helpers.js';

describe('respond on PostgreSQL', () => {
  it('leak report → revoked and contained; incidents, timeline and rotations round-trip', async () => {
    const s = await startRespondServer({}, true);
    try {
      const secret = 'pg-leaked-secret-value-0001';
      const hex = createHash('sha256').update(secret).digest('hex');
      await s.server.call('POST', '/v1/credentials', {
        body: {
          id: 'cred-pg-leak',
          identityId: 'search-indexer',
          type: 'api_key',
          fingerprint: `sha256:${hex.slice(0, 32)}`,
          consumers: ['search-indexer'],
        },
      });
      const res = await s.server.call('POST', '/v1/leaks?format=trufflehog', {
        body: [{ DetectorName: 'Generic', Raw: secret, SourceName: 'ci-logs' }],
      });
      assert.equal(res.status, 200);
      assert.equal(res.body.matched[0].state, 'contained');
      const inc = await s.server.call('GET', `/v1/incidents/${res.body.matched[0].incidentId}`);
      assert.equal(typeof inc.body.timeToContainMs, 'number');
      assert.ok(inc.body.timeline.length >= 4);
      const list = await s.server.call('GET', '/v1/incidents?state=contained');
      assert.equal(list.body.items.length, 1);
      const rot = await s.server.call('POST', '/v1/rotations', { body: { credential_id: 'cred-ci-cache' } });
      assert.equal(rot.body.state, 'overlap');
      const ack = await s.server.call('POST', `/v1/rotations/${rot.body.id}/ack`, {
        body: { consumer: 'ci-web-build' },
      });
      assert.ok(ack.body.consumerState['ci-web-build'].switchedAt);
      const done = await s.server.call('POST', `/v1/rotations/${rot.body.id}/complete`, {
        body: { force: true },
      });
      assert.deepEqual(
        done.body.report.stillOnOld.map((x: { consumer: string }) => x.consumer),
        ['svc-dev-ci-cache'],
      );
    } finally {
      await s.server.stop();
    }
  });

  it('two replicas handing in alerts on one identity at once open one incident', async () => {
    const s = await startRespondServer({}, true);
    let release = () => {};
    try {
      const identity = 'svc-pg-replicas';
      const made = await s.server.call('POST', '/v1/identities', {
        body: { id: identity, kind: 'workload', displayName: identity, environment: 'prod' },
      });
      assert.equal(made.status, 201);
      await s.server.call('POST', '/v1/credentials', {
        body: {
          id: 'cred-pg-replicas',
          identityId: identity,
          type: 'api_key',
          fingerprint: 'fp-pg-replicas',
        },
      });
      // Replica 1 stalls inside its transaction, its incident inserted but not committed.
      const real = s.server.ctx.audit;
      let entered = () => {};
      const inTransaction = new Promise<void>((r) => (entered = r));
      const held = new Promise<void>((r) => (release = r));
      const audit = {
        record: async (trx: Parameters<AuditLog['record']>[0], entry: Parameters<AuditLog['record']>[1]) => {
          if (entry.action === 'incident.open') {
            entered();
            await held;
          }
          return real.record(trx, entry);
        },
      } as unknown as AuditLog;
      const replica = new RespondService({ ...s.server.ctx, audit }, { rotationTickMs: 0 });
      await replica.reloadPlaybooks();
      const alert = (id: string, more: Partial<AlertInput>): AlertInput => ({
        id,
        ruleId: 'replica-race',
        severity: 'high',
        title: 'replica race',
        identityId: null,
        credential: null,
        ...more,
      });
      const first = replica.handleAlert(alert('alert-replica-1', { identityId: identity }));
      await inTransaction;
      // Replica 2 gets an alert naming only a credential of the same identity.
      const second = s.respond
        .service()
        .handleAlert(alert('alert-replica-2', { credential: 'cred-pg-replicas' }));
      const waitsForLock = async () => {
        const r = await sql<{ n: number }>`select count(*)::int as n from pg_locks
          where locktype = 'advisory' and not granted and objid = hashtext(${identity})::oid`.execute(
          s.server.ctx.db,
        );
        return (r.rows[0]?.n ?? 0) > 0 ? 'waiting' : undefined;
      };
      const outcome = await Promise.race([second.then(() => 'finished'), eventually(waitsForLock)]);
      assert.equal(outcome, 'waiting', 'replica 2 waits until replica 1 has committed its incident');
      release();
      const [a, b] = await Promise.all([first, second]);
      assert.equal(b?.id, a?.id);
      const list = await s.server.call('GET', `/v1/incidents?identity_id=${identity}`);
      assert.equal(list.body.items.length, 1);
      assert.deepEqual(list.body.items[0].alertIds, ['alert-replica-1', 'alert-replica-2']);
    } finally {
      release();
      await s.server.stop();
    }
  });
});
