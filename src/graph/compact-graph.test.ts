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

  void it('stores per-edge via texts as shared templates and reads them back exactly', () => {
    const g = new CompactGraph();
    const texts = [
      ['identity:svc-1', 'credential:cred-1', 'holds credential cred-1'],
      ['identity:svc-2', 'credential:cred-2', 'holds credential cred-2'],
      ['credential:cred-2', 'identity:svc-2', 'authenticates as svc-2 (api_key) via cred-2 and svc-2'],
      ['identity:ab', 'identity:abc', 'ab owns abc, abcabc'],
      ['identity:x\u0001y', 'resource:db', 'odd x\u0001y text'],
      ['identity:x\u0001y', 'resource:db2', '\u0000starts odd'],
      ['identity:x\u0001y', 'resource:db3', '\u0000\u0000resource:db3 twice'],
    ] as const;
    g.load(texts.map(([from, to, via], i) => [`o${i}`, [e(from, to, 'owns', via)]]));
    for (const [from, to, via] of texts) {
      const [edge] = g.originEdges(`o${texts.findIndex((t) => t[2] === via)}`);
      assert.ok(edge !== undefined);
      assert.equal(g.key(g.edgeFrom(edge)), from);
      assert.equal(g.key(g.edgeTo(edge)), to);
      assert.equal(g.edgeVia(edge), via);
    }
    assert.ok((g as unknown as { via: { values: string[] } }).via.values.length < texts.length + 1);
  });

  void it('keeps inventory origins per node: replace, remove and unknown origins', () => {
    const g = new CompactGraph();
    g.upsertNode({ key: 'credential:c1', type: 'credential', name: 'c1', externalId: 'sha256:1' });
    g.load([['inventory:credential:c1', [e('credential:c1', 'identity:a', 'can_assume')]]]);
    assert.equal(g.originEdges('inventory:credential:c1').length, 1);
    assert.equal(g.name(g.find('credential:c1')!), 'c1');
    assert.equal(g.externalId(g.find('credential:c1')!), 'sha256:1');
    g.replaceOrigin('inventory:credential:c1', [
      e('credential:c1', 'identity:b', 'can_assume'),
      e('identity:b', 'credential:c1', 'owns'),
    ]);
    assert.deepEqual(keysReached(g, 'credential:c1'), ['credential:c1', 'identity:b']);
    g.replaceOrigin('inventory:credential:c1', []);
    assert.deepEqual(keysReached(g, 'credential:c1'), ['credential:c1']);
    g.replaceOrigin('inventory:credential:never', []);
    assert.equal(g.find('credential:never'), undefined, 'removing an unknown origin creates no node');
    assert.deepEqual(g.originEdges('inventory:credential:never'), []);
    g.compact();
    g.replaceOrigin('inventory:credential:c1', [e('credential:c1', 'identity:a', 'can_assume')]);
    assert.deepEqual(keysReached(g, 'credential:c1'), ['credential:c1', 'identity:a']);
  });

  void it('keeps escalation methods through compaction and overlay updates', () => {
    const g = new CompactGraph();
    g.load([['a', [e('identity:a', 'identity:b')]]]);
    const [plain] = g.originEdges('a');
    assert.equal(g.edgeMethod(plain!), null);
    g.replaceOrigin('m', [{ ...e('identity:b', 'admin:aws'), method: 'iam:PassRole' }]);
    const [overlay] = g.originEdges('m');
    assert.equal(g.edgeMethod(overlay!), 'iam:PassRole');
    g.compact();
    const [base] = g.originEdges('m');
    assert.equal(g.edgeMethod(base!), 'iam:PassRole');
    assert.equal(g.edgeMethod(g.originEdges('a')[0]!), null);
  });
});
