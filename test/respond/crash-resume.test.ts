import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { loadConfig } from '../../src/config.js';
import { createDetectModule } from '../../src/detect/index.js';
import { coreModule } from '../../src/modules/index.js';
import { createPolicyModule } from '../../src/policy/index.js';
import { createRespondModule } from '../../src/respond/index.js';
import { claimRun, insertRun, releaseRun, unfinishedRunIds } from '../../src/respond/store.js';
import { respondDb } from '../../src/respond/tables.js';
import { startBulkhead } from '../../src/server/start.js';
import { tempDir } from '../helpers/server.js';

const dir = tempDir('bulkhead-respond-crash-');
after(() => rmSync(dir, { recursive: true, force: true }));

async function boot() {
  const policy = createPolicyModule({ pollMs: 0 });
  const respond = createRespondModule({ pdp: () => policy.runtime().pdp, retryBaseMs: 1, rotationTickMs: 0 });
  const config = loadConfig({ host: '127.0.0.1', port: 0, dataDir: dir }, { BULKHEAD_LOG_LEVEL: 'silent' });
  const server = await startBulkhead(config, {
    log: pino({ level: 'silent' }),
    modules: [coreModule, policy, createDetectModule({ ssf: { receivers: [] } }), respond],
  });
  return { server, respond };
}

describe('playbook steps survive a crash mid-run', () => {
  it('one replica at a time: a run lease blocks others until it expires or is released', async () => {
    const { server } = await boot();
    try {
      const db = respondDb(server.ctx.db);
      const at = (s: number) => new Date(Date.parse('2026-01-01T00:00:00Z') + s * 1000).toISOString();
      await insertRun(
        db,
        {
          id: 'run-lease',
          incidentId: 'inc-x',
          playbookId: 'p',
          playbookVersion: 1,
          dryRun: false,
          state: 'running',
          facts: {} as never,
          createdAt: at(0),
          updatedAt: at(0),
        },
        [],
        () => 'pending',
      );
      assert.equal(await claimRun(db, 'run-lease', 'A', at(0), at(30)), true);
      assert.equal(await claimRun(db, 'run-lease', 'B', at(10), at(40)), false);
      assert.deepEqual(await unfinishedRunIds(db, at(10)), []);
      assert.equal(await claimRun(db, 'run-lease', 'A', at(20), at(50)), true); // renewal
      assert.deepEqual(await unfinishedRunIds(db, at(51)), ['run-lease']); // A died: orphaned
      assert.equal(await claimRun(db, 'run-lease', 'B', at(51), at(81)), true);
      assert.equal(await claimRun(db, 'run-lease', 'A', at(52), at(82)), false);
      await releaseRun(db, 'run-lease', 'B');
      assert.equal(await claimRun(db, 'run-lease', 'A', at(53), at(83)), true);
    } finally {
      await server.close();
    }
  });

  it('a restart completes the run; the revocation that already happened is not applied twice', async () => {
    const first = await boot();
    const incident = await first.respond.service().handleAlert({
      id: 'alert-crash-1',
      ruleId: 'leaked-secret',
      severity: 'critical',
      title: 'leaked key',
      identityId: 'etl-warehouse',
      credential: 'cred-etl-crm',
      leaked: true,
    });
    assert.equal(incident?.state, 'contained');
    const db = respondDb(first.server.ctx.db);
    const run = await db
      .selectFrom('respond_runs')
      .selectAll()
      .where('incident_id', '=', incident.id)
      .executeTakeFirstOrThrow();
    // Rewind the journal to what a kill -9 right after the revocation (before its step was marked done) leaves.
    await db.updateTable('respond_runs').set({ state: 'running' }).where('id', '=', run.id).execute();
    await db
      .updateTable('respond_steps')
      .set({ status: 'running', attempts: 1, result: null, finished_at: null })
      .where('run_id', '=', run.id)
      .where('step_id', '=', 'revoke')
      .execute();
    await db
      .updateTable('respond_steps')
      .set({ status: 'pending', attempts: 0, result: null, finished_at: null })
      .where('run_id', '=', run.id)
      .where('step_id', 'in', ['page', 'verify'])
      .execute();
    await db
      .updateTable('respond_incidents')
      .set({ state: 'open', contained_at: null, ttc_ms: null })
      .where('id', '=', incident.id)
      .execute();
    await first.server.close();

    const second = await boot();
    try {
      await second.respond.service().idle();
      const detail = await second.respond.service().incident(incident.id);
      assert.equal(detail.state, 'contained');
      assert.equal(typeof detail.timeToContainMs, 'number');
      const steps = Object.fromEntries(detail.runs[0]!.steps.map((s) => [s.stepId, s]));
      assert.equal(detail.runs[0]!.state, 'completed');
      assert.equal(steps.revoke?.status, 'done');
      assert.equal(steps.revoke?.attempts, 2);
      assert.match(JSON.stringify(steps.revoke?.result), /already revoked/);
      assert.equal(steps.verify?.status, 'done');
      const revocations = await second.server.ctx.db
        .selectFrom('audit_log')
        .select('seq')
        .where('action', '=', 'credential.revoke')
        .where('target_id', '=', 'cred-etl-crm')
        .execute();
      assert.equal(revocations.length, 1);
    } finally {
      await second.server.close();
    }
  });
});
