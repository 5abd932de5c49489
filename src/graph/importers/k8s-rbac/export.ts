/**
 * Reading `kubectl get serviceaccounts,roles,clusterroles,rolebindings,clusterrolebindings -A -o json`: a v1
 * List of RBAC objects, into service accounts, roles (with aggregated ClusterRoles resolved) and bindings.
 */
import { graphError } from '../../errors.js';
import type { ImportWarning } from '../plan.js';

export interface Rule {
  verbs: string[];
  apiGroups: string[];
  resources: string[];
  resourceNames: string[];
  nonResourceURLs: string[];
}

export interface RoleObj {
  kind: 'Role' | 'ClusterRole';
  name: string;
  namespace: string | null;
  rules: Rule[];
  labels: Record<string, string>;
  aggregation:
    | {
        matchLabels: Record<string, string>;
        matchExpressions: { key: string; operator: string; values: string[] }[];
      }[]
    | null;
}

export interface Subject {
  kind: 'ServiceAccount' | 'User' | 'Group';
  name: string;
  namespace: string | null;
}

export interface Binding {
  kind: 'RoleBinding' | 'ClusterRoleBinding';
  name: string;
  namespace: string | null;
  roleRef: { kind: string; name: string };
  subjects: Subject[];
}

export interface Grant {
  rule: Rule;
  /** null = every namespace (and cluster-scoped resources). */
  namespace: string | null;
  via: string;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const strings = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];

function parseRules(v: unknown): Rule[] {
  if (!Array.isArray(v)) return [];
  return v.filter(isObj).map((r) => ({
    verbs: strings(r.verbs).map((x) => x.toLowerCase()),
    apiGroups: strings(r.apiGroups),
    resources: strings(r.resources).map((x) => x.toLowerCase()),
    resourceNames: strings(r.resourceNames),
    nonResourceURLs: strings(r.nonResourceURLs),
  }));
}

export function ruleAllows(
  rule: Rule,
  verb: string,
  group: string,
  resource: string,
  name?: string,
): boolean {
  if (!rule.verbs.includes('*') && !rule.verbs.includes(verb)) return false;
  if (!rule.apiGroups.includes('*') && !rule.apiGroups.includes(group)) return false;
  const [res, sub] = resource.split('/');
  const resOk = rule.resources.some(
    (r) =>
      r === '*' ||
      r === resource ||
      (sub !== undefined && r === `*/${sub}`) ||
      (sub === undefined && r === res),
  );
  if (!resOk) return false;
  if (rule.resourceNames.length > 0) return name !== undefined && rule.resourceNames.includes(name);
  return true;
}

function selectorMatches(
  sel: NonNullable<RoleObj['aggregation']>[number],
  labels: Record<string, string>,
): boolean {
  // Own keys only: a selector on `constructor` or `toString` must not match Object's members.
  const label = (key: string) => (Object.hasOwn(labels, key) ? labels[key] : undefined);
  for (const [k, v] of Object.entries(sel.matchLabels)) if (label(k) !== v) return false;
  for (const e of sel.matchExpressions) {
    const has = label(e.key) !== undefined;
    const val = label(e.key) ?? '';
    if (e.operator === 'In' && !(has && e.values.includes(val))) return false;
    if (e.operator === 'NotIn' && has && e.values.includes(val)) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

export interface ServiceAccountObj {
  /** Where it is in the export (`items[3]`), for errors. */
  field: string;
  name: string;
  namespace: string;
  uid: string | null;
  labels: Record<string, string>;
  secrets: string[];
}

export interface RbacList {
  sas: ServiceAccountObj[];
  roles: Map<string, RoleObj>;
  bindings: Binding[];
}

export function readRbacList(doc: unknown, warnings: ImportWarning[]): RbacList {
  if (!isObj(doc))
    throw graphError('IMPORT_INVALID', 'a kubectl JSON export is an object', { field: 'body' });
  if (!Array.isArray(doc.items)) {
    throw graphError('IMPORT_INVALID', 'expected a v1 List with items (kubectl get ... -A -o json)', {
      field: 'body.items',
    });
  }
  const sas: ServiceAccountObj[] = [];
  const roles = new Map<string, RoleObj>();
  const bindings: Binding[] = [];
  doc.items.forEach((it: unknown, i) => {
    const f = `items[${i}]`;
    if (
      !isObj(it) ||
      typeof it.kind !== 'string' ||
      !isObj(it.metadata) ||
      typeof it.metadata.name !== 'string'
    ) {
      throw graphError('IMPORT_INVALID', 'item needs kind and metadata.name', { field: f });
    }
    const md = it.metadata;
    const name = md.name as string;
    const namespace = typeof md.namespace === 'string' ? md.namespace : null;
    const labels = isObj(md.labels)
      ? (Object.fromEntries(Object.entries(md.labels).filter(([, v]) => typeof v === 'string')) as Record<
          string,
          string
        >)
      : {};
    switch (it.kind) {
      case 'ServiceAccount':
        if (!namespace)
          throw graphError('IMPORT_INVALID', 'a ServiceAccount needs metadata.namespace', {
            field: `${f}.metadata.namespace`,
          });
        sas.push({
          field: f,
          name,
          namespace,
          uid: typeof md.uid === 'string' ? md.uid : null,
          labels,
          secrets: Array.isArray(it.secrets) ? it.secrets.filter(isObj).map((s) => String(s.name)) : [],
        });
        break;
      case 'Role':
      case 'ClusterRole': {
        const agg =
          isObj(it.aggregationRule) && Array.isArray(it.aggregationRule.clusterRoleSelectors)
            ? it.aggregationRule.clusterRoleSelectors.filter(isObj).map((s) => ({
                matchLabels: isObj(s.matchLabels) ? (s.matchLabels as Record<string, string>) : {},
                matchExpressions: Array.isArray(s.matchExpressions)
                  ? s.matchExpressions.filter(isObj).map((e) => ({
                      key: String(e.key),
                      operator: String(e.operator),
                      values: strings(e.values),
                    }))
                  : [],
              }))
            : null;
        if (it.rules !== undefined && it.rules !== null && !Array.isArray(it.rules)) {
          throw graphError('IMPORT_INVALID', 'rules must be an array', { field: `${f}.rules` });
        }
        const role: RoleObj = {
          kind: it.kind,
          name,
          namespace: it.kind === 'Role' ? namespace : null,
          rules: parseRules(it.rules),
          labels,
          aggregation: agg,
        };
        roles.set(`${it.kind}/${role.namespace ?? ''}/${name}`, role);
        break;
      }
      case 'RoleBinding':
      case 'ClusterRoleBinding': {
        if (
          !isObj(it.roleRef) ||
          typeof it.roleRef.name !== 'string' ||
          typeof it.roleRef.kind !== 'string'
        ) {
          throw graphError('IMPORT_INVALID', 'a binding needs roleRef.kind and roleRef.name', {
            field: `${f}.roleRef`,
          });
        }
        const subjects: Subject[] = [];
        (Array.isArray(it.subjects) ? it.subjects : []).forEach((s: unknown, j: number) => {
          if (
            !isObj(s) ||
            typeof s.name !== 'string' ||
            !['ServiceAccount', 'User', 'Group'].includes(String(s.kind))
          ) {
            warnings.push({
              field: `${f}.subjects[${j}]`,
              code: 'UNKNOWN_ELEMENT',
              message: 'subject is not a ServiceAccount, User or Group with a name; ignored',
            });
            return;
          }
          subjects.push({
            kind: s.kind as Subject['kind'],
            name: s.name,
            namespace:
              typeof s.namespace === 'string' ? s.namespace : s.kind === 'ServiceAccount' ? namespace : null,
          });
        });
        bindings.push({
          kind: it.kind,
          name,
          namespace: it.kind === 'RoleBinding' ? namespace : null,
          roleRef: { kind: it.roleRef.kind, name: it.roleRef.name },
          subjects,
        });
        break;
      }
      default:
        warnings.push({
          field: `${f}.kind`,
          code: 'UNKNOWN_ELEMENT',
          message: `kind ${String(it.kind)} is not part of RBAC; ignored`,
        });
    }
  });

  // Aggregated ClusterRoles take the rules of every ClusterRole their selectors match.
  for (const role of roles.values()) {
    if (!role.aggregation) continue;
    for (const other of roles.values()) {
      if (other === role || other.kind !== 'ClusterRole') continue;
      if (role.aggregation.some((sel) => selectorMatches(sel, other.labels))) role.rules.push(...other.rules);
    }
  }

  return { sas, roles, bindings };
}
