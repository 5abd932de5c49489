/**
 * AuthZEN `subject.type` values the PDP understands and the inventory identity kinds each one covers.
 * `identity` covers every kind; an identity kind name covers itself. A Map, not an object literal: a caller's
 * type such as `constructor` must not find an inherited property.
 */
import { IDENTITY_KINDS, type Identity } from '../inventory/types.js';

const SUBJECT_TYPE_KINDS = new Map<string, readonly string[] | 'any'>([
  ['identity', 'any'],
  ['user', ['human', 'break_glass', 'shared_account']],
  ['machine', ['service_account', 'workload', 'ai_agent', 'ci_pipeline', 'third_party_integration']],
]);

export function subjectTypeMatches(type: string | undefined, identity: Identity): boolean | undefined {
  if (type === undefined) return true;
  const kinds = SUBJECT_TYPE_KINDS.get(type);
  if (kinds === 'any') return true;
  if (kinds) return kinds.includes(identity.kind);
  if (type === identity.kind) return true;
  return isKnownSubjectType(type) ? false : undefined;
}

export function isKnownSubjectType(type: string): boolean {
  return SUBJECT_TYPE_KINDS.has(type) || (IDENTITY_KINDS as readonly string[]).includes(type);
}

export function subjectTypeKinds(type: string): readonly string[] | 'any' | undefined {
  const k = SUBJECT_TYPE_KINDS.get(type);
  if (k) return k;
  return isKnownSubjectType(type) ? [type] : undefined;
}
