/**
 * Broker error codes. Every refusal has its own stable code so a PEP, a test or a detector can tell a replay
 * from an expired token from a delegation outside the task without reading messages.
 */
import { defineErrorCodes, type BulkheadError } from '../errors.js';

export const BrokerErrorCodes = {
  // Workload identity proofs (JWT-SVID, projected SA token, CI OIDC token, private_key_jwt).
  PROOF_MISSING: { status: 401, title: 'No workload identity proof was presented' },
  PROOF_MALFORMED: { status: 401, title: 'The workload identity proof is not a well-formed JWT' },
  PROOF_UNKNOWN_ISSUER: { status: 401, title: 'The proof comes from an issuer with no trust bundle' },
  PROOF_BAD_SIGNATURE: { status: 401, title: 'The proof signature does not verify against the trust bundle' },
  PROOF_WRONG_AUDIENCE: { status: 401, title: 'The proof is not addressed to this broker' },
  PROOF_EXPIRED: { status: 401, title: 'The proof has expired' },
  PROOF_NOT_YET_VALID: { status: 401, title: 'The proof is not valid yet' },
  PROOF_CLAIM_INVALID: { status: 401, title: 'The proof lacks a required claim or has an invalid one' },
  PROOF_UNMAPPED: { status: 401, title: 'The proven workload maps to no inventory identity' },
  PROOF_REPLAYED: { status: 401, title: 'This client assertion was already used' },
  PROOF_LIFETIME_TOO_LONG: {
    status: 401,
    title: 'The client assertion is valid for longer than the broker accepts',
  },
  PROOF_IDENTITY_INACTIVE: { status: 403, title: 'The mapped identity is not active' },
  TRUST_BUNDLE_UNAVAILABLE: { status: 503, title: 'The trust bundle could not be loaded' },
  // Tasks.
  TASK_NOT_FOUND: { status: 404, title: 'No such task' },
  TASK_DENIED: { status: 403, title: 'The policy decision point refused this task' },
  TASK_PENDING_APPROVAL: { status: 403, title: 'The task waits for approval' },
  TASK_NOT_ACTIVE: { status: 409, title: 'The task is not active' },
  TASK_IDENTITY_MISMATCH: { status: 403, title: 'The task belongs to another identity' },
  // Access tokens at validation time.
  TOKEN_MALFORMED: { status: 401, title: 'The token is not a well-formed broker JWT' },
  TOKEN_BAD_SIGNATURE: { status: 401, title: 'The token signature does not verify' },
  TOKEN_KEY_UNKNOWN: {
    status: 401,
    title: 'The token was signed by a key that is not (or no longer) trusted',
  },
  TOKEN_EXPIRED: { status: 401, title: 'The token has expired' },
  TOKEN_NOT_YET_VALID: { status: 401, title: 'The token is not valid yet' },
  TOKEN_WRONG_AUDIENCE: { status: 401, title: 'The token is not addressed to this resource server' },
  TOKEN_REVOKED: { status: 401, title: 'The token has been revoked' },
  TOKEN_TASK_ENDED: { status: 401, title: "The token's task has ended" },
  TOKEN_OUTSIDE_INTENT: { status: 403, title: "The request is outside the task's declared intent" },
  TOKEN_USE_BUDGET_EXHAUSTED: { status: 403, title: "The task's use budget is exhausted" },
  // DPoP (RFC 9449).
  DPOP_REQUIRED: { status: 401, title: 'The token is sender-bound and needs a DPoP proof' },
  DPOP_INVALID: { status: 401, title: 'The DPoP proof is malformed or its signature does not verify' },
  DPOP_KEY_MISMATCH: {
    status: 401,
    title: 'The DPoP proof was signed by another key than the token is bound to',
  },
  DPOP_REPLAY: { status: 401, title: 'This DPoP proof (jti) was already used' },
  DPOP_IAT_OUT_OF_WINDOW: { status: 401, title: 'The DPoP proof is too old or from the future' },
  DPOP_HTM_MISMATCH: { status: 401, title: 'The DPoP proof is for another HTTP method' },
  DPOP_HTU_MISMATCH: { status: 401, title: 'The DPoP proof is for another URL' },
  DPOP_ATH_MISMATCH: { status: 401, title: 'The DPoP proof is for another access token' },
  // Token exchange (RFC 8693).
  EXCHANGE_WIDENS: { status: 403, title: 'The exchange asks for more than the subject token holds' },
  EXCHANGE_TASK_MISMATCH: { status: 403, title: 'The exchange names another task than the subject token' },
  EXCHANGE_DEPTH_EXCEEDED: { status: 403, title: 'The delegation chain is too deep' },
  EXCHANGE_ACTOR_DENIED: { status: 403, title: 'The actor may not act on this intent' },
  // OAuth request shape.
  OAUTH_INVALID_REQUEST: { status: 400, title: 'The OAuth request is malformed' },
  OAUTH_UNSUPPORTED_GRANT_TYPE: { status: 400, title: 'Unsupported grant_type' },
  // Keys.
  MASTER_KEY_INVALID: { status: 500, title: 'The master key is unusable' },
} as const;

export type BrokerErrorCode = keyof typeof BrokerErrorCodes;

export const brokerError = defineErrorCodes(BrokerErrorCodes);

/** The RFC 6749 §5.2 / RFC 9449 §7 `error` value a token endpoint answers for a broker code. */
export function oauthErrorFor(err: BulkheadError): { status: number; error: string } {
  const code = err.code.replace(/^BULKHEAD_/, '');
  if (code.startsWith('DPOP_')) return { status: 400, error: 'invalid_dpop_proof' };
  if (code.startsWith('PROOF_')) return { status: 401, error: 'invalid_client' };
  if (code === 'OAUTH_UNSUPPORTED_GRANT_TYPE') return { status: 400, error: 'unsupported_grant_type' };
  if (code === 'OAUTH_INVALID_REQUEST' || code === 'VALIDATION_FAILED')
    return { status: 400, error: 'invalid_request' };
  if (code === 'EXCHANGE_WIDENS') return { status: 400, error: 'invalid_scope' };
  if (code === 'EXCHANGE_TASK_MISMATCH' || code === 'EXCHANGE_ACTOR_DENIED') {
    return { status: 400, error: 'invalid_target' };
  }
  if (err.status >= 500) return { status: err.status, error: 'server_error' };
  return { status: 400, error: 'invalid_grant' };
}
