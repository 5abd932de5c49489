/**
 * What a policy set can read of a request, found once per version from Cedar's JSON form of each policy.
 *
 * cedar-wasm parses every entity attribute of every request afresh: with the six entities and ~25 attributes
 * of a full slice that is ~200 µs of a ~250 µs decision, while evaluating the policies themselves is a few
 * microseconds. The PDP therefore hands Cedar only what some policy can observe: the principal, resource and
 * context attributes a policy reads (`principal.name`, `resource has name`), tags only when a policy uses
 * tags, no group entities (they carry nothing), and the resource's ancestors as its own parents instead of
 * as separate entities.
 *
 * Pruning must never change a decision, so the analysis is conservative: `context` used as a whole value
 * keeps the whole context; reading attributes, tags or ancestors of any entity other than the principal,
 * the resource and the request's property entities (an entity literal, an `if` expression choosing between
 * entities) turns pruning off for the set. The schema has no entity-typed attributes apart from the
 * property entities, so these are the only ways a policy reaches entity data.
 */
import type { CedarValueJson, Context, EntityJson } from '@cedar-policy/cedar-wasm/nodejs';

export interface PolicyFootprint {
  /** Principal attributes some policy reads or tests; `undefined` = keep every attribute. */
  principalAttrs: ReadonlySet<string> | undefined;
  /** Resource attributes some policy reads or tests; `undefined` = keep every attribute. */
  resourceAttrs: ReadonlySet<string> | undefined;
  /** Context attributes some policy reads or tests; `undefined` = pass the whole context. */
  contextAttrs: ReadonlySet<string> | undefined;
  /** Some policy reads or tests entity tags. */
  tags: boolean;
  /**
   * Some policy reads data of an entity other than the principal, the resource and the property entities
   * (or analysis failed): pass full entities, parents included.
   */
  otherEntities: boolean;
}

/** No pruning at all: what a set gets when any of its policies cannot be analysed. */
export const FULL_FOOTPRINT: PolicyFootprint = {
  principalAttrs: undefined,
  resourceAttrs: undefined,
  contextAttrs: undefined,
  tags: true,
  otherEntities: true,
};

type Node = Record<string, unknown>;

const isNode = (v: unknown): v is Node => typeof v === 'object' && v !== null && !Array.isArray(v);
const varName = (v: unknown): unknown => (isNode(v) ? v.Var : undefined);
const isPrincipalOrResource = (v: unknown) => {
  const name = varName(v);
  return name === 'principal' || name === 'resource';
};

class FootprintWalk {
  readonly principal = new Set<string>();
  readonly resource = new Set<string>();
  readonly context = new Set<string>();
  tags = false;
  /** `context` used as a value of its own (e.g. `context == {...}`): the whole context is passed. */
  wholeContext = false;
  otherEntities = false;

  /**
   * The attribute names of whatever `left` is, when it is one of the slice's entities or the context;
   * undefined when it has no attributes to keep (the action, a property entity, whose data are tags).
   * Anything else means data of an entity outside the slice.
   */
  private receiver(left: unknown): Set<string> | undefined {
    switch (varName(left)) {
      case 'principal':
        return this.principal;
      case 'resource':
        return this.resource;
      case 'context':
        return this.context;
      case 'action':
        return undefined;
    }
    // `context.subject_properties.getTag(...)`: an attribute of the context that is a slice entity.
    if (isNode(left) && isNode(left['.']) && varName(left['.'].left) === 'context') {
      const attr = left['.'].attr;
      if (typeof attr === 'string') this.context.add(attr);
      return undefined;
    }
    this.otherEntities = true;
    this.expr(left);
    return undefined;
  }

  expr(node: unknown): void {
    if (Array.isArray(node)) {
      for (const n of node) this.expr(n);
      return;
    }
    if (!isNode(node)) return;
    for (const [op, arg] of Object.entries(node)) {
      const a = isNode(arg) ? arg : {};
      switch (op) {
        case 'Value': // a literal; an entity literal on its own is only a uid
          break;
        case 'Var':
          if (arg === 'context') this.wholeContext = true;
          break;
        case 'Record': // keys of a record literal are names, not operators
          for (const v of Object.values(a)) this.expr(v);
          break;
        case '.':
        case 'has': {
          const names = this.receiver(a.left);
          // `principal has a.b` tests a record attribute `a` and its field `b`: keeping `a` keeps both.
          for (const name of [a.attr].flat()) {
            if (typeof name === 'string') names?.add(name);
            else this.otherEntities = true;
          }
          break;
        }
        case 'getTag':
        case 'hasTag':
          this.tags = true;
          this.receiver(a.left);
          this.expr(a.right);
          break;
        case 'in': // the left side's ancestors are read: only the principal's and the resource's are in the slice
          if (!isPrincipalOrResource(a.left)) this.otherEntities = true;
          this.expr(a.left);
          this.expr(a.right);
          break;
        case 'is':
          if (a.in !== undefined && !isPrincipalOrResource(a.left)) this.otherEntities = true;
          this.expr(a.left);
          this.expr(a.in);
          break;
        default:
          this.expr(arg);
      }
    }
  }
}

/**
 * The footprint of a set from each policy's JSON form (`policyToJson`); `undefined` entries (a policy
 * that could not be converted) make the whole set unpruned.
 */
export function footprintOf(policies: readonly unknown[]): PolicyFootprint {
  const walk = new FootprintWalk();
  for (const p of policies) {
    if (!isNode(p) || !Array.isArray(p.conditions)) return FULL_FOOTPRINT;
    // Scope constraints (`principal in Group::"x"`) read only the principal's and resource's ancestors.
    for (const c of p.conditions) walk.expr(isNode(c) ? c.body : c);
  }
  if (walk.otherEntities) return FULL_FOOTPRINT;
  return {
    principalAttrs: walk.principal,
    resourceAttrs: walk.resource,
    contextAttrs: walk.wholeContext ? undefined : walk.context,
    tags: walk.tags,
    otherEntities: false,
  };
}

/** The attributes in `keep` (all of them when `keep` is undefined). */
export function pickAttrs(
  attrs: Record<string, CedarValueJson>,
  keep: ReadonlySet<string> | undefined,
): Record<string, CedarValueJson> {
  if (keep === undefined) return attrs;
  const out: Record<string, CedarValueJson> = {};
  for (const k in attrs) if (keep.has(k)) out[k] = attrs[k]!;
  return out;
}

/** The request context as the footprint lets Cedar see it. */
export function prunedContext(context: Record<string, CedarValueJson>, fp: PolicyFootprint): Context {
  return pickAttrs(context, fp.contextAttrs);
}

/**
 * An entity as the footprint lets Cedar see it: the attributes in `keep` (all when undefined), and tags
 * only when some policy uses tags.
 */
export function prunedEntity(
  uid: EntityJson['uid'],
  attrs: Record<string, CedarValueJson>,
  parents: EntityJson['parents'],
  tags: Record<string, CedarValueJson>,
  keep: ReadonlySet<string> | undefined,
  fp: PolicyFootprint,
): EntityJson {
  const entity: EntityJson = { uid, attrs: pickAttrs(attrs, keep), parents };
  if (fp.tags && Object.keys(tags).length > 0) entity.tags = tags;
  return entity;
}
