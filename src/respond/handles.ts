/**
 * What containment needs from other modules, as small interfaces injected at construction: the policy
 * decision point (verification, policy rollback), the token broker (task tokens, introspection) and a
 * notifier. Each is optional; a step that needs a missing one is skipped with that reason, never faked.
 */
import type { DeliveryResult, SecuritySignal } from '../detect/ssf.js';
import type { PolicyDecisionPoint } from '../policy/service.js';

export type DecisionPoint = Pick<PolicyDecisionPoint, 'decide' | 'listVersions' | 'activate'>;

export interface WriteMeta {
  actor: string;
  requestId?: string | undefined;
}

/** The broker's side of containment (RFC 7009 revocation, RFC 7662 introspection). */
export interface TokenAuthority {
  /** Revokes every live task token of the identity; returns how many. Idempotent. */
  revokeTokensOf(identityId: string, meta: WriteMeta, reason: string): Promise<{ revoked: number }>;
  /** Stops a task from getting new tokens and revokes its tokens. Idempotent. */
  disableTask(taskId: string, meta: WriteMeta, reason: string): Promise<void>;
  /** Introspection: does any replica still accept tokens of this identity? */
  identityHasActiveTokens(identityId: string): Promise<boolean>;
}

export interface Notification {
  type: 'bulkhead.incident';
  channel: string;
  incidentId: string;
  title: string;
  tier: string | null;
  severity: string;
  identityId: string | null;
  credentialId: string | null;
  owners: string[];
  summary: string;
  data?: Record<string, unknown> | undefined;
}

export interface Notifier {
  /** Sends once per idempotency key as far as receivers honour the `Idempotency-Key` header. */
  send(n: Notification, idempotencyKey: string): Promise<{ delivered: number; failed: number }>;
}

/** Granted vs used for one identity (posture's `GET /v1/posture/identities/:id/usage`). */
export interface GrantedVsUsed {
  granted: string[];
  used: string[];
  /** Credential scopes as they are, and policy grants as `<action> on <resource>`. */
  unused: string[];
  leastPrivilegePolicy?: Record<string, unknown> | undefined;
}

/** Where `narrow_permissions` learns what an identity was seen using (the posture module). */
export interface UsageSource {
  /** `observed` is false when no event of the identity was recorded (no data is not "unused"). */
  usageOf(identityId: string): Promise<GrantedVsUsed & { observed: boolean }>;
}

/**
 * Shared Signals push (detection's SET signer and receivers, RFC 8417 / RFC 8935): one result per configured
 * receiver, none when no receiver is configured.
 */
export interface SignalSender {
  pushSignal(signal: SecuritySignal): Promise<DeliveryResult[]>;
}
