/**
 * Task-token verification for resource servers (the PEP side). Everything that can be checked locally is:
 * signature against the broker JWKS, issuer, audience, expiry, the declared intent and the DPoP binding (with
 * its own replay cache), so forged, stale, stolen or out-of-intent tokens are refused without a round trip and
 * without spending the task's budget. What only the broker knows — revocation and the use budget — is then
 * settled by `POST /v1/broker/validate`. Any error, timeout or unexpected answer is a refusal (fail closed).
 *
 * @example
 * const verifier = new TaskTokenVerifier({ brokerUrl: 'https://bulkhead.internal', apiKey, issuer, audience: 'payments' });
 * const r = await verifier.check({ token, action: 'read', resource: 'payments-db', dpop, method: 'GET', url });
 * if (!r.ok) return reply.code(r.status).send({ code: r.code });
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { isBulkheadError } from '../../errors.js';
import { ExpiringSet } from '../dpop/expiring-set.js';
import { verifyDpopProof } from '../dpop/proof.js';
import { grantedIntent, isTaskTokenClaims, type TaskTokenClaims } from '../tokens/claims.js';
import { parseCompact, verifyCompact } from '../tokens/jws.js';

export interface TaskTokenVerifierOptions {
  brokerUrl: string;
  /** API key with the `read` scope, for the authoritative check. */
  apiKey: string;
  /** The broker's `iss`. */
  issuer: string;
  /** This resource server's audience. */
  audience: string;
  timeoutMs?: number;
  now?: () => Date;
  fetch?: typeof fetch;
  dpopWindowSeconds?: number;
}

export interface CheckRequest {
  token: string;
  action: string;
  resource: string;
  dpop?: string | undefined;
  method?: string | undefined;
  url?: string | undefined;
}

export type CheckResult =
  | { ok: true; claims: TaskTokenClaims; usesLeft: number }
  | { ok: false; status: number; code: string; local: boolean };

const refuse = (code: string, status = 401, local = true): CheckResult => ({
  ok: false,
  status,
  code: `BULKHEAD_${code}`,
  local,
});

export class TaskTokenVerifier {
  private keys = new Map<string, KeyObject>();
  private lastFetch = 0;
  private readonly replay = new ExpiringSet();
  private readonly fetchFn: typeof fetch;
  private readonly now: () => Date;

  constructor(private readonly options: TaskTokenVerifierOptions) {
    this.fetchFn = options.fetch ?? fetch;
    this.now = options.now ?? (() => new Date());
  }

  private async key(kid: string): Promise<KeyObject | undefined> {
    const known = this.keys.get(kid);
    if (known) return known;
    if (Date.now() - this.lastFetch < 5000 && this.lastFetch !== 0) return undefined;
    this.lastFetch = Date.now();
    const res = await this.fetchFn(`${this.options.brokerUrl}/.well-known/jwks.json`, {
      signal: AbortSignal.timeout(this.options.timeoutMs ?? 2000),
    });
    if (!res.ok) throw new Error(`JWKS fetch answered ${res.status}`);
    const body = (await res.json()) as { keys?: { kid?: string; kty?: string; crv?: string; x?: string }[] };
    const next = new Map<string, KeyObject>();
    for (const k of body.keys ?? []) {
      if (k.kty === 'OKP' && k.crv === 'Ed25519' && typeof k.kid === 'string' && typeof k.x === 'string') {
        next.set(k.kid, createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: k.x }, format: 'jwk' }));
      }
    }
    this.keys = next;
    return next.get(kid);
  }

  /** Local checks, then the broker's authoritative revocation + budget check. */
  async check(req: CheckRequest): Promise<CheckResult> {
    try {
      const local = await this.checkLocally(req);
      if (!local.ok) return local;
      const res = await this.fetchFn(`${this.options.brokerUrl}/v1/broker/validate`, {
        method: 'POST',
        headers: { authorization: `Bearer ${this.options.apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ ...req, audience: this.options.audience }),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 2000),
      });
      const body = (await res.json()) as { code?: unknown; uses_left?: unknown };
      if (res.status === 200 && typeof body.uses_left === 'number') {
        return { ok: true, claims: local.claims, usesLeft: body.uses_left };
      }
      const code = typeof body.code === 'string' ? body.code : 'BULKHEAD_BROKER_UNAVAILABLE';
      return { ok: false, status: res.status >= 500 ? 503 : res.status, code, local: false };
    } catch {
      return refuse('BROKER_UNAVAILABLE', 503, false);
    }
  }

  /** The checks that need no broker round trip. Does not spend a use. */
  async checkLocally(req: CheckRequest): Promise<CheckResult> {
    const parsed = parseCompact(req.token);
    if (!parsed) return refuse('TOKEN_MALFORMED');
    const key = await this.key(parsed.kid);
    if (!key) return refuse('TOKEN_KEY_UNKNOWN');
    const payload = verifyCompact(parsed, key);
    if (payload === 'bad_signature') return refuse('TOKEN_BAD_SIGNATURE');
    if (payload === 'malformed' || !isTaskTokenClaims(payload) || payload.iss !== this.options.issuer) {
      return refuse('TOKEN_MALFORMED');
    }
    const nowS = this.now().getTime() / 1000;
    if (nowS >= payload.exp) return refuse('TOKEN_EXPIRED');
    if (payload.aud !== this.options.audience) return refuse('TOKEN_WRONG_AUDIENCE');
    if (payload.cnf?.jkt) {
      if (!req.dpop || !req.method || !req.url) return refuse('DPOP_REQUIRED');
      try {
        const { jkt } = await verifyDpopProof(req.dpop, {
          method: req.method,
          url: req.url,
          now: this.now(),
          iatWindowSeconds: this.options.dpopWindowSeconds ?? 60,
          replay: this.replay,
          accessToken: req.token,
        });
        if (jkt !== payload.cnf.jkt) return refuse('DPOP_KEY_MISMATCH');
      } catch (err) {
        return {
          ok: false,
          status: 401,
          code: isBulkheadError(err) ? err.code : 'BULKHEAD_DPOP_INVALID',
          local: true,
        };
      }
    }
    const { actions, locations } = grantedIntent(payload.authorization_details);
    if (!actions.has(req.action) || !locations.has(req.resource)) return refuse('TOKEN_OUTSIDE_INTENT', 403);
    return { ok: true, claims: payload, usesLeft: -1 };
  }
}
