/**
 * Policy slicing: for each action and principal type, the policies whose scope can match such a request.
 *
 * Cedar evaluates every policy of the set it is given. A policy whose scope says `action == Action::"write"`
 * or `principal is AiAgent` cannot apply to a `read` by a Human: its scope is false and Cedar skips its
 * conditions, so it can neither determine the decision nor raise an error. Giving Cedar only the slice for
 * the request's action and principal type therefore decides exactly as the whole set does, and the cost of
 * a decision stops growing with policies written for other actions and other kinds of identity.
 *
 * The analysis reads only the scope, from Cedar's JSON form of each policy, and is conservative: any form it
 * does not recognise (a slot, an unexpected shape) puts the policy in every slice. Conditions are not read.
 */

/** Which requests a policy's scope can match; `undefined` = any. */
export interface PolicyScope {
  actions: ReadonlySet<string> | undefined;
  principalTypes: ReadonlySet<string> | undefined;
}

const ANY: PolicyScope = { actions: undefined, principalTypes: undefined };

type Node = Record<string, unknown>;
const isNode = (v: unknown): v is Node => typeof v === 'object' && v !== null && !Array.isArray(v);

/** An entity reference in Cedar's JSON form (`{type, id}` or `{__entity: {type, id}}`). */
function entityRef(v: unknown): { type: string; id: string } | undefined {
  const e = isNode(v) && isNode(v.__entity) ? v.__entity : v;
  if (!isNode(e) || typeof e.type !== 'string' || typeof e.id !== 'string') return undefined;
  return { type: e.type, id: e.id };
}

function actionIds(refs: unknown[]): ReadonlySet<string> | undefined {
  const ids = new Set<string>();
  for (const r of refs) {
    const e = entityRef(r);
    if (!e || e.type !== 'Action') return undefined;
    ids.add(e.id);
  }
  return ids;
}

/**
 * The scope of one policy (Cedar's JSON form). `actionGroups`: the schema declares actions that are members of
 * other actions, so `action in Action::"x"` may match actions other than `x` (this schema declares none today;
 * the flag keeps the analysis right if it ever does).
 */
export function scopeOf(json: unknown, actionGroups: boolean): PolicyScope {
  if (!isNode(json)) return ANY;
  let actions: ReadonlySet<string> | undefined;
  const action = json.action;
  if (isNode(action)) {
    if (action.op === '==') actions = actionIds([action.entity]);
    else if (action.op === 'in' && !actionGroups) {
      actions = actionIds(Array.isArray(action.entities) ? action.entities : [action.entity]);
    }
  }
  let principalTypes: ReadonlySet<string> | undefined;
  const principal = json.principal;
  if (isNode(principal)) {
    if (principal.op === 'is' && typeof principal.entity_type === 'string') {
      principalTypes = new Set([principal.entity_type]);
    } else if (principal.op === '==') {
      const e = entityRef(principal.entity);
      if (e) principalTypes = new Set([e.type]);
    }
  }
  return { actions, principalTypes };
}

export interface SlicePlan {
  /** How finely requests are told apart: by action and principal type, by action only, or not at all. */
  granularity: 'action+type' | 'action' | 'none';
  /** The distinct policy lists, each in the bundle's order. */
  lists: string[][];
  /** action → principal type → index into `lists` (empty when `granularity` is `none`). */
  index: Map<string, Map<string, number>>;
}

/**
 * Slices cost memory: Cedar keeps a parsed copy of every policy in every slice. A plan is used only if its
 * slices hold at most this many times as many policies as the set (at least `MIN_SLICE_BUDGET`), counting
 * neither empty slices nor a slice equal to the whole set (both cost nothing). Otherwise slicing by action
 * alone is tried, then none: a large set of mostly unscoped policies is evaluated whole, as before.
 */
export const SLICE_BUDGET_FACTOR = 4;
export const MIN_SLICE_BUDGET = 64;

function plan(
  scopes: ReadonlyMap<string, PolicyScope>,
  actions: readonly string[],
  principalTypes: readonly string[],
  byType: boolean,
): SlicePlan & { cost: number } {
  const lists: string[][] = [];
  const byContent = new Map<string, number>();
  const index = new Map<string, Map<string, number>>();
  let cost = 0;
  for (const action of actions) {
    const types = new Map<string, number>();
    let shared: number | undefined;
    for (const type of principalTypes) {
      if (shared !== undefined) {
        types.set(type, shared);
        continue;
      }
      const ids: string[] = [];
      for (const [id, s] of scopes) {
        if (s.actions && !s.actions.has(action)) continue;
        if (byType && s.principalTypes && !s.principalTypes.has(type)) continue;
        ids.push(id);
      }
      // JSON: policy ids may contain any character, and two different lists must never share a slice.
      const key = JSON.stringify(ids);
      let n = byContent.get(key);
      if (n === undefined) {
        n = lists.length;
        lists.push(ids);
        byContent.set(key, n);
        if (ids.length < scopes.size) cost += ids.length;
      }
      types.set(type, n);
      if (!byType) shared = n;
    }
    index.set(action, types);
  }
  return { granularity: byType ? 'action+type' : 'action', lists, index, cost };
}

/**
 * Groups every (action, principal type) pair by the policies that can apply to it; equal lists are shared.
 * Falls back to coarser slices, then none, when finer ones would exceed the memory budget.
 */
export function planSlices(
  scopes: ReadonlyMap<string, PolicyScope>,
  actions: Iterable<string>,
  principalTypes: readonly string[],
): SlicePlan {
  const budget = Math.max(MIN_SLICE_BUDGET, SLICE_BUDGET_FACTOR * scopes.size);
  const all = [...actions];
  for (const byType of [true, false]) {
    const p = plan(scopes, all, principalTypes, byType);
    if (p.cost <= budget) return { granularity: p.granularity, lists: p.lists, index: p.index };
  }
  return { granularity: 'none', lists: [], index: new Map() };
}
