/**
 * Posture rules: pure functions from the inventory (plus what the graph and the event log know) to findings.
 * Each rule names its OWASP NHI Top 10 (2025) risk and the NIST CSF 2.0 / ATT&CK ids that apply.
 */
import type { Credential, Identity, Resource } from '../inventory/types.js';
import { globMatch } from '../graph/importers/aws-iam/evaluate.js';
import type { Finding, NhiId, Severity } from './model.js';

const DAY = 86_400_000;
const STATIC_TYPES = new Set(['access_key', 'api_key', 'password', 'ssh_key', 'oauth_client_secret']);
const FEDERATED_TYPES = new Set(['token', 'certificate']);
const PUBLIC_LOCATION = /\(public\)|^github\.com\/|^gist\.|pastebin|^public:/i;

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

interface Mapping {
  nist: string[];
  attack: string[];
  agentic?: string[];
}

const MAP: Record<NhiId, Mapping> = {
  NHI1: { nist: ['PR.AA-01', 'ID.AM-08'], attack: ['T1078'] },
  NHI2: { nist: ['PR.DS-01', 'PR.AA-01', 'DE.CM-09'], attack: ['T1552', 'T1552.001'] },
  NHI3: { nist: ['GV.SC-07', 'PR.AA-05'], attack: ['T1199'] },
  NHI4: { nist: ['PR.AA-03'], attack: ['T1078.004'] },
  NHI5: { nist: ['PR.AA-05'], attack: ['T1078', 'T1098'], agentic: ['ASI03'] },
  NHI6: { nist: ['PR.PS-01'], attack: ['T1078.004', 'T1552.005'] },
  NHI7: { nist: ['PR.AA-01'], attack: ['T1552'] },
  NHI8: { nist: ['PR.IR-01', 'PR.AA-05'], attack: ['T1078'] },
  NHI9: { nist: ['PR.AA-01', 'DE.CM-03'], attack: ['T1078'] },
  NHI10: { nist: ['PR.AA-01', 'DE.CM-03'], attack: ['T1078'], agentic: ['ASI03'] },
};

function finding(
  nhi: NhiId,
  rule: string,
  subject: string,
  f: Omit<Finding, 'id' | 'rule' | 'nhi' | 'nist' | 'attack' | 'agentic' | 'credentialId' | 'resourceId'> &
    Partial<Pick<Finding, 'credentialId' | 'resourceId'>>,
  isAgent = false,
): Finding {
  const m = MAP[nhi];
  return {
    id: `${rule}:${subject}`,
    rule,
    nhi,
    credentialId: null,
    resourceId: null,
    ...f,
    nist: m.nist,
    attack: m.attack,
    agentic: isAgent ? (m.agentic ?? []) : [],
  };
}

function ageDays(now: Date, iso: string | null): number | null {
  return iso ? Math.floor((now.getTime() - Date.parse(iso)) / DAY) : null;
}

export function evaluatePosture(input: PostureInput): Finding[] {
  const out: Finding[] = [];
  const byId = new Map(input.identities.map((i) => [i.id, i]));
  const credsOf = new Map<string, Credential[]>();
  for (const c of input.credentials) {
    let l = credsOf.get(c.identityId);
    if (!l) credsOf.set(c.identityId, (l = []));
    l.push(c);
  }

  for (const i of input.identities) {
    if (i.kind === 'human' || i.status !== 'active') continue;
    const agent = i.kind === 'ai_agent';
    // ---- NHI1 improper offboarding ----
    const people = i.owners.filter((o) => !o.startsWith('team:'));
    if (i.owners.length === 0) {
      out.push(
        finding(
          'NHI1',
          'NHI1-ownerless',
          i.id,
          {
            title: 'Non-human identity without an owner',
            severity: i.kind === 'break_glass' ? 'critical' : 'high',
            identityId: i.id,
            message: `${i.id} (${i.kind}) has no owner: nobody will rotate, review or offboard it.`,
            remediation: 'Assign a human or team owner; disable it if nobody claims it.',
            evidence: { kind: i.kind },
          },
          agent,
        ),
      );
    } else if (people.length > 0 && people.every((o) => byId.get(o)?.status !== 'active')) {
      out.push(
        finding(
          'NHI1',
          'NHI1-owner-left',
          i.id,
          {
            title: 'Every owner of the NHI has left',
            severity: 'high',
            identityId: i.id,
            message: `All human owners of ${i.id} (${people.join(', ')}) are disabled or gone.`,
            remediation: 'Re-assign ownership or decommission the identity and revoke its credentials.',
            evidence: { owners: people },
          },
          agent,
        ),
      );
    }
    const seen = ageDays(input.now, i.lastSeenAt ?? i.createdAt);
    if (
      seen !== null &&
      seen > input.staleDays &&
      (credsOf.get(i.id) ?? []).some((c) => c.status === 'active')
    ) {
      out.push(
        finding(
          'NHI1',
          'NHI1-stale',
          i.id,
          {
            title: 'Unused NHI still holds active credentials',
            severity: 'medium',
            identityId: i.id,
            message: `${i.id} has not been seen for ${seen} days but still has active credentials.`,
            remediation: 'Disable the identity and revoke its credentials; delete after a grace period.',
            evidence: { daysSinceSeen: seen },
          },
          agent,
        ),
      );
    }
    // ---- NHI3 third-party NHIs with broad reach ----
    const thirdParty = i.kind === 'third_party_integration' || i.labels['aws.third-party-trust'] === 'true';
    if (thirdParty && input.graph) {
      const r = input.graph.reach(i.id);
      if (r.admin > 0 || r.regulated > 0) {
        out.push(
          finding(
            'NHI3',
            'NHI3-broad-third-party',
            i.id,
            {
              title: 'Third-party NHI reaches regulated data or admin',
              severity: r.admin > 0 ? 'critical' : 'high',
              identityId: i.id,
              message: `${i.id} is operated by a third party and reaches ${r.regulated} regulated resources${r.admin > 0 ? ' and admin-equivalent access' : ''}.`,
              remediation:
                'Scope the vendor access to the resources it needs, require an external id / short-lived tokens, review the vendor.',
              evidence: { regulated: r.regulated, admin: r.admin },
            },
            agent,
          ),
        );
      }
    }
    // ---- NHI5 over-privileged: admin-equivalent ----
    const admin = input.graph?.adminPath(i.id) ?? null;
    if (admin) {
      out.push(
        finding(
          'NHI5',
          admin.method === 'direct' ? 'NHI5-admin' : 'NHI5-escalation',
          i.id,
          {
            title: admin.method === 'direct' ? 'NHI is admin-equivalent' : 'NHI can escalate to admin',
            severity: i.kind === 'break_glass' ? 'medium' : 'high',
            identityId: i.id,
            message:
              admin.method === 'direct'
                ? `${i.id} holds admin-equivalent access (${admin.target}).`
                : `${i.id} can reach admin-equivalent access (${admin.target}) using ${admin.method}.`,
            remediation:
              'Replace the broad grant with the specific actions the workload uses; remove the escalation permission.',
            evidence: admin,
          },
          agent,
        ),
      );
    }
    // ---- NHI8 environment isolation ----
    if (
      input.graph &&
      i.environment !== 'prod' &&
      i.environment !== 'production' &&
      i.environment !== 'unknown'
    ) {
      const r = input.graph.reach(i.id);
      if (r.prodResources.length > 0) {
        out.push(
          finding(
            'NHI8',
            'NHI8-nonprod-reaches-prod',
            i.id,
            {
              title: `A ${i.environment} identity reaches production`,
              severity: 'high',
              identityId: i.id,
              message: `${i.id} (${i.environment}) can reach ${r.prodResources.length} production resources, e.g. ${r.prodResources.slice(0, 3).join(', ')}.`,
              remediation:
                'Give non-production workloads their own credentials and accounts; remove the path into production.',
              evidence: { prodResources: r.prodResources.slice(0, 20) },
            },
            agent,
          ),
        );
      }
    }
    // ---- NHI10 human use of NHI ----
    if (i.kind === 'shared_account') {
      out.push(
        finding('NHI10', 'NHI10-shared-account', i.id, {
          title: 'Shared account used by people',
          severity: 'medium',
          identityId: i.id,
          message: `${i.id} is a shared login: actions cannot be attributed to a person.`,
          remediation:
            'Give each person their own identity; keep the shared account break-glass only and monitored.',
          evidence: { users: i.labels.users ?? null },
        }),
      );
    }
  }

  // ---- credential rules ----
  for (const c of input.credentials) {
    const owner = byId.get(c.identityId);
    if (!owner || owner.kind === 'human' || c.status !== 'active') continue;
    const agent = owner.kind === 'ai_agent';
    // NHI2 secret leakage.
    const leakedAt = c.storedIn.filter((s) => PUBLIC_LOCATION.test(s));
    const leakLabel = c.labels.leak ?? c.labels.finding ?? owner.labels.finding;
    if (leakedAt.length > 0 || (leakLabel && /leak/i.test(leakLabel))) {
      out.push(
        finding(
          'NHI2',
          'NHI2-leaked',
          c.id,
          {
            title: 'Secret found in a public or leaked location',
            severity: 'critical',
            identityId: owner.id,
            credentialId: c.id,
            message: `Credential ${c.id} of ${owner.id} was found at ${leakedAt.join(', ') || leakLabel}.`,
            remediation: 'Revoke and rotate it now; check the event log for use since the leak.',
            evidence: { locations: leakedAt, report: leakLabel ?? null },
          },
          agent,
        ),
      );
    }
    const onLaptop = c.storedIn.filter((s) => s.startsWith('laptop:'));
    if (onLaptop.length > 0) {
      out.push(
        finding(
          'NHI10',
          'NHI10-secret-on-laptop',
          c.id,
          {
            title: 'NHI secret held on a person’s machine',
            severity: 'medium',
            identityId: owner.id,
            credentialId: c.id,
            message: `Credential ${c.id} of ${owner.id} is stored on ${onLaptop.join(', ')}: a person uses the machine identity.`,
            remediation:
              'Move the secret to a vault; let people use their own identities (or short-lived, brokered access).',
            evidence: { locations: onLaptop },
          },
          agent,
        ),
      );
    }
    const humanConsumers = c.consumers.filter((x) => byId.get(x)?.kind === 'human');
    if (humanConsumers.length > 0) {
      out.push(
        finding(
          'NHI10',
          'NHI10-human-consumer',
          c.id,
          {
            title: 'People use a machine credential',
            severity: 'medium',
            identityId: owner.id,
            credentialId: c.id,
            message: `${humanConsumers.join(', ')} consume credential ${c.id} of ${owner.id}.`,
            remediation: 'Issue personal credentials; keep the NHI credential for the workload only.',
            evidence: { humans: humanConsumers },
          },
          agent,
        ),
      );
    }
    // NHI4 insecure authentication: static secret where federation exists.
    const federated =
      owner.spiffeId !== null ||
      (credsOf.get(owner.id) ?? []).some((x) => x.status === 'active' && FEDERATED_TYPES.has(x.type)) ||
      owner.labels['aws.federated'] !== undefined;
    if (STATIC_TYPES.has(c.type) && federated) {
      out.push(
        finding(
          'NHI4',
          'NHI4-static-secret-with-federation',
          c.id,
          {
            title: 'Static secret where federation is available',
            severity: 'medium',
            identityId: owner.id,
            credentialId: c.id,
            message: `${owner.id} authenticates with a long-lived ${c.type} (${c.id}) although it can use federated or short-lived credentials.`,
            remediation:
              'Use workload identity federation (OIDC, SPIFFE) or brokered short-lived tokens; revoke the static secret.',
            evidence: { type: c.type },
          },
          agent,
        ),
      );
    } else if (c.type === 'access_key' && owner.labels['aws.type'] === 'user') {
      out.push(
        finding(
          'NHI4',
          'NHI4-iam-user-access-key',
          c.id,
          {
            title: 'IAM user with a long-lived access key',
            severity: 'medium',
            identityId: owner.id,
            credentialId: c.id,
            message: `IAM user ${owner.labels['aws.name'] ?? owner.id} uses access key ${c.fingerprint}.`,
            remediation: 'Replace the IAM user with a role assumed through federation.',
            evidence: { accessKeyId: c.fingerprint },
          },
          agent,
        ),
      );
    }
    // NHI6 insecure cloud deployment configuration: a pipeline holding static cloud keys.
    if (owner.kind === 'ci_pipeline' && c.type === 'access_key') {
      out.push(
        finding('NHI6', 'NHI6-ci-static-cloud-key', c.id, {
          title: 'CI/CD pipeline uses a static cloud key',
          severity: 'high',
          identityId: owner.id,
          credentialId: c.id,
          message: `Pipeline ${owner.id} holds cloud access key ${c.id} (stored in ${c.storedIn.join(', ') || 'unknown'}).`,
          remediation:
            'Use the CI provider’s OIDC federation to assume a narrowly scoped role; delete the key.',
          evidence: { storedIn: c.storedIn },
        }),
      );
    }
    // NHI7 long-lived secrets.
    const age = ageDays(input.now, c.lastRotatedAt ?? c.createdAt);
    if (c.expiresAt === null && age !== null && age > input.rotationDays) {
      out.push(
        finding(
          'NHI7',
          'NHI7-long-lived',
          c.id,
          {
            title: 'Secret older than the rotation policy and never expires',
            severity: age > input.rotationDays * 4 ? 'high' : 'medium',
            identityId: owner.id,
            credentialId: c.id,
            message: `Credential ${c.id} of ${owner.id} was last rotated ${age} days ago (policy ${input.rotationDays}) and has no expiry.`,
            remediation:
              'Rotate it (check its consumers first) and set an expiry; prefer short-lived credentials.',
            evidence: { ageDays: age, rotationDays: input.rotationDays },
          },
          agent,
        ),
      );
    }
    // NHI9 reuse: several workloads share one credential.
    const workloads = [
      ...new Set(c.consumers.filter((x) => x !== owner.id && byId.get(x)?.kind !== 'human')),
    ];
    if (workloads.length > 0) {
      out.push(
        finding(
          'NHI9',
          'NHI9-shared-credential',
          c.id,
          {
            title: 'One credential used by several workloads',
            severity: 'medium',
            identityId: owner.id,
            credentialId: c.id,
            message: `Credential ${c.id} of ${owner.id} is also used by ${workloads.join(', ')}.`,
            remediation:
              'Give each workload its own identity and credential so one compromise or rotation does not affect the others.',
            evidence: { consumers: c.consumers },
          },
          agent,
        ),
      );
    }
    const envs = new Set([
      owner.environment,
      ...c.consumers.map((x) => byId.get(x)?.environment).filter((e): e is string => !!e),
    ]);
    if (envs.size > 1) {
      out.push(
        finding(
          'NHI8',
          'NHI8-credential-across-environments',
          c.id,
          {
            title: 'Credential shared across environments',
            severity: 'high',
            identityId: owner.id,
            credentialId: c.id,
            message: `Credential ${c.id} is used in ${[...envs].join(', ')}.`,
            remediation: 'Issue one credential per environment.',
            evidence: { environments: [...envs] },
          },
          agent,
        ),
      );
    }
  }

  // ---- NHI5 granted vs used (only when the event log has recorded use) ----
  if (input.usage && input.usage.length > 0) {
    const used = new Map<string, UsageRecord[]>();
    for (const u of input.usage) {
      let l = used.get(u.identityId);
      if (!l) used.set(u.identityId, (l = []));
      l.push(u);
    }
    for (const i of input.identities) {
      if (i.kind === 'human' || i.status !== 'active') continue;
      const mine = used.get(i.id);
      // Only identities whose activity is in the log: no events at all means "not collected", not "unused".
      if (!mine) continue;
      const gu = grantedVsUsed(i, credsOf.get(i.id) ?? [], input.graph?.grants?.(i.id) ?? [], mine);
      if (gu.granted.length === 0 || gu.unused.length === 0) continue;
      const { granted, unused, used: suggestion } = gu;
      const evidence: Record<string, unknown> = { ...gu, leastPrivilege: suggestion };
      out.push(
        finding(
          'NHI5',
          'NHI5-unused-grants',
          i.id,
          {
            title: 'Granted permissions never used',
            severity: unused.length === granted.length ? 'medium' : 'low',
            identityId: i.id,
            message: `${i.id} used ${granted.length - unused.length} of ${granted.length} granted permissions; unused: ${unused.slice(0, 5).join(', ')}${unused.length > 5 ? '…' : ''}.`,
            remediation:
              suggestion.length > 0
                ? `Reduce the grants to what was used: ${suggestion.slice(0, 10).join('; ')}.`
                : 'No use was recorded: remove the grants (or the identity).',
            evidence,
          },
          i.kind === 'ai_agent',
        ),
      );
    }
  }
  return out.sort((a, b) => severityRank(a.severity) - severityRank(b.severity) || a.id.localeCompare(b.id));
}

export interface GrantedVsUsed {
  /** Credential scopes and policy grants (`<action> on <resource>`). */
  granted: string[];
  /** What the event log shows the identity doing (`<action> on <resource>`). */
  used: string[];
  unused: string[];
  /** For AWS principals: an identity policy allowing exactly what was used. */
  leastPrivilegePolicy?: Record<string, unknown>;
}

/**
 * Granted vs actually used for one identity (NHI5, and what a "narrow permissions" containment step needs):
 * grants come from active credential scopes and imported policy grants, use from recorded events.
 */
export function grantedVsUsed(
  identity: Identity,
  credentials: readonly Credential[],
  policyGrants: readonly { action: string; resource: string }[],
  usage: readonly UsageRecord[],
): GrantedVsUsed {
  const scopes = [...new Set(credentials.filter((c) => c.status === 'active').flatMap((c) => c.scopes))];
  const granted = [...scopes, ...policyGrants.map((g) => `${g.action} on ${g.resource}`)];
  const unused = [
    ...scopes.filter((g) => !usage.some((u) => grantCovers(g, u))),
    ...policyGrants
      .filter((g) => !usage.some((u) => policyGrantCovers(g, u)))
      .map((g) => `${g.action} on ${g.resource}`),
  ];
  const used = [...new Set(usage.map((u) => (u.resource ? `${u.action} on ${u.resource}` : u.action)))].slice(
    0,
    200,
  );
  const out: GrantedVsUsed = { granted, used, unused };
  if (identity.cloudArn?.startsWith('arn:aws') && usage.length > 0) {
    out.leastPrivilegePolicy = {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: [...new Set(usage.map((u) => u.action))].sort(),
          Resource: [...new Set(usage.map((u) => u.resource ?? '*'))].sort(),
        },
      ],
    };
  }
  return out;
}

/** A policy grant (`s3:Get*` on `arn:aws:s3:::bucket`) is used when an event's action and resource fall under it. */
export function policyGrantCovers(grant: { action: string; resource: string }, use: UsageRecord): boolean {
  if (!globMatch(grant.action, use.action, true)) return false;
  if (!use.resource || grant.resource === '*') return true;
  return (
    use.resource === grant.resource ||
    use.resource.startsWith(`${grant.resource}/`) ||
    globMatch(grant.resource, use.resource)
  );
}

/** A scope is used when an event's action or resource names it (or the resource it names). */
export function grantCovers(scope: string, use: UsageRecord): boolean {
  const s = scope.toLowerCase();
  const action = use.action.toLowerCase();
  const resource = (use.resource ?? '').toLowerCase();
  if (s === action || s === `${action}:${resource}`) return true;
  const parts = s.split(':').filter((p) => p !== '*' && p.length > 2);
  return parts.some(
    (p) =>
      resource === p ||
      resource.startsWith(`${p}/`) ||
      resource.startsWith(`${p}.`) ||
      action.startsWith(`${p}.`) ||
      action.startsWith(`${p}:`),
  );
}

function severityRank(s: Severity): number {
  return ['critical', 'high', 'medium', 'low'].indexOf(s);
}
