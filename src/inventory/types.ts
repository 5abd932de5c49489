/**
 * The inventory model shared by people and machines. Every later module (policy, broker, detect, respond,
 * graph, posture) reads identities, credentials and resources in this shape.
 */
export const IDENTITY_KINDS = [
  'human',
  'service_account',
  'workload',
  'ai_agent',
  'ci_pipeline',
  'third_party_integration',
  'break_glass',
  'shared_account',
] as const;
export type IdentityKind = (typeof IDENTITY_KINDS)[number];

/** Kinds that are not people. `shared_account` and `break_glass` are used by people but are always high risk. */
export const NON_HUMAN_KINDS: readonly IdentityKind[] = IDENTITY_KINDS.filter((k) => k !== 'human');

export const IDENTITY_STATUSES = ['active', 'disabled', 'quarantined'] as const;
export type IdentityStatus = (typeof IDENTITY_STATUSES)[number];

export const CREDENTIAL_TYPES = [
  'api_key',
  'access_key',
  'oauth_client_secret',
  'token',
  'certificate',
  'ssh_key',
  'password',
] as const;
export type CredentialType = (typeof CREDENTIAL_TYPES)[number];

export const CREDENTIAL_STATUSES = ['active', 'revoked', 'expired'] as const;
export type CredentialStatus = (typeof CREDENTIAL_STATUSES)[number];

export const SENSITIVITIES = ['public', 'internal', 'confidential', 'regulated'] as const;
export type Sensitivity = (typeof SENSITIVITIES)[number];

/** Ids appear in URLs and Cedar entity uids: no slashes, no whitespace, no quotes. */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@:+=~-]{0,199}$/;

/** An owner is an identity id (a human) or a team, written `team:<name>`. */
export type OwnerRef = string;

export interface Identity {
  id: string;
  kind: IdentityKind;
  displayName: string;
  /** e.g. `spiffe://prod.example/ns/payments/sa/api` */
  spiffeId: string | null;
  /** e.g. `arn:aws:iam::123456789012:role/etl` */
  cloudArn: string | null;
  /** `namespace/name` of a Kubernetes service account */
  k8sServiceAccount: string | null;
  owners: OwnerRef[];
  /** Group / role memberships (ids of groups or role names), used by policies. */
  groups: string[];
  environment: string;
  /** Where this record came from: `manual`, `demo`, `aws-iam`, `k8s`, `yaml`, `discovered`, ... */
  source: string;
  labels: Record<string, string>;
  status: IdentityStatus;
  createdAt: string;
  updatedAt: string;
  lastSeenAt: string | null;
}

export interface Credential {
  id: string;
  identityId: string;
  type: CredentialType;
  /** A fingerprint or hash of the secret (e.g. `sha256:...`, an AWS access key id); never the secret. */
  fingerprint: string;
  status: CredentialStatus;
  scopes: string[];
  /** Where the secret is stored, e.g. `vault:kv/payments`, `github:org/repo/secrets/DEPLOY_KEY`. */
  storedIn: string[];
  /** Identity ids of the workloads that consume this credential: the dependency map for safe rotation. */
  consumers: string[];
  source: string;
  labels: Record<string, string>;
  createdAt: string;
  updatedAt: string;
  lastUsedAt: string | null;
  expiresAt: string | null;
  lastRotatedAt: string | null;
}

export interface Resource {
  id: string;
  /** Resource type, e.g. `database`, `s3_bucket`, `api`, `secret`, `repository`, `k8s_namespace`. */
  type: string;
  displayName: string;
  sensitivity: Sensitivity;
  environment: string;
  owners: OwnerRef[];
  /** Parent resource id (e.g. a table's database), for hierarchical policies. */
  parentId: string | null;
  source: string;
  labels: Record<string, string>;
  createdAt: string;
  updatedAt: string;
}
