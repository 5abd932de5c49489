/**
 * Choke points ("fix these first"): the edges and identities that the most principal → sensitive-data paths
 * run through. Every principal's BFS tree is walked to each sensitive node it reaches and each edge/node on the
 * way is counted; the top candidates are then checked exactly by removing the edge and re-walking, which
 * gives `pairs_cut` — how many (principal, sensitive node) pairs lose all access if that edge is removed.
 */
import type { Sensitivity } from '../../inventory/types.js';
import type { CompactGraph } from '../compact-graph.js';
import { RANKED_SENSITIVITIES, type PathStep } from '../model.js';
import { stepOf } from './steps.js';

export interface ChokeEdge {
  edge: PathStep;
  paths_through: number;
  pairs_cut: number;
}

export interface ChokeNode {
  node: string;
  name: string;
  type: string;
  paths_through: number;
  /** (principal, sensitive node) pairs that lose all access if this identity/credential is removed. */
  pairs_cut: number;
}

export interface ChokePoints {
  sources: number;
  sampled: boolean;
  pairs: number;
  edges: ChokeEdge[];
  nodes: ChokeNode[];
}

export interface ChokePointOptions {
  minSensitivity?: Sensitivity;
  limit?: number;
  maxSources?: number;
}

export function computeChokePoints(graph: CompactGraph, opts: ChokePointOptions = {}): ChokePoints {
  const minRank = RANKED_SENSITIVITIES.indexOf(opts.minSensitivity ?? 'confidential') + 1;
  const limit = opts.limit ?? 10;
  // One BFS per source: sample large estates (evenly, deterministically) to keep the query interactive.
  const maxSources = opts.maxSources ?? 500;
  const isSensitive = (i: number) => graph.isAdmin(i) || graph.sensitivityRank(i) >= minRank;
  let sources = graph.nodesWhere((i) => graph.type(i) === 'identity' && !graph.isBlocked(i));
  const sampled = sources.length > maxSources;
  if (sampled) {
    const step = sources.length / maxSources;
    sources = Array.from({ length: maxSources }, (_, k) => sources[Math.floor(k * step)]!);
  }
  const edgeCount = new Map<number, number>();
  const nodeCount = new Map<number, number>();
  const edgeSources = new Map<number, Set<number>>();
  const nodeSources = new Map<number, Set<number>>();
  let pairs = 0;
  for (const s of sources) {
    const reached = graph.reach(s);
    for (let k = 1; k < reached.length; k++) {
      const t = reached[k]!;
      if (!isSensitive(t)) continue;
      pairs++;
      for (const e of graph.pathTo(t)) {
        // Structural edges (an account contains its buckets) cannot be removed, so they are not candidates.
        if (graph.edgeKind(e) === 'contains') continue;
        edgeCount.set(e, (edgeCount.get(e) ?? 0) + 1);
        let set = edgeSources.get(e);
        if (!set) edgeSources.set(e, (set = new Set()));
        set.add(s);
        const from = graph.edgeFrom(e);
        if (from !== s && (graph.type(from) === 'identity' || graph.type(from) === 'credential')) {
          nodeCount.set(from, (nodeCount.get(from) ?? 0) + 1);
          let ns = nodeSources.get(from);
          if (!ns) nodeSources.set(from, (ns = new Set()));
          ns.add(s);
        }
      }
    }
  }
  const candidates = [...edgeCount.entries()].sort((a, b) => b[1] - a[1]).slice(0, limit * 3);
  const edges: ChokeEdge[] = candidates.map(([e, through]) => {
    let cut = 0;
    for (const s of edgeSources.get(e) ?? []) {
      const before: number[] = [];
      // Sensitive nodes reached with the edge present…
      for (const t of graph.reach(s)) if (t !== s && isSensitive(t)) before.push(t);
      graph.reach(s, Number.MAX_SAFE_INTEGER, e);
      // …minus those still reached without it.
      for (const t of before) if (!graph.visited(t)) cut++;
    }
    return { edge: stepOf(graph, e), paths_through: through, pairs_cut: cut };
  });
  edges.sort((a, b) => b.pairs_cut - a.pairs_cut || b.paths_through - a.paths_through);
  const nodes = [...nodeCount.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit * 3)
    .map(([i, through]) => {
      let cut = 0;
      for (const s of nodeSources.get(i) ?? []) {
        const before = [...graph.reach(s)].filter((t) => t !== s && isSensitive(t));
        const after = new Set(graph.reach(s, Number.MAX_SAFE_INTEGER, -1, i));
        for (const t of before) if (t !== i && !after.has(t)) cut++;
      }
      return {
        node: graph.key(i),
        name: graph.name(i),
        type: graph.type(i),
        paths_through: through,
        pairs_cut: cut,
      };
    })
    .sort((a, b) => b.pairs_cut - a.pairs_cut || b.paths_through - a.paths_through)
    .slice(0, limit);
  return { sources: sources.length, sampled, pairs, edges: edges.slice(0, limit), nodes };
}
