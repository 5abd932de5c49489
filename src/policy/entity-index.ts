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
import { ACTION_PROPERTIES_TYPE, PRINCIPAL_TYPES, SUBJECT_PROPERTIES_TYPE } from './cedar-schema.js';
import { FULL_FOOTPRINT, prunedEntity, type PolicyFootprint } from './footprint.js';

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

/** True when `obj` has an own property (AuthZEN requests carry `properties: {}` far more often than not). */
export function hasProperties(obj: Record<string, unknown> | undefined): obj is Record<string, unknown> {
  if (obj === undefined) return false;
  for (const k in obj) if (Object.hasOwn(obj, k)) return true;
  return false;
}

function tagValue(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/**
 * PEP properties as Cedar tags, undefined when there are none. Built from entries: assigning
 * `tags["__proto__"]` would drop that property without a word.
 */
function tagsOf(props: Record<string, unknown>): Record<string, string> | undefined {
  const entries: [string, string][] = [];
  for (const [k, v] of Object.entries(props))
    if (v !== undefined && v !== null) entries.push([k, tagValue(v)]);
  return entries.length > 0 ? Object.fromEntries(entries) : undefined;
}

/**
 * A request-scoped entity whose tags are PEP-supplied properties (strings; other JSON values stringified).
 * None when there are no properties or no policy reads tags: Cedar answers `hasTag`/`has` on a missing
 * entity with false and `getTag` with an error, exactly as on an entity without tags, and skipping it
 * saves parsing an entity on every decision.
 */
export function propertiesEntity(
  type: string,
  props: Record<string, unknown> | undefined,
  fp: PolicyFootprint = FULL_FOOTPRINT,
): EntityJson | undefined {
  if (!props || !fp.tags) return undefined;
  const tags = tagsOf(props);
  return tags ? { uid: { type, id: 'request' }, attrs: {}, parents: [], tags } : undefined;
}

/** What Cedar gets for a resource (shared between decisions: never modify one). */
export interface ResourceSlice {
  uid: EntityUidJson;
  entities: EntityJson[];
  known: Resource | undefined;
}

/** How soon a refetch that failed (the store unreachable) is tried again. */
export const REFETCH_RETRY_MS = 1000;

export class EntityIndex {
  private readonly identities = new Map<string, Identity>();
  private readonly aliases = new Map<string, string>();
  private readonly resources = new Map<string, Resource>();
  private readonly principalCache = new Map<string, { fp: PolicyFootprint; entity: EntityJson }>();
  /** Slices of inventoried resources asked for without PEP properties, by id and type (cleared on any resource change). */
  private readonly sliceCache = new Map<string, { fp: PolicyFootprint; slice: ResourceSlice }>();
  private readonly pending = new Map<string, Promise<void>>();
  /** Refetches that failed (the store unreachable), retried every REFETCH_RETRY_MS; decisions deny meanwhile. */
  private readonly failed = new Map<string, unknown>();
  private unsubscribe: (() => void) | undefined;
  /** Bumped on every inventory change; part of the decision-cache key. */
  version = 0;
  readonly listeners = new Set<() => void>();

  constructor(private readonly inventory: InventoryReader) {}

  /**
   * Catches changes made through another replica (which never reach this process's `onChange`): rows whose
   * `updated_at` is at or after the watermark are refetched. The watermark trails by a margin so clock skew
   * between replicas and same-millisecond writes are not missed; refetching a row twice is harmless.
   * Status changes (disable, quarantine) update `updated_at`, so they are always picked up; deletions are
   * found by `reconcileDeletions`.
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
    await this.settle();
    return changed + (await this.reconcileDeletions(db));
  }

  /**
   * Catches rows deleted through another replica whose notification was lost: a deleted row leaves no
   * `updated_at` to poll, and its identity would stay allowed here for good. Each poll counts both tables
   * (an index-only scan, a few ms at 100k rows, rather than reading every id or keeping tombstones the
   * inventory would have to write); only when a count differs from the index's are the ids read (about 4 MB
   * at 100k identities). An id on one side only is handled as a change: dropped at once and refetched, so a
   * row created meanwhile comes back and a deleted one stays out.
   */
  private async reconcileDeletions(db: Kysely<Database>): Promise<number> {
    const [identities, resources] = await Promise.all([
      db
        .selectFrom('identities')
        .select((eb) => eb.fn.countAll().as('n'))
        .executeTakeFirstOrThrow(),
      db
        .selectFrom('resources')
        .select((eb) => eb.fn.countAll().as('n'))
        .executeTakeFirstOrThrow(),
    ]);
    let changed = 0;
    if (Number(identities.n) !== this.identities.size) {
      const rows = await db.selectFrom('identities').select('id').execute();
      changed += this.refetchDifference('identity', this.identities, rows);
    }
    if (Number(resources.n) !== this.resources.size) {
      const rows = await db.selectFrom('resources').select('id').execute();
      changed += this.refetchDifference('resource', this.resources, rows);
    }
    await this.settle();
    return changed;
  }

  private refetchDifference(
    entity: 'identity' | 'resource',
    held: ReadonlyMap<string, unknown>,
    rows: { id: string }[],
  ): number {
    const stored = new Set(rows.map((r) => r.id));
    const ids = [...held.keys()].filter((id) => !stored.has(id));
    for (const id of stored) if (!held.has(id)) ids.push(id);
    for (const id of ids) this.onChange({ entity, op: 'update', id });
    return ids.length;
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
   * Drops the stale entry at once (so no decision uses it) and refetches; decisions wait for the refetch
   * through `settle`. Listeners hear of the change twice, when it arrives and when the refetch lands, so
   * nothing decided in between stays cached.
   */
  private onChange(change: InventoryChange): void {
    if (change.entity === 'identity') {
      this.dropIdentity(change.id);
      this.refetch(`i:${change.id}`, async () => {
        const i = await this.inventory.findIdentity(change.id);
        return () => {
          if (i) this.putIdentity(i);
        };
      });
    } else if (change.entity === 'resource') {
      // A resource's slice holds its ancestors too, so any resource change can alter other slices.
      this.resources.delete(change.id);
      this.sliceCache.clear();
      this.refetch(`r:${change.id}`, async () => {
        const r = await this.inventory.findResource(change.id);
        return () => {
          if (r) this.resources.set(r.id, r);
          this.sliceCache.clear();
        };
      });
    }
    this.changed();
  }

  private changed(): void {
    this.version++;
    for (const l of this.listeners) l();
  }

  /**
   * Runs a refetch and applies it only if no later one for the same key started meanwhile: a read begun
   * before a quarantine committed may finish after the read that sees it, and must not put the old row back.
   */
  private refetch(key: string, read: () => Promise<() => void>): void {
    const p: Promise<void> = read()
      .then(
        (apply) => {
          if (this.pending.get(key) !== p) return;
          this.failed.delete(key);
          apply();
          this.changed();
        },
        (err: unknown) => {
          // The entry stays dropped, and an index with a hole can cut an ancestor chain a forbid relies on:
          // every decision denies (`unavailable`) until a retry reads the row.
          if (this.pending.get(key) !== p) return;
          this.failed.set(key, err);
          setTimeout(() => {
            if (this.failed.has(key) && !this.pending.has(key)) this.refetch(key, read);
          }, REFETCH_RETRY_MS).unref();
        },
      )
      .finally(() => {
        if (this.pending.get(key) === p) this.pending.delete(key);
      });
    this.pending.set(key, p);
  }

  /** Why the index cannot be trusted right now (a refetch failed and is being retried), or undefined. */
  unavailable(): string | undefined {
    if (this.failed.size === 0) return undefined;
    const [key, err] = this.failed.entries().next().value as [string, unknown];
    const what = key.startsWith('i:') ? `identity ${key.slice(2)}` : `resource ${key.slice(2)}`;
    return `${this.failed.size} inventory change(s) could not be read (${what}: ${err instanceof Error ? err.message : String(err)}); retrying`;
  }

  /**
   * Resolves once no refetch is in flight, including those that start meanwhile. All of them, not only the
   * request's principal and resource: a resource's slice holds its ancestors, and an ancestor missing while
   * it is refetched cuts the chain a `forbid (..., resource in Resource::"x")` relies on.
   */
  async settle(): Promise<void> {
    while (this.pending.size > 0) {
      await Promise.all([...this.pending.values()].map((p) => p.catch(() => undefined)));
    }
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

  /**
   * The principal entity with its groups as parents, as the policy set's footprint lets Cedar see it
   * (memoised per identity until it or the footprint changes). Groups are not entities of their own:
   * they have no attributes and no parents, so `principal in Group::"x"` needs only the principal.
   */
  principalEntity(i: Identity, fp: PolicyFootprint = FULL_FOOTPRINT): EntityJson {
    const cached = this.principalCache.get(i.id);
    if (cached?.fp === fp) return cached.entity;
    const entity = prunedEntity(
      EntityIndex.principalUid(i),
      {
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
      i.groups.map((g) => ({ type: 'Group', id: g })),
      i.labels,
      fp.principalAttrs,
      fp,
    );
    this.principalCache.set(i.id, { fp, entity });
    return entity;
  }

  /**
   * Everything Cedar gets for one request: the principal, the resource slice and the request's property
   * entities, as the footprint lets Cedar see them.
   */
  requestEntities(
    identity: Identity,
    resource: { entities: EntityJson[] },
    subjectProperties: Record<string, unknown> | undefined,
    actionProperties: Record<string, unknown> | undefined,
    fp: PolicyFootprint = FULL_FOOTPRINT,
  ): EntityJson[] {
    const entities = [this.principalEntity(identity, fp), ...resource.entities];
    const subject = propertiesEntity(SUBJECT_PROPERTIES_TYPE, subjectProperties, fp);
    if (subject) entities.push(subject);
    const action = propertiesEntity(ACTION_PROPERTIES_TYPE, actionProperties, fp);
    if (action) entities.push(action);
    return entities;
  }

  /**
   * The resource entity and its ancestors. An inventoried resource keeps its inventory attributes; the
   * PEP's properties only add tags. A resource the inventory does not know is described by the PEP alone
   * and marked `inventoried: false`, so policies can refuse to trust it. When the footprint says no policy
   * reads an ancestor's data, the ancestors are the resource's parents (so `resource in Resource::"x"`
   * holds for every level) rather than entities of their own.
   */
  resourceSlice(ref: ResourceRef, fp: PolicyFootprint = FULL_FOOTPRINT): ResourceSlice {
    if (hasProperties(ref.properties)) return this.buildResourceSlice(ref, fp);
    const key = `${ref.id}\u0000${ref.type ?? ''}`;
    const cached = this.sliceCache.get(key);
    if (cached?.fp === fp) return cached.slice;
    const slice = this.buildResourceSlice(ref, fp);
    if (slice.known) this.sliceCache.set(key, { fp, slice });
    return slice;
  }

  private buildResourceSlice(ref: ResourceRef, fp: PolicyFootprint): ResourceSlice {
    // A PEP naming another type means another object that happens to share the id: not the inventoried one.
    const stored = this.resources.get(ref.id);
    const known = stored && (ref.type === undefined || ref.type === stored.type) ? stored : undefined;
    const props = ref.properties ?? {};
    const extraTags = tagsOf(props) ?? {};
    const uid = { type: 'Resource', id: ref.id };
    if (!known) {
      const sensitivity =
        typeof props.sensitivity === 'string' &&
        (SENSITIVITIES as readonly string[]).includes(props.sensitivity)
          ? props.sensitivity
          : 'unknown';
      const environment = typeof props.environment === 'string' ? props.environment : 'unknown';
      const attrs = {
        id: ref.id,
        type: ref.type ?? 'unknown',
        sensitivity,
        environment,
        owners: [],
        inventoried: false,
      };
      return {
        uid,
        entities: [prunedEntity(uid, attrs, [], extraTags, fp.resourceAttrs, fp)],
        known: undefined,
      };
    }
    // Every id up the chain, including the first one the index does not hold (Cedar's transitive closure
    // of the separate-entity form reaches that far too).
    const ancestors: Resource[] = [];
    const ancestorUids: EntityUidJson[] = [];
    let parentId = known.parentId;
    const seen = new Set([known.id]);
    for (let depth = 0; parentId && !seen.has(parentId); depth++) {
      ancestorUids.push({ type: 'Resource', id: parentId });
      seen.add(parentId);
      const parent = depth < MAX_PARENT_DEPTH ? this.resources.get(parentId) : undefined;
      if (!parent) break;
      ancestors.push(parent);
      parentId = parent.parentId;
    }
    if (!fp.otherEntities) {
      return { uid, entities: [this.resourceEntity(known, extraTags, ancestorUids, fp)], known };
    }
    const entities = [known, ...ancestors].map((r, i) =>
      this.resourceEntity(
        r,
        i === 0 ? extraTags : {},
        r.parentId ? [{ type: 'Resource', id: r.parentId }] : [],
        fp,
      ),
    );
    return { uid, entities, known };
  }

  private resourceEntity(
    r: Resource,
    extraTags: Record<string, string>,
    parents: EntityJson['parents'],
    fp: PolicyFootprint,
  ): EntityJson {
    const attrs = {
      id: r.id,
      type: r.type,
      sensitivity: r.sensitivity,
      environment: r.environment,
      owners: r.owners,
      inventoried: true,
    };
    const tags = { ...extraTags, ...r.labels };
    return prunedEntity({ type: 'Resource', id: r.id }, attrs, parents, tags, fp.resourceAttrs, fp);
  }
}
