import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import cedar from './cedar.js';
import { FULL_FOOTPRINT, footprintOf, prunedContext, prunedEntity } from './footprint.js';

/** The footprint of Cedar policy text, through Cedar's own JSON form as compileBundle does it. */
function footprint(...texts: string[]) {
  return footprintOf(
    texts.map((t) => {
      const r = cedar.policyToJson(t);
      assert.equal(r.type, 'success', `policy did not parse: ${t}`);
      return r.type === 'success' ? r.json : undefined;
    }),
  );
}

void describe('footprintOf', () => {
  void it('collects the attributes read or tested, per principal, resource and context', () => {
    const fp = footprint(
      'permit (principal, action, resource) when { resource.owners.contains(principal.id) };',
      'forbid (principal, action, resource) when { context has risk_score && context.risk_score > 90 };',
    );
    assert.deepEqual([...(fp.principalAttrs ?? [])], ['id']);
    assert.deepEqual([...(fp.resourceAttrs ?? [])], ['owners']);
    assert.deepEqual([...(fp.contextAttrs ?? [])], ['risk_score']);
    assert.equal(fp.tags, false);
    assert.equal(fp.otherEntities, false);
  });

  void it('scope constraints alone read no attributes', () => {
    const fp = footprint('permit (principal in Group::"eng", action, resource in Resource::"root");');
    assert.deepEqual(
      [...(fp.principalAttrs ?? []), ...(fp.resourceAttrs ?? []), ...(fp.contextAttrs ?? [])],
      [],
    );
    assert.equal(fp.otherEntities, false);
  });

  void it('notes tags, including tags of the request property entities', () => {
    const fp = footprint(
      'permit (principal, action, resource) when { context.subject_properties.hasTag("role") && context.subject_properties.getTag("role") == "admin" };',
    );
    assert.equal(fp.tags, true);
    assert.deepEqual([...(fp.contextAttrs ?? [])], ['subject_properties']);
    assert.deepEqual([...(fp.principalAttrs ?? [])], []);
    assert.equal(fp.otherEntities, false);
  });

  void it('keeps every name of a `has` path', () => {
    const fp = footprint('permit (principal, action, resource) when { principal has a.b };');
    assert.ok(fp.principalAttrs?.has('a'));
  });

  void it('keeps the whole context when a policy uses it as a value', () => {
    const fp = footprint('permit (principal, action, resource) when { context == {} && resource.x > 1 };');
    assert.equal(fp.contextAttrs, undefined);
    assert.notEqual(fp.resourceAttrs, undefined, 'entities are still pruned');
  });

  void it('does not read operators into the keys of a record literal', () => {
    const fp = footprint(
      'permit (principal, action, resource) when { {"in": 1, "has": 2} == {"in": 1, "has": 2} };',
    );
    assert.equal(fp.otherEntities, false);
    assert.deepEqual([...(fp.contextAttrs ?? [])], []);
  });

  void it('turns pruning off when a policy reads data of an entity outside the slice', () => {
    for (const text of [
      'permit (principal, action, resource) when { Resource::"root".sensitivity == "public" };',
      'permit (principal, action, resource) when { Resource::"a" in resource };',
      'permit (principal, action, resource) when { (if context.hour > 3 then principal else resource).id == "x" };',
      'permit (principal, action, resource) when { Resource::"a" is Resource in resource };',
      'permit (principal, action, resource) when { Resource::"root".hasTag("x") };',
    ]) {
      assert.equal(footprint(text), FULL_FOOTPRINT, text);
    }
  });

  void it('a policy without a JSON form makes the whole set unpruned', () => {
    assert.equal(footprintOf([undefined]), FULL_FOOTPRINT);
  });
});

void describe('pruning', () => {
  const fp = footprint(
    'permit (principal, action, resource) when { resource.environment == "dev" && context.hour > 3 };',
  );

  void it('keeps only attributes the policies can read, and tags only when a policy reads tags', () => {
    const e = prunedEntity(
      { type: 'Resource', id: 'r' },
      { environment: 'dev', sensitivity: 'internal' },
      [{ type: 'Resource', id: 'p' }],
      { team: 'a' },
      fp.resourceAttrs,
      fp,
    );
    assert.deepEqual(e, {
      uid: { type: 'Resource', id: 'r' },
      attrs: { environment: 'dev' },
      parents: [{ type: 'Resource', id: 'p' }],
    });
    const full = prunedEntity(
      { type: 'Resource', id: 'r' },
      { a: 1 },
      [],
      { team: 'a' },
      FULL_FOOTPRINT.resourceAttrs,
      FULL_FOOTPRINT,
    );
    assert.deepEqual(full.attrs, { a: 1 });
    assert.deepEqual(full.tags, { team: 'a' });
  });

  void it('prunes the context unless the whole context is used', () => {
    assert.deepEqual(prunedContext({ hour: 4, weekday: 2, risk_score: 1 }, fp), { hour: 4 });
    assert.deepEqual(prunedContext({ hour: 4, weekday: 2 }, FULL_FOOTPRINT), { hour: 4, weekday: 2 });
  });
});
