/** SQL for the inventory. Runs unchanged on SQLite and PostgreSQL; every function takes a db or a transaction. */
import type { Transaction } from 'kysely';
import type { DbOrTrx } from '../audit/audit-log.js';
import type { Database } from '../store/database.js';
import type { Dialect } from '../store/migration-types.js';
import type { Credential, Identity, Resource } from './types.js';
import {
  credentialFromRow,
  credentialToRow,
  identityFromRow,
  identityToRow,
  resourceFromRow,
  resourceToRow,
} from './rows.js';

export interface IdentityFilter {
  kind?: string | undefined;
  owner?: string | undefined;
  environment?: string | undefined;
  status?: string | undefined;
  source?: string | undefined;
  /** Only identities not seen (or, never seen, not created) since this ISO time. */
  staleBefore?: string | undefined;
  noOwner?: boolean | undefined;
  spiffeId?: string | undefined;
  cloudArn?: string | undefined;
  k8sServiceAccount?: string | undefined;
  afterId?: string | undefined;
  limit: number;
}

export async function findIdentity(db: DbOrTrx, id: string): Promise<Identity | undefined> {
  const row = await db.selectFrom('identities').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? identityFromRow(row) : undefined;
}

/**
 * Reads a row the caller is about to rewrite whole, inside its write transaction. On PostgreSQL the row stays
 * locked until the transaction ends: under READ COMMITTED an unlocked read lets two writers start from the
 * same row and the second overwrite the first (a PATCH undoing a quarantine). SQLite has no row locks and
 * needs none: its writers are serialised, and Kysely runs a transaction's statements on the one connection.
 * `share` is for a row the caller only refers to: it cannot change or be deleted until the caller commits.
 */
export async function lockIdentity(
  trx: Transaction<Database>,
  dialect: Dialect,
  id: string,
  mode: 'update' | 'share' = 'update',
): Promise<Identity | undefined> {
  const q = trx.selectFrom('identities').selectAll().where('id', '=', id);
  const locked = mode === 'update' ? q.forUpdate() : q.forShare();
  const row = await (dialect === 'postgres' ? locked : q).executeTakeFirst();
  return row ? identityFromRow(row) : undefined;
}

export async function listIdentityRows(db: DbOrTrx, f: IdentityFilter): Promise<Identity[]> {
  let q = db.selectFrom('identities').selectAll('identities');
  if (f.kind) q = q.where('kind', '=', f.kind);
  if (f.environment) q = q.where('environment', '=', f.environment);
  if (f.status) q = q.where('status', '=', f.status);
  if (f.source) q = q.where('source', '=', f.source);
  if (f.spiffeId) q = q.where('spiffe_id', '=', f.spiffeId);
  if (f.cloudArn) q = q.where('cloud_arn', '=', f.cloudArn);
  if (f.k8sServiceAccount) q = q.where('k8s_service_account', '=', f.k8sServiceAccount);
  if (f.noOwner) q = q.where('owner_count', '=', 0);
  if (f.owner) {
    const owner = f.owner;
    q = q.where('id', 'in', (sub) =>
      sub.selectFrom('identity_owners').select('identity_owners.identity_id').where('owner', '=', owner),
    );
  }
  if (f.staleBefore) {
    const cutoff = f.staleBefore;
    q = q.where((eb) =>
      eb.or([
        eb.and([eb('last_seen_at', 'is', null), eb('created_at', '<', cutoff)]),
        eb('last_seen_at', '<', cutoff),
      ]),
    );
  }
  if (f.afterId) q = q.where('id', '>', f.afterId);
  const rows = await q.orderBy('id', 'asc').limit(f.limit).execute();
  return rows.map(identityFromRow);
}

/**
 * The first identity and the first resource that name `owner` among their owners. Resource owners live only in
 * the row's JSON list: the LIKE narrows, the parsed list decides (`_` in an id is a LIKE wildcard).
 */
export async function findOwnedBy(
  db: DbOrTrx,
  owner: string,
): Promise<{ identityId: string | undefined; resourceId: string | undefined }> {
  const identity = await db
    .selectFrom('identity_owners')
    .select('identity_id')
    .where('owner', '=', owner)
    .orderBy('identity_id')
    .executeTakeFirst();
  const candidates = await db
    .selectFrom('resources')
    .select(['id', 'owners'])
    .where('owners', 'like', `%${JSON.stringify(owner)}%`)
    .orderBy('id')
    .execute();
  const resource = candidates.find((r) => (JSON.parse(r.owners) as string[]).includes(owner));
  return { identityId: identity?.identity_id, resourceId: resource?.id };
}

export async function insertIdentity(db: DbOrTrx, identity: Identity): Promise<void> {
  await db.insertInto('identities').values(identityToRow(identity)).execute();
  await replaceOwners(db, identity.id, identity.owners);
}

export async function updateIdentity(db: DbOrTrx, identity: Identity): Promise<void> {
  const { id: _id, created_at: _created, ...rest } = identityToRow(identity);
  await db.updateTable('identities').set(rest).where('id', '=', identity.id).execute();
  await replaceOwners(db, identity.id, identity.owners);
}

export async function deleteIdentity(db: DbOrTrx, id: string): Promise<void> {
  // Explicit child deletes: SQLite enforces ON DELETE CASCADE only with foreign_keys on, and we do not rely on it.
  await db.deleteFrom('identity_owners').where('identity_id', '=', id).execute();
  const creds = await db.selectFrom('credentials').select('id').where('identity_id', '=', id).execute();
  for (const c of creds) await deleteCredential(db, c.id);
  await db.deleteFrom('identities').where('id', '=', id).execute();
}

async function replaceOwners(db: DbOrTrx, identityId: string, owners: string[]): Promise<void> {
  await db.deleteFrom('identity_owners').where('identity_id', '=', identityId).execute();
  if (owners.length > 0) {
    await db
      .insertInto('identity_owners')
      .values(owners.map((owner) => ({ identity_id: identityId, owner })))
      .execute();
  }
}

export interface CredentialFilter {
  identityId?: string | undefined;
  type?: string | undefined;
  status?: string | undefined;
  consumer?: string | undefined;
  fingerprint?: string | undefined;
  expiredBefore?: string | undefined;
  afterId?: string | undefined;
  limit: number;
}

export async function findCredential(db: DbOrTrx, id: string): Promise<Credential | undefined> {
  const row = await db.selectFrom('credentials').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? credentialFromRow(row) : undefined;
}

/** Reads a credential to rewrite it; see `lockIdentity`. */
export async function lockCredential(
  trx: Transaction<Database>,
  dialect: Dialect,
  id: string,
): Promise<Credential | undefined> {
  const q = trx.selectFrom('credentials').selectAll().where('id', '=', id);
  const row = await (dialect === 'postgres' ? q.forUpdate() : q).executeTakeFirst();
  return row ? credentialFromRow(row) : undefined;
}

export async function listCredentialRows(db: DbOrTrx, f: CredentialFilter): Promise<Credential[]> {
  let q = db.selectFrom('credentials').selectAll('credentials');
  if (f.identityId) q = q.where('identity_id', '=', f.identityId);
  if (f.type) q = q.where('type', '=', f.type);
  if (f.status) q = q.where('status', '=', f.status);
  if (f.fingerprint) q = q.where('fingerprint', '=', f.fingerprint);
  if (f.expiredBefore) q = q.where('expires_at', '<', f.expiredBefore);
  if (f.consumer) {
    const consumer = f.consumer;
    q = q.where('id', 'in', (sub) =>
      sub
        .selectFrom('credential_consumers')
        .select('credential_consumers.credential_id')
        .where('credential_consumers.identity_id', '=', consumer),
    );
  }
  if (f.afterId) q = q.where('id', '>', f.afterId);
  const rows = await q.orderBy('id', 'asc').limit(f.limit).execute();
  return rows.map(credentialFromRow);
}

export async function insertCredential(db: DbOrTrx, credential: Credential): Promise<void> {
  await db.insertInto('credentials').values(credentialToRow(credential)).execute();
  await replaceConsumers(db, credential.id, credential.consumers);
}

export async function updateCredential(db: DbOrTrx, credential: Credential): Promise<void> {
  const { id: _id, created_at: _created, ...rest } = credentialToRow(credential);
  await db.updateTable('credentials').set(rest).where('id', '=', credential.id).execute();
  await replaceConsumers(db, credential.id, credential.consumers);
}

export async function deleteCredential(db: DbOrTrx, id: string): Promise<void> {
  await db.deleteFrom('credential_consumers').where('credential_id', '=', id).execute();
  await db.deleteFrom('credentials').where('id', '=', id).execute();
}

async function replaceConsumers(db: DbOrTrx, credentialId: string, consumers: string[]): Promise<void> {
  await db.deleteFrom('credential_consumers').where('credential_id', '=', credentialId).execute();
  if (consumers.length > 0) {
    await db
      .insertInto('credential_consumers')
      .values(consumers.map((identity_id) => ({ credential_id: credentialId, identity_id })))
      .execute();
  }
}

export interface ResourceFilter {
  type?: string | undefined;
  sensitivity?: string | undefined;
  environment?: string | undefined;
  parentId?: string | undefined;
  afterId?: string | undefined;
  limit: number;
}

export async function findResource(db: DbOrTrx, id: string): Promise<Resource | undefined> {
  const row = await db.selectFrom('resources').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? resourceFromRow(row) : undefined;
}

/** Reads a resource to rewrite it; see `lockIdentity`. */
export async function lockResource(
  trx: Transaction<Database>,
  dialect: Dialect,
  id: string,
): Promise<Resource | undefined> {
  const q = trx.selectFrom('resources').selectAll().where('id', '=', id);
  const row = await (dialect === 'postgres' ? q.forUpdate() : q).executeTakeFirst();
  return row ? resourceFromRow(row) : undefined;
}

export async function listResourceRows(db: DbOrTrx, f: ResourceFilter): Promise<Resource[]> {
  let q = db.selectFrom('resources').selectAll();
  if (f.type) q = q.where('type', '=', f.type);
  if (f.sensitivity) q = q.where('sensitivity', '=', f.sensitivity);
  if (f.environment) q = q.where('environment', '=', f.environment);
  if (f.parentId) q = q.where('parent_id', '=', f.parentId);
  if (f.afterId) q = q.where('id', '>', f.afterId);
  const rows = await q.orderBy('id', 'asc').limit(f.limit).execute();
  return rows.map(resourceFromRow);
}

export async function insertResource(db: DbOrTrx, resource: Resource): Promise<void> {
  await db.insertInto('resources').values(resourceToRow(resource)).execute();
}

export async function updateResource(db: DbOrTrx, resource: Resource): Promise<void> {
  const { id: _id, created_at: _created, ...rest } = resourceToRow(resource);
  await db.updateTable('resources').set(rest).where('id', '=', resource.id).execute();
}

export async function deleteResource(db: DbOrTrx, id: string): Promise<void> {
  await db.deleteFrom('resources').where('id', '=', id).execute();
}

/**
 * The column of `table` whose unique index refused a write, if that is what `err` is: PostgreSQL's 23505
 * ("Key (spiffe_id)=(...) already exists.") or better-sqlite3's constraint error ("UNIQUE constraint failed:
 * identities.spiffe_id").
 */
export function duplicateKeyColumn(err: unknown, table: string): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; table?: unknown; detail?: unknown; message?: unknown };
  if (e.code === '23505' && e.table === table && typeof e.detail === 'string') {
    return /^Key \(([a-z_]+)\)=/.exec(e.detail)?.[1];
  }
  if (
    (e.code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || e.code === 'SQLITE_CONSTRAINT_UNIQUE') &&
    typeof e.message === 'string'
  ) {
    const m = /constraint failed: ([a-z_]+)\.([a-z_]+)$/.exec(e.message);
    return m?.[1] === table ? m[2] : undefined;
  }
  return undefined;
}

export async function countRows(
  db: DbOrTrx,
): Promise<{ identities: number; credentials: number; resources: number }> {
  const one = async (table: 'identities' | 'credentials' | 'resources') => {
    const r = await db
      .selectFrom(table)
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    return Number(r.n);
  };
  return {
    identities: await one('identities'),
    credentials: await one('credentials'),
    resources: await one('resources'),
  };
}
