/**
 * Edges that follow from inventory records alone (imports add richer, policy-evaluated edges on top):
 * - an identity is `member_of` its groups, and is `owns`-ed by each human owner (an owner can act for it);
 * - a credential `can_assume` its identity; whoever consumes it, or can read where it is stored,
 *   `can_read_secret_of` it; its holder `owns` it; its scopes become `has_permission` edges;
 * - a parent resource `contains` its children; control-plane resources hang off their system's admin node.
 *
 * Scope strings are free text in the inventory; the convention understood here (and documented in
 * src/graph/README.md) is `system[:resource-or-env][:action]`:
 *   `db:payments-db:rw` → has_permission(rw) on resource `payments-db` (any segment naming a resource);
 *   `aws:*`, `aws:root`, `vault:admin`, `db:*:superuser`, `aws:dev:*` → the admin node `admin:<system>:<env>`;
 *   `vault:read:*`, `s3:*` → every resource whose id starts with `<system>-`.
 */
import type { Resource } from '../inventory/types.js';
import type { GraphCredential, GraphIdentity } from './inventory-pages.js';
import {
  nodeKey,
  VIA_FROM_ID,
  VIA_TO_ID,
  viaTemplate,
  type GraphEdgeInput,
  type GraphNodeInput,
} from './model.js';

/**
 * Via texts as templates (the endpoint ids filled in by the graph when read): one shared string per shape
 * instead of one per edge. Each reads exactly as the text in the comment.
 */
const VIA = {
  /** `member of <group>` */
  memberOf: viaTemplate(`member of ${VIA_TO_ID}`),
  /** `owner of <identity>` */
  ownerOf: viaTemplate(`owner of ${VIA_TO_ID}`),
  /** `holds credential <credential>` */
  holds: viaTemplate(`holds credential ${VIA_TO_ID}`),
  /** `consumes credential <credential>` */
  consumes: viaTemplate(`consumes credential ${VIA_TO_ID}`),
  /** `stored in <location>` (a location that is no inventory resource) */
  storedIn: viaTemplate(`stored in ${VIA_FROM_ID}`),
  /** `reads files on <person>'s machine` */
  laptop: viaTemplate(`reads files on ${VIA_FROM_ID}'s machine`),
  /** `<parent> contains <resource>` */
  contains: viaTemplate(`${VIA_FROM_ID} contains ${VIA_TO_ID}`),
};
/** `authenticates as <identity> (<credential type>)`, per type. */
const authenticatesAs = new Map<string, string>();
function viaAuthenticatesAs(type: string): string {
  let via = authenticatesAs.get(type);
  if (via === undefined)
    authenticatesAs.set(type, (via = viaTemplate(`authenticates as ${VIA_TO_ID} (${type})`)));
  return via;
}

const ADMIN_WORDS = new Set(['*', 'admin', 'root', 'superuser', 'owner']);
const ENVIRONMENTS = new Set(['prod', 'production', 'staging', 'dev', 'test', 'sandbox', 'corp']);
const CONTROL_PLANE_TYPES = new Set(['cloud_account', 'secret_store', 'k8s_cluster', 'control_plane']);

/** What derivation needs to know about the rest of the inventory. */
export interface DeriveLookup {
  identityExists(id: string): boolean;
  resourceExists(id: string): boolean;
  /** Resource ids whose id starts with `<prefix>-`. */
  resourcesWithPrefix(prefix: string): string[];
  /** The resource a secret storage location lives in (e.g. `vault:kv/payments/db` → `vault-kv-payments`). */
  resourceForLocation(location: string): string | null;
}

export interface DerivedRecord {
  origin: string;
  nodes: GraphNodeInput[];
  edges: GraphEdgeInput[];
}

export const originOf = {
  identity: (id: string) => `inventory:identity:${id}`,
  credential: (id: string) => `inventory:credential:${id}`,
  resource: (id: string) => `inventory:resource:${id}`,
};

export function deriveIdentity(identity: GraphIdentity, lookup: DeriveLookup): DerivedRecord {
  const key = nodeKey.identity(identity.id);
  const edges: GraphEdgeInput[] = [];
  for (const g of identity.groups) {
    edges.push({ from: key, to: nodeKey.group(g), kind: 'member_of', via: VIA.memberOf, viaTemplate: true });
  }
  for (const owner of identity.owners) {
    if (owner.startsWith('team:') || !lookup.identityExists(owner)) continue;
    edges.push({ from: nodeKey.identity(owner), to: key, kind: 'owns', via: VIA.ownerOf, viaTemplate: true });
  }
  const name =
    identity.labels['aws.name'] ??
    identity.k8sServiceAccount ??
    identity.labels['source.name'] ??
    identity.id;
  return {
    origin: originOf.identity(identity.id),
    nodes: [
      {
        key,
        type: 'identity',
        name,
        externalId: identity.cloudArn ?? identity.labels['k8s.uid'] ?? identity.spiffeId ?? identity.id,
        disabled: identity.status !== 'active',
        admin: identity.labels['bulkhead.admin'] === 'true',
        environment: identity.environment,
      },
    ],
    edges,
  };
}

export function deriveCredential(
  credential: GraphCredential,
  holderEnvironment: string | null,
  lookup: DeriveLookup,
): DerivedRecord {
  const key = nodeKey.credential(credential.id);
  const holder = nodeKey.identity(credential.identityId);
  const edges: GraphEdgeInput[] = [
    {
      from: key,
      to: holder,
      kind: 'can_assume',
      via: viaAuthenticatesAs(credential.type),
      viaTemplate: true,
    },
    { from: holder, to: key, kind: 'owns', via: VIA.holds, viaTemplate: true },
  ];
  for (const consumer of credential.consumers) {
    if (consumer === credential.identityId || !lookup.identityExists(consumer)) continue;
    edges.push({
      from: nodeKey.identity(consumer),
      to: key,
      kind: 'can_read_secret_of',
      via: VIA.consumes,
      viaTemplate: true,
    });
  }
  for (const location of credential.storedIn) {
    const resource = lookup.resourceForLocation(location);
    const from = resource ? nodeKey.resource(resource) : nodeKey.location(location);
    edges.push(
      resource
        ? { from, to: key, kind: 'can_read_secret_of', via: `stored in ${location}` }
        : { from, to: key, kind: 'can_read_secret_of', via: VIA.storedIn, viaTemplate: true },
    );
    // A secret on a person's laptop is readable by that person.
    const person = laptopOwnerOf(location);
    if (!resource && person && lookup.identityExists(person)) {
      edges.push({
        from: nodeKey.identity(person),
        to: from,
        kind: 'can_read_secret_of',
        via: VIA.laptop,
        viaTemplate: true,
      });
    }
  }
  for (const scope of credential.scopes) {
    for (const target of scopeTargets(scope, holderEnvironment ?? 'prod', lookup)) {
      edges.push({ from: key, to: target, kind: 'has_permission', via: scope });
    }
  }
  return {
    origin: originOf.credential(credential.id),
    nodes: [
      {
        key,
        type: 'credential',
        name: credential.id,
        externalId: credential.fingerprint,
        disabled: credential.status !== 'active',
      },
    ],
    edges,
  };
}

/** The person whose machine a storage location is on (`laptop:<identity>/...`), else null. */
export function laptopOwnerOf(location: string): string | null {
  return /^laptop:([^/]+)\//.exec(location)?.[1] ?? null;
}

/** Node keys a scope string grants access to (see the module comment for the convention). */
export function scopeTargets(scope: string, environment: string, lookup: DeriveLookup): string[] {
  const parts = scope.split(':').filter((p) => p.length > 0);
  const system = parts[0];
  if (!system) return [];
  const named = parts.filter((p) => lookup.resourceExists(p));
  if (named.length > 0) return named.map((r) => nodeKey.resource(r));
  const env =
    parts.length === 3 && ENVIRONMENTS.has(parts[1] ?? '') ? (parts[1] ?? environment) : environment;
  const isAdmin =
    (parts.length === 2 && ADMIN_WORDS.has(parts[1] ?? '')) ||
    (parts.length === 3 && ENVIRONMENTS.has(parts[1] ?? '') && parts[2] === '*') ||
    (parts.length === 3 && parts[1] === '*' && ADMIN_WORDS.has(parts[2] ?? ''));
  if (isAdmin) return [nodeKey.admin(`${system}:${env}`)];
  if (parts[parts.length - 1] === '*') {
    return lookup.resourcesWithPrefix(system).map((r) => nodeKey.resource(r));
  }
  return [];
}

export function deriveResource(resource: Resource): DerivedRecord {
  const key = nodeKey.resource(resource.id);
  const edges: GraphEdgeInput[] = [];
  if (resource.parentId) {
    edges.push({
      from: nodeKey.resource(resource.parentId),
      to: key,
      kind: 'contains',
      via: VIA.contains,
      viaTemplate: true,
    });
  }
  if (CONTROL_PLANE_TYPES.has(resource.type)) {
    const system = resource.labels['bulkhead.system'] ?? resource.id.split('-')[0] ?? resource.id;
    edges.push({
      from: nodeKey.admin(`${system}:${resource.environment}`),
      to: key,
      kind: 'contains',
      via: `full control of ${system} (${resource.environment})`,
    });
  }
  return {
    origin: originOf.resource(resource.id),
    nodes: [
      {
        key,
        type: 'resource',
        name: resource.displayName,
        externalId: resource.labels['aws.arn'] ?? resource.id,
        sensitivity: resource.sensitivity,
        environment: resource.environment,
      },
    ],
    edges,
  };
}

const RESOLVED_LOCATIONS_CACHED = 10_000;

/** Lower-cased, separators folded to `-`, for matching locations against resource ids and names. */
function fold(s: string): string {
  return s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
}

/**
 * Builds `resourceForLocation` over a resource list: a location belongs to the resource with the longest id,
 * `location` label or display name that is a prefix of it at a separator boundary.
 */
export function locationResolver(resources: readonly Resource[]): (location: string) => string | null {
  const candidates: { prefix: string; id: string }[] = [];
  for (const r of resources) {
    for (const p of [r.id, r.labels.location, r.displayName])
      if (p) candidates.push({ prefix: fold(p), id: r.id });
  }
  candidates.sort((a, b) => b.prefix.length - a.prefix.length);
  // Many credentials share a few storage locations (`vault:kv/payments`): resolve each once.
  const cache = new Map<string, string | null>();
  return (location: string) => {
    let id = cache.get(location);
    if (id === undefined) {
      if (cache.size >= RESOLVED_LOCATIONS_CACHED) cache.clear();
      cache.set(location, (id = resolve(location)));
    }
    return id;
  };
  function resolve(location: string): string | null {
    const full = fold(location);
    const noScheme = fold(location.replace(/^[a-z0-9]+:/i, ''));
    for (const c of candidates) {
      if (c.prefix.length < 3) continue;
      for (const l of [full, noScheme]) {
        if (l === c.prefix || l.startsWith(`${c.prefix}-`)) return c.id;
      }
    }
    return null;
  }
}
