/**
 * The normalized event every detector reads, modelled loosely on OCSF's API Activity class: who acted
 * (identity as named by the source, plus the inventory identity once resolved), with which credential, from
 * where, doing what to which resource, and how it ended. Parsers turn CloudTrail records, Kubernetes audit
 * events and Bulkhead's own events into this one shape, so a detector is written once for every source.
 */
import type { IdentityKind } from '../inventory/types.js';

export type EventSource = 'cloudtrail' | 'k8s-audit' | 'bulkhead';
export type EventOutcome = 'success' | 'failure' | 'deny' | 'allow';

export interface EventActor {
  /** As named by the source: an ARN, IAM user name, Kubernetes user or SA username, Bulkhead identity id. */
  name: string;
  /** Source-specific actor type, e.g. `IAMUser`, `AssumedRole`, `Root`, `ServiceAccount`, `User`. */
  type: string;
  /** The role ARN behind an assumed-role session; the SA `namespace/name` for a Kubernetes service account. */
  principal?: string | undefined;
  /** AWS session name, or the Kubernetes pod a bound token belongs to. */
  sessionName?: string | undefined;
  /** Set by actor resolution. */
  identityId?: string | undefined;
  kind?: IdentityKind | undefined;
  /** True when the identity is not in the inventory (auto-discovered). */
  unmanaged?: boolean | undefined;
  /** Inventory labels of the resolved identity (e.g. an agent's declared `tools`). */
  labels?: Record<string, string> | undefined;
}

export interface EventCredential {
  /** Access key id, token jti, credential fingerprint: never a secret. */
  id: string;
  /** Temporary session credential (AWS ASIA…, a task token) as opposed to a long-lived key. */
  temporary: boolean;
  /** Inventory credential id once resolved. */
  credentialId?: string | undefined;
  /** Inventory ids of the workloads recorded as consumers of this credential. */
  consumers?: string[] | undefined;
  lastUsedAt?: string | null | undefined;
}

export interface EventTokenContext {
  /** The task a task token was issued for. */
  taskId?: string | undefined;
  workflow?: string | undefined;
  /** Actions the token's declared intent allows. */
  intentActions?: string[] | undefined;
  /** DPoP key thumbprint the token is bound to, and the one that presented it. */
  boundJkt?: string | undefined;
  presentedJkt?: string | undefined;
  /** The workload that presented the credential (inventory identity id), when the source knows it. */
  presentedBy?: string | undefined;
}

export interface NormalizedEvent {
  /** The source's own event id (CloudTrail eventID, Kubernetes auditID, Bulkhead event id). */
  id: string;
  time: string;
  timeMs: number;
  source: EventSource;
  actor: EventActor;
  credential?: EventCredential | undefined;
  src: {
    ip?: string | undefined;
    userAgent?: string | undefined;
    /** Coarse network the IP belongs to (/24 IPv4, /48 IPv6, or an AWS service name). */
    network?: string | undefined;
    /** Autonomous system, when the source supplies it (Bulkhead events: `data.asn`). */
    asn?: string | undefined;
  };
  /** Session the action belongs to: AWS `principalId` of an assumed-role session, a Bulkhead session/task id. */
  session?: string | undefined;
  /** `service:Operation`, e.g. `iam:CreateAccessKey`, `k8s:get:secrets`, `refunds.create`. */
  action: string;
  /** The bare operation name, e.g. `CreateAccessKey`, `get`. */
  operation: string;
  service: string;
  /** Primary resource acted on (ARN, `namespace/resource/name`, Bulkhead resource id). */
  resource?: string | undefined;
  /** Identities or principals the action targets: the user a key is created for, the role assumed. */
  targets: string[];
  /**
   * The user the actor acted as (Kubernetes `impersonatedUser.username`). Kubernetes logs an impersonated
   * request under the request's own verb with the impersonator in `user`, so this is the only sign of it.
   */
  impersonating?: string | undefined;
  outcome: EventOutcome;
  errorCode?: string | undefined;
  readOnly?: boolean | undefined;
  /** Interactive console sign-in / session. */
  console?: boolean | undefined;
  token?: EventTokenContext | undefined;
  /** Selected request parameters a detector needs (policy ARNs, trail names…); JSON-safe. */
  params: Record<string, unknown>;
}

/** Reads a field of an unknown JSON value without trusting its type. */
export function field(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)[key]
    : undefined;
}

export function str(value: unknown, key: string): string | undefined {
  const v = field(value, key);
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Coarse source network: an attacker replaying a key rarely sits in the same /24 as the workload. */
export function networkOf(ip: string | undefined): string | undefined {
  if (!ip) return undefined;
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.\d{1,3}$/.exec(ip);
  if (v4) return `${v4[1]}.${v4[2]}.${v4[3]}.0/24`;
  if (ip.includes(':')) {
    const parts = ip.split(':').slice(0, 3);
    return `${parts.join(':')}::/48`;
  }
  // CloudTrail puts a service name (ec2.amazonaws.com) here when a service acted on the caller's behalf.
  return ip;
}

/** Event time as epoch ms, or NaN when unparsable. */
export function parseTime(value: string | undefined): number {
  return value === undefined ? Number.NaN : Date.parse(value);
}
