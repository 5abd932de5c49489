/**
 * A replica's PDP loading the active policy version while activations keep coming (change feed and poll
 * both ask it to refresh): it ends on the version the database has active, never on one a slow read
 * brought back after a newer one was installed.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, it, type TestContext } from 'node:test';
import { identityCreateSchema } from '../../src/inventory/schemas.js';
import { coreModule } from '../../src/modules/index.js';
import { createPolicyModule } from '../../src/policy/index.js';
import type { PolicyVersionStore } from '../../src/policy/policy-versions.js';
import { PolicyDecisionPoint } from '../../src/policy/service.js';
import { policyDb } from '../../src/policy/tables.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const meta = { actor: 'test' };
const bundle = (policies: string) => ({ policies, actions: [], requiredContext: {} });

/** A promise the test resolves when it chooses. */
function held(): { promise: Promise<void>; release: () => void } {
  let release!: () => void;
  const promise = new Promise<void>((resolve) => (release = resolve));
  return { promise, release };
}

void describe('policy: activation order on a replica', () => {
  let server: TestServer;
  const mod = createPolicyModule({ pollMs: 0 });
  let replica: PolicyDecisionPoint;

  before(async () => {
    server = await startTestServer({ modules: [coreModule, mod] });
    await server.ctx.inventory.createIdentity(
      identityCreateSchema.parse({ id: 'bob', kind: 'human', displayName: 'B', environment: 'prod' }),
      meta,
    );
    const pdp = mod.runtime().pdp;
    await pdp.push(
      bundle('permit (principal, action == Action::"read", resource);'),
      { activate: true },
      meta,
    );
    await pdp.push(bundle('permit (principal, action, resource);'), { activate: false }, meta);
    await pdp.push(bundle('forbid (principal, action, resource);'), { activate: false }, meta); // lockdown
  });
  beforeEach(async () => {
    // A replica that hears of activations only when the test calls refreshActive (no feed, no poll).
    const rt = mod.runtime();
    await policyDb(server.ctx.db).updateTable('policy_active').set({ version: 1 }).execute();
    replica = new PolicyDecisionPoint(
      {
        db: policyDb(server.ctx.db),
        audit: server.ctx.audit,
        log: server.ctx.log,
        events: server.ctx.events,
        now: () => new Date(),
        index: rt.index,
        approvals: rt.approvals,
        decisionLog: undefined,
      },
      { cacheSize: 100, cacheTtlMs: 60_000 },
    );
    await replica.start(0);
    assert.equal(replica.activeVersion, 1);
  });
  afterEach(() => replica.stop());
  after(async () => {
    await server.stop();
  });

  /**
   * Watches the replica's reads of the version store: a read matching `holdRow` waits for `release` (a slow
   * database), and `idle` resolves once no other read is in flight, so whatever a refresh can do without the
   * held read has been done.
   */
  const watchReads = (t: TestContext, holdRow: number) => {
    const store = (replica as unknown as { versions: PolicyVersionStore }).versions;
    const row = store.row.bind(store);
    const activeVersion = store.activeVersion.bind(store);
    const inflight = new Set<Promise<unknown>>();
    const track = <T>(p: Promise<T>): Promise<T> => {
      inflight.add(p);
      const done = () => inflight.delete(p);
      p.then(done, done);
      return p;
    };
    const gate = held();
    const reached = held();
    t.mock.method(store, 'activeVersion', () => track(activeVersion()));
    t.mock.method(store, 'row', async (version: number) => {
      if (version !== holdRow) return track(row(version));
      reached.release();
      await gate.promise;
      return row(version);
    });
    const idle = async () => {
      while (inflight.size > 0) await Promise.allSettled([...inflight]);
    };
    return { store, reached: reached.promise, release: gate.release, idle };
  };
  const activateInDb = (version: number) => mod.runtime().pdp.activate(version, meta);

  void it('refreshes one at a time: a slow older refresh never lands over a newer version', async (t) => {
    const reads = watchReads(t, 2);
    await activateInDb(2);
    const first = replica.refreshActive(); // heard of v2, reads its row slowly
    await reads.reached;
    await activateInDb(3);
    const second = replica.refreshActive(); // heard of v3
    await reads.idle();
    reads.release();
    await Promise.all([first, second]);
    assert.equal(replica.activeVersion, 3);
    const d = await replica.decide({ principal: { id: 'bob' }, action: 'delete', resource: { id: 'x' } });
    assert.equal(d.decision, false, 'the lockdown is in force');
  });

  void it('never installs a version the database stopped having active while it was read', async (t) => {
    const reads = watchReads(t, 2);
    await activateInDb(2);
    const refresh = replica.refreshActive();
    await reads.reached;
    await activateInDb(3); // this notification is lost: no refresh is asked for
    reads.release();
    await refresh;
    assert.equal(replica.activeVersion, 3);
  });

  void it('a local activation made while a refresh reads a row is not undone by that refresh', async (t) => {
    const reads = watchReads(t, 2);
    await activateInDb(2);
    const refresh = replica.refreshActive();
    await reads.reached;
    await replica.activate(3, meta);
    reads.release();
    await refresh;
    assert.equal(replica.activeVersion, 3);
  });

  void it('a local activation is not undone by a refresh whose last look at the database was answered late', async (t) => {
    const store = (replica as unknown as { versions: PolicyVersionStore }).versions;
    const activeVersion = store.activeVersion.bind(store);
    const late = held();
    const reached = held();
    let reads = 0;
    // The refresh's look just before installing is answered with what the database said before the local
    // activation committed (its query was on the wire meanwhile).
    t.mock.method(store, 'activeVersion', async () => {
      const v = await activeVersion();
      if (++reads === 2) {
        reached.release();
        await late.promise;
      }
      return v;
    });
    await policyDb(server.ctx.db).updateTable('policy_active').set({ version: 2 }).execute();
    const refresh = replica.refreshActive();
    await Promise.race([reached.promise, refresh]);
    await replica.activate(3, meta);
    late.release();
    await refresh;
    assert.equal(replica.activeVersion, 3);
  });
});
