/**
 * The PDP's entity index against the inventory it mirrors: a decision never sees the index half-way through
 * a refetch (an ancestor missing would cut the chain a `forbid ... resource in` relies on), and the poll
 * finds rows deleted through another replica whose notification never came.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { identityCreateSchema, resourceCreateSchema } from '../../src/inventory/schemas.js';
import type { Resource } from '../../src/inventory/types.js';
import { coreModule } from '../../src/modules/index.js';
import { createPolicyModule } from '../../src/policy/index.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const POLICIES = `
@id("all") permit (principal, action, resource);
@id("no-restricted") forbid (principal, action, resource in Resource::"restricted");
`;
const meta = { actor: 'test' };

/** Lets every callback already queued run (a held read stays held however long this waits). */
const drain = () => new Promise<void>((resolve) => setImmediate(resolve));

void describe('policy: entity index consistency', () => {
  let server: TestServer;
  const mod = createPolicyModule({ pollMs: 0 });
  const decide = (principal: string, resource: string) =>
    mod.runtime().pdp.decide({ principal: { id: principal }, action: 'read', resource: { id: resource } });

  before(async () => {
    server = await startTestServer({ modules: [coreModule, mod] });
    const inv = server.ctx.inventory;
    for (const id of ['alice', 'eve']) {
      await inv.createIdentity(
        identityCreateSchema.parse({ id, kind: 'human', displayName: id, environment: 'prod' }),
        meta,
      );
    }
    for (const [id, parentId] of [
      ['restricted', undefined],
      ['mid', 'restricted'],
      ['leaf', 'mid'],
      ['open', undefined],
    ] as const) {
      await inv.createResource(
        resourceCreateSchema.parse({
          id,
          type: 'folder',
          displayName: id,
          sensitivity: 'internal',
          environment: 'prod',
          parentId,
        }),
        meta,
      );
    }
    const res = await server.call('POST', '/v1/policies', { body: { policies: POLICIES } });
    assert.equal(res.status, 201, JSON.stringify(res.body));
  });
  after(async () => {
    await server.stop();
  });

  void it('a forbid on an ancestor holds while that ancestor is refetched, and after', async (t) => {
    assert.equal((await decide('alice', 'leaf')).decision, false);
    const inv = server.ctx.inventory;
    const find = inv.findResource.bind(inv);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    // A busy database: the refetch of `mid` answers only when the test says so.
    t.mock.method(inv, 'findResource', async (id: string): Promise<Resource | undefined> => {
      await held;
      return find(id);
    });
    await inv.updateResource('mid', { displayName: 'mid renamed' }, meta);
    let answered = false;
    const during = decide('alice', 'leaf').finally(() => (answered = true));
    await drain();
    assert.equal(answered, false, 'the decision waits for the refetch of the ancestor');
    release();
    const d = await during;
    assert.equal(d.decision, false, JSON.stringify(d));
    assert.deepEqual(
      d.reasons.map((r) => r.id),
      ['no-restricted'],
    );
    assert.equal((await decide('alice', 'leaf')).decision, false);
  });

  void it('the poll drops identities and resources deleted through another replica', async () => {
    assert.equal((await decide('eve', 'open')).decision, true);
    assert.equal((await decide('eve', 'open')).cached, true);
    // Another replica deletes both rows; this process hears nothing.
    await server.ctx.db.deleteFrom('identities').where('id', '=', 'eve').execute();
    await server.ctx.db.deleteFrom('resources').where('id', '=', 'open').execute();
    const index = mod.runtime().index;
    assert.equal(await index.pollChanges(server.ctx.db), 2);
    const d = await decide('eve', 'open');
    assert.equal(d.decision, false);
    assert.equal(d.reasons[0]?.id, 'bulkhead.unknown_principal');
    assert.equal(index.getResource('open'), undefined);
    assert.equal(index.resolveIdentity('alice')?.id, 'alice', 'rows still there stay');
    assert.equal(await index.pollChanges(server.ctx.db), 0, 'nothing left to reconcile');
  });
});
