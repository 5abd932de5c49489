/** Tables owned by the broker, joined onto the core schema with `withTables` (the core type is not edited). */
import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../store/database.js';

/** One Ed25519 signing key. The private half is AES-256-GCM ciphertext under the master key. */
export interface BrokerSigningKeyTable {
  kid: string;
  alg: string;
  public_jwk: string;
  private_enc: string;
  created_at: string;
  /** Set when a newer key took over signing; the key still verifies until `expires_at`. */
  retired_at: string | null;
  /** After this the key is gone from the JWKS and tokens it signed are refused. */
  expires_at: string | null;
}

export interface BrokerTaskTable {
  id: string;
  identity_id: string;
  subject: string;
  on_behalf_of: string | null;
  purpose: string;
  /** JSON string[] */
  actions: string;
  /** JSON string[] */
  resources: string;
  audience: string;
  /** `pending_approval` | `active` | `completed` | `expired` | `revoked` | `denied` */
  status: string;
  max_uses: number;
  uses: number;
  /** JSON `{ action, resource, approval_id }[]` still waiting for an owner. */
  approvals: string;
  workflow: string | null;
  created_at: string;
  expires_at: string;
  ended_at: string | null;
  created_by: string;
  policy_version: number | null;
}

/** Durable revocations: a token (`jti`), a whole task, an identity or an inventory credential. */
export interface BrokerRevocationTable {
  id: string;
  kind: string;
  target: string;
  revoked_at: string;
  /** When the entry can be forgotten (the latest expiry of anything it could match); null = never. */
  expires_at: string | null;
  reason: string | null;
  actor: string;
}

/** A downstream credential made by a plugin for a task; the secret itself is never stored. */
export interface BrokerDownstreamTable {
  id: string;
  task_id: string;
  plugin: string;
  resource: string;
  principal: string;
  created_at: string;
  expires_at: string;
  dropped_at: string | null;
}

/** One per task and resource, taken before provisioning: the claim that makes issuing happen once. */
export interface BrokerDownstreamReservationTable {
  task_id: string;
  resource: string;
  reserved_at: string;
}

/** A client assertion `jti` already accepted (RFC 7523 single use), kept until the assertion expires. */
export interface BrokerClientAssertionTable {
  client_id: string;
  jti: string;
  used_at: string;
  expires_at: string;
}

export type BrokerTables = {
  broker_client_assertions: BrokerClientAssertionTable;
  broker_downstream: BrokerDownstreamTable;
  broker_downstream_reservations: BrokerDownstreamReservationTable;
  broker_signing_keys: BrokerSigningKeyTable;
  broker_tasks: BrokerTaskTable;
  broker_revocations: BrokerRevocationTable;
};

export type BrokerDatabase = Database & BrokerTables;
export type BrokerDb = Kysely<BrokerDatabase>;

export function brokerDb(db: Kysely<Database>): BrokerDb {
  return db.withTables<BrokerTables>();
}

/** The audit log takes the core transaction type; the broker's is a superset. */
export function coreTrx(trx: Transaction<BrokerDatabase>): Transaction<Database> {
  return trx as unknown as Transaction<Database>;
}
