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
import type { Resource } from '../../../inventory/types.js';
import { formatGrantVia } from '../../grants.js';
import type { GraphEdgeInput, GraphNodeInput } from '../../model.js';
import { nodeKey } from '../../model.js';
import { safeId, UniqueIds, type ImportPlan, type ResourceDraft } from '../plan.js';
import { accessKeyCredentialId, credentialDrafts, identityDraft } from './drafts.js';
import { adminDecision, PolicyEvaluator, type Decision } from './evaluate.js';
import { readIamExport, type IamExport, type IamGroup, type IamPrincipal } from './export.js';
import {
  isConcrete,
  resourceDraft,
  resourceIdFor,
  serviceResource,
  stripObjects,
  targetsOf,
} from './resources.js';
import { trustOf } from './trust.js';
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

export function buildAwsIamPlan(doc: unknown, opts: AwsIamPlanOptions = {}): ImportPlan {
  const warnings: PolicyWarning[] = [];
  const exp = readIamExport(doc, warnings);
  const acct = exp.account;
  const scope = `aws-iam:${acct}`;
  const adminKey = nodeKey.admin(`aws:${acct}`);
  const idOf = (p: IamPrincipal) => safeId(`aws-${acct}-${p.type}-${p.name}`);
  const keyOf = (p: IamPrincipal) => nodeKey.identity(idOf(p));
  const originOf = (p: IamPrincipal) => `${scope}:${p.arn}`;
  const principalIds = new UniqueIds();
  const keyIds = new UniqueIds();
  for (const p of exp.principals) {
    const nameField = `${p.field}.${p.type === 'user' ? 'UserName' : 'RoleName'}`;
    principalIds.claim(idOf(p), nameField, `${p.type} ${p.name}`);
    p.accessKeys.forEach((k, j) =>
      keyIds.claim(
        accessKeyCredentialId(k.id),
        `${p.field}.AccessKeyMetadata[${j}].AccessKeyId`,
        `access key ${k.id}`,
      ),
    );
  }
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

/** Every principal gets an origin, even with no edges, so a re-import clears edges it no longer has. */
function ensureOrigins(
  edges: Map<string, GraphEdgeInput[]>,
  exp: IamExport,
  originOf: (p: IamPrincipal) => string,
) {
  for (const p of exp.principals) if (!edges.has(originOf(p))) edges.set(originOf(p), []);
  return edges;
}
