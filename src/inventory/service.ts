/**
 * Inventory operations: validation of references, timestamps, audit, change notifications. Every write
 * runs in one transaction with its audit entry. Listeners (policy entity indexes, graph, caches) hear
 * about each committed change through `onChange`.
 */
import { randomBytes } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { AuditLog, DbOrTrx } from '../audit/audit-log.js';
import { coreError } from '../errors.js';
import { localFeed, type ChangeFeed } from '../store/change-feed.js';
import type { Database } from '../store/database.js';
import type { Dialect } from '../store/migration-types.js';
import { decodeCursor, toPage, type Page } from './cursor.js';
import type {
  CredentialCreateInput,
  CredentialPatchInput,
  IdentityCreateInput,
  IdentityPatchInput,
  ResourceCreateInput,
  ResourcePatchInput,
} from './schemas.js';
import * as store from './store.js';
import type { Credential, Identity, IdentityStatus, Resource } from './types.js';

export interface InventoryChange {
  entity: 'identity' | 'credential' | 'resource';
  op: 'create' | 'update' | 'delete';
  id: string;
}

export interface WriteMeta {
  actor: string;
  requestId?: string | undefined;
}

export interface IdentityListQuery {
  kind?: string | undefined;
  owner?: string | undefined;
  environment?: string | undefined;
  status?: string | undefined;
  source?: string | undefined;
  stale_days?: number | undefined;
  no_owner?: boolean | undefined;
  spiffe_id?: string | undefined;
  cloud_arn?: string | undefined;
  k8s_service_account?: string | undefined;
  limit: number;
  cursor?: string | undefined;
}

export interface CredentialListQuery {
  identity_id?: string | undefined;
  type?: string | undefined;
  status?: string | undefined;
  consumer?: string | undefined;
  fingerprint?: string | undefined;
  expired?: boolean | undefined;
  limit: number;
  cursor?: string | undefined;
}

export interface ResourceListQuery {
  type?: string | undefined;
  sensitivity?: string | undefined;
  environment?: string | undefined;
  parent_id?: string | undefined;
  limit: number;
  cursor?: string | undefined;
}

const DAY_MS = 86_400_000;

/** Why an identity's or a credential's status was last changed (disable, quarantine, revoke), when told. */
const STATUS_REASON_LABEL = 'bulkhead.status-reason';

function newId(prefix: string): string {
  return `${prefix}-${randomBytes(6).toString('hex')}`;
}

const CHANGE_ENTITIES: ReadonlySet<unknown> = new Set(['identity', 'credential', 'resource']);
const CHANGE_OPS: ReadonlySet<unknown> = new Set(['create', 'update', 'delete']);

/** A change announced by another replica is checked before anyone acts on it. */
function isInventoryChange(data: unknown): data is InventoryChange {
  if (typeof data !== 'object' || data === null) return false;
  const c = data as Record<string, unknown>;
  return (
    CHANGE_ENTITIES.has(c.entity) && CHANGE_OPS.has(c.op) && typeof c.id === 'string' && c.id.length <= 512
  );
}

export class InventoryService {
  private readonly listeners = new Set<(change: InventoryChange) => void>();
  private readonly committed = new Set<(change: InventoryChange) => Promise<void>>();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly audit: AuditLog,
    private readonly dialect: Dialect,
    private readonly now: () => Date = () => new Date(),
    private readonly feed: ChangeFeed = localFeed,
  ) {}

  /**
   * Subscribes to changes committed through this process; returns an unsubscribe function. With
   * `replicas`, also to those other replicas announce (PostgreSQL), and `resync` runs when some of those may
   * have been missed (the replica listener reconnected): the subscriber should re-read what it caches.
   */
  onChange(
    listener: (change: InventoryChange) => void,
    options: { replicas?: boolean; resync?: () => void } = {},
  ): () => void {
    this.listeners.add(listener);
    const unsubscribeRemote = options.replicas
      ? this.feed.subscribe(
          'inventory',
          (data) => {
            if (!Array.isArray(data)) return;
            for (const c of data) if (isInventoryChange(c)) listener(c);
          },
          options.resync,
        )
      : () => undefined;
    return () => {
      this.listeners.delete(listener);
      unsubscribeRemote();
    };
  }

  /**
   * Subscribes an effect that must be in force by the time the writer hears its write succeeded (revoking a
   * quarantined identity's tokens): each write through this service awaits it before returning. The listener
   * handles its own errors; one that throws anyway does not fail the write, which is already committed.
   */
  onCommitted(listener: (change: InventoryChange) => Promise<void>): () => void {
    this.committed.add(listener);
    return () => this.committed.delete(listener);
  }

  private async emit(change: InventoryChange): Promise<void> {
    this.emitAll([change]);
    if (this.committed.size > 0) await Promise.allSettled([...this.committed].map((l) => l(change)));
  }

  private emitAll(changes: readonly InventoryChange[]): void {
    for (const c of changes) for (const l of this.listeners) l(c);
    // Other replicas hear in batches (a bulk import is thousands of changes; a notification carries < 8 kB).
    for (let i = 0; i < changes.length; i += 64) this.feed.publish('inventory', changes.slice(i, i + 64));
  }

  /**
   * Announces changes committed outside this service (bulk importers write many rows in one transaction through
   * the store layer). Call only after the transaction committed.
   */
  notifyChanges(changes: readonly InventoryChange[]): void {
    this.emitAll(changes);
  }

  // ---- identities ----

  async getIdentity(id: string): Promise<Identity> {
    const identity = await store.findIdentity(this.db, id);
    if (!identity) throw coreError('NOT_FOUND', `identity ${id} does not exist`, { field: 'id' });
    return identity;
  }

  async findIdentity(id: string): Promise<Identity | undefined> {
    return store.findIdentity(this.db, id);
  }

  async listIdentities(q: IdentityListQuery): Promise<Page<Identity>> {
    const staleBefore =
      q.stale_days === undefined
        ? undefined
        : new Date(this.now().getTime() - q.stale_days * DAY_MS).toISOString();
    const rows = await store.listIdentityRows(this.db, {
      kind: q.kind,
      owner: q.owner,
      environment: q.environment,
      status: q.status,
      source: q.source,
      staleBefore,
      noOwner: q.no_owner,
      spiffeId: q.spiffe_id,
      cloudArn: q.cloud_arn,
      k8sServiceAccount: q.k8s_service_account,
      afterId: decodeCursor(q.cursor),
      limit: q.limit + 1,
    });
    return toPage(rows, q.limit);
  }

  async createIdentity(input: IdentityCreateInput, meta: WriteMeta): Promise<Identity> {
    const now = this.now().toISOString();
    const identity: Identity = {
      id: input.id ?? newId(input.kind.replace(/_/g, '-')),
      kind: input.kind,
      displayName: input.displayName,
      spiffeId: input.spiffeId ?? null,
      cloudArn: input.cloudArn ?? null,
      k8sServiceAccount: input.k8sServiceAccount ?? null,
      owners: dedupe(input.owners),
      groups: dedupe(input.groups),
      environment: input.environment,
      source: input.source,
      labels: input.labels,
      status: input.status,
      createdAt: now,
      updatedAt: now,
      lastSeenAt: input.lastSeenAt ?? null,
    };
    await this.writeTransaction('identities', `identity ${identity.id}`, async (trx) => {
      if (await store.findIdentity(trx, identity.id)) {
        throw coreError('CONFLICT', `identity ${identity.id} already exists`, { field: 'body.id' });
      }
      await this.checkOwners(trx, identity.owners, 'body.owners', identity.id);
      await this.checkUniqueSpiffe(trx, identity.spiffeId, identity.id);
      await store.insertIdentity(trx, identity);
      await this.audit.record(trx, {
        ...auditMeta(meta),
        action: 'identity.create',
        targetType: 'identity',
        targetId: identity.id,
        after: identity,
      });
    });
    await this.emit({ entity: 'identity', op: 'create', id: identity.id });
    return identity;
  }

  async updateIdentity(
    id: string,
    patch: IdentityPatchInput,
    meta: WriteMeta,
    action = 'identity.update',
  ): Promise<Identity> {
    return this.rewriteIdentity(id, () => patch, meta, action);
  }

  /** `patchOf` sees the row as locked in the write transaction, so what it merges into is what gets replaced. */
  private async rewriteIdentity(
    id: string,
    patchOf: (before: Identity) => IdentityPatchInput,
    meta: WriteMeta,
    action: string,
  ): Promise<Identity> {
    const updated = await this.writeTransaction('identities', `identity ${id}`, async (trx) => {
      const before = await store.lockIdentity(trx, this.dialect, id);
      if (!before) throw coreError('NOT_FOUND', `identity ${id} does not exist`, { field: 'params.id' });
      const patch = patchOf(before);
      const after: Identity = {
        ...before,
        ...definedOnly({
          displayName: patch.displayName,
          spiffeId: patch.spiffeId,
          cloudArn: patch.cloudArn,
          k8sServiceAccount: patch.k8sServiceAccount,
          owners: patch.owners ? dedupe(patch.owners) : undefined,
          groups: patch.groups ? dedupe(patch.groups) : undefined,
          environment: patch.environment,
          source: patch.source,
          labels: patch.labels,
          status: patch.status,
          lastSeenAt: patch.lastSeenAt,
        }),
        updatedAt: this.now().toISOString(),
      };
      if (patch.owners) await this.checkOwners(trx, after.owners, 'body.owners', id);
      if (patch.spiffeId) await this.checkUniqueSpiffe(trx, after.spiffeId, id);
      await store.updateIdentity(trx, after);
      await this.audit.record(trx, {
        ...auditMeta(meta),
        action,
        targetType: 'identity',
        targetId: id,
        before,
        after,
      });
      return after;
    });
    await this.emit({ entity: 'identity', op: 'update', id });
    return updated;
  }

  /** Sets the status (disable / quarantine / re-activate); the reason is kept in the audit entry's label. */
  async setIdentityStatus(
    id: string,
    status: IdentityStatus,
    meta: WriteMeta,
    reason?: string,
  ): Promise<Identity> {
    return this.rewriteIdentity(
      id,
      (before) =>
        reason ? { status, labels: { ...before.labels, [STATUS_REASON_LABEL]: reason } } : { status },
      meta,
      `identity.${status === 'active' ? 'activate' : status === 'disabled' ? 'disable' : 'quarantine'}`,
    );
  }

  async deleteIdentity(id: string, meta: WriteMeta): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const before = await store.lockIdentity(trx, this.dialect, id);
      if (!before) throw coreError('NOT_FOUND', `identity ${id} does not exist`, { field: 'params.id' });
      // Deleting would silently drop credential records (and their audit trail): make the caller do it explicitly.
      const cred = await trx
        .selectFrom('credentials')
        .select('id')
        .where('identity_id', '=', id)
        .executeTakeFirst();
      if (cred) {
        throw coreError(
          'CONFLICT',
          `identity ${id} still owns credential ${cred.id}; delete or move its credentials first`,
          {
            field: 'params.id',
          },
        );
      }
      // A dangling owner would make the owned identity look owned (no_owner misses it) and fail its next PATCH.
      const owned = await store.findOwnedBy(trx, id);
      const what = owned.identityId
        ? `identity ${owned.identityId}`
        : owned.resourceId
          ? `resource ${owned.resourceId}`
          : undefined;
      if (what) {
        throw coreError('CONFLICT', `identity ${id} is an owner of ${what}; change its owners first`, {
          field: 'params.id',
        });
      }
      await store.deleteIdentity(trx, id);
      await this.audit.record(trx, {
        ...auditMeta(meta),
        action: 'identity.delete',
        targetType: 'identity',
        targetId: id,
        before,
      });
    });
    await this.emit({ entity: 'identity', op: 'delete', id });
  }

  /** Records activity (detection and the broker call this); not audited, it is telemetry, not a change. */
  async touchIdentity(id: string, at: Date = this.now()): Promise<void> {
    await this.db
      .updateTable('identities')
      .set({ last_seen_at: at.toISOString() })
      .where('id', '=', id)
      .execute();
  }

  // ---- credentials ----

  async findCredential(id: string): Promise<Credential | undefined> {
    return store.findCredential(this.db, id);
  }

  async getCredential(id: string): Promise<Credential> {
    const c = await store.findCredential(this.db, id);
    if (!c) throw coreError('NOT_FOUND', `credential ${id} does not exist`, { field: 'id' });
    return c;
  }

  async listCredentials(q: CredentialListQuery): Promise<Page<Credential>> {
    const rows = await store.listCredentialRows(this.db, {
      identityId: q.identity_id,
      type: q.type,
      status: q.status,
      consumer: q.consumer,
      fingerprint: q.fingerprint,
      expiredBefore: q.expired ? this.now().toISOString() : undefined,
      afterId: decodeCursor(q.cursor),
      limit: q.limit + 1,
    });
    return toPage(rows, q.limit);
  }

  async createCredential(input: CredentialCreateInput, meta: WriteMeta): Promise<Credential> {
    const now = this.now().toISOString();
    const credential: Credential = {
      id: input.id ?? newId('cred'),
      identityId: input.identityId,
      type: input.type,
      fingerprint: input.fingerprint,
      status: input.status,
      scopes: dedupe(input.scopes),
      storedIn: dedupe(input.storedIn),
      consumers: dedupe(input.consumers),
      source: input.source,
      labels: input.labels,
      createdAt: now,
      updatedAt: now,
      lastUsedAt: input.lastUsedAt ?? null,
      expiresAt: input.expiresAt ?? null,
      lastRotatedAt: input.lastRotatedAt ?? null,
    };
    await this.writeTransaction('credentials', `credential ${credential.id}`, async (trx) => {
      if (await store.findCredential(trx, credential.id)) {
        throw coreError('CONFLICT', `credential ${credential.id} already exists`, { field: 'body.id' });
      }
      if (!(await store.findIdentity(trx, credential.identityId))) {
        throw coreError('VALIDATION_FAILED', `identity ${credential.identityId} does not exist`, {
          field: 'body.identityId',
        });
      }
      await this.checkIdentitiesExist(trx, credential.consumers, 'body.consumers');
      await store.insertCredential(trx, credential);
      await this.audit.record(trx, {
        ...auditMeta(meta),
        action: 'credential.create',
        targetType: 'credential',
        targetId: credential.id,
        after: credential,
      });
    });
    await this.emit({ entity: 'credential', op: 'create', id: credential.id });
    return credential;
  }

  async updateCredential(
    id: string,
    patch: CredentialPatchInput,
    meta: WriteMeta,
    action = 'credential.update',
  ): Promise<Credential> {
    return this.rewriteCredential(id, () => patch, meta, action);
  }

  /**
   * `patchOf` sees the row as locked in the write transaction; it returns undefined when there is nothing to
   * change (then nothing is written, audited or announced).
   */
  private async rewriteCredential(
    id: string,
    patchOf: (before: Credential) => CredentialPatchInput | undefined,
    meta: WriteMeta,
    action: string,
  ): Promise<Credential> {
    let changed = true;
    const updated = await this.db.transaction().execute(async (trx) => {
      const before = await store.lockCredential(trx, this.dialect, id);
      if (!before) throw coreError('NOT_FOUND', `credential ${id} does not exist`, { field: 'params.id' });
      const patch = patchOf(before);
      if (!patch) {
        changed = false;
        return before;
      }
      if (before.status === 'revoked' && patch.status === 'active') {
        // Revocation wins: a revoked credential is never resurrected; rotate to a new one instead.
        throw coreError('CONFLICT', `credential ${id} is revoked and cannot be re-activated`, {
          field: 'body.status',
        });
      }
      const after: Credential = {
        ...before,
        ...definedOnly({
          fingerprint: patch.fingerprint,
          status: patch.status,
          scopes: patch.scopes ? dedupe(patch.scopes) : undefined,
          storedIn: patch.storedIn ? dedupe(patch.storedIn) : undefined,
          consumers: patch.consumers ? dedupe(patch.consumers) : undefined,
          source: patch.source,
          labels: patch.labels,
          lastUsedAt: patch.lastUsedAt,
          expiresAt: patch.expiresAt,
          lastRotatedAt: patch.lastRotatedAt,
        }),
        updatedAt: this.now().toISOString(),
      };
      if (patch.consumers) await this.checkIdentitiesExist(trx, after.consumers, 'body.consumers');
      await store.updateCredential(trx, after);
      await this.audit.record(trx, {
        ...auditMeta(meta),
        action,
        targetType: 'credential',
        targetId: id,
        before,
        after,
      });
      return after;
    });
    if (changed) await this.emit({ entity: 'credential', op: 'update', id });
    return updated;
  }

  /** Revoking a revoked credential changes nothing; the reason is kept like an identity's status reason. */
  async revokeCredential(id: string, meta: WriteMeta, reason?: string): Promise<Credential> {
    return this.rewriteCredential(
      id,
      (before) => {
        if (before.status === 'revoked') return undefined;
        if (!reason) return { status: 'revoked' };
        return { status: 'revoked', labels: { ...before.labels, [STATUS_REASON_LABEL]: reason } };
      },
      meta,
      'credential.revoke',
    );
  }

  async deleteCredential(id: string, meta: WriteMeta): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const before = await store.lockCredential(trx, this.dialect, id);
      if (!before) throw coreError('NOT_FOUND', `credential ${id} does not exist`, { field: 'params.id' });
      await store.deleteCredential(trx, id);
      await this.audit.record(trx, {
        ...auditMeta(meta),
        action: 'credential.delete',
        targetType: 'credential',
        targetId: id,
        before,
      });
    });
    await this.emit({ entity: 'credential', op: 'delete', id });
  }

  // ---- resources ----

  async findResource(id: string): Promise<Resource | undefined> {
    return store.findResource(this.db, id);
  }

  async getResource(id: string): Promise<Resource> {
    const r = await store.findResource(this.db, id);
    if (!r) throw coreError('NOT_FOUND', `resource ${id} does not exist`, { field: 'id' });
    return r;
  }

  async listResources(q: ResourceListQuery): Promise<Page<Resource>> {
    const rows = await store.listResourceRows(this.db, {
      type: q.type,
      sensitivity: q.sensitivity,
      environment: q.environment,
      parentId: q.parent_id,
      afterId: decodeCursor(q.cursor),
      limit: q.limit + 1,
    });
    return toPage(rows, q.limit);
  }

  async createResource(input: ResourceCreateInput, meta: WriteMeta): Promise<Resource> {
    const now = this.now().toISOString();
    const resource: Resource = {
      id: input.id ?? newId('res'),
      type: input.type,
      displayName: input.displayName,
      sensitivity: input.sensitivity,
      environment: input.environment,
      owners: dedupe(input.owners),
      parentId: input.parentId ?? null,
      source: input.source,
      labels: input.labels,
      createdAt: now,
      updatedAt: now,
    };
    await this.writeTransaction('resources', `resource ${resource.id}`, async (trx) => {
      if (await store.findResource(trx, resource.id)) {
        throw coreError('CONFLICT', `resource ${resource.id} already exists`, { field: 'body.id' });
      }
      await this.checkParent(trx, resource.parentId, resource.id);
      await this.checkOwners(trx, resource.owners, 'body.owners');
      await store.insertResource(trx, resource);
      await this.audit.record(trx, {
        ...auditMeta(meta),
        action: 'resource.create',
        targetType: 'resource',
        targetId: resource.id,
        after: resource,
      });
    });
    await this.emit({ entity: 'resource', op: 'create', id: resource.id });
    return resource;
  }

  async updateResource(id: string, patch: ResourcePatchInput, meta: WriteMeta): Promise<Resource> {
    const updated = await this.db.transaction().execute(async (trx) => {
      const before = await store.lockResource(trx, this.dialect, id);
      if (!before) throw coreError('NOT_FOUND', `resource ${id} does not exist`, { field: 'params.id' });
      const after: Resource = {
        ...before,
        ...definedOnly({
          type: patch.type,
          displayName: patch.displayName,
          sensitivity: patch.sensitivity,
          environment: patch.environment,
          owners: patch.owners ? dedupe(patch.owners) : undefined,
          parentId: patch.parentId,
          source: patch.source,
          labels: patch.labels,
        }),
        updatedAt: this.now().toISOString(),
      };
      if (patch.parentId !== undefined) await this.checkParent(trx, after.parentId, id);
      if (patch.owners) await this.checkOwners(trx, after.owners, 'body.owners');
      await store.updateResource(trx, after);
      await this.audit.record(trx, {
        ...auditMeta(meta),
        action: 'resource.update',
        targetType: 'resource',
        targetId: id,
        before,
        after,
      });
      return after;
    });
    await this.emit({ entity: 'resource', op: 'update', id });
    return updated;
  }

  async deleteResource(id: string, meta: WriteMeta): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const before = await store.lockResource(trx, this.dialect, id);
      if (!before) throw coreError('NOT_FOUND', `resource ${id} does not exist`, { field: 'params.id' });
      const child = await trx
        .selectFrom('resources')
        .select('id')
        .where('parent_id', '=', id)
        .executeTakeFirst();
      if (child)
        throw coreError('CONFLICT', `resource ${id} still has child ${child.id}`, { field: 'params.id' });
      await store.deleteResource(trx, id);
      await this.audit.record(trx, {
        ...auditMeta(meta),
        action: 'resource.delete',
        targetType: 'resource',
        targetId: id,
        before,
      });
    });
    await this.emit({ entity: 'resource', op: 'delete', id });
  }

  async counts(): Promise<{ identities: number; credentials: number; resources: number }> {
    return store.countRows(this.db);
  }

  /**
   * Runs `body` in a write transaction. Its checks read only committed rows: two concurrent creates of one id
   * (or SPIFFE ID) both pass them and the unique index refuses the second, which is the conflict the checks
   * report, not a server error.
   */
  private async writeTransaction<T>(
    table: string,
    what: string,
    body: (trx: Transaction<Database>) => Promise<T>,
  ): Promise<T> {
    try {
      return await this.db.transaction().execute(body);
    } catch (err) {
      const column = store.duplicateKeyColumn(err, table);
      if (column === 'id') throw coreError('CONFLICT', `${what} already exists`, { field: 'body.id' });
      if (column === 'spiffe_id') {
        throw coreError('CONFLICT', 'SPIFFE ID already belongs to another identity', {
          field: 'body.spiffeId',
        });
      }
      throw err;
    }
  }

  // ---- reference checks ----

  /**
   * Owners that name an identity must exist and be a person (or a team): a machine cannot own a machine. Each
   * owner is read with a share lock (PostgreSQL), so a concurrent delete of that owner waits and then sees it
   * owns this record, or runs first and this check fails.
   */
  private async checkOwners(
    trx: Transaction<Database>,
    owners: string[],
    field: string,
    selfId?: string,
  ): Promise<void> {
    for (const [i, owner] of owners.entries()) {
      if (owner.startsWith('team:')) continue;
      if (owner === selfId)
        throw coreError('VALIDATION_FAILED', 'an identity cannot own itself', { field: `${field}[${i}]` });
      const o = await store.lockIdentity(trx, this.dialect, owner, 'share');
      if (!o)
        throw coreError('VALIDATION_FAILED', `owner ${owner} is not a known identity`, {
          field: `${field}[${i}]`,
        });
      if (o.kind !== 'human') {
        throw coreError(
          'VALIDATION_FAILED',
          `owner ${owner} is a ${o.kind}; owners are people or team:<name>`,
          {
            field: `${field}[${i}]`,
          },
        );
      }
    }
  }

  private async checkIdentitiesExist(db: DbOrTrx, ids: string[], field: string): Promise<void> {
    for (const [i, id] of ids.entries()) {
      if (!(await store.findIdentity(db, id))) {
        throw coreError('VALIDATION_FAILED', `identity ${id} does not exist`, { field: `${field}[${i}]` });
      }
    }
  }

  private async checkUniqueSpiffe(db: DbOrTrx, spiffeId: string | null, selfId: string): Promise<void> {
    if (!spiffeId) return;
    const other = await db
      .selectFrom('identities')
      .select('id')
      .where('spiffe_id', '=', spiffeId)
      .executeTakeFirst();
    if (other && other.id !== selfId) {
      throw coreError('CONFLICT', `SPIFFE ID already belongs to identity ${other.id}`, {
        field: 'body.spiffeId',
      });
    }
  }

  private async checkParent(db: DbOrTrx, parentId: string | null, selfId: string): Promise<void> {
    // Walk up the chain: a missing parent or a cycle would break hierarchical policy evaluation.
    let cursor = parentId;
    for (let depth = 0; cursor !== null; depth += 1) {
      if (cursor === selfId || depth > 32) {
        throw coreError(
          'VALIDATION_FAILED',
          'resource parent chain would form a cycle or is deeper than 32',
          {
            field: 'body.parentId',
          },
        );
      }
      const parent = await store.findResource(db, cursor);
      if (!parent)
        throw coreError('VALIDATION_FAILED', `parent resource ${cursor} does not exist`, {
          field: 'body.parentId',
        });
      cursor = parent.parentId;
    }
  }
}

function dedupe(values: string[]): string[] {
  return [...new Set(values)];
}

function definedOnly<T extends Record<string, unknown>>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function auditMeta(meta: WriteMeta): { actor: string; requestId: string | undefined } {
  return { actor: meta.actor, requestId: meta.requestId };
}
