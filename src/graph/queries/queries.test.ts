import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CompactGraph } from '../compact-graph.js';
import type { GraphEdgeInput } from '../model.js';
import { computeBlastRadius } from './blast-radius.js';
import { computeChokePoints } from './choke-points.js';
import { findEscalations } from './escalations.js';
import { kShortestPaths } from './paths.js';

function sample(): CompactGraph {
  const g = new CompactGraph();
  g.upsertNode({ key: 'identity:dev', type: 'identity', name: 'dev', externalId: 'arn:aws:iam::1:user/dev' });
  g.upsertNode({ key: 'identity:ci', type: 'identity', name: 'ci' });
  g.upsertNode({ key: 'identity:admin-role', type: 'identity', name: 'admin-role', admin: true });
  g.upsertNode({ key: 'resource:cards', type: 'resource', name: 'cards', sensitivity: 'regulated' });
  g.upsertNode({ key: 'resource:wiki', type: 'resource', name: 'wiki', sensitivity: 'internal' });
  const edges: GraphEdgeInput[] = [
    { from: 'identity:dev', to: 'identity:ci', kind: 'can_read_secret_of', via: 'reads CI secret' },
    { from: 'identity:dev', to: 'resource:wiki', kind: 'has_permission', via: 'wiki:read' },
    {
      from: 'identity:ci',
      to: 'identity:admin-role',
      kind: 'can_assume',
      via: 'trust policy',
      method: 'sts:AssumeRole',
    },
    { from: 'identity:ci', to: 'resource:cards', kind: 'has_permission', via: 'db:read', conditional: true },
    { from: 'identity:admin-role', to: 'resource:cards', kind: 'has_permission', via: '*' },
  ];
  g.load([['o', edges]]);
  return g;
}

void describe('graph queries', () => {
  void it('blast radius groups by sensitivity with the path to each', () => {
    const g = sample();
    const r = computeBlastRadius(g, g.find('identity:dev')!);
    assert.equal(r.totals.reachable, 4);
    assert.equal(r.totals.admin, 1);
    assert.deepEqual(
      r.bySensitivity.regulated.map((i) => i.node),
      ['resource:cards'],
    );
    assert.deepEqual(
      r.bySensitivity.regulated[0]!.path.map((s) => s.via),
      ['reads CI secret', 'db:read'],
    );
    assert.equal(r.bySensitivity.regulated[0]!.path[1]!.conditional, true);
    assert.deepEqual(
      r.bySensitivity.internal.map((i) => i.node),
      ['resource:wiki'],
    );
    const limited = computeBlastRadius(g, g.find('identity:dev')!, { minSensitivity: 'confidential' });
    assert.equal(limited.bySensitivity.internal.length, 0);
    assert.equal(limited.totals.bySensitivity.internal, 1);
  });

  void it('k shortest paths returns distinct loop-free paths, cheapest first', () => {
    const g = sample();
    const target = g.find('resource:cards')!;
    const paths = kShortestPaths(g, g.find('identity:dev')!, (i) => i === target, 3);
    assert.equal(paths.length, 2);
    assert.deepEqual(
      paths[0]!.steps.map((s) => s.to),
      ['identity:ci', 'resource:cards'],
    );
    assert.deepEqual(
      paths[1]!.steps.map((s) => s.to),
      ['identity:ci', 'identity:admin-role', 'resource:cards'],
    );
    assert.ok(paths[0]!.cost <= paths[1]!.cost);
    assert.deepEqual(
      kShortestPaths(g, g.find('resource:wiki')!, (i) => i === target, 3),
      [],
    );
  });

  void it('escalations name the principal, method and path; direct admins are excluded by default', () => {
    const g = sample();
    const esc = findEscalations(g);
    assert.deepEqual(
      esc.map((x) => [x.principal, x.method, x.target]),
      [
        ['ci', 'sts:AssumeRole', 'admin-role'],
        // dev's own first step is stealing ci's secret; the assume-role that confers admin is in `methods`.
        ['dev', 'credential-theft', 'admin-role'],
      ],
    );
    const dev = esc.find((x) => x.principal === 'dev')!;
    assert.equal(dev.principal_id, 'arn:aws:iam::1:user/dev');
    assert.deepEqual(dev.methods, ['sts:AssumeRole']);
    assert.deepEqual(dev.path, [
      {
        from: 'dev',
        to: 'ci',
        via: 'reads CI secret',
        from_id: 'arn:aws:iam::1:user/dev',
        to_id: 'identity:ci',
      },
      {
        from: 'ci',
        to: 'admin-role',
        via: 'trust policy',
        from_id: 'identity:ci',
        to_id: 'identity:admin-role',
        method: 'sts:AssumeRole',
      },
    ]);
  });

  void it('choke points rank the edge that cuts the most paths', () => {
    const g = sample();
    const c = computeChokePoints(g, { minSensitivity: 'confidential' });
    assert.equal(c.edges[0]!.edge.from, 'identity:dev');
    assert.equal(c.edges[0]!.edge.to, 'identity:ci');
    assert.ok(c.edges[0]!.pairs_cut >= 2);
    // Removing (quarantining) ci cuts dev off from the cards table and the admin role.
    const ci = c.nodes.find((n) => n.node === 'identity:ci')!;
    assert.equal(ci.pairs_cut, 2);
  });
});
