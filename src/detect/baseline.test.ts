import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BaselineStore } from './baseline.js';
import { DetectionEngine } from './engine.js';
import type { NormalizedEvent } from './event.js';
import { normalizeBulkheadEvent } from './parse/bulkhead-ndjson.js';

const T0 = Date.parse('2026-03-02T09:00:00Z');

function seen(actor: string, i: number, credentialId = `cred-${actor}`): NormalizedEvent {
  return normalizeBulkheadEvent({
    id: `e-${actor}-${i}`,
    time: new Date(T0 + i * 1000).toISOString(),
    type: 'activity',
    action: 'x.read',
    identityId: actor,
    credentialId,
    data: { sourceIp: '10.0.0.1' },
  });
}

describe('BaselineStore caps', () => {
  it('evicts the least recently seen identity and credential beyond the cap', () => {
    const store = new BaselineStore(0, { identities: 2, credentials: 2 });
    store.learn('a', seen('a', 1));
    store.learn('b', seen('b', 2));
    store.learn('a', seen('a', 3));
    store.takeDirty();
    store.learn('c', seen('c', 4));
    assert.deepEqual([...store.identities.keys()], ['a', 'c']);
    assert.deepEqual([...store.credentials.keys()], ['cred-a', 'cred-c']);
    // b was written already (not dirty): dropped from memory, nothing held for it.
    assert.equal(store.evictedPending, 0);
    assert.equal(store.holds('identity', 'b'), false);
  });

  it('keeps an evicted baseline that was never written until it is, or until its actor returns', () => {
    const store = new BaselineStore(0, { identities: 2, credentials: 2 });
    store.learn('a', seen('a', 1));
    store.learn('b', seen('b', 2));
    store.learn('c', seen('c', 3));
    assert.equal(store.identities.has('a'), false);
    assert.equal(store.holds('identity', 'a'), true);
    assert.equal(store.evictedPending, 2);
    const dirty = store.takeDirty();
    assert.ok(dirty.identities.includes('a') && dirty.credentials.includes('cred-a'));
    const written = JSON.parse(store.serializeIdentity('a') ?? 'null');
    assert.equal(written.events, 1);
    assert.ok(store.serializeCredential('cred-a'));
    assert.equal(store.evictedPending, 0);

    store.learn('c', seen('c', 4));
    store.learn('d', seen('d', 5));
    store.learn('e', seen('e', 6));
    assert.equal(store.identities.has('c'), false);
    // c returns before the next write: its learned state comes back instead of a fresh baseline.
    assert.equal(store.identity('c')?.events, 2);
    store.learn('c', seen('c', 7));
    assert.equal(store.identity('c')?.events, 3);
    assert.deepEqual([...store.identities.keys()], ['e', 'c']);
  });

  it('keeps the engine bounded under a stream of made-up actors', () => {
    const engine = new DetectionEngine({
      retainAlerts: false,
      baselines: new BaselineStore(0, { identities: 100, credentials: 150 }),
    });
    for (let i = 0; i < 2000; i++) engine.process(seen(`ghost-${i}`, i));
    assert.equal(engine.baselines.identities.size, 100);
    assert.equal(engine.baselines.credentials.size, 150);
    assert.ok(engine.baselines.identities.has('ghost-1999'));
  });

  it('writes evicted baselines into the offline baseline file', () => {
    const store = new BaselineStore(0, { identities: 1, credentials: 1 });
    store.learn('a', seen('a', 1));
    store.learn('b', seen('b', 2));
    const file = store.toFile();
    assert.deepEqual(Object.keys(file.identities).sort(), ['a', 'b']);
    assert.deepEqual(Object.keys(file.credentials).sort(), ['cred-a', 'cred-b']);
  });
});
