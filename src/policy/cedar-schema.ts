/**
 * The Cedar schema generated from the inventory model. Identity kinds become principal entity types (so a
 * policy can say `principal is AiAgent`), groups become `Group` parents, resources are one `Resource` type
 * with the inventory attributes and their parent chain. Free-form labels and AuthZEN `properties` are
 * entity tags (`resource.getTag("ownerID")`), which Cedar's validator makes policies guard with `hasTag`.
 */
import type { SchemaJson, TypeOfAttribute } from '@cedar-policy/cedar-wasm/nodejs';
import { IDENTITY_KINDS, type IdentityKind } from '../inventory/types.js';

export const PRINCIPAL_TYPES: Record<IdentityKind, string> = {
  human: 'Human',
  service_account: 'ServiceAccount',
  workload: 'Workload',
  ai_agent: 'AiAgent',
  ci_pipeline: 'CiPipeline',
  third_party_integration: 'ThirdPartyIntegration',
  break_glass: 'BreakGlass',
  shared_account: 'SharedAccount',
};

/** Actions every policy set may use without declaring them. */
export const BUILTIN_ACTIONS = ['read', 'write', 'delete', 'admin', 'deploy', 'invoke'] as const;

/** Context attributes the PDP always computes itself; a caller cannot supply them. */
export const DERIVED_CONTEXT = [
  'hour',
  'weekday',
  'approved',
  'auth_age_minutes',
  'subject_properties',
  'action_properties',
] as const;

/**
 * What the PEP asserts about the subject and the action (AuthZEN `properties`) is exposed as tags of two
 * request-scoped entities, kept apart from inventory-backed principal attributes: a policy that trusts a
 * gateway's claim has to say so (`context.subject_properties.getTag("role")`).
 */
export const SUBJECT_PROPERTIES_TYPE = 'SubjectProperties';
export const ACTION_PROPERTIES_TYPE = 'ActionProperties';

type Attr = TypeOfAttribute<string>;
const str: Attr = { type: 'String' };
const long: Attr = { type: 'Long' };
const bool: Attr = { type: 'Boolean' };
const strSet: Attr = { type: 'Set', element: { type: 'String' } };
const optional = (a: Attr): Attr => ({ ...a, required: false });

/** Request context attributes: name → Cedar type. Unknown context keys are not passed to Cedar. */
export const CONTEXT_ATTRIBUTES: Record<string, Attr> = {
  hour: long,
  weekday: long,
  approved: bool,
  subject_properties: { type: 'Entity', name: 'SubjectProperties' },
  action_properties: { type: 'Entity', name: 'ActionProperties' },
  auth_age_minutes: optional(long),
  auth_time: optional(long),
  acr: optional(str),
  amr: optional(strSet),
  mfa: optional(bool),
  source_ip: optional({ type: 'Extension', name: 'ipaddr' }),
  network: optional(str),
  destination: optional(str),
  data_sensitivity: optional(str),
  environment: optional(str),
  task_id: optional(str),
  risk_score: optional(long),
  justification: optional(str),
};

const PRINCIPAL_SHAPE: Record<string, Attr> = {
  /** The inventory id again, so conditions can compare it with strings (e.g. `resource.owners`). */
  id: str,
  kind: str,
  display_name: str,
  environment: str,
  status: str,
  source: str,
  owners: strSet,
  groups: strSet,
  spiffe_id: optional(str),
};

const RESOURCE_SHAPE: Record<string, Attr> = {
  id: str,
  type: str,
  sensitivity: str,
  environment: str,
  owners: strSet,
  /** false for resources the PEP described but the inventory does not hold (AuthZEN `properties` only). */
  inventoried: bool,
};

export const ACTION_NAME_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.:/-]{0,99}$/;

export function buildCedarSchema(extraActions: readonly string[]): SchemaJson<string> {
  const principalTypes = IDENTITY_KINDS.map((k) => PRINCIPAL_TYPES[k]);
  const entityTypes: SchemaJson<string>[string]['entityTypes'] = {
    Group: {},
    [SUBJECT_PROPERTIES_TYPE]: { tags: { type: 'String' } },
    [ACTION_PROPERTIES_TYPE]: { tags: { type: 'String' } },
    Resource: {
      memberOfTypes: ['Resource'],
      shape: { type: 'Record', attributes: RESOURCE_SHAPE },
      tags: { type: 'String' },
    },
  };
  for (const t of principalTypes) {
    entityTypes[t] = {
      memberOfTypes: ['Group'],
      shape: { type: 'Record', attributes: PRINCIPAL_SHAPE },
      tags: { type: 'String' },
    };
  }
  // From entries: assigning `actions["__proto__"]` would drop a declared action.
  const actions: SchemaJson<string>[string]['actions'] = Object.fromEntries(
    [...new Set([...BUILTIN_ACTIONS, ...extraActions])].map((name) => [
      name,
      { appliesTo: { principalTypes, resourceTypes: ['Resource'], context: { type: 'Context' } } },
    ]),
  );
  return {
    '': {
      commonTypes: { Context: { type: 'Record', attributes: CONTEXT_ATTRIBUTES } },
      entityTypes,
      actions,
    },
  };
}
