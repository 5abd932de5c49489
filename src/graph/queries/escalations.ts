/**
 * Privilege escalation: every principal that can reach an admin-equivalent node (a principal holding full
 * admin, or a system's `admin:` node) by a path that is not simply a grant it already holds. One backward walk
 * from all admin nodes finds who can get there and the fewest-hop continuation from every node; each
 * principal's distinct escalation methods are then enumerated from its own out-edges.
 */
import type { CompactGraph } from '../compact-graph.js';
import type { EdgeKind } from '../model.js';

/**
 * One step. `from`/`to` are names as in the source (the same naming as `principal` and `target`, so a path
 * reads principal → … → target); `from_id`/`to_id` are the unambiguous ids (ARN, uid or graph node key).
 */
export interface EscalationStep {
  from: string;
  to: string;
  via: string;
  from_id: string;
  to_id: string;
  method?: string;
}

export interface Escalation {
  principal: string;
  principal_id: string;
  /** Node key of the principal in the graph. */
  node: string;
  target: string;
  target_id: string;
  method: string;
  /** Every escalation method used along the path, in order (the last one is what confers admin). */
  methods: string[];
  conditional: boolean;
  path: EscalationStep[];
}

const FALLBACK_METHOD: Record<EdgeKind, string> = {
  has_permission: 'admin-permission',
  can_assume: 'assume',
  can_read_secret_of: 'credential-theft',
  member_of: 'group-membership',
  owns: 'ownership',
  runs_as: 'runs-as',
  can_modify_policy_of: 'policy-modification',
  contains: 'contains',
};

/** Kinds that only restate access the principal already holds (not an escalation on their own). */
const GRANT_KINDS = new Set<EdgeKind>(['has_permission', 'member_of', 'contains']);

export interface EscalationOptions {
  /** Also list principals that are admin-equivalent by a direct grant (default false). */
  includeDirect?: boolean;
  /** Only these principals (node indexes). */
  principals?: readonly number[];
}

export function findEscalations(graph: CompactGraph, opts: EscalationOptions = {}): Escalation[] {
  const targets = graph.nodesWhere((i) => graph.isAdmin(i) && !graph.isBlocked(i));
  if (targets.length === 0) return [];
  graph.reachBackward(targets);
  const canReach = (i: number) => graph.visited(i);
  const principals =
    opts.principals ?? graph.nodesWhere((i) => graph.type(i) === 'identity' && !graph.isBlocked(i));
  const out: Escalation[] = [];
  for (const p of principals) {
    if (graph.isBlocked(p) || !canReach(p)) continue;
    const admin = graph.isAdmin(p);
    if (admin && !opts.includeDirect) continue;
    const candidates: number[][] = admin ? [] : [graph.pathForward(p)];
    graph.forEachOut(p, (e, v) => {
      if (admin ? graph.isAdmin(v) : graph.edgeMethod(e) && canReach(v))
        candidates.push([e, ...graph.pathForward(v)]);
    });
    const methods = new Set<string>();
    // Shortest first, so each method is reported with its shortest path.
    candidates.sort((a, b) => a.length - b.length);
    for (const path of candidates) {
      if (path.length === 0) continue;
      if (!opts.includeDirect && path.every((e) => isGrant(graph, e))) continue;
      const method = methodOf(graph, path);
      if (methods.has(method)) continue;
      methods.add(method);
      const last = graph.edgeTo(path[path.length - 1]!);
      out.push({
        principal: graph.name(p),
        principal_id: graph.externalId(p) ?? graph.key(p),
        node: graph.key(p),
        target: graph.name(last),
        target_id: graph.externalId(last) ?? graph.key(last),
        method,
        methods: path.map((e) => graph.edgeMethod(e)).filter((m): m is string => m !== null),
        conditional: path.some((e) => graph.edgeConditional(e)),
        path: path.map((e) => {
          const from = graph.edgeFrom(e);
          const to = graph.edgeTo(e);
          const m = graph.edgeMethod(e);
          return {
            from: graph.name(from),
            to: graph.name(to),
            via: graph.edgeVia(e),
            from_id: graph.externalId(from) ?? graph.key(from),
            to_id: graph.externalId(to) ?? graph.key(to),
            ...(m ? { method: m } : {}),
          };
        }),
      });
    }
  }
  return out.sort((a, b) => a.principal.localeCompare(b.principal) || a.method.localeCompare(b.method));
}

/** A step that only uses access already granted: a permission, a membership, holding one's own credential. */
function isGrant(graph: CompactGraph, e: number): boolean {
  if (graph.edgeMethod(e)) return false;
  const kind = graph.edgeKind(e);
  return GRANT_KINDS.has(kind) || (kind === 'owns' && graph.type(graph.edgeTo(e)) === 'credential');
}

/**
 * The escalation method is the principal's own first step that is not a plain grant — what it can do itself
 * (e.g. `iam:CreateAccessKey` on an admin user, `sts:AssumeRole` into a chain). `methods` lists every step.
 */
function methodOf(graph: CompactGraph, path: readonly number[]): string {
  for (const e of path) {
    const m = graph.edgeMethod(e);
    if (m) return m;
    if (!isGrant(graph, e)) return FALLBACK_METHOD[graph.edgeKind(e)];
  }
  return FALLBACK_METHOD[graph.edgeKind(path[path.length - 1]!)];
}
