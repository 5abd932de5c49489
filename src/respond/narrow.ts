/**
 * `narrow_permissions`: shrink an identity's credential scopes to the ones the event log shows it using
 * (posture's granted-vs-used). Pure planning here; the step applies the plan through the inventory (one
 * audited `credential.narrow` update per credential, the previous scopes kept in the step journal) and
 * `restoreNarrowed` puts them back.
 */
import type { Credential } from '../inventory/types.js';
import type { GrantedVsUsed } from './handles.js';

export interface ScopeChange {
  credentialId: string;
  /** Scopes before narrowing (what a restore puts back). */
  before: string[];
  after: string[];
  removed: string[];
}

export interface NarrowingPlan {
  changes: ScopeChange[];
  /** Active credentials none of whose scopes was used: left as they are (revoke them if that is intended). */
  unusedCredentials: string[];
  /** Imported policy grants never used: changed at their source (IAM / RBAC), not here. */
  policyGrantsUnused: string[];
  leastPrivilegePolicy?: Record<string, unknown> | undefined;
}

/** The least-privilege change for each active credential: keep the scopes that were used. */
export function planNarrowing(credentials: readonly Credential[], usage: GrantedVsUsed): NarrowingPlan {
  const unused = new Set(usage.unused);
  const plan: NarrowingPlan = {
    changes: [],
    unusedCredentials: [],
    policyGrantsUnused: usage.unused.filter((g) => g.includes(' on ')),
    leastPrivilegePolicy: usage.leastPrivilegePolicy,
  };
  for (const c of credentials) {
    if (c.status !== 'active') continue;
    const removed = c.scopes.filter((s) => unused.has(s));
    if (removed.length === 0) continue;
    const after = c.scopes.filter((s) => !unused.has(s));
    if (after.length === 0) {
      plan.unusedCredentials.push(c.id);
      continue;
    }
    plan.changes.push({ credentialId: c.id, before: [...c.scopes], after, removed });
  }
  return plan;
}

/** `cred-a: -tickets:write -payments-db:rw` lines for dry runs and step details. */
export function describeNarrowing(plan: NarrowingPlan): string {
  const parts = plan.changes.map(
    (c) => `${c.credentialId}: ${c.removed.map((s) => `-${s}`).join(' ')} (keeps ${c.after.join(', ')})`,
  );
  if (plan.unusedCredentials.length > 0)
    parts.push(`left unchanged, no recorded use: ${plan.unusedCredentials.join(', ')}`);
  if (plan.policyGrantsUnused.length > 0)
    parts.push(`unused policy grants to remove at their source: ${plan.policyGrantsUnused.length}`);
  return parts.join('; ');
}

export function sameScopes(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && [...a].sort().join('\n') === [...b].sort().join('\n');
}
