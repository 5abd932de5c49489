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
  /** The distinct policy lists, each in the bundle's order. */
  lists: string[][];
  /** action → principal type → index into `lists`. */
  index: Map<string, Map<string, number>>;
}

/** Groups every (action, principal type) pair by the policies that can apply to it; equal lists are shared. */
export function planSlices(
  scopes: ReadonlyMap<string, PolicyScope>,
  actions: Iterable<string>,
  principalTypes: readonly string[],
): SlicePlan {
  const lists: string[][] = [];
  const byContent = new Map<string, number>();
  const index = new Map<string, Map<string, number>>();
  for (const action of actions) {
    const byType = new Map<string, number>();
    for (const type of principalTypes) {
      const ids: string[] = [];
      for (const [id, s] of scopes) {
        if (s.actions && !s.actions.has(action)) continue;
        if (s.principalTypes && !s.principalTypes.has(type)) continue;
        ids.push(id);
      }
      // JSON: policy ids may contain any character, and two different lists must never share a slice.
      const key = JSON.stringify(ids);
      let n = byContent.get(key);
      if (n === undefined) {
        n = lists.length;
        lists.push(ids);
        byContent.set(key, n);
      }
      byType.set(type, n);
    }
    index.set(action, byType);
  }
  return { lists, index };
}
