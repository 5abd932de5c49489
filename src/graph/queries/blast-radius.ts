/**
 * Blast radius: everything a compromised identity (or credential) can reach, grouped by sensitivity, with
 * the fewest-hop path to each. The walk is one BFS over the typed-array adjacency; paths are materialised
 * only for the items returned (at most `limit` per group), so the cost is bounded by the graph, not the output.
 */
import type { Sensitivity } from '../../inventory/types.js';
import type { CompactGraph } from '../compact-graph.js';
import {
  NODE_FLAG_ADMIN,
  NODE_TYPES,
  RANKED_SENSITIVITIES,
  sensitivityOfRank,
  type NodeType,
  type PathStep,
} from '../model.js';
import { stepsOf } from './steps.js';

export interface ReachedItem {
  node: string;
  name: string;
  type: NodeType;
  sensitivity: Sensitivity | null;
  admin: boolean;
  hops: number;
  path: PathStep[];
}

export interface BlastRadius {
  from: string;
  totals: {
    reachable: number;
    identities: number;
    resources: number;
    admin: number;
    bySensitivity: Record<Sensitivity, number>;
  };
  /** Admin-equivalent nodes reached: compromise of `from` is compromise of these systems. */
  admin: ReachedItem[];
  bySensitivity: Record<Sensitivity, ReachedItem[]>;
  /** Other principals the attacker can act as. */
  identities: ReachedItem[];
  truncated: boolean;
}

export interface BlastRadiusOptions {
  /** Max items listed per group (counts are always complete). */
  limit?: number;
  /** Only list data at or above this sensitivity. */
  minSensitivity?: Sensitivity;
}

export function computeBlastRadius(
  graph: CompactGraph,
  start: number,
  opts: BlastRadiusOptions = {},
): BlastRadius {
  const limit = opts.limit ?? 100;
  const minRank = opts.minSensitivity ? RANKED_SENSITIVITIES.indexOf(opts.minSensitivity) + 1 : 1;
  const reached = graph.reach(start);
  const bySensitivity = { public: [], internal: [], confidential: [], regulated: [] } as Record<
    Sensitivity,
    ReachedItem[]
  >;
  const counts: Record<Sensitivity, number> = { public: 0, internal: 0, confidential: 0, regulated: 0 };
  const admin: ReachedItem[] = [];
  const identities: ReachedItem[] = [];
  let identityCount = 0;
  let resourceCount = 0;
  let adminCount = 0;
  let truncated = false;
  const item = (i: number): ReachedItem => {
    const path = graph.pathTo(i);
    return {
      node: graph.key(i),
      name: graph.name(i),
      type: graph.type(i),
      sensitivity: sensitivityOfRank(graph.sensitivityRank(i)),
      admin: graph.isAdmin(i),
      hops: path.length,
      path: stepsOf(graph, path),
    };
  };
  const info = graph.rawNodeInfo;
  const IDENTITY = NODE_TYPES.indexOf('identity');
  const RESOURCE = NODE_TYPES.indexOf('resource');
  const ADMIN = NODE_TYPES.indexOf('admin');
  const lists = [
    null,
    bySensitivity.public,
    bySensitivity.internal,
    bySensitivity.confidential,
    bySensitivity.regulated,
  ];
  const rankCounts = [0, 0, 0, 0, 0];
  // Hot loop over every reached node: one packed read per node (type | rank << 4 | flags << 7).
  for (let k = 1; k < reached.length; k++) {
    const i = reached[k]!;
    const packed = info[i]!;
    const type = packed & 15;
    if (((packed >> 7) & NODE_FLAG_ADMIN) !== 0) {
      adminCount++;
      if (admin.length < limit) admin.push(item(i));
      else truncated = true;
    }
    if (type === IDENTITY) {
      identityCount++;
      if (identities.length < limit) identities.push(item(i));
      else truncated = true;
    } else if (type === RESOURCE) resourceCount++;
    const rank = (packed >> 4) & 7;
    if (rank > 0 && type !== ADMIN) {
      rankCounts[rank]!++;
      if (rank >= minRank) {
        const list = lists[rank]!;
        if (list.length < limit) list.push(item(i));
        else truncated = true;
      }
    }
  }
  for (let r = 1; r <= 4; r++) counts[sensitivityOfRank(r)!] = rankCounts[r]!;
  return {
    from: graph.key(start),
    totals: {
      reachable: reached.length - 1,
      identities: identityCount,
      resources: resourceCount,
      admin: adminCount,
      bySensitivity: counts,
    },
    admin,
    bySensitivity,
    identities,
    truncated,
  };
}
