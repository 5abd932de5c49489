/**
 * The broker's Ed25519 signing keys with `kid` rotation. One key signs; keys it replaced keep verifying for an
 * overlap (at least the longest token lifetime, so no valid token is stranded by a rotation) and then leave the
 * JWKS, after which tokens they signed are refused. Private keys live encrypted in the store and decrypted
 * only in memory.
 */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import type { AuditLog } from '../../audit/audit-log.js';
import { brokerError } from '../errors.js';
import { coreTrx, type BrokerDb, type BrokerSigningKeyTable } from '../tables.js';
import { openSecret, sealSecret } from './master-key.js';

export interface PublicJwk {
  kty: string;
  crv: string;
  x: string;
  kid: string;
  alg: 'EdDSA';
  use: 'sig';
}

interface LoadedKey {
  kid: string;
  publicKey: KeyObject;
  privateKey: KeyObject | undefined;
  jwk: PublicJwk;
  createdAt: string;
  retiredAt: string | null;
  expiresAt: string | null;
}

export interface KeyInfo {
  kid: string;
  status: 'active' | 'retiring' | 'expired';
  created_at: string;
  retired_at: string | null;
  expires_at: string | null;
}

export class SigningKeys {
  private keys = new Map<string, LoadedKey>();
  private current: LoadedKey | undefined;
  private lastReload = 0;

  constructor(
    private readonly db: BrokerDb,
    private readonly masterKey: Buffer,
    private readonly audit: AuditLog,
    private readonly now: () => Date,
    /** How long a replaced key keeps verifying. */
    readonly overlapMs: number,
  ) {}

  /** Loads the keys and creates the first one if the store has none. */
  async start(): Promise<void> {
    await this.reload();
    if (!this.current) await this.rotate('system:broker');
  }

  async reload(): Promise<void> {
    const rows = await this.db.selectFrom('broker_signing_keys').selectAll().execute();
    const next = new Map<string, LoadedKey>();
    let current: LoadedKey | undefined;
    for (const row of rows) {
      const loaded = this.keys.get(row.kid) ?? this.load(row);
      loaded.retiredAt = row.retired_at;
      loaded.expiresAt = row.expires_at;
      next.set(row.kid, loaded);
      if (row.retired_at === null && (!current || row.created_at > current.createdAt)) current = loaded;
    }
    this.keys = next;
    this.current = current;
    this.lastReload = this.now().getTime();
  }

  private load(row: BrokerSigningKeyTable): LoadedKey {
    const der = openSecret(this.masterKey, row.private_enc, row.kid);
    const privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    return {
      kid: row.kid,
      publicKey: createPublicKey(privateKey),
      privateKey,
      jwk: JSON.parse(row.public_jwk) as PublicJwk,
      createdAt: row.created_at,
      retiredAt: row.retired_at,
      expiresAt: row.expires_at,
    };
  }

  /** The key that signs new tokens. */
  signer(): { kid: string; key: KeyObject } {
    const k = this.current;
    if (!k?.privateKey) throw new Error('broker signing keys not started');
    return { kid: k.kid, key: k.privateKey };
  }

  /**
   * The public key for a `kid` if it may still verify at `at`; an unknown kid triggers one reload (another
   * replica may have rotated), rate-limited so garbage kids cannot hammer the store.
   */
  async verificationKey(kid: string | undefined): Promise<KeyObject> {
    if (typeof kid !== 'string') throw brokerError('TOKEN_KEY_UNKNOWN', 'the token header has no kid');
    let k = this.keys.get(kid);
    if (!k && this.now().getTime() - this.lastReload > 5000) {
      await this.reload();
      k = this.keys.get(kid);
    }
    if (!k || (k.expiresAt !== null && k.expiresAt <= this.now().toISOString())) {
      throw brokerError('TOKEN_KEY_UNKNOWN', `kid ${kid} is not a current broker signing key`);
    }
    return k.publicKey;
  }

  /** Synchronous variant for the hot path when the kid is known. */
  knownKey(kid: unknown): KeyObject | undefined {
    if (typeof kid !== 'string') return undefined;
    const k = this.keys.get(kid);
    if (!k || (k.expiresAt !== null && k.expiresAt <= this.now().toISOString())) return undefined;
    return k.publicKey;
  }

  /** RFC 7517 key set: every key that may still verify. */
  jwks(): { keys: PublicJwk[] } {
    const now = this.now().toISOString();
    return {
      keys: [...this.keys.values()]
        .filter((k) => k.expiresAt === null || k.expiresAt > now)
        .sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1))
        .map((k) => k.jwk),
    };
  }

  list(): KeyInfo[] {
    const now = this.now().toISOString();
    return [...this.keys.values()]
      .sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1))
      .map((k) => ({
        kid: k.kid,
        status:
          k.retiredAt === null
            ? 'active'
            : k.expiresAt !== null && k.expiresAt <= now
              ? 'expired'
              : 'retiring',
        created_at: k.createdAt,
        retired_at: k.retiredAt,
        expires_at: k.expiresAt,
      }));
  }

  /**
   * Creates a new signing key and retires the current one, which keeps verifying for `overlapMs`.
   * @example await keys.rotate('key:admin'); // old tokens stay valid until they expire
   */
  async rotate(actor: string, requestId?: string): Promise<KeyInfo> {
    const now = this.now();
    const { privateKey } = generateKeyPairSync('ed25519');
    const kid = `${now.toISOString().slice(0, 10).replace(/-/g, '')}-${randomBytes(6).toString('base64url')}`;
    const pub = createPublicKey(privateKey).export({ format: 'jwk' });
    const jwk: PublicJwk = { kty: 'OKP', crv: 'Ed25519', x: String(pub.x), kid, alg: 'EdDSA', use: 'sig' };
    const der = privateKey.export({ format: 'der', type: 'pkcs8' });
    const row: BrokerSigningKeyTable = {
      kid,
      alg: 'EdDSA',
      public_jwk: JSON.stringify(jwk),
      private_enc: sealSecret(this.masterKey, der, kid),
      created_at: now.toISOString(),
      retired_at: null,
      expires_at: null,
    };
    const retireUntil = new Date(now.getTime() + this.overlapMs).toISOString();
    await this.db.transaction().execute(async (trx) => {
      const retiring = await trx
        .selectFrom('broker_signing_keys')
        .select('kid')
        .where('retired_at', 'is', null)
        .execute();
      await trx
        .updateTable('broker_signing_keys')
        .set({ retired_at: now.toISOString(), expires_at: retireUntil })
        .where('retired_at', 'is', null)
        .execute();
      await trx.insertInto('broker_signing_keys').values(row).execute();
      await this.audit.record(coreTrx(trx), {
        actor,
        action: 'broker.key.rotate',
        targetType: 'signing_key',
        targetId: kid,
        requestId,
        // Only public facts go to the audit log.
        before: { retiring: retiring.map((r) => r.kid), expires_at: retireUntil },
        after: { kid, alg: 'EdDSA', created_at: row.created_at },
      });
    });
    await this.reload();
    const info = this.list().find((k) => k.kid === kid);
    if (!info) throw new Error('rotated key vanished');
    return info;
  }

  /** Age of the signing key, for scheduled rotation. */
  currentAgeMs(): number {
    return this.current ? this.now().getTime() - Date.parse(this.current.createdAt) : Infinity;
  }
}
