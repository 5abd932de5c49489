/**
 * Admin API keys. A key is `bh_<id>_<secret>`; only its SHA-256 is stored (the secret has 256 bits of
 * entropy, so a slow hash adds nothing), looked up by that hash and compared in constant time.
 * Scopes are ordered: `admin` ⊃ `write` ⊃ `read`.
 */
import * as nodeCrypto from 'node:crypto';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { AuditLog } from '../audit/audit-log.js';
import type { InventoryService } from '../inventory/service.js';
import { localFeed, type ChangeFeed } from '../store/change-feed.js';
import type { ApiKeysTable, Database } from '../store/database.js';
import { writeInRelaxedChunks } from '../store/durability.js';
import { coreError } from '../errors.js';

export const API_KEY_SCOPES = ['read', 'write', 'admin'] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];

const SCOPE_RANK: Record<ApiKeyScope, number> = { read: 1, write: 2, admin: 3 };

export interface ApiKey {
  id: string;
  name: string;
  scopes: ApiKeyScope[];
  createdAt: string;
  createdBy: string;
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
  /** The person this key acts for, if any (required to approve requests). */
  identityId: string | null;
}

export interface Actor {
  kind: 'api_key';
  keyId: string;
  scopes: ApiKeyScope[];
  /** `api_key:<id>`, as written to the audit log. */
  name: string;
  /** The person the key is bound to, if any. */
  identityId: string | null;
}

export const BOOTSTRAP_ENV_KEY_ID = 'bootstrap-env';

/**
 * Node's one-shot `crypto.hash` (20.12 and later): about twice as fast as a Hash object, and a token is hashed
 * on every authenticated request.
 */
const oneShotHash = (nodeCrypto as { hash?: (algorithm: string, data: string, encoding: 'hex') => string })
  .hash;

export function hashToken(token: string): string {
  return oneShotHash
    ? oneShotHash('sha256', token, 'hex')
    : createHash('sha256').update(token, 'utf8').digest('hex');
}

export function hasScope(granted: readonly ApiKeyScope[], required: ApiKeyScope): boolean {
  return granted.some((s) => SCOPE_RANK[s] >= SCOPE_RANK[required]);
}

function newKeyMaterial(): { id: string; token: string } {
  const id = randomBytes(6).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  return { id, token: `bh_${id}_${secret}` };
}

function toApiKey(row: ApiKeysTable): ApiKey {
  return {
    id: row.id,
    name: row.name,
    scopes: JSON.parse(row.scopes) as ApiKeyScope[],
    createdAt: row.created_at,
    createdBy: row.created_by,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
    lastUsedAt: row.last_used_at,
    identityId: row.identity_id,
  };
}

/** A key row as looked up for authentication, with the status of the person it is bound to (null: none). */
interface KeyLookup {
  row: ApiKeysTable;
  identityStatus: string | null;
}

export interface CreateApiKeyInput {
  name: string;
  scopes: ApiKeyScope[];
  expiresAt?: string | null | undefined;
  identityId?: string | null | undefined;
}

/**
 * How long a successful key lookup is reused without reading the store again. A key revoked through this
 * server stops working at once (the entry is dropped); one revoked on another replica as soon as the
 * revocation is announced (PostgreSQL LISTEN/NOTIFY), and within this time at worst.
 */
export const AUTH_CACHE_MS = 2000;
const AUTH_CACHE_ENTRIES = 1024;

export class ApiKeyService {
  /** Last-used timestamps are written at most this often per key, so reads do not turn into writes. */
  private readonly lastUsedWrites = new Map<string, number>();
  /** Token hash -> key row, for valid keys only (an unknown token never fills the cache). */
  private readonly verified = new Map<string, KeyLookup & { at: number }>();
  /**
   * Bumped by every revocation and every identity change, so a lookup that raced one does not cache what it
   * read before.
   */
  private invalidations = 0;

  /**
   * `inventory`: where changes to people are announced, so a key stops working as soon as the person it is
   * bound to is quarantined, disabled or deleted (without it, within the cache time).
   */
  constructor(
    private readonly db: Kysely<Database>,
    private readonly audit: AuditLog,
    private readonly now: () => Date = () => new Date(),
    private readonly cacheMs = AUTH_CACHE_MS,
    private readonly feed: ChangeFeed = localFeed,
    private readonly inventory?: Pick<InventoryService, 'onChange'>,
  ) {}

  private listening = false;

  /** Creates a key and returns its token: the only time the token is ever visible. */
  async create(
    input: CreateApiKeyInput,
    actor: string,
    requestId?: string,
    fixedToken?: { id: string; token: string },
  ): Promise<{ key: ApiKey; token: string }> {
    const material = fixedToken ?? newKeyMaterial();
    const row: ApiKeysTable = {
      id: material.id,
      name: input.name,
      token_hash: hashToken(material.token),
      scopes: JSON.stringify([...new Set(input.scopes)]),
      created_at: this.now().toISOString(),
      created_by: actor,
      expires_at: input.expiresAt ?? null,
      revoked_at: null,
      last_used_at: null,
      identity_id: input.identityId ?? null,
    };
    await this.db.transaction().execute(async (trx) => {
      await trx.insertInto('api_keys').values(row).execute();
      await this.audit.record(trx, {
        actor,
        action: 'api_key.create',
        targetType: 'api_key',
        targetId: row.id,
        requestId,
        after: toApiKey(row),
      });
    });
    return { key: toApiKey(row), token: material.token };
  }

  /**
   * Resolves a presented token to an actor, or undefined. Expired and revoked keys fail the same way as
   * unknown ones so a caller learns nothing about which keys exist. A valid key bound to a person who is no
   * longer active (quarantined, disabled, deleted) is refused with an UNAUTHENTICATED error saying so: the
   * holder already proved they have the key, and a person's key must not outlive their access.
   */
  async authenticate(token: string): Promise<Actor | undefined> {
    if (token.length < 16 || token.length > 512) return undefined;
    const presented = hashToken(token);
    const found = await this.lookup(presented);
    if (!found) return undefined;
    const { row, identityStatus } = found;
    const a = Buffer.from(row.token_hash, 'hex');
    const b = Buffer.from(presented, 'hex');
    if (a.length !== b.length || !timingSafeEqual(a, b)) return undefined;
    const now = this.now();
    if (row.revoked_at !== null) return undefined;
    if (row.expires_at !== null && Date.parse(row.expires_at) <= now.getTime()) return undefined;
    if (row.identity_id !== null && identityStatus !== 'active') {
      throw coreError(
        'UNAUTHENTICATED',
        `the identity this key is bound to (${row.identity_id}) ${identityStatus === null ? 'no longer exists' : `is ${identityStatus}`}`,
        { extra: { identity_id: row.identity_id } },
      );
    }
    await this.touch(row.id, now);
    return {
      kind: 'api_key',
      keyId: row.id,
      scopes: JSON.parse(row.scopes) as ApiKeyScope[],
      name: `api_key:${row.id}`,
      identityId: row.identity_id,
    };
  }

  private async lookup(tokenHash: string): Promise<KeyLookup | undefined> {
    if (!this.listening && this.cacheMs > 0) {
      // Only a process that authenticates (a server) listens for other replicas' revocations and changes.
      this.listening = true;
      this.feed.subscribe(
        'api_key.revoked',
        (data) => {
          const id = (data as { id?: unknown } | null)?.id;
          if (typeof id === 'string') this.forget((row) => row.id === id);
        },
        () => this.forgetAll(),
      );
      this.inventory?.onChange(
        (change) => {
          if (change.entity === 'identity') this.forget((row) => row.identity_id === change.id);
        },
        { replicas: true, resync: () => this.forgetAll() },
      );
    }
    const hit = this.verified.get(tokenHash);
    const t = performance.now();
    if (hit && t - hit.at < this.cacheMs) return hit;
    const generation = this.invalidations;
    const found = await this.db
      .selectFrom('api_keys')
      .leftJoin('identities', 'identities.id', 'api_keys.identity_id')
      .selectAll('api_keys')
      .select('identities.status as identity_status')
      .where('api_keys.token_hash', '=', tokenHash)
      .executeTakeFirst();
    this.verified.delete(tokenHash);
    if (!found) return undefined;
    const { identity_status: identityStatus, ...row } = found;
    if (row.revoked_at === null && this.cacheMs > 0 && generation === this.invalidations) {
      if (this.verified.size >= AUTH_CACHE_ENTRIES) this.verified.delete(this.verified.keys().next().value!);
      this.verified.set(tokenHash, { row, identityStatus, at: t });
    }
    return { row, identityStatus };
  }

  private forget(matches: (row: ApiKeysTable) => boolean): void {
    this.invalidations++;
    for (const [hash, entry] of this.verified) if (matches(entry.row)) this.verified.delete(hash);
  }

  /** After a replica listener reconnects, changes may have been missed: look every key up again. */
  private forgetAll(): void {
    this.invalidations++;
    this.verified.clear();
  }

  private async touch(id: string, now: Date): Promise<void> {
    const last = this.lastUsedWrites.get(id) ?? 0;
    if (now.getTime() - last < 60_000) return;
    this.lastUsedWrites.set(id, now.getTime());
    // A usage statistic, not a change: a relaxed commit (off the event loop on SQLite), so the first request
    // of each key each minute does not wait for an fsync.
    await writeInRelaxedChunks(this.db, [id], 1, ([key]) => [
      this.db
        .updateTable('api_keys')
        .set({ last_used_at: now.toISOString() })
        .where('id', '=', key!)
        .compile(),
    ]);
  }

  async list(): Promise<ApiKey[]> {
    const rows = await this.db.selectFrom('api_keys').selectAll().orderBy('created_at', 'asc').execute();
    return rows.map(toApiKey);
  }

  async revoke(id: string, actor: string, requestId?: string): Promise<ApiKey> {
    const revoked = await this.db.transaction().execute(async (trx) => {
      const row = await trx.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirst();
      if (!row) throw coreError('NOT_FOUND', `API key ${id} does not exist`, { field: 'params.id' });
      if (row.revoked_at !== null) return toApiKey(row);
      const revokedAt = this.now().toISOString();
      await trx.updateTable('api_keys').set({ revoked_at: revokedAt }).where('id', '=', id).execute();
      const after = { ...toApiKey(row), revokedAt };
      await this.audit.record(trx, {
        actor,
        action: 'api_key.revoke',
        targetType: 'api_key',
        targetId: id,
        requestId,
        before: toApiKey(row),
        after,
      });
      return after;
    });
    // After the commit: a lookup that read the row before it is not cached (see `invalidations`).
    this.forget((row) => row.id === id);
    this.feed.publish('api_key.revoked', { id });
    return revoked;
  }

  async hasActiveAdminKey(): Promise<boolean> {
    const rows = await this.db
      .selectFrom('api_keys')
      .select(['scopes', 'expires_at'])
      .where('revoked_at', 'is', null)
      .execute();
    const now = this.now().getTime();
    return rows.some(
      (r) =>
        (r.expires_at === null || Date.parse(r.expires_at) > now) &&
        (JSON.parse(r.scopes) as ApiKeyScope[]).includes('admin'),
    );
  }

  /**
   * Makes `BULKHEAD_ADMIN_TOKEN` a valid admin key (as Vault's dev root token). If the variable changed since
   * the last start, the previous env-provided key is revoked: only the current value works. A value that was
   * revoked (an admin revoked it because it leaked, or it was replaced) is never made valid again: the result
   * is then `revoked` and the caller must tell the operator to set a new value.
   */
  async ensureEnvAdminToken(token: string): Promise<'active' | 'revoked'> {
    const hash = hashToken(token);
    const { state, replaced } = await this.db.transaction().execute(async (trx) => {
      const existing = await trx
        .selectFrom('api_keys')
        .selectAll()
        .where('id', '=', BOOTSTRAP_ENV_KEY_ID)
        .executeTakeFirst();
      if (existing && existing.token_hash === hash) {
        return { state: existing.revoked_at === null ? 'active' : 'revoked', replaced: undefined } as const;
      }
      const replaced = existing && (await this.retireEnvKey(trx, existing)) ? existing : undefined;
      const revoked = await trx
        .selectFrom('api_keys')
        .select('id')
        .where('token_hash', '=', hash)
        .where('revoked_at', 'is not', null)
        .executeTakeFirst();
      if (revoked) return { state: 'revoked', replaced } as const;
      const row: ApiKeysTable = {
        id: BOOTSTRAP_ENV_KEY_ID,
        name: 'bootstrap (BULKHEAD_ADMIN_TOKEN)',
        token_hash: hash,
        scopes: JSON.stringify(['admin']),
        created_at: this.now().toISOString(),
        created_by: 'system',
        expires_at: null,
        revoked_at: null,
        last_used_at: null,
        identity_id: null,
      };
      // Replicas starting together with the same value each try to insert it: the first one wins, the others
      // find its row (PostgreSQL waits for the winner's commit) instead of failing to start.
      const inserted = await trx
        .insertInto('api_keys')
        .values(row)
        .onConflict((oc) => oc.doNothing())
        .executeTakeFirst();
      if (inserted.numInsertedOrUpdatedRows === 0n) {
        const winner = await trx
          .selectFrom('api_keys')
          .select('revoked_at')
          .where('id', '=', BOOTSTRAP_ENV_KEY_ID)
          .where('token_hash', '=', hash)
          .executeTakeFirst();
        if (!winner) throw new Error('another replica set a different BULKHEAD_ADMIN_TOKEN at the same time');
        return { state: winner.revoked_at === null ? 'active' : 'revoked', replaced } as const;
      }
      await this.audit.record(trx, {
        actor: 'system',
        action: 'api_key.create',
        targetType: 'api_key',
        targetId: BOOTSTRAP_ENV_KEY_ID,
        after: toApiKey(row),
      });
      return { state: 'active', replaced } as const;
    });
    if (replaced?.revoked_at === null) {
      this.forget((row) => row.id === BOOTSTRAP_ENV_KEY_ID);
      this.feed.publish('api_key.revoked', { id: BOOTSTRAP_ENV_KEY_ID });
    }
    return state;
  }

  /**
   * Keeps a previous env key, revoked, under an id of its own rather than deleting it: its hash stays on
   * record, so setting the variable back to that value cannot make it valid again. False when another replica
   * starting at the same time retired it first.
   */
  private async retireEnvKey(trx: Transaction<Database>, existing: ApiKeysTable): Promise<boolean> {
    const retired: ApiKeysTable = {
      ...existing,
      id: `${BOOTSTRAP_ENV_KEY_ID}-${randomBytes(6).toString('hex')}`,
      revoked_at: existing.revoked_at ?? this.now().toISOString(),
    };
    const updated = await trx
      .updateTable('api_keys')
      .set({ id: retired.id, revoked_at: retired.revoked_at })
      .where('id', '=', BOOTSTRAP_ENV_KEY_ID)
      .where('token_hash', '=', existing.token_hash)
      .executeTakeFirst();
    if (updated.numUpdatedRows === 0n) return false;
    await this.audit.record(trx, {
      actor: 'system',
      action: 'api_key.retire',
      targetType: 'api_key',
      targetId: retired.id,
      before: toApiKey(existing),
      after: toApiKey(retired),
    });
    return true;
  }
}
