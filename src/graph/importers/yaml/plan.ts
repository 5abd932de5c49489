/** The YAML inventory format into an import plan: records as declared, grants as graph edges. */
import { formatPath } from '../../../http/route.js';
import { graphError } from '../../errors.js';
import { nodeKey, type GraphEdgeInput } from '../../model.js';
import {
  SCOPE_LABEL,
  type CredentialDraft,
  type IdentityDraft,
  type ImportPlan,
  type ResourceDraft,
} from '../plan.js';
import { yamlInventorySchema } from './schema.js';

export function buildYamlPlan(doc: unknown): ImportPlan {
  const parsed = yamlInventorySchema.safeParse(doc);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = formatPath('body', issue?.path ?? []);
    throw graphError('IMPORT_INVALID', `${field}: ${issue?.message ?? 'invalid'}`, {
      field,
      extra: {
        errors: parsed.error.issues
          .slice(0, 20)
          .map((i) => ({ field: formatPath('body', i.path), message: i.message })),
      },
    });
  }
  const inv = parsed.data;
  const scope = `yaml:${inv.scope}`;
  const identityIds = new Set<string>();
  const resourceIds = new Set<string>();
  const humans = new Set(inv.identities.filter((i) => i.kind === 'human').map((i) => i.id));
  const dup = (set: Set<string>, id: string, field: string) => {
    if (set.has(id)) throw graphError('IMPORT_INVALID', `duplicate id ${id}`, { field });
    set.add(id);
  };
  const identities: IdentityDraft[] = [];
  const credentials: CredentialDraft[] = [];
  const credIds = new Set<string>();
  inv.identities.forEach((i, k) => {
    dup(identityIds, i.id, `body.identities[${k}].id`);
    i.owners.forEach((o, j) => {
      if (!o.startsWith('team:') && !humans.has(o)) {
        throw graphError(
          'IMPORT_INVALID',
          `owner ${o} must be team:<name> or a human identity of this file`,
          {
            field: `body.identities[${k}].owners[${j}]`,
          },
        );
      }
    });
    identities.push({
      id: i.id,
      kind: i.kind,
      displayName: i.displayName,
      spiffeId: i.spiffeId ?? null,
      cloudArn: i.cloudArn ?? null,
      k8sServiceAccount: i.k8sServiceAccount ?? null,
      owners: [...new Set(i.owners)],
      groups: [...new Set(i.groups)],
      environment: i.environment,
      source: 'yaml',
      labels: { ...i.labels, [SCOPE_LABEL]: scope, ...(i.admin ? { 'bulkhead.admin': 'true' } : {}) },
      status: i.status,
      lastSeenAt: i.lastSeenAt ?? null,
    });
    i.credentials.forEach((c, j) => {
      dup(credIds, c.id, `body.identities[${k}].credentials[${j}].id`);
      credentials.push({
        id: c.id,
        identityId: i.id,
        type: c.type,
        fingerprint: c.fingerprint,
        status: c.status,
        scopes: [...new Set(c.scopes)],
        storedIn: [...new Set(c.storedIn)],
        consumers: [...new Set(c.consumers)],
        source: 'yaml',
        labels: { ...c.labels, [SCOPE_LABEL]: scope },
        lastUsedAt: c.lastUsedAt ?? null,
        expiresAt: c.expiresAt ?? null,
        lastRotatedAt: c.lastRotatedAt ?? null,
      });
    });
  });
  credentials.forEach((c, k) =>
    c.consumers.forEach((x) => {
      if (!identityIds.has(x)) {
        throw graphError('IMPORT_INVALID', `consumer ${x} is not an identity of this file`, {
          field: `body.credentials[${k}].consumers`,
        });
      }
    }),
  );
  const resources: ResourceDraft[] = inv.resources.map((r, k) => {
    dup(resourceIds, r.id, `body.resources[${k}].id`);
    return {
      id: r.id,
      type: r.type,
      displayName: r.displayName,
      sensitivity: r.sensitivity,
      environment: r.environment,
      owners: [...new Set(r.owners)],
      parentId: r.parentId ?? null,
      source: 'yaml',
      labels: { ...r.labels, [SCOPE_LABEL]: scope },
    };
  });
  // Parents first, so each insert finds its parent.
  const order = new Map(resources.map((r) => [r.id, r]));
  const sorted: ResourceDraft[] = [];
  const visit = (r: ResourceDraft, depth: number) => {
    if (sorted.includes(r)) return;
    if (depth > 32)
      throw graphError('IMPORT_INVALID', `resource parent chain of ${r.id} forms a cycle`, {
        field: 'body.resources',
      });
    const parent = r.parentId ? order.get(r.parentId) : undefined;
    if (parent) visit(parent, depth + 1);
    sorted.push(r);
  };
  for (const r of resources) visit(r, 0);

  const resolve = (ref: string, field: string): string => {
    if (/^(identity|resource|group|admin|credential):/.test(ref)) return ref;
    if (identityIds.has(ref)) return nodeKey.identity(ref);
    if (resourceIds.has(ref)) return nodeKey.resource(ref);
    throw graphError(
      'IMPORT_INVALID',
      `${ref} is neither an identity nor a resource of this file; write identity:<id>, resource:<id>, group:<name> or admin:<system>`,
      { field },
    );
  };
  const edges = new Map<string, GraphEdgeInput[]>();
  inv.grants.forEach((g, k) => {
    const from = resolve(g.from, `body.grants[${k}].from`);
    const to = resolve(g.to, `body.grants[${k}].to`);
    const origin = `${scope}:${from}`;
    let list = edges.get(origin);
    if (!list) edges.set(origin, (list = []));
    list.push({ from, to, kind: g.kind, via: g.via, method: g.method ?? null, conditional: g.conditional });
  });
  return {
    source: 'yaml',
    scope,
    identities,
    credentials,
    resources: sorted,
    nodes: [],
    edges,
    warnings: [],
    partial: false,
  };
}
