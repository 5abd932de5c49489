/** Mapping between stored rows (JSON as text) and the inventory model. */
import type { CredentialsTable, IdentitiesTable, ResourcesTable } from '../store/database.js';
import type {
  Credential,
  CredentialStatus,
  CredentialType,
  Identity,
  IdentityKind,
  IdentityStatus,
  Resource,
  Sensitivity,
} from './types.js';

function parseJson<T>(text: string): T {
  return JSON.parse(text) as T;
}

export function identityFromRow(r: IdentitiesTable): Identity {
  return {
    id: r.id,
    kind: r.kind as IdentityKind,
    displayName: r.display_name,
    spiffeId: r.spiffe_id,
    cloudArn: r.cloud_arn,
    k8sServiceAccount: r.k8s_service_account,
    owners: parseJson<string[]>(r.owners),
    groups: parseJson<string[]>(r.groups),
    environment: r.environment,
    source: r.source,
    labels: parseJson<Record<string, string>>(r.labels),
    status: r.status as IdentityStatus,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    lastSeenAt: r.last_seen_at,
  };
}

export function identityToRow(i: Identity): IdentitiesTable {
  return {
    id: i.id,
    kind: i.kind,
    display_name: i.displayName,
    spiffe_id: i.spiffeId,
    cloud_arn: i.cloudArn,
    k8s_service_account: i.k8sServiceAccount,
    owners: JSON.stringify(i.owners),
    groups: JSON.stringify(i.groups),
    owner_count: i.owners.length,
    environment: i.environment,
    source: i.source,
    labels: JSON.stringify(i.labels),
    status: i.status,
    created_at: i.createdAt,
    updated_at: i.updatedAt,
    last_seen_at: i.lastSeenAt,
  };
}

export function credentialFromRow(r: CredentialsTable): Credential {
  return {
    id: r.id,
    identityId: r.identity_id,
    type: r.type as CredentialType,
    fingerprint: r.fingerprint,
    status: r.status as CredentialStatus,
    scopes: parseJson<string[]>(r.scopes),
    storedIn: parseJson<string[]>(r.stored_in),
    consumers: parseJson<string[]>(r.consumers),
    source: r.source,
    labels: parseJson<Record<string, string>>(r.labels),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    lastUsedAt: r.last_used_at,
    expiresAt: r.expires_at,
    lastRotatedAt: r.last_rotated_at,
  };
}

export function credentialToRow(c: Credential): CredentialsTable {
  return {
    id: c.id,
    identity_id: c.identityId,
    type: c.type,
    fingerprint: c.fingerprint,
    status: c.status,
    scopes: JSON.stringify(c.scopes),
    stored_in: JSON.stringify(c.storedIn),
    consumers: JSON.stringify(c.consumers),
    source: c.source,
    labels: JSON.stringify(c.labels),
    created_at: c.createdAt,
    updated_at: c.updatedAt,
    last_used_at: c.lastUsedAt,
    expires_at: c.expiresAt,
    last_rotated_at: c.lastRotatedAt,
  };
}

export function resourceFromRow(r: ResourcesTable): Resource {
  return {
    id: r.id,
    type: r.type,
    displayName: r.display_name,
    sensitivity: r.sensitivity as Sensitivity,
    environment: r.environment,
    owners: parseJson<string[]>(r.owners),
    parentId: r.parent_id,
    source: r.source,
    labels: parseJson<Record<string, string>>(r.labels),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export function resourceToRow(r: Resource): ResourcesTable {
  return {
    id: r.id,
    type: r.type,
    display_name: r.displayName,
    sensitivity: r.sensitivity,
    environment: r.environment,
    owners: JSON.stringify(r.owners),
    parent_id: r.parentId,
    source: r.source,
    labels: JSON.stringify(r.labels),
    created_at: r.createdAt,
    updated_at: r.updatedAt,
  };
}
