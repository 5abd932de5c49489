import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { InventoryChange } from '../inventory/service.js';
import type { Resource } from '../inventory/types.js';
import { resourceRecord } from '../../test/helpers/records.js';
import { EntityIndex, type InventoryReader } from './entity-index.js';
import { FULL_FOOTPRINT, footprintOf } from './footprint.js';

const resource = (id: string, parentId: string | null): Resource => resourceRecord({ id, parentId });

/** An inventory whose resources the test edits, announcing each edit as the inventory service would. */
function editableInventory(resources: Resource[]) {
  let listener: ((c: InventoryChange) => void) | undefined;
  const reader: InventoryReader = {
    findIdentity: () => Promise.resolve(undefined),
    findResource: (id) => Promise.resolve(resources.find((r) => r.id === id)),
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
  return { reader, edit };
}

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
    await index.settle('', 'db');
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
});
