/**
 * Posture rules: pure functions from the inventory (plus what the graph and the event log know) to findings.
 * Each rule names its OWASP NHI Top 10 (2025) risk and the NIST CSF 2.0 / ATT&CK ids that apply.
 */
import type { Credential, Identity, Resource } from '../inventory/types.js';
import type { Finding, Severity } from './model.js';
import type { RuleContext } from './rules/common.js';
import { credentialRules } from './rules/credential-rules.js';
import { identityRules } from './rules/identity-rules.js';
import { usageRules } from './rules/usage-rules.js';

export { grantCovers, grantedVsUsed, policyGrantCovers, type GrantedVsUsed } from './rules/usage-rules.js';

/** What the graph can answer for posture (implemented over the identity graph). */
export interface PostureGraph {
  /** How the identity reaches admin: `direct`, an escalation method, or null. */
  adminPath(identityId: string): { method: string; target: string } | null;
  /** Reach summary for an identity. */
  /** Policy grants held directly (imported IAM/RBAC permissions): action and resource ARN or id. */
  grants?(identityId: string): { action: string; resource: string }[];
  reach(identityId: string): {
    regulated: number;
    confidential: number;
    admin: number;
    environments: Set<string>;
    prodResources: string[];
  };
}

export interface UsageRecord {
  identityId: string;
  action: string;
  resource: string | null;
}

export interface PostureInput {
  now: Date;
  identities: readonly Identity[];
  credentials: readonly Credential[];
  resources: readonly Resource[];
  /** Maximum secret age before rotation is due (NHI7). */
  rotationDays: number;
  /** An active NHI not seen for this long is treated as abandoned (NHI1). */
  staleDays: number;
  /** Recorded use from the event log; null when no events have been recorded (NHI5 usage check skipped). */
  usage: readonly UsageRecord[] | null;
  graph: PostureGraph | null;
}

export function evaluatePosture(input: PostureInput): Finding[] {
  const ctx: RuleContext = {
    input,
    byId: new Map(input.identities.map((i) => [i.id, i])),
    credsOf: new Map(),
    out: [],
  };
  for (const c of input.credentials) {
    let l = ctx.credsOf.get(c.identityId);
    if (!l) ctx.credsOf.set(c.identityId, (l = []));
    l.push(c);
  }
  identityRules(ctx);
  credentialRules(ctx);
  usageRules(ctx);
  return ctx.out.sort(
    (a, b) => severityRank(a.severity) - severityRank(b.severity) || a.id.localeCompare(b.id),
  );
}

function severityRank(s: Severity): number {
  return ['critical', 'high', 'medium', 'low'].indexOf(s);
}
