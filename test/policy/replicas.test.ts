/**
 * Two PDP replicas on one PostgreSQL schema, the second with its poll switched off: a policy activation and
 * a quarantine made through the first reach the second through LISTEN/NOTIFY alone, and after its listener
 * connection is killed the second reconnects and catches up on what it missed.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { pino } from 'pino';
import { loadConfig } from '../../src/config.js';
import { identityCreateSchema, resourceCreateSchema } from '../../src/inventory/schemas.js';
import { coreModule } from '../../src/modules/index.js';
import { createPolicyModule } from '../../src/policy/index.js';
import { startBulkhead, type RunningServer } from '../../src/server/start.js';
import type { PostgresChangeFeed } from '../../src/store/change-feed.js';
import { feedChannel } from '../../src/store/change-feed.js';
import { PG_URL, startTestServer, tempDir, type TestServer } from '../helpers/server.js';

const meta = { actor: 'test' };
const POLICY =
  '@id("engineers-read") permit (principal in Group::"engineers", action == Action::"read", resource);';

void describe('policy: replicas on PostgreSQL hear each other', { timeout: 30_000 }, () => {
  let a: TestServer;
  const aPolicy = createPolicyModule({ pollMs: 0 });
  let b: RunningServer;
  const bPolicy = createPolicyModule({ pollMs: 0 });
  const bDir = tempDir();
  const schema = () => a.ctx.config.databaseSchema ?? '';

  before(async () => {
    a = await startTestServer({ postgres: true, modules: [coreModule, aPolicy] });
    const config = loadConfig(
      { host: '127.0.0.1', port: 0, dataDir: bDir, demo: false },
      {
        BULKHEAD_ADMIN_TOKEN: a.token,
        BULKHEAD_LOG_LEVEL: 'silent',
        BULKHEAD_DATABASE_URL: PG_URL,
        BULKHEAD_DATABASE_SCHEMA: schema(),
      },
    );
    b = await startBulkhead(config, { log: pino({ level: 'silent' }), modules: [coreModule, bPolicy] });
    await (b.ctx.store.feed as PostgresChangeFeed).ready();
    for (const id of ['dave', 'erin']) {
      await a.ctx.inventory.createIdentity(
        identityCreateSchema.parse({
          id,
          kind: 'human',
          displayName: id,
          environment: 'prod',
          groups: ['engineers'],
        }),
        meta,
      );
    }
    await a.ctx.inventory.createResource(
      resourceCreateSchema.parse({
        id: 'ledger',
        type: 'database',
        displayName: 'Ledger',
        sensitivity: 'internal',
        environment: 'prod',
      }),
      meta,
    );
  });
  after(async () => {
    await b.close();
    await a.stop();
    rmSync(bDir, { recursive: true, force: true });
  });

  const decideOnB = (principal: string) =>
    bPolicy
      .runtime()
      .pdp.decide({ principal: { id: principal }, action: 'read', resource: { id: 'ledger' } });
  /** Resolves when B's entity index hears of any inventory change. */
  const nextChangeOnB = () =>
    new Promise<void>((resolve) => {
      const index = bPolicy.runtime().index;
      const l = () => {
        index.listeners.delete(l);
        resolve();
      };
      index.listeners.add(l);
    });

  void it('an activation on one replica is in force on the other without a poll', async () => {
    const activated = new Promise<number>((resolve) => {
      const off = bPolicy.runtime().pdp.onActivated((v) => {
        off();
        resolve(v);
      });
    });
    const pushed = await aPolicy
      .runtime()
      .pdp.push({ policies: POLICY, actions: [], requiredContext: {} }, { activate: true }, meta);
    assert.equal(await activated, pushed.version);
    assert.equal(bPolicy.runtime().pdp.activeVersion, pushed.version);
    assert.equal((await decideOnB('dave')).decision, true);
  });

  void it('a quarantine on one replica denies on the other at once, cached decision or not', async () => {
    assert.equal((await decideOnB('dave')).decision, true);
    assert.equal((await decideOnB('dave')).cached, true, 'B now answers dave from its cache');
    const heard = nextChangeOnB();
    await a.ctx.inventory.setIdentityStatus('dave', 'quarantined', meta);
    await heard;
    const d = await decideOnB('dave');
    assert.equal(d.decision, false);
    assert.equal(d.reasons[0]?.id, 'bulkhead.principal_quarantined');
  });

  void it('an admin key revoked on one replica is refused by the other at once, not after its cache time', async () => {
    const { key, token } = await a.ctx.apiKeys.create({ name: 'pep', scopes: ['read'] }, 'test');
    const onB = () =>
      fetch(`${b.url}/v1/identities?limit=1`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal((await onB()).status, 200, 'B has looked the key up (and caches it for 2 s)');
    const heard = new Promise<void>((resolve) => {
      const off = b.ctx.store.feed.subscribe('api_key.revoked', () => {
        off();
        resolve();
      });
    });
    await a.ctx.apiKeys.revoke(key.id, 'test');
    await heard;
    assert.equal((await onB()).status, 401);
  });

  void it('after its listener connection dies, a replica reconnects and catches up on what it missed', async () => {
    assert.equal((await decideOnB('erin')).decision, true);
    const heard = nextChangeOnB();
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    try {
      const killed = await admin.query(
        `select pg_terminate_backend(pid) from pg_stat_activity where query = $1`,
        [`LISTEN ${feedChannel(schema())}`],
      );
      assert.ok(killed.rowCount !== null && killed.rowCount >= 1, 'the listener connection was found');
    } finally {
      await admin.end();
    }
    // Written while B cannot hear: only the resync after reconnecting can tell B about it.
    await a.ctx.inventory.setIdentityStatus('erin', 'disabled', meta);
    await heard;
    const d = await decideOnB('erin');
    assert.equal(d.decision, false);
    assert.equal(d.reasons[0]?.id, 'bulkhead.principal_disabled');
  });
});
