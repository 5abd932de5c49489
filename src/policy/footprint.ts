/**
 * What a policy set can read of a request, found once per version from Cedar's JSON form of each policy.
 *
 * cedar-wasm parses every entity attribute of every request afresh: with the six entities and ~25 attributes
 * of a full slice that is ~200 µs of a ~250 µs decision, while evaluating the policies themselves is a few
 * microseconds. The PDP therefore hands Cedar only what some policy can observe: attributes whose name a
 * policy reads (`x.name`, `x has name`), tags only when a policy uses tags, no group entities (they carry
 * nothing), and the resource's ancestors as its own parents instead of as separate entities.
 *
 * Pruning must never change a decision, so the analysis is conservative: an attribute name read anywhere
 * keeps that attribute on every entity; `context` used as a whole value keeps the whole context; reading
 * attributes, tags or ancestors of any entity other than the principal, the resource and the request's
 * property entities (an entity literal, an `if` expression) turns pruning off for the set.
 */
import type { CedarValueJson, Context, EntityJson } from '@cedar-policy/cedar-wasm/nodejs';

export interface PolicyFootprint {
  /** Attribute names some policy reads or tests, on any entity or record; `undefined` = keep every attribute. */
  attrs: ReadonlySet<string> | undefined;
  /** Some policy reads or tests entity tags. */
  tags: boolean;
  /** Some policy uses `context` as a value of its own (e.g. `context == {...}`): pass it whole. */
  wholeContext: boolean;
  /**
   * Some policy reads data of an entity other than the principal, the resource and the property entities
   * (or analysis failed): pass full entities, parents included.
   */
  otherEntities: boolean;
}

/** No pruning at all: what a set gets when any of its policies cannot be analysed. */
export const FULL_FOOTPRINT: PolicyFootprint = {
  attrs: undefined,
  tags: true,
  wholeContext: true,
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
  readonly attrs = new Set<string>();
  tags = false;
  wholeContext = false;
  otherEntities = false;

  /** The expression whose attribute or tag is read: fine when it is a slice entity or the context record. */
  private receiver(left: unknown): void {
    if (varName(left) !== undefined) return;
    // `context.subject_properties.getTag(...)`: an attribute of the context that is a slice entity.
    if (isNode(left) && isNode(left['.']) && varName(left['.'].left) === 'context') {
      const attr = left['.'].attr;
      if (typeof attr === 'string') this.attrs.add(attr);
      return;
    }
    this.otherEntities = true;
    this.expr(left);
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
        case 'has':
          for (const name of [a.attr].flat()) {
            if (typeof name === 'string') this.attrs.add(name);
            else this.otherEntities = true;
          }
          this.receiver(a.left);
          break;
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
  return { attrs: walk.attrs, tags: walk.tags, wholeContext: walk.wholeContext, otherEntities: false };
}

/** The attributes a footprint keeps (all of them when it keeps everything). */
export function pickAttrs(
  attrs: Record<string, CedarValueJson>,
  fp: PolicyFootprint,
): Record<string, CedarValueJson> {
  const keep = fp.attrs;
  if (keep === undefined) return attrs;
  const out: Record<string, CedarValueJson> = {};
  for (const k in attrs) if (keep.has(k)) out[k] = attrs[k]!;
  return out;
}

/** The request context as the footprint lets Cedar see it. */
export function prunedContext(context: Record<string, CedarValueJson>, fp: PolicyFootprint): Context {
  return fp.wholeContext ? context : pickAttrs(context, fp);
}

/** An entity as the footprint lets Cedar see it; `tags` are dropped unless some policy uses tags. */
export function prunedEntity(
  uid: EntityJson['uid'],
  attrs: Record<string, CedarValueJson>,
  parents: EntityJson['parents'],
  tags: Record<string, string>,
  fp: PolicyFootprint,
): EntityJson {
  const entity: EntityJson = { uid, attrs: pickAttrs(attrs, fp), parents };
  if (fp.tags && Object.keys(tags).length > 0) entity.tags = tags;
  return entity;
}
