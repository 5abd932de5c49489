/**
 * Compiling a policy bundle: Cedar text plus the action names it uses. Parsing and strict validation run
 * against the schema generated from the inventory model; every problem comes back with Cedar's message
 * and its line/column, so `bulkhead policy validate` and a rejected push point at the exact spot.
 */
import { createHash } from 'node:crypto';
import cedar from './cedar.js';
import type { DetailedError, SchemaJson } from '@cedar-policy/cedar-wasm/nodejs';
import { ACTION_NAME_PATTERN, buildCedarSchema, CONTEXT_ATTRIBUTES } from './cedar-schema.js';
import { footprintOf, type PolicyFootprint } from './footprint.js';
import {
  MAX_NESTING_DEPTH,
  MAX_POLICIES,
  OPERATORS_PER_LEVEL,
  policyTextShape,
  unpairedSurrogateAt,
} from './input-limits.js';
import { scopeOf, type PolicyScope } from './slices.js';

export interface PolicyBundle {
  /** Cedar policy text. `@id("...")` names a policy (reasons report these ids). */
  policies: string;
  /** Action names beyond the built-in ones (e.g. the AuthZEN action names a PEP sends). */
  actions: string[];
  /** Context attributes that must be present for an action (`*` = every action); absent → deny. */
  requiredContext: Record<string, string[]>;
}

export const OBLIGATION_TYPES = ['step_up', 'approval_required', 'justification_required'] as const;
export type ObligationType = (typeof OBLIGATION_TYPES)[number];

export interface ObligationSpec {
  type: ObligationType;
  maxAuthAgeMinutes?: number;
  acr?: string;
  approvalTtlMinutes?: number;
}

export interface PolicyIssue {
  policyId: string | null;
  message: string;
  help: string | null;
  line: number | null;
  column: number | null;
  /** Character offsets in the submitted text. */
  start: number | null;
  end: number | null;
}

export interface CompiledBundle {
  bundle: PolicyBundle;
  sha256: string;
  schema: SchemaJson<string>;
  /** policy id → Cedar text (a Map: ids are the author's, and `@id("__proto__")` is a fine id). */
  policies: Map<string, string>;
  obligations: Map<string, ObligationSpec>;
  actions: Set<string>;
  /** What the policies can read of a request (decides how much of each entity Cedar is given). */
  footprint: PolicyFootprint;
  /** policy id → which actions and principal types its scope can match (decides the slices, `slices.ts`). */
  scopes: Map<string, PolicyScope>;
  /** policy id → Cedar's JSON form (undefined when Cedar could not give one); for per-slice footprints. */
  json: Map<string, unknown>;
}

export type CompileResult = { ok: true; compiled: CompiledBundle } | { ok: false; errors: PolicyIssue[] };

export function bundleDigest(bundle: PolicyBundle): string {
  return createHash('sha256').update(JSON.stringify(bundle)).digest('hex');
}

function lineCol(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lastBreak = -1;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lastBreak = i;
    }
  }
  return { line, column: offset - lastBreak };
}

function toIssue(text: string, err: DetailedError, policyId: string | null): PolicyIssue {
  const loc = err.sourceLocations?.[0];
  const pos = loc ? lineCol(text, loc.start) : undefined;
  const label = loc?.label ? ` (${loc.label})` : '';
  return {
    policyId,
    message: `${err.message}${label}`,
    help: err.help,
    line: pos?.line ?? null,
    column: pos?.column ?? null,
    start: loc?.start ?? null,
    end: loc?.end ?? null,
  };
}

function parseObligation(id: string, ann: Record<string, string>): ObligationSpec | PolicyIssue | undefined {
  const type = ann.obligation;
  if (type === undefined) return undefined;
  const issue = (message: string): PolicyIssue => ({
    policyId: id,
    message,
    help: null,
    line: null,
    column: null,
    start: null,
    end: null,
  });
  if (!(OBLIGATION_TYPES as readonly string[]).includes(type)) {
    return issue(`policy ${id}: unknown obligation "${type}" (one of ${OBLIGATION_TYPES.join(', ')})`);
  }
  const spec: ObligationSpec = { type: type as ObligationType };
  const int = (name: string): number | PolicyIssue | undefined => {
    const raw = ann[name];
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (!Number.isInteger(n) || n <= 0) return issue(`policy ${id}: @${name} must be a positive integer`);
    return n;
  };
  const maxAge = int('max_auth_age_minutes');
  if (typeof maxAge === 'object') return maxAge;
  if (maxAge !== undefined) spec.maxAuthAgeMinutes = maxAge;
  const ttl = int('approval_ttl_minutes');
  if (typeof ttl === 'object') return ttl;
  if (ttl !== undefined) spec.approvalTtlMinutes = ttl;
  if (ann.acr !== undefined) spec.acr = ann.acr;
  return spec;
}

/**
 * Cedar text that must never reach Cedar (see `input-limits.ts`), as an issue at the spot: an unpaired
 * surrogate, nesting deeper than MAX_NESTING_DEPTH, or more than MAX_POLICIES policies.
 */
export function refusedTextIssue(text: string): PolicyIssue | undefined {
  const surrogate = unpairedSurrogateAt(text);
  if (surrogate >= 0) {
    const pos = lineCol(text, surrogate);
    return {
      policyId: null,
      message: 'policy text contains an unpaired UTF-16 surrogate',
      help: null,
      line: pos.line,
      column: pos.column,
      start: surrogate,
      end: surrogate + 1,
    };
  }
  const shape = policyTextShape(text);
  if (shape.policies > MAX_POLICIES) {
    return {
      policyId: null,
      message: `the bundle holds ${shape.policies} policies; the limit is ${MAX_POLICIES}`,
      help: 'split it, or merge policies that differ only in a value (`resource.id in [...]`)',
      line: null,
      column: null,
      start: null,
      end: null,
    };
  }
  if (shape.depth <= MAX_NESTING_DEPTH) return undefined;
  const pos = lineCol(text, shape.offset);
  return {
    policyId: null,
    message: `policy text nests ${shape.depth} levels deep; the limit is ${MAX_NESTING_DEPTH}`,
    help: `each bracket is a level and every ${OPERATORS_PER_LEVEL} chained operators (. + == && if …) count as one`,
    line: pos.line,
    column: pos.column,
    start: shape.offset,
    end: shape.offset + 1,
  };
}

/** Parses and validates a bundle. Pure apart from Cedar's (stateless) parser. */
export function compileBundle(bundle: PolicyBundle): CompileResult {
  const errors: PolicyIssue[] = [];
  const plain = (message: string): PolicyIssue => ({
    policyId: null,
    message,
    help: null,
    line: null,
    column: null,
    start: null,
    end: null,
  });
  for (const a of bundle.actions) {
    if (!ACTION_NAME_PATTERN.test(a)) errors.push(plain(`action name "${a}" is not allowed`));
  }
  for (const [action, attrs] of Object.entries(bundle.requiredContext)) {
    for (const attr of attrs) {
      if (!Object.hasOwn(CONTEXT_ATTRIBUTES, attr)) {
        errors.push(plain(`requiredContext.${action}: unknown context attribute "${attr}"`));
      }
    }
  }
  if (errors.length > 0) return { ok: false, errors };
  const text = bundle.policies;
  const refused = refusedTextIssue(text);
  if (refused) return { ok: false, errors: [refused] };
  const schema = buildCedarSchema(bundle.actions);
  const parts = cedar.policySetTextToParts(text);
  if (parts.type === 'failure') return { ok: false, errors: parts.errors.map((e) => toIssue(text, e, null)) };
  if (parts.policy_templates.length > 0) {
    return { ok: false, errors: [plain('policy templates are not supported; write static policies')] };
  }
  const ids: string[] = [];
  const policies = new Map<string, string>();
  const obligations = new Map<string, ObligationSpec>();
  const jsonForms: unknown[] = [];
  parts.policies.forEach((p, i) => {
    const json = cedar.policyToJson(p);
    jsonForms.push(json.type === 'success' ? json.json : undefined);
    const ann = json.type === 'success' ? (json.json.annotations ?? {}) : {};
    const id = ann.id ?? `policy${i}`;
    if (policies.has(id)) errors.push(plain(`two policies have the id "${id}"`));
    ids.push(id);
    policies.set(id, p);
    const ob = parseObligation(id, ann);
    if (ob && 'message' in ob) errors.push(ob);
    else if (ob) {
      if (json.type === 'success' && json.json.effect !== 'forbid') {
        errors.push(
          plain(`policy ${id}: an @obligation must be on a forbid policy (it names what lifts it)`),
        );
      }
      obligations.set(id, ob);
    }
  });
  const result = cedar.validate({
    schema,
    policies: { staticPolicies: text },
    validationSettings: { mode: 'strict' },
  });
  if (result.type === 'failure') {
    errors.push(...result.errors.map((e) => toIssue(text, e, null)));
  } else {
    for (const v of result.validationErrors) {
      const index = /^policy(\d+)$/.exec(v.policyId);
      const id = index ? (ids[Number(index[1])] ?? v.policyId) : v.policyId;
      errors.push(toIssue(text, v.error, id));
    }
  }
  if (errors.length > 0) return { ok: false, errors };
  const actionGroups = Object.values(schema['']?.actions ?? {}).some((a) => (a.memberOf?.length ?? 0) > 0);
  const scopes = new Map(ids.map((id, i) => [id, scopeOf(jsonForms[i], actionGroups)]));
  return {
    ok: true,
    compiled: {
      bundle,
      sha256: bundleDigest(bundle),
      schema,
      policies,
      obligations,
      actions: new Set(Object.keys(schema['']?.actions ?? {})),
      footprint: footprintOf(jsonForms),
      scopes,
      json: new Map(ids.map((id, i) => [id, jsonForms[i]])),
    },
  };
}
