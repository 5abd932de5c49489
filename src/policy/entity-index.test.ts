import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { InventoryChange } from '../inventory/service.js';
import type { Resource } from '../inventory/types.js';
import { resourceRecord } from '../../test/helpers/records.js';
import { EntityIndex, REFETCH_RETRY_MS, type InventoryReader } from './entity-index.js';
import { FULL_FOOTPRINT, footprintOf } from './footprint.js';

const resource = (id: string, parentId: string | null): Resource => resourceRecord({ id, parentId });

/**
 * An inventory whose resources the test edits, announcing each edit as the inventory service would. A read
 * of a held id takes the row as it was when the read began and answers only once the test releases it (a
 * slow database).
 */
function editableInventory(resources: Resource[]) {
  let listener: ((c: InventoryChange) => void) | undefined;
  const held = new Map<string, Promise<void>>();
  const reader: InventoryReader = {
    findIdentity: () => Promise.resolve(undefined),
    findResource: async (id) => {
      const row = resources.find((r) => r.id === id);
      await held.get(id);
      return row;
    },
    listIdentities: () => Promise.resolve({ items: [], next_cursor: null }),
    listResources: () => Promise.resolve({ items: resources, next_cursor: null }),
    onChange: (l) => {
      listener = l;
      return () => undefined;
    },
  };
  const edit = (id: string, change: Partial<Resource>) => {
    const i = resources.findIndex((r) => r.id === id);
    resources[i] = { ...resources[i]!, ...change };
    listener?.({ entity: 'resource', op: 'update', id });
  };
  /** Holds the reads of `id` that begin from now on; returns the function that lets them answer. */
  const hold = (id: string) => {
    let release!: () => void;
    held.set(id, new Promise<void>((resolve) => (release = resolve)));
    return () => {
      held.delete(id);
      release();
    };
  };
  return { reader, edit, hold };
}

/** Lets every callback already queued run (a held read stays held however long this waits). */
const drain = () => new Promise<void>((resolve) => setImmediate(resolve));

void describe('EntityIndex resource slices', () => {
  // No policy reads a resource attribute: ancestors become the resource's parents.
  const fp = footprintOf([{ conditions: [] }]);

  void it('reuses a slice until any resource changes, then sees the new ancestry', async () => {
    const { reader, edit } = editableInventory([
      resource('root', null),
      resource('db', 'root'),
      resource('table', 'db'),
    ]);
    const index = new EntityIndex(reader);
    await index.load();
    const first = index.resourceSlice({ id: 'table' }, fp);
    assert.equal(index.resourceSlice({ id: 'table' }, fp), first, 'reused');
    assert.equal(
      index.resourceSlice({ id: 'table', properties: {} }, fp),
      first,
      'empty properties are none',
    );
    assert.deepEqual(first.entities[0]?.parents, [
      { type: 'Resource', id: 'db' },
      { type: 'Resource', id: 'root' },
    ]);
    // Re-parenting an ancestor changes the slice of a resource that did not itself change.
    edit('db', { parentId: null });
    await index.settle();
    const after = index.resourceSlice({ id: 'table' }, fp);
    assert.deepEqual(after.entities[0]?.parents, [{ type: 'Resource', id: 'db' }]);
  });

  void it('keeps slices per footprint and never caches PEP-described or unknown resources', async () => {
    const { reader } = editableInventory([resource('root', null), resource('db', 'root')]);
    const index = new EntityIndex(reader);
    await index.load();
    const pruned = index.resourceSlice({ id: 'db' }, fp);
    const full = index.resourceSlice({ id: 'db' }, FULL_FOOTPRINT);
    assert.equal(full.entities.length, 2, 'full slices keep ancestors as entities');
    assert.equal(pruned.entities.length, 1);
    const withProps = index.resourceSlice({ id: 'db', properties: { team: 'a' } }, FULL_FOOTPRINT);
    assert.deepEqual(withProps.entities[0]?.tags, { team: 'a' });
    assert.notEqual(index.resourceSlice({ id: 'db', properties: { team: 'a' } }, FULL_FOOTPRINT), withProps);
    assert.equal(index.resourceSlice({ id: 'nope' }, fp).known, undefined);
    assert.notEqual(index.resourceSlice({ id: 'nope' }, fp), index.resourceSlice({ id: 'nope' }, fp));
  });

  void it('settles only once every refetch is in (an ancestor too) and announces the refetch landing', async () => {
    const { reader, edit, hold } = editableInventory([
      resource('restricted', null),
      resource('mid', 'restricted'),
      resource('leaf', 'mid'),
    ]);
    const index = new EntityIndex(reader);
    await index.load();
    let heard = 0;
    index.listeners.add(() => heard++);
    const release = hold('mid');
    edit('mid', { displayName: 'mid renamed' });
    assert.equal(heard, 1, 'the change empties caches at once');
    // A decision on `leaf` settles, then slices: `mid` missing would cut leaf off from `restricted`.
    let settled = false;
    const slice = index.settle().then(() => {
      settled = true;
      return index.resourceSlice({ id: 'leaf' }, fp);
    });
    await drain();
    assert.equal(settled, false, 'waits for the refetch of an ancestor');
    release();
    assert.deepEqual((await slice).entities[0]?.parents, [
      { type: 'Resource', id: 'mid' },
      { type: 'Resource', id: 'restricted' },
    ]);
    assert.equal(heard, 2, 'and again when the refetch lands, so nothing decided meanwhile stays cached');
  });

  void it('keeps the newest of two refetches of one resource, whichever answers last', async () => {
    const { reader, edit, hold } = editableInventory([resource('root', null), resource('db', 'root')]);
    const index = new EntityIndex(reader);
    await index.load();
    const releaseFirst = hold('db');
    edit('db', { sensitivity: 'public' });
    const releaseSecond = hold('db');
    edit('db', { sensitivity: 'regulated' });
    releaseSecond();
    await index.settle();
    assert.equal(index.getResource('db')?.sensitivity, 'regulated');
    releaseFirst();
    await drain();
    assert.equal(index.getResource('db')?.sensitivity, 'regulated');
  });
});

void describe('EntityIndex when the store cannot be read', () => {
  void it('reports a failed refetch (so decisions deny) until a retry reads the row', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const resources = [resource('root', null), resource('db', 'root')];
    let down = false;
    let listener: ((c: InventoryChange) => void) | undefined;
    const reader: InventoryReader = {
      findIdentity: () => Promise.resolve(undefined),
      findResource: (id) =>
        down
          ? Promise.reject(new Error('connection refused'))
          : Promise.resolve(resources.find((r) => r.id === id)),
      listIdentities: () => Promise.resolve({ items: [], next_cursor: null }),
      listResources: () => Promise.resolve({ items: resources, next_cursor: null }),
      onChange: (l) => {
        listener = l;
        return () => undefined;
      },
    };
    const index = new EntityIndex(reader);
    await index.load();
    assert.equal(index.unavailable(), undefined);
    down = true;
    listener?.({ entity: 'resource', op: 'update', id: 'root' });
    await index.settle(); // no unhandled rejection: the failure is kept, not thrown
    assert.match(index.unavailable() ?? '', /resource root: connection refused/);
    assert.equal(index.getResource('root'), undefined, 'the stale row is not put back');
    t.mock.timers.tick(REFETCH_RETRY_MS);
    await index.settle();
    assert.match(index.unavailable() ?? '', /connection refused/, 'still down: still refusing');
    down = false;
    t.mock.timers.tick(REFETCH_RETRY_MS);
    await index.settle();
    assert.equal(index.unavailable(), undefined);
    assert.equal(index.getResource('root')?.id, 'root');
  });
});
