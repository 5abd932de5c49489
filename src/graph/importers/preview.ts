/**
 * A stand-alone graph of one import plan (its principals, nodes and edges), without the rest of the
 * inventory: what `--dry-run`-style previews and the importer unit tests walk.
 */
import { CompactGraph } from '../compact-graph.js';
import { deriveIdentity, type DeriveLookup } from '../derive.js';
import type { GraphEdgeInput } from '../model.js';
import type { ImportPlan } from './plan.js';

export function graphFromPlan(plan: ImportPlan): CompactGraph {
  const g = new CompactGraph();
  const ids = new Set(plan.identities.map((i) => i.id));
  const lookup: DeriveLookup = {
    identityExists: (id) => ids.has(id),
    resourceExists: () => false,
    resourcesWithPrefix: () => [],
    resourceForLocation: () => null,
  };
  const origins: [string, GraphEdgeInput[]][] = [];
  for (const i of plan.identities) {
    const d = deriveIdentity(i, lookup);
    for (const n of d.nodes) g.upsertNode(n);
    origins.push([d.origin, d.edges]);
  }
  for (const r of plan.resources) {
    g.upsertNode({
      key: `resource:${r.id}`,
      type: 'resource',
      name: r.displayName,
      sensitivity: r.sensitivity,
    });
  }
  for (const n of plan.nodes) g.upsertNode(n);
  g.load([...origins, ...plan.edges.entries()]);
  return g;
}
