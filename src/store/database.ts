/**
 * Table shapes as stored. JSON columns are `text` and timestamps ISO-8601 `text`, so the same SQL runs on
 * SQLite and PostgreSQL. Each module keeps its own tables interface and adds it to `Database` here.
 */
import type { Generated } from 'kysely';

export interface IdentitiesTable {
  id: string;
  kind: string;
  display_name: string;
  spiffe_id: string | null;
  cloud_arn: string | null;
  k8s_service_account: string | null;
  owners: string;
  groups: string;
  owner_count: number;
  environment: string;
  source: string;
  labels: string;
  status: string;
  created_at: string;
  updated_at: string;
  last_seen_at: string | null;
}

export interface IdentityOwnersTable {
  identity_id: string;
  owner: string;
}

export interface CredentialsTable {
  id: string;
  identity_id: string;
  type: string;
  fingerprint: string;
  status: string;
  scopes: string;
  stored_in: string;
  consumers: string;
  source: string;
  labels: string;
  created_at: string;
  updated_at: string;
  last_used_at: string | null;
  expires_at: string | null;
  last_rotated_at: string | null;
}

export interface CredentialConsumersTable {
  credential_id: string;
  identity_id: string;
}

export interface ResourcesTable {
  id: string;
  type: string;
  display_name: string;
  sensitivity: string;
  environment: string;
  owners: string;
  parent_id: string | null;
  source: string;
  labels: string;
  created_at: string;
  updated_at: string;
}

export interface ApiKeysTable {
  id: string;
  name: string;
  token_hash: string;
  scopes: string;
  created_at: string;
  created_by: string;
  expires_at: string | null;
  revoked_at: string | null;
  last_used_at: string | null;
  identity_id: string | null;
}

export interface AuditLogTable {
  seq: number;
  at: string;
  actor: string;
  action: string;
  target_type: string;
  target_id: string;
  request_id: string | null;
  before: string | null;
  after: string | null;
  prev_hash: string;
  hash: string;
}

export interface AuditHeadTable {
  id: number;
  seq: number;
  hash: string;
}

export interface SettingsTable {
  key: string;
  value: string;
  updated_at: string;
}

export interface CoreTables {
  identities: IdentitiesTable;
  identity_owners: IdentityOwnersTable;
  credentials: CredentialsTable;
  credential_consumers: CredentialConsumersTable;
  resources: ResourcesTable;
  api_keys: ApiKeysTable;
  audit_log: AuditLogTable;
  audit_head: AuditHeadTable;
  settings: SettingsTable;
}

/** Marker kept so `Generated` stays importable for module tables with database-assigned keys. */
export type GeneratedColumn<T> = Generated<T>;

export type Database = CoreTables;
