/**
 * The Cedar side of a decision. Each policy-set version is pre-parsed once (the full set, and the set
 * without obligation policies, which tells "deny unless you step up" apart from a plain deny), and so is
 * each of its slices: the policies that can apply to one action and principal type (`slices.ts`). A request
 * is evaluated against its slice and brings only its entity slice, narrowed to what the slice's policies
 * can read. Any Cedar failure or policy evaluation error is a deny with the reason.
 */
import cedar from './cedar.js';
import type {
  AuthorizationAnswer,
  Context,
  EntityJson,
  EntityUidJson,
} from '@cedar-policy/cedar-wasm/nodejs';
import { ACTION_PROPERTIES_TYPE, PRINCIPAL_TYPES, SUBJECT_PROPERTIES_TYPE } from './cedar-schema.js';
import type { CompiledBundle, ObligationSpec } from './policy-bundle.js';
import {
  FULL_FOOTPRINT,
  footprintOf,
  prunedContext,
  prunedEntity,
  type PolicyFootprint,
} from './footprint.js';
import { planSlices } from './slices.js';

export interface Reason {
  /** A policy id, or `bulkhead.<code>` for a built-in invariant. */
  id: string;
  message?: string;
}

export type Obligation =
  | { type: 'step_up'; max_auth_age_minutes?: number; acr?: string; policy: string }
  | {
      type: 'approval_required';
      policy: string;
      approval_id?: string;
      approvers?: string[];
      expires_at?: string;
    }
  | { type: 'justification_required'; policy: string };

export type CedarOutcome =
  | { kind: 'allow'; reasons: Reason[] }
  | {
      kind: 'deny';
      reasons: Reason[];
      obligations: Obligation[];
      /** What Cedar threw or refused, for the server log only: its text is Cedar's internals, not the caller's. */
      engineFailure?: unknown;
    };

/** Pre-parsed Cedar policy sets: with every policy, and without the obligation policies. */
export interface PreparsedSets {
  fullSetId: string;
  baseSetId: string;
  /** No policy at all: Cedar would deny with no reason, so it is not called. */
  empty: boolean;
  /**
   * What this slice's policies can read, when it is less than the whole set's: the request's principal and
   * resource attributes, tags and context are narrowed to it before Cedar sees them (`narrowed`).
   */
  footprint?: PolicyFootprint | undefined;
}

export interface LoadedPolicySet extends PreparsedSets {
  version: number;
  compiled: CompiledBundle;
  hasObligations: boolean;
  /** action → Cedar principal type → the slice to evaluate (absent: the whole set). */
  slices: Map<string, Map<string, PreparsedSets>>;
  /** Every Cedar id this version pre-parsed (see `retainPolicySet`). */
  cedarIds: string[];
  /** policy id → its position in the bundle. */
  order: Map<string, number>;
}

/**
 * Pre-parses a compiled bundle and its slices into Cedar's thread-local cache; throws if Cedar refuses it.
 * `withSlices: false` parses the whole set only: enough to check that Cedar accepts a version (slices hold
 * the same policy texts), at a fraction of the time for a large set.
 */
export function loadPolicySet(version: number, compiled: CompiledBundle, withSlices = true): LoadedPolicySet {
  // Ids depend on the content only: pre-parsing the same bundle again (push, then install) reuses them.
  const tag = compiled.sha256.slice(0, 16);
  const cedarIds: string[] = [];
  const preparse = (name: string, ids: readonly string[]): PreparsedSets => {
    // Entries, then objects: assigning `set["__proto__"] = text` would drop that policy without a word.
    const fullEntries: [string, string][] = [];
    const baseEntries: [string, string][] = [];
    for (const id of ids) {
      const text = compiled.policies.get(id)!;
      fullEntries.push([id, text]);
      if (!compiled.obligations.has(id)) baseEntries.push([id, text]);
    }
    const obligations = baseEntries.length < fullEntries.length;
    const full = Object.fromEntries(fullEntries);
    const base = Object.fromEntries(baseEntries);
    const fullSetId = `bulkhead-full-${tag}${name}`;
    // Without obligation policies the base set is the full one: one parsed copy, not two.
    const baseSetId = obligations ? `bulkhead-base-${tag}${name}` : fullSetId;
    for (const [setId, policies] of obligations
      ? ([
          [fullSetId, full],
          [baseSetId, base],
        ] as const)
      : ([[fullSetId, full]] as const)) {
      const r = cedar.preparsePolicySet(setId, { staticPolicies: policies });
      if (r.type === 'failure') {
        throw new Error(`policies${name}: ${r.errors.map((e) => e.message).join('; ')}`);
      }
      cedarIds.push(setId);
    }
    return { fullSetId, baseSetId, empty: ids.length === 0, footprint: narrowerFootprint(compiled, ids) };
  };
  const all = [...compiled.policies.keys()];
  const whole = preparse('', all);
  const plan = withSlices
    ? planSlices(compiled.scopes, compiled.actions, Object.values(PRINCIPAL_TYPES))
    : { lists: [], index: new Map<string, Map<string, number>>() };
  // A slice holding every policy is the whole set, already parsed.
  const lists = plan.lists.map((ids, n) => (ids.length === all.length ? whole : preparse(`-s${n}`, ids)));
  const slices = new Map<string, Map<string, PreparsedSets>>();
  for (const [action, byType] of plan.index) {
    slices.set(action, new Map([...byType].map(([type, n]) => [type, lists[n]!])));
  }
  return {
    version,
    compiled,
    ...whole,
    hasObligations: compiled.obligations.size > 0,
    slices,
    cedarIds,
    order: new Map(all.map((id, i) => [id, i])),
  };
}

/** For a slice's attribute set `a` against the whole set's `b`, of which it is a subset: equal size is equal. */
const sameKeys = (a: ReadonlySet<string> | undefined, b: ReadonlySet<string> | undefined) =>
  a === b || (a !== undefined && b !== undefined && a.size === b.size);

/**
 * The footprint of a slice's policies when it lets Cedar see less than the whole set's, else undefined.
 * Only when the set's own footprint prunes (no other entities read): a slice's footprint is then a subset
 * of the set's, since its policies are a subset of the set's.
 */
function narrowerFootprint(compiled: CompiledBundle, ids: readonly string[]): PolicyFootprint | undefined {
  const whole = compiled.footprint;
  if (whole.otherEntities || ids.length === 0) return undefined;
  const fp = footprintOf(ids.map((id) => compiled.json.get(id)));
  if (fp === FULL_FOOTPRINT || fp.otherEntities) return undefined;
  const same =
    sameKeys(fp.principalAttrs, whole.principalAttrs) &&
    sameKeys(fp.resourceAttrs, whole.resourceAttrs) &&
    sameKeys(fp.contextAttrs, whole.contextAttrs) &&
    fp.tags === whole.tags;
  return same ? undefined : fp;
}

/**
 * A query built for the whole set's footprint, narrowed to a slice's: the principal's and the resource's
 * attributes and tags, and the context. Other entities (request properties) are passed as they are.
 */
function narrowed(q: CedarQuery, fp: PolicyFootprint): CedarQuery {
  const principal = uidOf(q.principal);
  const entities: EntityJson[] = [];
  for (const e of q.entities) {
    const uid = uidOf(e.uid);
    const keep =
      uid.type === principal.type && uid.id === principal.id
        ? fp.principalAttrs
        : uid.type === 'Resource'
          ? fp.resourceAttrs
          : null;
    entities.push(keep === null ? e : prunedEntity(e.uid, e.attrs, e.parents, e.tags ?? {}, keep, fp));
  }
  return { ...q, context: prunedContext(q.context, fp), entities };
}

const uidOf = (u: EntityUidJson) => ('type' in u ? u : u.__entity);

/**
 * Cedar keeps pre-parsed sets in a table of its own and has no call to remove one, so every version ever
 * loaded would stay in memory. PDPs retain the version they decide with and release it when they move on; a
 * set no PDP holds is overwritten with an empty one (`releasePolicySet`, `discardUnusedPolicySet`).
 * Counted per id: ids depend on content only, so two PDPs of one process (or a version pushed again) share them.
 */
const holders = new Map<string, number>();

export function retainPolicySet(set: LoadedPolicySet): void {
  for (const id of set.cedarIds) holders.set(id, (holders.get(id) ?? 0) + 1);
}

export function releasePolicySet(set: LoadedPolicySet): void {
  for (const id of set.cedarIds) {
    const n = (holders.get(id) ?? 0) - 1;
    if (n > 0) holders.set(id, n);
    else holders.delete(id);
  }
  discardUnusedPolicySet(set);
}

/** Empties the Cedar sets of a loaded version that no PDP retains (a version only checked, not installed). */
export function discardUnusedPolicySet(set: LoadedPolicySet): void {
  for (const id of set.cedarIds) {
    if (!holders.has(id)) cedar.preparsePolicySet(id, { staticPolicies: {} });
  }
}

export interface CedarQuery {
  principal: EntityUidJson;
  action: string;
  resource: EntityUidJson;
  context: Context;
  entities: EntityJson[];
}

function obligationFor(policy: string, spec: ObligationSpec): Obligation {
  switch (spec.type) {
    case 'step_up':
      return {
        type: 'step_up',
        policy,
        ...(spec.maxAuthAgeMinutes !== undefined ? { max_auth_age_minutes: spec.maxAuthAgeMinutes } : {}),
        ...(spec.acr !== undefined ? { acr: spec.acr } : {}),
      };
    case 'approval_required':
      return { type: 'approval_required', policy };
    case 'justification_required':
      return { type: 'justification_required', policy };
  }
}

/** The reason a caller sees when Cedar itself fails (the detail goes to the server log, see `engineFailure`). */
const ENGINE_FAILED: Reason = {
  id: 'bulkhead.engine_error',
  message: 'the policy engine could not evaluate this request',
};

function run(
  setId: string,
  q: CedarQuery,
):
  | { ok: true; allow: boolean; reasons: string[] }
  | { ok: false; reasons: Reason[]; engineFailure?: unknown } {
  let answer: AuthorizationAnswer;
  try {
    // No schema at request time: the policies were validated against it on write, and the request is
    // built here from the inventory and a type-checked context in Cedar's explicit JSON forms (`__entity`,
    // `__extn`), after the PDP has checked the action and principal type itself. Schema-based parsing would
    // only re-check that, at ~20% of the call.
    answer = cedar.statefulIsAuthorized({
      principal: q.principal,
      action: { type: 'Action', id: q.action },
      resource: q.resource,
      context: q.context,
      validateRequest: false,
      preparsedPolicySetId: setId,
      entities: q.entities,
    });
  } catch (err) {
    return { ok: false, reasons: [ENGINE_FAILED], engineFailure: err };
  }
  if (answer.type === 'failure') {
    return { ok: false, reasons: [ENGINE_FAILED], engineFailure: answer.errors.map((e) => e.message) };
  }
  const diag = answer.response.diagnostics;
  // Cedar skips a policy whose evaluation errors; skipping a forbid would fail open, so any error denies.
  if (diag.errors.length > 0) {
    return {
      ok: false,
      reasons: diag.errors.map((e) => ({
        id: 'bulkhead.engine_error',
        message: `policy ${e.policyId}: ${e.error.message}`,
      })),
    };
  }
  return { ok: true, allow: answer.response.decision === 'allow', reasons: diag.reason };
}

/**
 * Cedar's determining policy ids as reasons, in the bundle's order: Cedar reports them in no fixed order (it
 * differs between a set and its slices), and equal decisions should read the same. A loop: this runs on
 * every uncached decision, almost always with one id.
 */
function policyReasons(set: LoadedPolicySet, ids: readonly string[]): Reason[] {
  const out: Reason[] = [];
  for (const id of ids) out.push({ id });
  if (out.length > 1) out.sort((a, b) => (set.order.get(a.id) ?? 0) - (set.order.get(b.id) ?? 0));
  return out;
}

const noPermit = (): CedarOutcome => ({
  kind: 'deny',
  reasons: [{ id: 'bulkhead.no_permit', message: 'no policy permits this request' }],
  obligations: [],
});

/**
 * Evaluates one request. A deny caused only by obligation policies, where the set without them would
 * allow, becomes a deny carrying those obligations (what the caller can do to be allowed).
 */
export function evaluateCedar(set: LoadedPolicySet, q: CedarQuery): CedarOutcome {
  const sets = set.slices.get(q.action)?.get(uidOf(q.principal).type) ?? set;
  if (sets.empty) return noPermit();
  if (sets.footprint) q = narrowed(q, sets.footprint);
  const full = run(sets.fullSetId, q);
  if (!full.ok) {
    return { kind: 'deny', reasons: full.reasons, obligations: [], engineFailure: full.engineFailure };
  }
  if (full.allow) return { kind: 'allow', reasons: policyReasons(set, full.reasons) };
  if (full.reasons.length === 0) return noPermit();
  const obligationPolicies = full.reasons.filter((id) => set.compiled.obligations.has(id));
  if (obligationPolicies.length === full.reasons.length) {
    const base = run(sets.baseSetId, q);
    if (base.ok && base.allow) {
      return {
        kind: 'deny',
        reasons: policyReasons(set, full.reasons),
        obligations: obligationPolicies.map((id) => obligationFor(id, set.compiled.obligations.get(id)!)),
      };
    }
  }
  return { kind: 'deny', reasons: policyReasons(set, full.reasons), obligations: [] };
}

/**
 * One throwaway evaluation before a set goes live: the first Cedar call compiles much of the Wasm module
 * lazily and can take far longer than a normal decision, which must not count against a real request.
 */
export function warmUp(set: LoadedPolicySet): void {
  const action = set.compiled.actions.values().next().value;
  if (action === undefined) return;
  const now = new Date();
  evaluateCedar(set, {
    principal: { type: 'Human', id: '__warmup' },
    action,
    resource: { type: 'Resource', id: '__warmup' },
    context: {
      hour: now.getUTCHours(),
      weekday: now.getUTCDay(),
      approved: false,
      subject_properties: { __entity: { type: SUBJECT_PROPERTIES_TYPE, id: 'request' } },
      action_properties: { __entity: { type: ACTION_PROPERTIES_TYPE, id: 'request' } },
    },
    entities: [
      {
        uid: { type: 'Human', id: '__warmup' },
        attrs: {
          id: '__warmup',
          kind: 'human',
          display_name: '',
          environment: '',
          status: 'active',
          source: '',
          owners: [],
          groups: [],
        },
        parents: [{ type: 'Group', id: '__warmup' }],
        tags: { team: '__warmup' },
      },
      {
        uid: { type: 'Resource', id: '__warmup' },
        attrs: { id: '__warmup', type: '', sensitivity: '', environment: '', owners: [], inventoried: false },
        parents: [],
      },
      { uid: { type: SUBJECT_PROPERTIES_TYPE, id: 'request' }, attrs: {}, parents: [], tags: { a: '' } },
    ],
  });
}
