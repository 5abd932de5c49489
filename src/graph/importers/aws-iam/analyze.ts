/**
 * Turns an IAM export into an import plan: every user and role becomes an identity; every way one principal
 * can gain another's access (or full admin) becomes a graph edge naming the method. The methods modelled
 * are the published IAM privilege-escalation paths (Rhino Security Labs' list, also used by PMapper):
 *
 *   self-modification  iam:CreatePolicyVersion, iam:SetDefaultPolicyVersion (on a policy attached to the
 *                      principal), iam:Attach/Put{User,Group,Role}Policy (on itself, its group, or a role it
 *                      can assume), iam:AddUserToGroup (into a group with admin or self-modify rights)
 *   take over others   iam:CreateAccessKey, iam:CreateLoginProfile, iam:UpdateLoginProfile (another user),
 *                      iam:UpdateAssumeRolePolicy (a role)
 *   pass a role        iam:PassRole + lambda:CreateFunction & invoke, ec2:RunInstances (role with an
 *                      instance profile), cloudformation:CreateStack, glue:CreateDevEndpoint,
 *                      datapipeline:CreatePipeline & PutPipelineDefinition — the role must trust the service
 *   assume             sts:AssumeRole per trust policy (explicit principal ARN; account root or `*` needs the
 *                      caller's identity policy too), chained through the graph
 */
import type { IdentityKind, Resource, Sensitivity } from '../../../inventory/types.js';
import { IDENTITY_KINDS } from '../../../inventory/types.js';
import { formatGrantVia } from '../../grants.js';
import type { GraphEdgeInput, GraphNodeInput } from '../../model.js';
import { nodeKey } from '../../model.js';
import {
  safeId,
  SCOPE_LABEL,
  type CredentialDraft,
  type IdentityDraft,
  type ImportPlan,
  type ResourceDraft,
} from '../plan.js';
import { adminDecision, globMatch, PolicyEvaluator, type Decision } from './evaluate.js';
import { accountOf, readIamExport, type IamExport, type IamGroup, type IamPrincipal } from './export.js';
import type { PolicyWarning, Statement } from './policy-document.js';

export interface AwsIamPlanOptions {
  /** Existing inventory resources (wildcard resource patterns are matched against their `aws.arn` label). */
  existingResources?: readonly Resource[];
  onProgress?: (done: number, total: number) => void;
}

const PASS_ROLE_COMBOS: {
  services: string[];
  needs: [string, string][];
  anyOf?: [string, string][];
  method: string;
  instanceProfile?: boolean;
}[] = [
  {
    services: ['lambda.amazonaws.com'],
    needs: [['lambda:CreateFunction', 'lambda']],
    anyOf: [
      ['lambda:InvokeFunction', 'lambda'],
      ['lambda:CreateEventSourceMapping', 'lambda'],
      ['lambda:AddPermission', 'lambda'],
    ],
    method: 'iam:PassRole+lambda:CreateFunction',
  },
  {
    services: ['ec2.amazonaws.com'],
    needs: [['ec2:RunInstances', 'ec2']],
    method: 'iam:PassRole+ec2:RunInstances',
    instanceProfile: true,
  },
  {
    services: ['cloudformation.amazonaws.com'],
    needs: [['cloudformation:CreateStack', 'cloudformation']],
    method: 'iam:PassRole+cloudformation:CreateStack',
  },
  {
    services: ['glue.amazonaws.com'],
    needs: [['glue:CreateDevEndpoint', 'glue']],
    method: 'iam:PassRole+glue:CreateDevEndpoint',
  },
  {
    services: ['datapipeline.amazonaws.com', 'elasticmapreduce.amazonaws.com'],
    needs: [
      ['datapipeline:CreatePipeline', 'datapipeline'],
      ['datapipeline:PutPipelineDefinition', 'datapipeline'],
    ],
    method: 'iam:PassRole+datapipeline:CreatePipeline',
  },
];

const DATA_SERVICES: Record<string, Sensitivity> = {
  s3: 'confidential',
  dynamodb: 'confidential',
  rds: 'confidential',
  'rds-db': 'confidential',
  secretsmanager: 'confidential',
  ssm: 'confidential',
  kms: 'confidential',
  redshift: 'confidential',
  glacier: 'confidential',
};

interface RoleTrust {
  role: IamPrincipal;
  arns: Map<string, boolean>; // principal ARN → conditional
  accountRoot: boolean | null; // null: not trusted; else conditional flag
  anyone: boolean | null;
  services: Map<string, boolean>;
  federated: Map<string, boolean>;
  externalAccounts: Map<string, boolean>;
  deniedArns: Set<string>;
}

function trustOf(role: IamPrincipal, account: string): RoleTrust {
  const t: RoleTrust = {
    role,
    arns: new Map(),
    accountRoot: null,
    anyone: null,
    services: new Map(),
    federated: new Map(),
    externalAccounts: new Map(),
    deniedArns: new Set(),
  };
  const assumeAction = (s: Statement) =>
    (s.action ?? []).some((a) => /^sts:AssumeRole/i.test(a) || globMatch(a, 'sts:AssumeRole', true)) ||
    s.notAction !== null;
  for (const s of role.trust) {
    if (!assumeAction(s) || !s.principal) continue;
    const cond = s.hasCondition;
    const keep = <K>(m: Map<K, boolean>, k: K) => m.set(k, (m.get(k) ?? true) && cond);
    for (const [type, values] of Object.entries(s.principal)) {
      for (const v of values) {
        if (s.effect === 'Deny') {
          if (!cond) t.deniedArns.add(v);
          continue;
        }
        if (type === 'Service') keep(t.services, v);
        else if (type === 'Federated') keep(t.federated, v);
        else if (v === '*') t.anyone = (t.anyone ?? true) && cond;
        else {
          const acct = /^\d{12}$/.test(v) ? v : /^arn:aws[a-z-]*:iam::(\d{12}):root$/.exec(v)?.[1];
          if (acct === account) t.accountRoot = (t.accountRoot ?? true) && cond;
          else if (acct) keep(t.externalAccounts, acct);
          else if (accountOf(v) === account) keep(t.arns, sessionToRole(v));
          else keep(t.externalAccounts, accountOf(v) || v);
        }
      }
    }
  }
  return t;
}

export function buildAwsIamPlan(doc: unknown, opts: AwsIamPlanOptions = {}): ImportPlan {
  const warnings: PolicyWarning[] = [];
  const exp = readIamExport(doc, warnings);
  const acct = exp.account;
  const scope = `aws-iam:${acct}`;
  const adminKey = nodeKey.admin(`aws:${acct}`);
  const idOf = (p: IamPrincipal) => safeId(`aws-${acct}-${p.type}-${p.name}`);
  const keyOf = (p: IamPrincipal) => nodeKey.identity(idOf(p));
  const originOf = (p: IamPrincipal) => `${scope}:${p.arn}`;
  const edges = new Map<string, GraphEdgeInput[]>();
  const push = (origin: string, e: GraphEdgeInput) => {
    let l = edges.get(origin);
    if (!l) edges.set(origin, (l = []));
    l.push(e);
  };
  const nodes = new Map<string, GraphNodeInput>();
  nodes.set(adminKey, {
    key: adminKey,
    type: 'admin',
    name: `AWS account ${acct} (full admin)`,
    externalId: `arn:aws:iam::${acct}:root`,
    sensitivity: 'regulated',
    admin: true,
  });
  for (const g of exp.groups.values()) {
    const k = nodeKey.group(`aws:${acct}:${g.name}`);
    nodes.set(k, { key: k, type: 'group', name: g.name, externalId: g.arn });
  }

  const groupStatements = (g: IamGroup) => [
    ...g.inline,
    ...g.managed.flatMap((a) => exp.policies.get(a)?.statements ?? []),
  ];
  const statementsOf = (p: IamPrincipal) => [
    ...p.inline,
    ...p.managed.flatMap((a) => exp.policies.get(a)?.statements ?? []),
    ...p.groups.flatMap((gn) => {
      const g = exp.groups.get(gn);
      return g ? groupStatements(g) : [];
    }),
  ];
  const evaluators = new Map<IamPrincipal, PolicyEvaluator>();
  for (const p of exp.principals) {
    let boundary: PolicyEvaluator | null = null;
    if (p.boundaryArn) {
      const b = exp.policies.get(p.boundaryArn);
      if (b) boundary = new PolicyEvaluator(b.statements, { username: p.name });
      else
        warnings.push({
          field: p.arn,
          code: 'UNKNOWN_ELEMENT',
          message: `permissions boundary ${p.boundaryArn} is not in the export; ignored (conservative)`,
        });
    }
    evaluators.set(
      p,
      new PolicyEvaluator(statementsOf(p), p.type === 'user' ? { username: p.name } : {}, boundary),
    );
  }
  const admins = new Map<IamPrincipal, Decision & { grant: string }>();
  for (const p of exp.principals) {
    const d = adminDecision(evaluators.get(p)!);
    if (d.allowed) admins.set(p, d);
  }

  const users = exp.principals.filter((p) => p.type === 'user');
  const roles = exp.principals.filter((p) => p.type === 'role');
  const trusts = roles.map((r) => trustOf(r, acct));
  const byArn = new Map(exp.principals.map((p) => [p.arn, p]));
  const roleByName = new Map(exp.principals.filter((p) => p.type === 'role').map((p) => [p.name, p]));
  const assumable = new Map<IamPrincipal, IamPrincipal[]>();
  const edge = (
    from: IamPrincipal,
    to: string,
    kind: GraphEdgeInput['kind'],
    via: string,
    method: string | null,
    d: { conditional: boolean },
  ) => push(originOf(from), { from: keyOf(from), to, kind, via, method, conditional: d.conditional });

  // ---- trust policies: who can assume each role ----
  for (const t of trusts) {
    const r = t.role;
    const origin = originOf(r);
    const assume = (p: IamPrincipal, conditional: boolean, why: string) => {
      if (p === r || t.deniedArns.has(p.arn)) return;
      const ev = evaluators.get(p)!;
      // An explicit, unconditional Deny in the caller's own policies still wins.
      if (ev.explicitlyDenies('sts:AssumeRole', r.arn)) return;
      push(origin, {
        from: keyOf(p),
        to: keyOf(r),
        kind: 'can_assume',
        via: `sts:AssumeRole (trust policy of role/${r.name}${why === 'explicit' ? '' : `, ${why}`})`,
        method: 'sts:AssumeRole',
        conditional,
      });
      let l = assumable.get(p);
      if (!l) assumable.set(p, (l = []));
      l.push(r);
    };
    for (const [arn, cond] of t.arns) {
      // Session ARNs carry no role path: fall back to the role name.
      const p = byArn.get(arn) ?? roleByName.get(/:role\/([^/]+)$/.exec(arn)?.[1] ?? '');
      if (p) assume(p, cond, 'explicit');
    }
    if (t.accountRoot !== null || t.anyone !== null) {
      const cond = (t.accountRoot ?? t.anyone) === true;
      for (const p of exp.principals) {
        if (p === r || t.arns.has(p.arn)) continue;
        const ev = evaluators.get(p)!;
        if (!ev.mayAllow('sts:AssumeRole')) continue;
        const d = ev.evaluate('sts:AssumeRole', r.arn);
        if (d.allowed)
          assume(p, cond || d.conditional, t.anyone !== null ? 'trusts *' : 'trusts the account');
      }
    }
    const external = (key: string, name: string, method: string, conditional: boolean) => {
      nodes.set(key, { key, type: 'external', name, externalId: name });
      push(origin, {
        from: key,
        to: keyOf(r),
        kind: 'can_assume',
        via: `${method} (trust policy of role/${r.name})`,
        method,
        conditional,
      });
    };
    if (t.anyone !== null) external('external:aws:*', 'any AWS principal', 'sts:AssumeRole', t.anyone);
    for (const [a, cond] of t.externalAccounts)
      external(`external:aws-account:${a}`, `AWS account ${a}`, 'sts:AssumeRole', cond);
    for (const [f, cond] of t.federated) {
      external(
        `external:federated:${f}`,
        f,
        f.includes('saml') ? 'sts:AssumeRoleWithSAML' : 'sts:AssumeRoleWithWebIdentity',
        cond,
      );
    }
  }

  // ---- per-principal permissions and escalation methods ----
  const knownArns = new Set<string>();
  for (const r of opts.existingResources ?? []) if (r.labels['aws.arn']) knownArns.add(r.labels['aws.arn']);
  for (const p of exp.principals)
    for (const s of statementsOf(p))
      for (const res of s.resource ?? []) if (isConcrete(res)) knownArns.add(stripObjects(res));
  const resourceDrafts = new Map<string, ResourceDraft>();
  const resourceKey = (arn: string) => {
    const id = resourceIdFor(arn, acct);
    if (!resourceDrafts.has(id)) resourceDrafts.set(id, resourceDraft(id, arn, scope));
    return nodeKey.resource(id);
  };

  /** Resources the statements allow some action on (after Deny), one edge per resource with the actions. */
  const dataAccess = (statements: readonly Statement[], ev: PolicyEvaluator) => {
    const perTarget = new Map<string, { actions: Set<string>; conditional: boolean; source: string }>();
    for (const s of statements) {
      if (s.effect !== 'Allow') continue;
      const actions = (s.action ?? [`NotAction:${(s.notAction ?? []).join(',')}`]).filter(
        (a) => !/^(iam|sts):/i.test(a),
      );
      if (actions.length === 0) continue;
      for (const pattern of s.resource ?? ['*']) {
        for (const arn of targetsOf(pattern, knownArns, actions)) {
          const service = arn.startsWith('service:') ? arn.slice(8) : null;
          const key = service ? serviceResource(service, acct, resourceDrafts, scope) : resourceKey(arn);
          const allowed = actions.filter(
            (a) =>
              a.startsWith('NotAction:') ||
              (service ? ev.evaluateOnService(a, service).allowed : ev.evaluate(a, arn).allowed),
          );
          if (allowed.length === 0) continue;
          let entry = perTarget.get(key);
          if (!entry)
            perTarget.set(key, (entry = { actions: new Set(), conditional: false, source: s.source }));
          for (const a of allowed) entry.actions.add(a);
          entry.conditional ||= s.hasCondition;
        }
      }
    }
    return [...perTarget.entries()].map(([key, v]) => {
      return { key, via: formatGrantVia([...v.actions], v.source), conditional: v.conditional };
    });
  };

  // Groups carry their own access, so "join this group" (iam:AddUserToGroup) leads somewhere in the graph.
  for (const g of exp.groups.values()) {
    const key = nodeKey.group(`aws:${acct}:${g.name}`);
    const list: GraphEdgeInput[] = [];
    const gev = new PolicyEvaluator(groupStatements(g));
    const gAdmin = adminDecision(gev);
    if (gAdmin.allowed) {
      list.push({
        from: key,
        to: adminKey,
        kind: 'has_permission',
        via: `${gAdmin.grant} (${gAdmin.source ?? 'policy'})`,
        conditional: gAdmin.conditional,
      });
    } else {
      for (const a of dataAccess(groupStatements(g), gev))
        list.push({ from: key, to: a.key, kind: 'has_permission', via: a.via, conditional: a.conditional });
    }
    edges.set(`${scope}:${g.arn}`, list);
  }

  const total = exp.principals.length;
  exp.principals.forEach((p, n) => {
    opts.onProgress?.(n, total);
    const ev = evaluators.get(p)!;
    const admin = admins.get(p);
    if (admin) {
      edge(p, adminKey, 'has_permission', `${admin.grant} (${admin.source ?? 'policy'})`, null, admin);
      return;
    }
    const toAdmin = (method: string, via: string, d: Decision) =>
      edge(p, adminKey, 'can_modify_policy_of', via, method, d);
    // Policies attached to the principal, directly or through a group.
    const attached: { arn: string; how: string }[] = [
      ...p.managed.map((arn) => ({ arn, how: `${p.type}/${p.name}` })),
      ...p.groups.flatMap((gn) =>
        (exp.groups.get(gn)?.managed ?? []).map((arn) => ({ arn, how: `group/${gn}` })),
      ),
    ];
    if (ev.mayAllow('iam:CreatePolicyVersion')) {
      for (const a of attached) {
        const pol = exp.policies.get(a.arn);
        if (!pol?.customerManaged) continue;
        const d = ev.evaluate('iam:CreatePolicyVersion', a.arn);
        if (d.allowed)
          toAdmin(
            'iam:CreatePolicyVersion',
            `iam:CreatePolicyVersion on policy/${pol.name} (attached to ${a.how})`,
            d,
          );
      }
    }
    if (ev.mayAllow('iam:SetDefaultPolicyVersion')) {
      for (const a of attached) {
        const pol = exp.policies.get(a.arn);
        const better = pol?.otherVersions.find(
          (v) => adminDecision(new PolicyEvaluator(v.statements)).allowed,
        );
        if (!pol || !better) continue;
        const d = ev.evaluate('iam:SetDefaultPolicyVersion', a.arn);
        if (d.allowed)
          toAdmin(
            'iam:SetDefaultPolicyVersion',
            `iam:SetDefaultPolicyVersion to ${better.versionId} of policy/${pol.name} (attached to ${a.how})`,
            d,
          );
      }
    }
    const selfActions =
      p.type === 'user'
        ? ['iam:AttachUserPolicy', 'iam:PutUserPolicy']
        : ['iam:AttachRolePolicy', 'iam:PutRolePolicy'];
    for (const action of selfActions) {
      if (!ev.mayAllow(action)) continue;
      const d = ev.evaluate(action, p.arn);
      if (d.allowed) toAdmin(action, `${action} on itself (${p.type}/${p.name})`, d);
    }
    for (const gn of p.groups) {
      const g = exp.groups.get(gn);
      if (!g) continue;
      for (const action of ['iam:AttachGroupPolicy', 'iam:PutGroupPolicy']) {
        if (!ev.mayAllow(action)) continue;
        const d = ev.evaluate(action, g.arn);
        if (d.allowed) toAdmin(action, `${action} on its group ${g.name}`, d);
      }
    }
    if (p.type === 'user' && ev.mayAllow('iam:AddUserToGroup')) {
      for (const g of exp.groups.values()) {
        if (p.groups.includes(g.name)) continue;
        const d = ev.evaluate('iam:AddUserToGroup', g.arn);
        if (!d.allowed) continue;
        const joined = new PolicyEvaluator([...statementsOf(p), ...groupStatements(g)], { username: p.name });
        const selfModify =
          ['iam:AttachUserPolicy', 'iam:PutUserPolicy'].some((a) => joined.evaluate(a, p.arn).allowed) ||
          ['iam:AttachGroupPolicy', 'iam:PutGroupPolicy'].some((a) => joined.evaluate(a, g.arn).allowed);
        if (adminDecision(joined).allowed || selfModify) {
          toAdmin('iam:AddUserToGroup', `iam:AddUserToGroup: joins group ${g.name}`, d);
        } else {
          edge(
            p,
            nodeKey.group(`aws:${acct}:${g.name}`),
            'member_of',
            `iam:AddUserToGroup: joins group ${g.name}`,
            'iam:AddUserToGroup',
            d,
          );
        }
      }
    }
    for (const [action, method] of [
      ['iam:CreateAccessKey', 'iam:CreateAccessKey'],
      ['iam:CreateLoginProfile', 'iam:CreateLoginProfile'],
      ['iam:UpdateLoginProfile', 'iam:UpdateLoginProfile'],
    ] as const) {
      if (!ev.mayAllow(action)) continue;
      for (const u of users) {
        if (u === p) continue;
        const d = ev.evaluate(action, u.arn);
        if (d.allowed) edge(p, keyOf(u), 'can_assume', `${action} on user/${u.name}`, method, d);
      }
    }
    if (ev.mayAllow('iam:UpdateAssumeRolePolicy')) {
      for (const r of roles) {
        if (r === p || r.path.startsWith('/aws-service-role/')) continue;
        const d = ev.evaluate('iam:UpdateAssumeRolePolicy', r.arn);
        if (d.allowed)
          edge(
            p,
            keyOf(r),
            'can_assume',
            `iam:UpdateAssumeRolePolicy on role/${r.name}, then sts:AssumeRole`,
            'iam:UpdateAssumeRolePolicy',
            d,
          );
      }
    }
    for (const r of assumable.get(p) ?? []) {
      for (const action of ['iam:AttachRolePolicy', 'iam:PutRolePolicy']) {
        if (!ev.mayAllow(action)) continue;
        const d = ev.evaluate(action, r.arn);
        if (d.allowed) toAdmin(action, `${action} on role/${r.name}, which it can assume`, d);
      }
    }
    if (ev.mayAllow('iam:PassRole')) {
      for (const t of trusts) {
        const r = t.role;
        if (r === p || t.services.size === 0) continue;
        let pass: Decision | null = null;
        for (const combo of PASS_ROLE_COMBOS) {
          if (!combo.services.some((s) => t.services.has(s))) continue;
          if (combo.instanceProfile && r.instanceProfiles === 0) continue;
          pass ??= ev.evaluate('iam:PassRole', r.arn);
          if (!pass.allowed) break;
          const needed = combo.needs.map(([a, svc]) => ev.evaluateOnService(a, svc));
          const any = combo.anyOf
            ? combo.anyOf.map(([a, svc]) => ev.evaluateOnService(a, svc)).find((d) => d.allowed)
            : { allowed: true, conditional: false };
          if (!needed.every((d) => d.allowed) || !any?.allowed) continue;
          const conditional = pass.conditional || needed.some((d) => d.conditional) || any.conditional;
          edge(
            p,
            keyOf(r),
            'runs_as',
            `${combo.method.replace('+', ' + ')} running as role/${r.name}`,
            combo.method,
            { conditional },
          );
        }
      }
    }
    // ---- data access: allowed actions on resources ----
    for (const a of dataAccess(statementsOf(p), ev)) edge(p, a.key, 'has_permission', a.via, null, a);
  });
  opts.onProgress?.(total, total);

  return {
    source: 'aws-iam',
    scope,
    identities: exp.principals.map((p) => identityDraft(p, idOf(p), acct, scope, admins.has(p), trusts)),
    credentials: exp.principals.flatMap((p) => credentialDrafts(p, idOf(p), scope)),
    resources: [...resourceDrafts.values()],
    nodes: [...nodes.values()],
    edges: ensureOrigins(edges, exp, originOf),
    warnings: [
      ...warnings,
      ...(exp.truncated
        ? [
            {
              field: 'IsTruncated',
              code: 'PARTIAL_EXPORT',
              message: 'export is truncated (IsTruncated: true); missing principals are not removed',
            },
          ]
        : []),
    ],
    partial: exp.truncated,
  };
}

/** `arn:aws:sts::<acct>:assumed-role/<role>/<session>` names the role's sessions: trust the role. */
function sessionToRole(arn: string): string {
  const m = /^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role\/([^/]+)\/.+$/.exec(arn);
  return m ? `arn:${m[1]}:iam::${m[2]}:role/${m[3]}` : arn;
}

/** Every principal gets an origin, even with no edges, so a re-import clears edges it no longer has. */
function ensureOrigins(
  edges: Map<string, GraphEdgeInput[]>,
  exp: IamExport,
  originOf: (p: IamPrincipal) => string,
) {
  for (const p of exp.principals) if (!edges.has(originOf(p))) edges.set(originOf(p), []);
  return edges;
}

function isConcrete(pattern: string): boolean {
  const base = stripObjects(pattern);
  return base.startsWith('arn:') && !base.includes('*') && !base.includes('?') && !base.includes('${');
}

/** `arn:aws:s3:::bucket/*` (the bucket's objects) is modelled as the bucket. */
function stripObjects(pattern: string): string {
  return pattern.endsWith('/*') && pattern.startsWith('arn:aws:s3:::') ? pattern.slice(0, -2) : pattern;
}

function serviceOfAction(action: string): string {
  return action.split(':')[0]?.toLowerCase() ?? '*';
}

/** Concrete ARNs (or `service:<name>` for "every resource of a service") a resource pattern covers. */
function targetsOf(pattern: string, known: Set<string>, actions: string[]): string[] {
  if (isConcrete(pattern)) return [stripObjects(pattern)];
  const out: string[] = [];
  for (const arn of known) if (globMatch(pattern, arn) || globMatch(pattern, `${arn}/x`)) out.push(arn);
  const parts = pattern.split(':');
  const whole = pattern === '*' || (parts[0] === 'arn' && (parts[5] ?? '') === '*');
  if (whole) {
    const services = new Set(actions.filter((a) => !a.startsWith('NotAction:')).map(serviceOfAction));
    const svc = pattern === '*' ? null : parts[2];
    for (const s of services) if (s !== '*' && (!svc || svc === s)) out.push(`service:${s}`);
  }
  return out;
}

function resourceIdFor(arn: string, account: string): string {
  const parts = arn.split(':');
  const service = parts[2] ?? 'aws';
  const rest = parts.slice(5).join(':');
  const acct = parts[4] || account;
  return safeId(`aws.${acct}.${service}.${rest}`);
}

function resourceDraft(id: string, arn: string, scope: string): ResourceDraft {
  const parts = arn.split(':');
  const service = parts[2] ?? 'aws';
  return {
    id,
    type: `aws_${service.replace(/[^a-z0-9]/gi, '_')}`,
    displayName: arn,
    sensitivity: DATA_SERVICES[service] ?? 'internal',
    environment: 'unknown',
    owners: [],
    parentId: null,
    source: 'aws-iam',
    labels: { 'aws.arn': arn, location: arn, [SCOPE_LABEL]: scope },
  };
}

function serviceResource(
  service: string,
  account: string,
  drafts: Map<string, ResourceDraft>,
  scope: string,
): string {
  const id = safeId(`aws.${account}.${service}.all`);
  if (!drafts.has(id)) {
    drafts.set(id, {
      id,
      type: `aws_${service.replace(/[^a-z0-9]/gi, '_')}`,
      displayName: `every ${service} resource in AWS account ${account}`,
      sensitivity: DATA_SERVICES[service] ?? 'internal',
      environment: 'unknown',
      owners: [],
      parentId: null,
      source: 'aws-iam',
      labels: { 'aws.arn': `arn:aws:${service}:*:${account}:*`, [SCOPE_LABEL]: scope },
    });
  }
  return nodeKey.resource(id);
}

function identityDraft(
  p: IamPrincipal,
  id: string,
  account: string,
  scope: string,
  admin: boolean,
  trusts: RoleTrust[],
): IdentityDraft {
  const tagKind = p.tags['bulkhead:kind'];
  const trust = trusts.find((t) => t.role === p);
  const kind: IdentityKind =
    tagKind && (IDENTITY_KINDS as readonly string[]).includes(tagKind)
      ? (tagKind as IdentityKind)
      : p.type === 'role'
        ? trust && trust.services.size > 0
          ? 'workload'
          : 'service_account'
        : p.lastUsed
          ? 'human'
          : 'service_account';
  const env = p.tags.Environment ?? p.tags.environment ?? p.tags.env ?? 'unknown';
  const owner = p.tags.Owner ?? p.tags.owner;
  const labels: Record<string, string> = {
    'aws.type': p.type,
    'aws.name': p.name,
    'aws.id': p.id,
    'aws.account': account,
    'aws.path': p.path,
    'source.name': p.name,
    [SCOPE_LABEL]: scope,
  };
  if (admin) labels['bulkhead.admin'] = 'true';
  if (p.createDate) labels['aws.created'] = p.createDate;
  if (trust && trust.services.size > 0) labels['aws.trusted-services'] = [...trust.services.keys()].join(',');
  if (trust && (trust.externalAccounts.size > 0 || trust.anyone !== null))
    labels['aws.third-party-trust'] = 'true';
  if (trust && trust.federated.size > 0) labels['aws.federated'] = [...trust.federated.keys()].join(',');
  // Label keys follow the inventory's rule (short identifiers), so the record stays editable through the API.
  for (const [k, v] of Object.entries(p.tags).slice(0, 40)) {
    labels[`aws.tag.${k.replace(/[^A-Za-z0-9._/-]/g, '_')}`.slice(0, 63)] = v.slice(0, 500);
  }
  return {
    id,
    kind,
    displayName: `${p.type === 'user' ? 'IAM user' : 'IAM role'} ${p.name}`,
    spiffeId: null,
    cloudArn: p.arn,
    k8sServiceAccount: null,
    owners: owner ? [`team:${owner.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 60)}`] : [],
    groups: p.groups.map((g) => `aws:${account}:${g}`),
    environment:
      env
        .toLowerCase()
        .replace(/[^a-z0-9_-]+/g, '-')
        .replace(/^[^a-z0-9]+/, '')
        .slice(0, 40) || 'unknown',
    source: 'aws-iam',
    labels,
    status: 'active',
    lastSeenAt: p.lastUsed,
  };
}

function credentialDrafts(p: IamPrincipal, identityId: string, scope: string): CredentialDraft[] {
  return p.accessKeys.map((k) => ({
    id: safeId(`aws-key-${k.id}`),
    identityId,
    type: 'access_key',
    fingerprint: k.id,
    status: k.status === 'Active' ? 'active' : 'expired',
    scopes: [],
    storedIn: [],
    consumers: [],
    source: 'aws-iam',
    labels: { 'aws.key-status': k.status, [SCOPE_LABEL]: scope },
    lastUsedAt: k.lastUsedDate,
    expiresAt: null,
    lastRotatedAt: k.createDate,
  }));
}
