import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CompactGraph } from './compact-graph.js';
import type { GraphEdgeInput } from './model.js';

const e = (
  from: string,
  to: string,
  kind: GraphEdgeInput['kind'] = 'has_permission',
  via = 'x',
): GraphEdgeInput => ({
  from,
  to,
  kind,
  via,
});

function keysReached(g: CompactGraph, from: string): string[] {
  return [...g.reach(g.find(from)!)].map((i) => g.key(i)).sort();
}

void describe('CompactGraph', () => {
  void it('interns nodes and walks CSR and overlay edges alike', () => {
    const g = new CompactGraph();
    g.load([['o1', [e('identity:a', 'identity:b', 'can_assume'), e('identity:b', 'resource:db')]]]);
    assert.deepEqual(keysReached(g, 'identity:a'), ['identity:a', 'identity:b', 'resource:db']);
    g.replaceOrigin('o2', [e('resource:db', 'resource:db.t', 'contains')]);
    assert.equal(g.stats().overlayEdges, 1);
    assert.deepEqual(keysReached(g, 'identity:a'), [
      'identity:a',
      'identity:b',
      'resource:db',
      'resource:db.t',
    ]);
  });

  void it('replaces only the changed origin (tombstones, no rebuild)', () => {
    const g = new CompactGraph();
    g.load([
      ['a', [e('identity:a', 'resource:x')]],
      ['b', [e('identity:b', 'resource:y')]],
    ]);
    const before = g.stats().compactions;
    g.replaceOrigin('a', [e('identity:a', 'resource:z')]);
    assert.equal(g.stats().compactions, before);
    assert.deepEqual(keysReached(g, 'identity:a'), ['identity:a', 'resource:z']);
    assert.deepEqual(keysReached(g, 'identity:b'), ['identity:b', 'resource:y']);
    assert.equal(g.originEdges('a').length, 1);
    g.replaceOrigin('a', []);
    assert.deepEqual(keysReached(g, 'identity:a'), ['identity:a']);
    assert.equal(g.stats().edges, 1);
  });

  void it('compacts a large overlay and keeps the same answers', () => {
    const g = new CompactGraph();
    g.load([]);
    for (let i = 0; i < 5000; i++)
      g.replaceOrigin(`o${i}`, [e(`identity:n${i}`, `identity:n${i + 1}`, 'can_assume')]);
    assert.ok(g.stats().compactions >= 2);
    assert.equal(g.reach(g.find('identity:n0')!).length, 5001);
    assert.equal(g.reach(g.find('identity:n4990')!).length, 11);
  });

  void it('does not walk into disabled or deleted nodes, and reports paths', () => {
    const g = new CompactGraph();
    g.upsertNode({ key: 'identity:b', type: 'identity', name: 'b', disabled: true });
    g.load([
      [
        'o',
        [
          e('identity:a', 'identity:b', 'can_assume'),
          e('identity:a', 'identity:c', 'can_assume'),
          e('identity:c', 'resource:r'),
        ],
      ],
    ]);
    assert.deepEqual(keysReached(g, 'identity:a'), ['identity:a', 'identity:c', 'resource:r']);
    const r = g.find('resource:r')!;
    g.reach(g.find('identity:a')!);
    assert.deepEqual(
      g.pathTo(r).map((x) => `${g.key(g.edgeFrom(x))}>${g.key(g.edgeTo(x))}`),
      ['identity:a>identity:c', 'identity:c>resource:r'],
    );
    g.markDeleted('identity:c');
    assert.deepEqual(keysReached(g, 'identity:a'), ['identity:a']);
  });

  void it('walks backwards from several targets', () => {
    const g = new CompactGraph();
    g.load([
      [
        'o',
        [
          e('identity:a', 'identity:b', 'can_assume'),
          e('identity:b', 'admin:aws'),
          e('identity:c', 'resource:r'),
        ],
      ],
    ]);
    assert.ok(g.isAdmin(g.find('admin:aws')!));
    g.reachBackward([g.find('admin:aws')!]);
    assert.ok(g.visited(g.find('identity:a')!));
    assert.ok(!g.visited(g.find('identity:c')!));
    assert.deepEqual(
      g.pathForward(g.find('identity:a')!).map((x) => g.key(g.edgeTo(x))),
      ['identity:b', 'admin:aws'],
    );
  });
});
