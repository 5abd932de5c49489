/**
 * The Cedar side of a decision. Each policy-set version is pre-parsed once (the full set, and the set
 * without obligation policies, which tells "deny unless you step up" apart from a plain deny). A request
 * brings only its entity slice. Any Cedar failure or policy evaluation error is a deny with the reason.
 */
import cedar from './cedar.js';
import type {
  AuthorizationAnswer,
  CheckParseAnswer,
  Context,
  EntityJson,
  EntityUidJson,
} from '@cedar-policy/cedar-wasm/nodejs';
import { ACTION_PROPERTIES_TYPE, SUBJECT_PROPERTIES_TYPE } from './cedar-schema.js';
import type { CompiledBundle, ObligationSpec } from './policy-bundle.js';

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
  { kind: 'allow'; reasons: Reason[] } | { kind: 'deny'; reasons: Reason[]; obligations: Obligation[] };

export interface LoadedPolicySet {
  version: number;
  compiled: CompiledBundle;
  fullSetId: string;
  baseSetId: string;
  hasObligations: boolean;
}

/** Pre-parses a compiled bundle into Cedar's thread-local cache; throws if Cedar refuses it. */
export function loadPolicySet(version: number, compiled: CompiledBundle): LoadedPolicySet {
  // Ids depend on the content only: pre-parsing the same bundle again (push, then install) reuses them.
  const tag = compiled.sha256.slice(0, 16);
  const fullSetId = `bulkhead-full-${tag}`;
  const baseSetId = `bulkhead-base-${tag}`;
  const check = (what: string, r: CheckParseAnswer) => {
    if (r.type === 'failure') throw new Error(`${what}: ${r.errors.map((e) => e.message).join('; ')}`);
  };
  check('policies', cedar.preparsePolicySet(fullSetId, { staticPolicies: compiled.policies }));
  const base: Record<string, string> = {};
  for (const [id, text] of Object.entries(compiled.policies)) {
    if (!compiled.obligations.has(id)) base[id] = text;
  }
  check('base policies', cedar.preparsePolicySet(baseSetId, { staticPolicies: base }));
  return {
    version,
    compiled,
    fullSetId,
    baseSetId,
    hasObligations: compiled.obligations.size > 0,
  };
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

function run(
  setId: string,
  q: CedarQuery,
): { ok: true; allow: boolean; reasons: string[] } | { ok: false; reasons: Reason[] } {
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
    return { ok: false, reasons: [{ id: 'bulkhead.engine_error', message: String(err) }] };
  }
  if (answer.type === 'failure') {
    return {
      ok: false,
      reasons: answer.errors.map((e) => ({ id: 'bulkhead.engine_error', message: e.message })),
    };
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

/** Cedar's determining policy ids as reasons (a loop: this runs on every uncached decision). */
function policyReasons(ids: readonly string[]): Reason[] {
  const out: Reason[] = [];
  for (const id of ids) out.push({ id });
  return out;
}

/**
 * Evaluates one request. A deny caused only by obligation policies, where the set without them would
 * allow, becomes a deny carrying those obligations (what the caller can do to be allowed).
 */
export function evaluateCedar(set: LoadedPolicySet, q: CedarQuery): CedarOutcome {
  const full = run(set.fullSetId, q);
  if (!full.ok) return { kind: 'deny', reasons: full.reasons, obligations: [] };
  if (full.allow) return { kind: 'allow', reasons: policyReasons(full.reasons) };
  if (full.reasons.length === 0) {
    return {
      kind: 'deny',
      reasons: [{ id: 'bulkhead.no_permit', message: 'no policy permits this request' }],
      obligations: [],
    };
  }
  const obligationPolicies = full.reasons.filter((id) => set.compiled.obligations.has(id));
  if (obligationPolicies.length === full.reasons.length) {
    const base = run(set.baseSetId, q);
    if (base.ok && base.allow) {
      return {
        kind: 'deny',
        reasons: policyReasons(full.reasons),
        obligations: obligationPolicies.map((id) => obligationFor(id, set.compiled.obligations.get(id)!)),
      };
    }
  }
  return { kind: 'deny', reasons: policyReasons(full.reasons), obligations: [] };
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
