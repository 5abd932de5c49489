/** Minting task tokens: short-lived EdDSA JWTs signed with the current broker key (see jws.ts). */
import { randomBytes } from 'node:crypto';
import type { SigningKeys } from '../keys/signing-keys.js';
import type { Task } from '../tasks/task.js';
import { signCompact } from './jws.js';
import { TASK_DETAIL_TYPE, type ActClaim, type AuthorizationDetail, type TaskTokenClaims } from './claims.js';

export interface IssueInput {
  task: Task;
  subject: string;
  clientId: string;
  now: Date;
  ttlSeconds: number;
  /** Narrower intent (token exchange); defaults to the task's whole intent. */
  intent?: { actions: string[]; locations: string[] } | undefined;
  jkt?: string | undefined;
  act?: ActClaim | undefined;
  parents?: string[] | undefined;
  /** Upper bound for `exp` in epoch seconds (an exchanged token never outlives its subject token). */
  notAfter?: number | undefined;
}

export interface IssuedToken {
  token: string;
  claims: TaskTokenClaims;
  expiresIn: number;
}

/**
 * Signs a token whose lifetime is the shorter of the TTL and what is left of the task.
 * @example const { token } = await issueTaskToken(keys, issuer, { task, subject, clientId, now, ttlSeconds: 300 });
 */
export async function issueTaskToken(
  keys: SigningKeys,
  issuer: string,
  input: IssueInput,
): Promise<IssuedToken> {
  const iat = Math.floor(input.now.getTime() / 1000);
  const taskEnd = Math.floor(Date.parse(input.task.expires_at) / 1000);
  const exp = Math.min(iat + input.ttlSeconds, taskEnd, input.notAfter ?? Infinity);
  const detail: AuthorizationDetail = {
    type: TASK_DETAIL_TYPE,
    identifier: input.task.id,
    actions: input.intent?.actions ?? input.task.actions,
    locations: input.intent?.locations ?? input.task.resources,
  };
  const claims: TaskTokenClaims = {
    iss: issuer,
    sub: input.subject,
    aud: input.task.audience,
    exp,
    iat,
    jti: randomBytes(16).toString('base64url'),
    client_id: input.clientId,
    task: input.task.id,
    task_identity: input.task.identity,
    authorization_details: [detail],
    ...(input.jkt ? { cnf: { jkt: input.jkt } } : {}),
    ...(input.act ? { act: input.act } : {}),
    ...(input.parents && input.parents.length > 0 ? { parents: input.parents } : {}),
  };
  const { kid, key } = keys.signer();
  const token = signCompact(claims, kid, key);
  return { token, claims, expiresIn: exp - iat };
}
