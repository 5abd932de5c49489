import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LruCache } from './decision-cache.js';

void describe('LruCache', () => {
  void it('never holds more than maxEntries and evicts the least recently used', () => {
    const c = new LruCache<number>(3, 1000, () => 0);
    c.set('a', 1);
    c.set('b', 2);
    c.set('c', 3);
    assert.equal(c.get('a'), 1); // a is now the youngest
    c.set('d', 4);
    assert.equal(c.size, 3);
    assert.equal(c.get('b'), undefined);
    assert.equal(c.get('a'), 1);
    for (let i = 0; i < 10_000; i++) c.set(`k${i}`, i);
    assert.equal(c.size, 3);
  });

  void it('keeps frequently hit entries under a stream of unique keys', () => {
    const c = new LruCache<number>(100, 1000, () => 0);
    c.set('hot', 1);
    for (let i = 0; i < 10_000; i++) {
      c.set(`cold-${i}`, i);
      assert.equal(c.get('hot'), 1, `evicted after ${i} cold keys`);
    }
    assert.equal(c.size, 100);
    assert.equal(c.get('cold-0'), undefined);
  });

  void it('expires entries exactly at their TTL', () => {
    let now = 0;
    const c = new LruCache<string>(10, 100, () => now);
    c.set('x', 'v');
    now = 99;
    assert.equal(c.get('x'), 'v');
    now = 100;
    assert.equal(c.get('x'), undefined, 'the hit at 99 did not extend the TTL');
  });

  void it('keeps a tag beside each value, replaced with it and gone with it', () => {
    let now = 0;
    const c = new LruCache<number, string>(2, 100, () => now);
    c.set('a', 1, 'first');
    c.set('a', 2, 'second');
    assert.equal(c.entry('a')?.value, 2);
    assert.equal(c.entry('a')?.tag, 'second');
    c.set('b', 3, 'b');
    c.set('c', 4, 'c');
    assert.equal(c.entry('a'), undefined, 'evicted with its value');
    now = 100;
    assert.equal(c.entry('b'), undefined, 'expired with its value');
  });
});
