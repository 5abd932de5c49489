/**
 * Crisis tiers (DESIGN.md): how fast and how automatically an identity is contained. Pure: the caller hands in
 * the identity, its credentials and what it can reach; the answer carries every reason that raised the tier,
 * so a responder can see *why* payments-api is T0 before a playbook quarantines it.
 */
import type { Credential, Identity, Resource } from '../inventory/types.js';

export const TIERS = ['T0', 'T1', 'T2', 'T3'] as const;
export type Tier = (typeof TIERS)[number];

export interface TierReason {
  tier: Tier;
  /** Stable code, e.g. `break_glass`, `regulated_data`, `pipeline_release`. */
  code: string;
  message: string;
}

export interface TierResult {
  identityId: string;
  tier: Tier;
  /** Every reason found, most severe first; the first one decided the tier. */
  reasons: TierReason[];
}

/** A resource the identity can reach and whether it can change it. */
export interface Reach {
  resource: Resource;
  access: 'read' | 'write';
  /** The credential scope or graph edge this was derived from. */
  via: string;
}

/** What the identity graph knows about an identity's path to admin (absent without the graph module). */
export interface GraphTierFacts {
  /** Privilege-escalation methods (e.g. `iam:CreatePolicyVersion`) that lead to an admin-equivalent node. */
  escalations: { method: string; target: string; path: string }[];
  /** Admin-equivalent nodes held by plain grants (no escalation step needed). */
  admin: { target: string; path: string }[];
}

export interface TierInput {
  identity: Identity;
  credentials: Credential[];
  /** What the identity reaches (from credential scopes, or from the graph when it is present). */
  reach: Reach[];
  graph?: GraphTierFacts | undefined;
  /** Regulated resources the active policy set lets the identity write to (when a PDP was asked). */
  policyRegulatedWrites?: { resource: string; action: string }[] | undefined;
  now: Date;
}

const ADMIN_GROUP = /(^|[-_.])(admins?|superusers?|root)($|[-_.])|infra-admins|db-admins|platform-admins/i;
const ACCESS_CONTROL_SCOPE =
  /(^|:)(iam|sts|rbac|vault:admin|admin|root|superuser|cluster-admin)($|:)|:\*$|^\w+:\*$/i;
const PIPELINE_SCOPE = /(^|:)(deploy|registry:push|npm:publish|publish|release|repo:write)($|:)/i;
const FLEET_SECRET_SCOPE = /(vault:read:\*|secrets?:(read|list):\*|kms:\*)/i;
const WRITE_SCOPE =
  /(:|^)(write|rw|create|update|delete|send|push|publish|change|ddl|full|admin|payouts|charges|superuser|\*)($|:)/i;
const SHORT_TTL_MS = 24 * 3_600_000;
const ORDER: Record<Tier, number> = { T0: 0, T1: 1, T2: 2, T3: 3 };

/** True when a scope grants more than reading. */
export function isWriteScope(scope: string): boolean {
  return WRITE_SCOPE.test(scope) || PIPELINE_SCOPE.test(scope);
}

/**
 * Resources a scope names: any `:`-separated segment that is a resource id (`db:payments-db:rw` →
 * `payments-db`, `warehouse.finance:read` → `warehouse.finance`), and everything under it by resource parent
 * (access to a database reaches its regulated tables).
 */
export function reachFromScopes(credentials: Credential[], resources: Map<string, Resource>): Reach[] {
  const children = new Map<string, Resource[]>();
  for (const r of resources.values()) {
    if (!r.parentId) continue;
    const list = children.get(r.parentId) ?? [];
    list.push(r);
    children.set(r.parentId, list);
  }
  const out: Reach[] = [];
  const seen = new Set<string>();
  const add = (r: Resource, access: Reach['access'], via: string, depth: number) => {
    const key = `${r.id}|${access}`;
    if (seen.has(key) || depth > 16) return;
    seen.add(key);
    out.push({ resource: r, access, via });
    for (const child of children.get(r.id) ?? []) add(child, access, `${via} via ${r.id}`, depth + 1);
  };
  for (const c of credentials) {
    if (c.status !== 'active') continue;
    for (const scope of c.scopes) {
      const access = isWriteScope(scope) ? 'write' : 'read';
      for (const seg of scope.split(':')) {
        const r = resources.get(seg);
        if (r) add(r, access, `${c.id}:${scope}`, 0);
      }
    }
  }
  return out;
}

/**
 * Computes the crisis tier of one identity.
 * @example computeTier({ identity, credentials, reach: reachFromScopes(credentials, resourcesById), now })
 */
export function computeTier(input: TierInput): TierResult {
  const { identity, now } = input;
  const reasons: TierReason[] = [];
  const add = (tier: Tier, code: string, message: string) => reasons.push({ tier, code, message });
  const active = input.credentials.filter((c) => c.status === 'active');
  const scopes = active.flatMap((c) => c.scopes.map((s) => ({ credential: c, scope: s })));

  if (identity.kind === 'break_glass') add('T0', 'break_glass', 'break-glass accounts are always T0');
  if (identity.kind === 'shared_account') add('T0', 'shared_account', 'shared accounts are always T0');

  const adminGroups = identity.groups.filter((g) => ADMIN_GROUP.test(g));
  if (adminGroups.length > 0) {
    add('T0', 'access_control', `member of ${adminGroups.join(', ')}: can change other identities' access`);
  }
  for (const { credential, scope } of scopes) {
    if (ACCESS_CONTROL_SCOPE.test(scope)) {
      add('T0', 'privileged_write', `${credential.id} grants ${scope}: privileged write, hard to unwind`);
    } else if (FLEET_SECRET_SCOPE.test(scope)) {
      add(
        'T0',
        'fleet_credentials',
        `${credential.id} grants ${scope}: reads or rotates credentials fleet-wide`,
      );
    } else if (PIPELINE_SCOPE.test(scope)) {
      add('T0', 'pipeline_release', `${credential.id} grants ${scope}: alters pipeline or release state`);
    }
  }
  for (const e of input.graph?.escalations ?? []) {
    add('T0', 'privilege_escalation', `can escalate to admin ${e.target} via ${e.method} (graph): ${e.path}`);
  }
  for (const a of input.graph?.admin ?? []) {
    add('T0', 'admin_equivalent', `admin-equivalent: reaches ${a.target} (graph): ${a.path}`);
  }
  for (const w of input.policyRegulatedWrites ?? []) {
    add(
      'T0',
      'policy_regulated_write',
      `the active policy set permits ${w.action} on regulated ${w.resource}`,
    );
  }
  for (const r of input.reach) {
    if (r.resource.sensitivity === 'regulated') {
      add('T0', 'regulated_data', `${r.access} access to regulated ${r.resource.id} (${r.via})`);
    } else if (r.resource.type === 'control_plane') {
      add('T0', 'control_plane', `${r.access} access to control plane ${r.resource.id} (${r.via})`);
    }
  }

  const writes = scopes.filter((s) => isWriteScope(s.scope));
  const sensitiveReach = input.reach.filter((r) => r.resource.sensitivity !== 'public');
  if (identity.kind === 'third_party_integration' && (writes.length > 0 || sensitiveReach.length > 0)) {
    add(
      'T1',
      'third_party_reach',
      `third-party integration with ${writes.length > 0 ? 'write' : 'sensitive read'} access (supply chain)`,
    );
  }
  for (const c of active) {
    const ttl = c.expiresAt ? Date.parse(c.expiresAt) - now.getTime() : undefined;
    const shortLived = ttl !== undefined && ttl <= SHORT_TTL_MS;
    if (
      c.type === 'token' &&
      shortLived &&
      c.labels['bulkhead.task'] === undefined &&
      c.consumers.length > 1
    ) {
      add(
        'T1',
        'reusable_token',
        `${c.id} is a short-TTL token reusable across ${c.consumers.length} workflows`,
      );
    }
  }

  if (writes.length > 0) {
    add('T2', 'write_access', `write access: ${writes.map((w) => w.scope).join(', ')}`);
  }

  if (reasons.length === 0) {
    const long = active.filter((c) => c.expiresAt === null);
    add(
      'T3',
      'read_only',
      long.length > 0
        ? `read-only; note ${long.length} long-lived credential(s): ${long.map((c) => c.id).join(', ')}`
        : 'read-only, scoped, short-lived',
    );
  }
  reasons.sort((a, b) => ORDER[a.tier] - ORDER[b.tier]);
  return { identityId: identity.id, tier: reasons[0]?.tier ?? 'T3', reasons };
}

export function isTier(value: string): value is Tier {
  return (TIERS as readonly string[]).includes(value);
}

/** `a` is at least as critical as `b`. */
export function tierAtLeast(a: Tier, b: Tier): boolean {
  return ORDER[a] <= ORDER[b];
}
