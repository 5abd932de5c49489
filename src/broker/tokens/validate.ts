/**
 * Validating a task token for a resource server (PEP): signature under a current broker key, claims, the
 * revocation set (token, task, every identity the token speaks for, and every parent of an exchanged token),
 * the DPoP binding, the declared intent, the task's state and its use budget. Every refusal has a stable code and becomes a
 * `token.refused` (or `token.replay`) event for detection; every success a `token.used` event.
 */
import { randomUUID } from 'node:crypto';
import type { EventBus } from '../../events/bus.js';
import { isBulkheadError, type BulkheadError } from '../../errors.js';
import { brokerError } from '../errors.js';
import type { ExpiringSet } from '../dpop/expiring-set.js';
import { verifyDpopProof } from '../dpop/proof.js';
import type { SigningKeys } from '../keys/signing-keys.js';
import type { RevocationSet } from '../revocation/revocation-set.js';
import type { TaskService } from '../tasks/task-service.js';
import { grantedIntent, identitiesOf, isTaskTokenClaims, type TaskTokenClaims } from './claims.js';
import { parseCompact, verifyCompact } from './jws.js';

export interface ValidateRequest {
  token: string;
  /** The resource server's own audience: a use is only ever spent by the audience the token was minted for. */
  audience: string;
  action?: string | undefined;
  resource?: string | undefined;
  /** The DPoP proof that came with the resource request, and that request's method and URL. */
  dpop?: string | undefined;
  method?: string | undefined;
  url?: string | undefined;
}

export interface ValidatedToken {
  claims: TaskTokenClaims;
  usesLeft: number;
}

export interface ValidatorDeps {
  keys: SigningKeys;
  revocations: RevocationSet;
  tasks: Pick<TaskService, 'consumeUse' | 'get'>;
  events: EventBus;
  replay: ExpiringSet;
  now: () => Date;
  issuer: string;
  dpopWindowSeconds: number;
  dpopSkewSeconds: number;
}

/** Codes that mean "someone else is holding this token" rather than "it is stale". */
const REPLAY_CODES = new Set([
  'BULKHEAD_DPOP_REPLAY',
  'BULKHEAD_DPOP_KEY_MISMATCH',
  'BULKHEAD_DPOP_REQUIRED',
]);

export class TokenValidator {
  constructor(private readonly deps: ValidatorDeps) {}

  /**
   * Verifies signature and claims and checks revocation, without DPoP, intent or budget. Used by
   * introspection, revocation and exchange (which applies its own checks).
   */
  async verify(token: string): Promise<TaskTokenClaims> {
    const parsed = parseCompact(token);
    if (!parsed) {
      throw brokerError('TOKEN_MALFORMED', 'not a broker access token (EdDSA at+jwt)', { field: 'token' });
    }
    const key = this.deps.keys.knownKey(parsed.kid) ?? (await this.deps.keys.verificationKey(parsed.kid));
    const payload = verifyCompact(parsed, key);
    if (payload === 'bad_signature') {
      throw brokerError('TOKEN_BAD_SIGNATURE', 'the token signature does not verify', { field: 'token' });
    }
    if (payload === 'malformed')
      throw brokerError('TOKEN_MALFORMED', 'the token payload is not JSON', { field: 'token' });
    // RFC 7519 §4.1 checks, all on, no leeway: the broker's own clock minted these tokens.
    const nowS = this.deps.now().getTime() / 1000;
    if (payload.iss !== this.deps.issuer)
      throw brokerError('TOKEN_MALFORMED', 'unexpected iss', { field: 'token' });
    if (typeof payload.exp !== 'number' || typeof payload.iat !== 'number') {
      throw brokerError('TOKEN_MALFORMED', 'exp and iat are required', { field: 'token' });
    }
    if (nowS >= payload.exp) throw brokerError('TOKEN_EXPIRED', 'the token has expired', { field: 'token' });
    if (payload.iat > nowS + 5 || (typeof payload.nbf === 'number' && payload.nbf > nowS)) {
      throw brokerError('TOKEN_NOT_YET_VALID', 'the token is not valid yet', { field: 'token' });
    }
    if (!isTaskTokenClaims(payload)) {
      throw brokerError('TOKEN_MALFORMED', 'the token lacks task claims', { field: 'token' });
    }
    const revoked =
      this.deps.revocations.match(
        payload.jti,
        payload.task,
        identitiesOf(payload),
        typeof payload.iat === 'number' ? payload.iat : 0,
      ) ?? (payload.parents ?? []).find((p) => this.deps.revocations.has('token', p));
    if (revoked === 'task') {
      // The task ended (completed, expired or revoked): reuse after the task is its own refusal.
      throw brokerError('TOKEN_TASK_ENDED', `task ${payload.task} has ended`, { field: 'token' });
    }
    if (revoked !== undefined) {
      throw brokerError(
        'TOKEN_REVOKED',
        `the token is revoked (${revoked === 'token' || revoked === 'identity' ? revoked : 'parent token'})`,
        {
          field: 'token',
          extra: { revoked_by: revoked === 'token' || revoked === 'identity' ? revoked : 'parent' },
        },
      );
    }
    return payload;
  }

  /**
   * The PEP check: everything `verify` does, plus audience, DPoP binding, intent and one use of the budget.
   * @example await validator.validate({ token, audience: 'payments', action: 'read', resource: 'payments-db',
   *   dpop: req.headers.dpop, method: 'GET', url: 'https://payments.example/refunds' })
   */
  async validate(req: ValidateRequest): Promise<ValidatedToken> {
    let claims: TaskTokenClaims | undefined;
    let presentedJkt: string | undefined;
    try {
      claims = await this.verify(req.token);
      if (claims.aud !== req.audience) {
        throw brokerError('TOKEN_WRONG_AUDIENCE', `the token is for ${claims.aud}, not ${req.audience}`, {
          field: 'audience',
        });
      }
      if (claims.cnf?.jkt) {
        if (!req.dpop) {
          throw brokerError('DPOP_REQUIRED', 'this token is DPoP-bound; present a DPoP proof', {
            field: 'dpop',
          });
        }
        if (!req.method || !req.url) {
          throw brokerError(
            'DPOP_INVALID',
            'the method and url of the resource request are needed to check DPoP',
            {
              field: req.method ? 'url' : 'method',
            },
          );
        }
        const proof = await verifyDpopProof(req.dpop, {
          method: req.method,
          url: req.url,
          now: this.deps.now(),
          iatWindowSeconds: this.deps.dpopWindowSeconds,
          skewSeconds: this.deps.dpopSkewSeconds,
          replay: this.deps.replay,
          accessToken: req.token,
        });
        presentedJkt = proof.jkt;
        if (proof.jkt !== claims.cnf.jkt) {
          throw brokerError(
            'DPOP_KEY_MISMATCH',
            'the DPoP proof is signed by another key than the token is bound to',
            {
              field: 'dpop',
            },
          );
        }
      }
      const { actions, locations } = grantedIntent(claims.authorization_details);
      if (req.action === undefined || !actions.has(req.action)) {
        throw brokerError(
          'TOKEN_OUTSIDE_INTENT',
          `action ${req.action ?? '(none)'} is not in the task's intent`,
          {
            field: 'action',
          },
        );
      }
      if (req.resource === undefined || !locations.has(req.resource)) {
        throw brokerError(
          'TOKEN_OUTSIDE_INTENT',
          `resource ${req.resource ?? '(none)'} is not in the task's intent`,
          {
            field: 'resource',
          },
        );
      }
      const use = await this.deps.tasks.consumeUse(claims.task);
      if (!use.ok) {
        throw brokerError(
          use.code,
          use.code === 'TOKEN_TASK_ENDED'
            ? `task ${claims.task} is ${use.task?.status ?? 'gone'}`
            : `task ${claims.task} used all ${use.task?.max_uses ?? 0} uses`,
          {
            field: 'token',
          },
        );
      }
      this.publish('token.used', claims, req, presentedJkt, 'success', undefined);
      return { claims, usesLeft: use.usesLeft };
    } catch (err) {
      if (isBulkheadError(err) && err.status < 500) {
        const type = REPLAY_CODES.has(err.code) ? 'token.replay' : 'token.refused';
        this.publish(type, claims, req, presentedJkt, 'failure', err);
      }
      throw err;
    }
  }

  private publish(
    type: string,
    claims: TaskTokenClaims | undefined,
    req: ValidateRequest,
    presentedJkt: string | undefined,
    outcome: 'success' | 'failure',
    err: BulkheadError | undefined,
  ): void {
    const intentActions = claims ? [...grantedIntent(claims.authorization_details).actions] : undefined;
    this.deps.events.publish({
      id: randomUUID(),
      time: this.deps.now().toISOString(),
      type,
      source: 'broker',
      identityId: claims?.client_id,
      credentialId: claims?.jti,
      action: req.action,
      resource: req.resource,
      outcome,
      data: {
        ...(claims
          ? {
              jti: claims.jti,
              taskId: claims.task,
              sub: claims.sub,
              boundJkt: claims.cnf?.jkt,
              intentActions,
            }
          : {}),
        ...(presentedJkt ? { presentedJkt } : {}),
        ...(claims?.act ? { actor: claims.act.sub } : {}),
        ...(err ? { code: err.code } : {}),
      },
    });
  }
}
