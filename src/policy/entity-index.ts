/**
 * In-memory indexes of identities and resources, kept current from inventory change notifications, and
 * the per-request entity slice built from them: the principal and its groups, the resource and its parent
 * chain. Cedar never sees the whole store, so decision cost does not grow with the inventory.
 */
import type { EntityJson, EntityUidJson } from '@cedar-policy/cedar-wasm/nodejs';
import type { Kysely } from 'kysely';
import type { InventoryChange, InventoryService } from '../inventory/service.js';
import type { Database } from '../store/database.js';
import { SENSITIVITIES, type Identity, type Resource } from '../inventory/types.js';
import { PRINCIPAL_TYPES } from './cedar-schema.js';

export type InventoryReader = Pick<
  InventoryService,
  'findIdentity' | 'findResource' | 'listIdentities' | 'listResources' | 'onChange'
>;

/** What the PEP says about a resource; the inventory (when it knows the resource) wins. */
export interface ResourceRef {
  id: string;
  type?: string | undefined;
  properties?: Record<string, unknown> | undefined;
}

const MAX_PARENT_DEPTH = 16;
/** Labels that name an identity as well as its id (e.g. the Todo scenario's users are known by email). */
const ALIAS_LABELS = ['email', 'alias'];

function tagValue(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** A request-scoped entity whose tags are PEP-supplied properties (strings; other JSON values stringified). */
export function propertiesEntity(type: string, props: Record<string, unknown> | undefined): EntityJson {
  const tags: Record<string, string> = {};
  for (const [k, v] of Object.entries(props ?? {})) if (v !== undefined && v !== null) tags[k] = tagValue(v);
  return { uid: { type, id: 'request' }, attrs: {}, parents: [], tags };
}

export class EntityIndex {
  private readonly identities = new Map<string, Identity>();
  private readonly aliases = new Map<string, string>();
  private readonly resources = new Map<string, Resource>();
  private readonly principalCache = new Map<string, EntityJson[]>();
  private readonly pending = new Map<string, Promise<void>>();
  private unsubscribe: (() => void) | undefined;
  /** Bumped on every inventory change; part of the decision-cache key. */
  version = 0;
  readonly listeners = new Set<() => void>();

  constructor(private readonly inventory: InventoryReader) {}

  /**
   * Catches changes made through another replica (which never reach this process's `onChange`): rows whose
   * `updated_at` is at or after the watermark are refetched. The watermark trails by a margin so clock skew
   * between replicas and same-millisecond writes are not missed; refetching a row twice is harmless.
   * Status changes (disable, quarantine) update `updated_at`, so they are always picked up.
   */
  async pollChanges(db: Kysely<Database>, marginMs = 5000): Promise<number> {
    const since = this.watermark;
    const startedAt = new Date().toISOString();
    const [ids, res] = await Promise.all([
      db.selectFrom('identities').select(['id', 'updated_at']).where('updated_at', '>=', since).execute(),
      db.selectFrom('resources').select(['id', 'updated_at']).where('updated_at', '>=', since).execute(),
    ]);
    let changed = 0;
    for (const row of ids) {
      const current = this.identities.get(row.id);
      if (current && current.updatedAt === row.updated_at) continue;
      this.onChange({ entity: 'identity', op: 'update', id: row.id });
      changed++;
    }
    for (const row of res) {
      const current = this.resources.get(row.id);
      if (current && current.updatedAt === row.updated_at) continue;
      this.onChange({ entity: 'resource', op: 'update', id: row.id });
      changed++;
    }
    this.watermark = new Date(Date.parse(startedAt) - marginMs).toISOString();
    await Promise.all([...this.pending.values()].map((p) => p.catch(() => undefined)));
    return changed;
  }

  private watermark = new Date(0).toISOString();

  async load(): Promise<void> {
    this.watermark = new Date(Date.now() - 60_000).toISOString();
    // Other replicas' changes too: a quarantine anywhere must reach this decision cache at once.
    this.unsubscribe = this.inventory.onChange((c) => this.onChange(c), { replicas: true });
    let cursor: string | undefined;
    do {
      const page = await this.inventory.listIdentities({ limit: 500, cursor });
      for (const i of page.items) this.putIdentity(i);
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
    cursor = undefined;
    do {
      const page = await this.inventory.listResources({ limit: 500, cursor });
      for (const r of page.items) this.resources.set(r.id, r);
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
  }

  stop(): void {
    this.unsubscribe?.();
  }

  /**
   * Drops the stale entry at once (so no decision uses it) and refetches; decisions on that id wait for the
   * refetch through `settle`.
   */
  private onChange(change: InventoryChange): void {
    this.version++;
    if (change.entity === 'identity') {
      this.dropIdentity(change.id);
      const p = this.inventory
        .findIdentity(change.id)
        .then((i) => {
          if (i) this.putIdentity(i);
        })
        .finally(() => this.pending.delete(`i:${change.id}`));
      this.pending.set(`i:${change.id}`, p);
    } else if (change.entity === 'resource') {
      this.resources.delete(change.id);
      const p = this.inventory
        .findResource(change.id)
        .then((r) => {
          if (r) this.resources.set(r.id, r);
        })
        .finally(() => this.pending.delete(`r:${change.id}`));
      this.pending.set(`r:${change.id}`, p);
    }
    for (const l of this.listeners) l();
  }

  /** Resolves once no refetch is in flight for these ids. */
  async settle(principalId: string, resourceId: string): Promise<void> {
    const a = this.pending.get(`i:${principalId}`);
    const b = this.pending.get(`r:${resourceId}`);
    if (a) await a.catch(() => undefined);
    if (b) await b.catch(() => undefined);
  }

  hasPending(): boolean {
    return this.pending.size > 0;
  }

  private putIdentity(i: Identity): void {
    this.dropIdentity(i.id);
    this.identities.set(i.id, i);
    for (const label of ALIAS_LABELS) {
      const v = i.labels[label];
      if (v && v !== i.id) this.aliases.set(v, i.id);
    }
    if (i.spiffeId) this.aliases.set(i.spiffeId, i.id);
  }

  private dropIdentity(id: string): void {
    const old = this.identities.get(id);
    if (old) {
      for (const [alias, target] of this.aliases)
        if (target === id && alias !== id) this.aliases.delete(alias);
    }
    this.identities.delete(id);
    this.principalCache.delete(id);
  }

  /** By id, or by an alias (email label, SPIFFE ID). */
  resolveIdentity(idOrAlias: string): Identity | undefined {
    const direct = this.identities.get(idOrAlias);
    if (direct) return direct;
    const id = this.aliases.get(idOrAlias);
    return id === undefined ? undefined : this.identities.get(id);
  }

  getResource(id: string): Resource | undefined {
    return this.resources.get(id);
  }

  allIdentities(): IterableIterator<Identity> {
    return this.identities.values();
  }

  allResources(): IterableIterator<Resource> {
    return this.resources.values();
  }

  get identityCount(): number {
    return this.identities.size;
  }

  static principalUid(i: Identity): EntityUidJson {
    return { type: PRINCIPAL_TYPES[i.kind], id: i.id };
  }

  /** The principal entity and its group entities (memoised per identity until it changes). */
  principalSlice(i: Identity): EntityJson[] {
    const cached = this.principalCache.get(i.id);
    if (cached) return cached;
    const groups = i.groups.map((g) => ({ type: 'Group', id: g }));
    const entity: EntityJson = {
      uid: EntityIndex.principalUid(i),
      attrs: {
        id: i.id,
        kind: i.kind,
        display_name: i.displayName,
        environment: i.environment,
        status: i.status,
        source: i.source,
        owners: i.owners,
        groups: i.groups,
        ...(i.spiffeId ? { spiffe_id: i.spiffeId } : {}),
      },
      parents: groups,
      tags: { ...i.labels },
    };
    const slice = [entity, ...groups.map((uid) => ({ uid, attrs: {}, parents: [] }))];
    this.principalCache.set(i.id, slice);
    return slice;
  }

  /**
   * The resource entity and its ancestors. An inventoried resource keeps its inventory attributes; the
   * PEP's properties only add tags. A resource the inventory does not know is described by the PEP alone
   * and marked `inventoried: false`, so policies can refuse to trust it.
   */
  resourceSlice(ref: ResourceRef): {
    uid: EntityUidJson;
    entities: EntityJson[];
    known: Resource | undefined;
  } {
    // A PEP naming another type means another object that happens to share the id: not the inventoried one.
    const stored = this.resources.get(ref.id);
    const known = stored && (ref.type === undefined || ref.type === stored.type) ? stored : undefined;
    const props = ref.properties ?? {};
    const extraTags: Record<string, string> = {};
    for (const [k, v] of Object.entries(props)) if (v !== undefined && v !== null) extraTags[k] = tagValue(v);
    const uid = { type: 'Resource', id: ref.id };
    if (!known) {
      const sensitivity =
        typeof props.sensitivity === 'string' &&
        (SENSITIVITIES as readonly string[]).includes(props.sensitivity)
          ? props.sensitivity
          : 'unknown';
      const environment = typeof props.environment === 'string' ? props.environment : 'unknown';
      const entity: EntityJson = {
        uid,
        attrs: {
          id: ref.id,
          type: ref.type ?? 'unknown',
          sensitivity,
          environment,
          owners: [],
          inventoried: false,
        },
        parents: [],
        tags: extraTags,
      };
      return { uid, entities: [entity], known: undefined };
    }
    const entities: EntityJson[] = [this.resourceEntity(known, extraTags)];
    let parentId = known.parentId;
    const seen = new Set([known.id]);
    for (let depth = 0; parentId && depth < MAX_PARENT_DEPTH && !seen.has(parentId); depth++) {
      seen.add(parentId);
      const parent = this.resources.get(parentId);
      if (!parent) break;
      entities.push(this.resourceEntity(parent, {}));
      parentId = parent.parentId;
    }
    return { uid, entities, known };
  }

  private resourceEntity(r: Resource, extraTags: Record<string, string>): EntityJson {
    return {
      uid: { type: 'Resource', id: r.id },
      attrs: {
        id: r.id,
        type: r.type,
        sensitivity: r.sensitivity,
        environment: r.environment,
        owners: r.owners,
        inventoried: true,
      },
      parents: r.parentId ? [{ type: 'Resource', id: r.parentId }] : [],
      tags: { ...extraTags, ...r.labels },
    };
  }
}
