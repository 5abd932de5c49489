/**
 * Kubernetes RBAC (`kubectl get serviceaccounts,roles,clusterroles,rolebindings,clusterrolebindings -A -o json`)
 * into an import plan. Authorization follows the RBAC authorizer (https://kubernetes.io/docs/reference/access-authn-authz/rbac/):
 * rules are additive; a RoleBinding grants its role's rules in its own namespace, a ClusterRoleBinding in all;
 * `*` matches any verb, API group or resource (including subresources); `resourceNames` narrows a rule to
 * named objects; aggregated ClusterRoles (`aggregationRule`) get the rules of every ClusterRole their label
 * selectors match.
 *
 * Escalation methods modelled (Kubernetes "RBAC good practices" privilege-escalation risks):
 *   k8s:cluster-admin        `*` on `*` in `*` cluster-wide (or membership of system:masters)
 *   k8s:bind                 bind + create (cluster)rolebindings: bind itself to cluster-admin
 *   k8s:escalate             escalate + update on a role it is bound to: grant that role anything
 *   k8s:impersonate          impersonate users / groups / serviceaccounts: act as them
 *   k8s:secrets-read         get/list/watch secrets: read service-account token secrets in that namespace
 *   k8s:create-pod           create pods or pod controllers: run a pod as any service account of the namespace
 *   k8s:pods-exec            create pods/exec: run commands in pods running as that namespace's accounts
 *   k8s:token-request        create serviceaccounts/token: mint a token for the account
 */
import { nodeKey, type GraphEdgeInput, type GraphNodeInput } from '../../model.js';
import { readRbacList, ruleAllows, type Grant, type Subject } from './export.js';
import {
  safeId,
  UniqueIds,
  SCOPE_LABEL,
  type IdentityDraft,
  type ImportPlan,
  type ImportWarning,
  type ResourceDraft,
} from '../plan.js';

export interface K8sPlanOptions {
  /** Cluster name (not in the export); scopes ids and the admin node. */
  cluster?: string;
  onProgress?: (done: number, total: number) => void;
}

export function buildK8sRbacPlan(doc: unknown, opts: K8sPlanOptions = {}): ImportPlan {
  const cluster = safeId(opts.cluster ?? 'default');
  const warnings: ImportWarning[] = [];
  const { sas, roles, bindings } = readRbacList(doc, warnings);
  const scope = `k8s-rbac:${cluster}`;
  const adminKey = nodeKey.admin(`k8s:${cluster}`);
  const namespaces = new Set<string>(sas.map((s) => s.namespace));
  for (const b of bindings) if (b.namespace) namespaces.add(b.namespace);
  const saId = (ns: string, name: string) => safeId(`k8s-${cluster}-${ns}-${name}`);
  const userId = (name: string) => safeId(`k8s-${cluster}-user-${name}`);
  const saIds = new UniqueIds();
  for (const sa of sas) {
    saIds.claim(
      saId(sa.namespace, sa.name),
      `${sa.field}.metadata.name`,
      `service account ${sa.namespace}/${sa.name}`,
    );
  }
  const subjectKey = (s: Subject): string =>
    s.kind === 'ServiceAccount'
      ? nodeKey.identity(saId(s.namespace ?? 'default', s.name))
      : s.kind === 'User'
        ? nodeKey.identity(userId(s.name))
        : nodeKey.group(`k8s:${cluster}:${s.name}`);

  // Effective grants per subject.
  const grants = new Map<string, { subject: Subject; grants: Grant[] }>();
  for (const [k, b] of bindings.entries()) {
    const role =
      b.roleRef.kind === 'ClusterRole'
        ? roles.get(`ClusterRole//${b.roleRef.name}`)
        : roles.get(`Role/${b.namespace ?? ''}/${b.roleRef.name}`);
    if (!role) {
      warnings.push({
        field: `bindings[${k}].roleRef`,
        code: 'UNKNOWN_ELEMENT',
        message: `${b.kind} ${b.name} refers to missing ${b.roleRef.kind} ${b.roleRef.name}`,
      });
      continue;
    }
    for (const s of b.subjects) {
      const key = subjectKey(s);
      let entry = grants.get(key);
      if (!entry) grants.set(key, (entry = { subject: s, grants: [] }));
      for (const rule of role.rules)
        entry.grants.push({
          rule,
          namespace: b.namespace,
          via: `${b.roleRef.kind} ${b.roleRef.name} via ${b.kind} ${b.namespace ? `${b.namespace}/` : ''}${b.name}`,
        });
    }
  }
  // Subjects bound to roles they may escalate (for `escalate`): role ids by subject.
  const boundRoles = new Map<string, { role: string; namespace: string | null }[]>();
  for (const b of bindings)
    for (const s of b.subjects) {
      const key = subjectKey(s);
      let l = boundRoles.get(key);
      if (!l) boundRoles.set(key, (l = []));
      l.push({ role: b.roleRef.name, namespace: b.namespace });
    }

  const edges = new Map<string, GraphEdgeInput[]>();
  const nodes = new Map<string, GraphNodeInput>();
  nodes.set(adminKey, {
    key: adminKey,
    type: 'admin',
    name: `Kubernetes cluster ${cluster} (cluster-admin)`,
    externalId: cluster,
    sensitivity: 'regulated',
    admin: true,
  });
  const resources = new Map<string, ResourceDraft>();
  const nsResource = (ns: string, secrets = false) => {
    const id = safeId(`k8s.${cluster}.${ns}${secrets ? '.secrets' : ''}`);
    if (!resources.has(id)) {
      resources.set(id, {
        id,
        type: secrets ? 'k8s_secrets' : 'k8s_namespace',
        displayName: secrets ? `secrets in ${cluster}/${ns}` : `namespace ${cluster}/${ns}`,
        sensitivity: secrets ? 'confidential' : 'internal',
        environment: 'unknown',
        owners: [],
        parentId: null,
        source: 'k8s-rbac',
        labels: { [SCOPE_LABEL]: scope, 'k8s.cluster': cluster, 'k8s.namespace': ns },
      });
    }
    return nodeKey.resource(id);
  };
  const admins = new Set<string>();
  const total = grants.size;
  let done = 0;
  for (const [key, { subject, grants: gs }] of grants) {
    opts.onProgress?.(done++, total);
    const origin = `${scope}:${key}`;
    const list: GraphEdgeInput[] = [];
    edges.set(origin, list);
    const can = (verb: string, group: string, resource: string, ns: string | null, name?: string) =>
      gs.find(
        (g) =>
          (g.namespace === null || g.namespace === ns) && ruleAllows(g.rule, verb, group, resource, name),
      );
    const add = (to: string, kind: GraphEdgeInput['kind'], via: string, method: string | null) =>
      list.push({ from: key, to, kind, via, method });
    const clusterAdmin = gs.find((g) => g.namespace === null && ruleAllows(g.rule, '*', '*', '*'));
    if (clusterAdmin || (subject.kind === 'Group' && subject.name === 'system:masters')) {
      admins.add(key);
      add(adminKey, 'has_permission', `* on * (${clusterAdmin?.via ?? 'system:masters'})`, null);
      continue;
    }
    const nsList = [...namespaces];
    // bind: create a binding to cluster-admin (or any role) for itself.
    const bindCr =
      can('bind', 'rbac.authorization.k8s.io', 'clusterroles', null, 'cluster-admin') ??
      can('bind', 'rbac.authorization.k8s.io', 'clusterroles', null);
    const createCrb = can('create', 'rbac.authorization.k8s.io', 'clusterrolebindings', null);
    if (bindCr && createCrb)
      add(adminKey, 'can_modify_policy_of', `bind + create clusterrolebindings (${bindCr.via})`, 'k8s:bind');
    // escalate: rewrite a cluster role it is bound to cluster-wide.
    for (const b of boundRoles.get(key) ?? []) {
      if (b.namespace !== null) continue;
      const esc = can('escalate', 'rbac.authorization.k8s.io', 'clusterroles', null, b.role);
      const upd =
        can('update', 'rbac.authorization.k8s.io', 'clusterroles', null, b.role) ??
        can('patch', 'rbac.authorization.k8s.io', 'clusterroles', null, b.role);
      if (esc && upd) {
        add(
          adminKey,
          'can_modify_policy_of',
          `escalate + update clusterrole ${b.role} it is bound to (${esc.via})`,
          'k8s:escalate',
        );
        break;
      }
    }
    // impersonate.
    const impGroups =
      can('impersonate', '', 'groups', null, 'system:masters') ?? can('impersonate', '', 'groups', null);
    if (impGroups)
      add(adminKey, 'can_assume', `impersonate group system:masters (${impGroups.via})`, 'k8s:impersonate');
    for (const sa of sas) {
      const k = nodeKey.identity(saId(sa.namespace, sa.name));
      if (k === key) continue;
      const imp = can('impersonate', '', 'serviceaccounts', sa.namespace, sa.name);
      if (imp)
        add(
          k,
          'can_assume',
          `impersonate serviceaccount ${sa.namespace}/${sa.name} (${imp.via})`,
          'k8s:impersonate',
        );
      const tok = can('create', '', 'serviceaccounts/token', sa.namespace, sa.name);
      if (tok)
        add(
          k,
          'can_assume',
          `create serviceaccounts/token for ${sa.namespace}/${sa.name} (${tok.via})`,
          'k8s:token-request',
        );
    }
    for (const [userKey, g] of grants) {
      if (g.subject.kind !== 'User' || userKey === key) continue;
      const imp = can('impersonate', '', 'users', null, g.subject.name);
      if (imp)
        add(userKey, 'can_assume', `impersonate user ${g.subject.name} (${imp.via})`, 'k8s:impersonate');
    }
    for (const ns of nsList) {
      const inNs = sas.filter((s) => s.namespace === ns);
      // Namespace-scoped bind / escalate: grant itself everything in the namespace (cluster-admin through a
      // RoleBinding, or an escalated Role it is bound to), then run as any of the namespace's accounts.
      const nsBind =
        (can('bind', 'rbac.authorization.k8s.io', 'clusterroles', ns, 'cluster-admin') ??
          can('bind', 'rbac.authorization.k8s.io', 'clusterroles', ns) ??
          can('bind', 'rbac.authorization.k8s.io', 'roles', ns)) &&
        can('create', 'rbac.authorization.k8s.io', 'rolebindings', ns);
      const nsEscalate = (boundRoles.get(key) ?? [])
        .filter((b) => b.namespace === ns)
        .find(
          (b) =>
            can('escalate', 'rbac.authorization.k8s.io', 'roles', ns, b.role) &&
            (can('update', 'rbac.authorization.k8s.io', 'roles', ns, b.role) ??
              can('patch', 'rbac.authorization.k8s.io', 'roles', ns, b.role)),
        );
      if (nsBind || nsEscalate) {
        const method = nsBind ? 'k8s:bind' : 'k8s:escalate';
        const how = nsBind
          ? `bind a powerful role in ${ns} (${nsBind.via})`
          : `escalate role ${nsEscalate?.role ?? ''} in ${ns}`;
        for (const sa of inNs) {
          const k = nodeKey.identity(saId(sa.namespace, sa.name));
          if (k !== key) add(k, 'runs_as', `${how}, then run a pod as ${ns}/${sa.name}`, method);
        }
      }
      const secrets =
        can('get', '', 'secrets', ns) ?? can('list', '', 'secrets', ns) ?? can('watch', '', 'secrets', ns);
      if (secrets) {
        add(nsResource(ns, true), 'has_permission', `read secrets in ${ns} (${secrets.via})`, null);
        for (const sa of inNs) {
          const k = nodeKey.identity(saId(sa.namespace, sa.name));
          if (k !== key)
            add(
              k,
              'can_read_secret_of',
              `read token secret of ${ns}/${sa.name} (${secrets.via})`,
              'k8s:secrets-read',
            );
        }
      }
      const podCreate =
        can('create', '', 'pods', ns) ??
        ['deployments', 'daemonsets', 'statefulsets', 'replicasets']
          .map((r) => can('create', 'apps', r, ns))
          .find(Boolean) ??
        ['jobs', 'cronjobs'].map((r) => can('create', 'batch', r, ns)).find(Boolean);
      const exec = can('create', '', 'pods/exec', ns);
      for (const sa of inNs) {
        const k = nodeKey.identity(saId(sa.namespace, sa.name));
        if (k === key) continue;
        if (podCreate)
          add(k, 'runs_as', `create a pod running as ${ns}/${sa.name} (${podCreate.via})`, 'k8s:create-pod');
        else if (exec)
          add(k, 'runs_as', `exec into pods running as ${ns}/${sa.name} (${exec.via})`, 'k8s:pods-exec');
      }
      const anyInNs = gs.find(
        (g) =>
          (g.namespace === null || g.namespace === ns) &&
          g.rule.resources.length > 0 &&
          g.rule.verbs.length > 0,
      );
      if (anyInNs)
        add(
          nsResource(ns),
          'has_permission',
          `${anyInNs.rule.verbs.slice(0, 3).join(',')} ${anyInNs.rule.resources.slice(0, 3).join(',')} in ${ns} (${anyInNs.via})`,
          null,
        );
    }
  }
  opts.onProgress?.(total, total);

  // Principals: every service account, and every user named in a binding.
  const identities: IdentityDraft[] = sas.map((sa) => {
    const key = nodeKey.identity(saId(sa.namespace, sa.name));
    return {
      id: saId(sa.namespace, sa.name),
      kind: 'service_account',
      displayName: `Kubernetes service account ${sa.namespace}/${sa.name}`,
      spiffeId: null,
      cloudArn: null,
      k8sServiceAccount: `${sa.namespace}/${sa.name}`,
      // An `owner` / `team` label on the service account names the owning team.
      owners: ownerTeam(sa.labels),
      groups: [
        `k8s:${cluster}:system:serviceaccounts`,
        `k8s:${cluster}:system:serviceaccounts:${sa.namespace}`,
        `k8s:${cluster}:system:authenticated`,
      ],
      environment: sa.labels.environment ?? sa.labels.env ?? 'unknown',
      source: 'k8s-rbac',
      labels: {
        [SCOPE_LABEL]: scope,
        'source.name': `${sa.namespace}/${sa.name}`,
        'k8s.cluster': cluster,
        'k8s.namespace': sa.namespace,
        ...(sa.uid ? { 'k8s.uid': sa.uid } : {}),
        ...(admins.has(key) ? { 'bulkhead.admin': 'true' } : {}),
        ...(sa.secrets.length > 0 ? { 'k8s.token-secrets': sa.secrets.join(',').slice(0, 500) } : {}),
      },
      status: 'active',
      lastSeenAt: null,
    };
  });
  for (const [key, g] of grants) {
    if (g.subject.kind !== 'User') continue;
    identities.push({
      id: userId(g.subject.name),
      kind: g.subject.name.startsWith('system:') ? 'service_account' : 'human',
      displayName: `Kubernetes user ${g.subject.name}`,
      spiffeId: null,
      cloudArn: null,
      k8sServiceAccount: null,
      owners: [],
      groups: [`k8s:${cluster}:system:authenticated`],
      environment: 'unknown',
      source: 'k8s-rbac',
      labels: {
        [SCOPE_LABEL]: scope,
        'source.name': g.subject.name,
        'k8s.cluster': cluster,
        'k8s.user': g.subject.name,
        ...(admins.has(key) ? { 'bulkhead.admin': 'true' } : {}),
      },
      status: 'active',
      lastSeenAt: null,
    });
  }
  for (const [key, g] of grants) {
    if (g.subject.kind === 'Group')
      nodes.set(key, {
        key,
        type: 'group',
        name: g.subject.name,
        externalId: g.subject.name,
        admin: admins.has(key),
      });
  }
  for (const ns of namespaces) nsResource(ns);
  // Every subject gets an origin, so a re-import clears edges it no longer has.
  for (const i of identities)
    if (!edges.has(`${scope}:${nodeKey.identity(i.id)}`)) edges.set(`${scope}:${nodeKey.identity(i.id)}`, []);
  return {
    source: 'k8s-rbac',
    scope,
    identities,
    credentials: [],
    resources: [...resources.values()],
    nodes: [...nodes.values()],
    edges,
    warnings,
    partial: false,
  };
}

function ownerTeam(labels: Record<string, string>): string[] {
  const team = labels.owner ?? labels.team ?? labels['app.kubernetes.io/part-of'];
  const name = team
    ?.replace(/[^A-Za-z0-9._-]/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 60);
  return name ? [`team:${name}`] : [];
}
