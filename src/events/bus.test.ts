import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type BulkheadEvent, EventBus } from './bus.js';

const event = (type: string): BulkheadEvent => ({
  id: type,
  time: '2026-11-25T00:00:00Z',
  type,
  source: 'test',
});

void describe('EventBus', () => {
  void it('delivers by exact type, by prefix and to everything; unsubscribing stops delivery', () => {
    const bus = new EventBus();
    const got: Record<string, string[]> = { exact: [], prefix: [], all: [] };
    bus.subscribe('token.issued', (e) => got.exact!.push(e.type));
    const stop = bus.subscribe('token.*', (e) => got.prefix!.push(e.type));
    bus.subscribe('*', (e) => got.all!.push(e.type));
    for (const t of ['token.issued', 'token.used', 'tokens', 'token', 'decision']) bus.publish(event(t));
    assert.deepEqual(got.exact, ['token.issued']);
    assert.deepEqual(got.prefix, ['token.issued', 'token.used'], 'a prefix matches only below its dot');
    assert.deepEqual(got.all, ['token.issued', 'token.used', 'tokens', 'token', 'decision']);
    stop();
    bus.publish(event('token.revoked'));
    assert.deepEqual(got.prefix, ['token.issued', 'token.used']);
    assert.deepEqual(got.all.at(-1), 'token.revoked');
  });

  void it('keeps delivering to other subscribers when one throws', () => {
    const bus = new EventBus();
    const seen: string[] = [];
    bus.subscribe('decision', () => {
      throw new Error('broken subscriber');
    });
    bus.subscribe('decision', (e) => seen.push(e.id));
    bus.publish(event('decision'));
    assert.deepEqual(seen, ['decision']);
  });
});
