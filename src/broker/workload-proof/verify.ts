/**
 * Workload identity proofs without static secrets: a SPIFFE JWT-SVID, a Kubernetes projected service-account
 * token, a CI OIDC token, or an RFC 7523 `private_key_jwt` assertion from an identity with a registered key.
 * Each is verified against the trust bundle of its issuer and mapped to one inventory identity. Every way of
 * failing has its own code, and nothing unknown is trusted (unknown issuer, unmapped subject: refused).
 */
import { readFileSync } from 'node:fs';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  jwtVerify,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import type { Identity } from '../../inventory/types.js';
import { brokerError } from '../errors.js';
import type { BrokerConfig, TrustBundleConfig } from '../config.js';
import { ExpiringSet } from '../dpop/expiring-set.js';
import { mapClaims } from './claims.js';
import type { UsedAssertions } from './used-assertions.js';

export type ProofKind = 'spiffe' | 'kubernetes' | 'ci_oidc' | 'private_key_jwt';

export interface WorkloadProof {
  kind: ProofKind;
  identity: Identity;
  /** The proven subject: a SPIFFE ID, `system:serviceaccount:ns:name`, a CI subject or a client id. */
  subject: string;
  issuer: string;
  /** The trust bundle (or `client:<id>`) that vouched for it. */
  bundle: string;
  /** CI workflow (ci_oidc), for reuse-across-workflow detection. */
  workflow: string | undefined;
}

export interface ProofDeps {
  findIdentity(id: string): Promise<Identity | undefined>;
  findIdentityBySpiffeId(spiffeId: string): Promise<Identity | undefined>;
  now(): Date;
  /** The durable record of used client assertion `jti`s, shared by every replica. */
  usedAssertions: Pick<UsedAssertions, 'claim'>;
}

/**
 * The longest a client assertion may be valid (`exp` minus `iat`, and `exp` minus now). Its `jti` is kept until
 * `exp`, so this bounds both the replay window of a stolen assertion and the size of the `jti` table.
 */
export const MAX_ASSERTION_LIFETIME_SECONDS = 300;
const MAX_JTI_LENGTH = 256;

interface Bundle {
  config: TrustBundleConfig;
  keys: JWTVerifyGetKey;
  audiences: string[];
}

const SPIFFE_ID = /^spiffe:\/\/([a-z0-9._-]+)(\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*)?$/;

export class WorkloadProofVerifier {
  private readonly bundles: Bundle[];
  private readonly clients = new Map<string, JWTVerifyGetKey>();
  /**
   * RFC 7523 §3 item 7: an assertion's `jti` is accepted once (until it expires). This per-process set only
   * refuses a replay to this process without a write; `deps.usedAssertions` is what holds across replicas.
   */
  private readonly seenAssertions = new ExpiringSet();

  constructor(
    config: BrokerConfig,
    private readonly deps: ProofDeps,
  ) {
    this.bundles = config.trust_bundles.map((b) => ({
      config: b,
      keys: b.jwks_url
        ? createRemoteJWKSet(new URL(b.jwks_url), { timeoutDuration: 3000, cooldownDuration: 5000 })
        : createLocalJWKSet(b.jwks ?? readJwksFile(b.jwks_file ?? '')),
      audiences: Array.isArray(b.audience) ? b.audience : [b.audience],
    }));
    for (const c of config.clients) {
      this.clients.set(c.identity, createLocalJWKSet(c.jwks ?? readJwksFile(c.jwks_file ?? '')));
    }
  }

  /**
   * Verifies a proof and returns the identity it proves.
   * @param audiences what this broker accepts as `aud` for client assertions (issuer, token endpoint URL).
   */
  /**
   * Verified SVID / SA / CI proofs, reused while they are valid (for at most 5 s, so a changed trust bundle or
   * identity takes effect quickly; identity changes also clear it). Workloads present the same JWT-SVID for
   * many requests; client assertions are single-use and never cached.
   */
  private readonly cache = new Map<string, { proof: WorkloadProof; until: number; audiences: string }>();

  clearCache(): void {
    this.cache.clear();
  }

  async verify(jwt: string | undefined, audiences: string[]): Promise<WorkloadProof> {
    const now = this.deps.now().getTime();
    const aud = audiences.join(' ');
    if (jwt) {
      const hit = this.cache.get(jwt);
      if (hit && hit.until > now && hit.audiences === aud) return hit.proof;
    }
    const proof = await this.verifyUncached(jwt, audiences);
    if (jwt && proof.kind !== 'private_key_jwt') {
      const exp = decodeJwt(jwt).exp;
      const until = Math.min(typeof exp === 'number' ? exp * 1000 : 0, now + 5000);
      if (this.cache.size >= 5000) {
        for (const [k, v] of this.cache) if (v.until <= now || this.cache.size >= 5000) this.cache.delete(k);
      }
      if (until > now) this.cache.set(jwt, { proof, until, audiences: aud });
    }
    return proof;
  }

  private async verifyUncached(jwt: string | undefined, audiences: string[]): Promise<WorkloadProof> {
    if (!jwt)
      throw brokerError('PROOF_MISSING', 'a workload identity proof is required', {
        field: 'client_assertion',
      });
    let claims: JWTPayload;
    try {
      decodeProtectedHeader(jwt);
      claims = decodeJwt(jwt);
    } catch {
      throw brokerError('PROOF_MALFORMED', 'the proof is not a compact JWS JWT', {
        field: 'client_assertion',
      });
    }
    const iss = typeof claims.iss === 'string' ? claims.iss : undefined;
    const sub = typeof claims.sub === 'string' ? claims.sub : undefined;
    // RFC 7523 §3: a client assertion has iss = sub = client_id.
    if (iss !== undefined && iss === sub && this.clients.has(iss))
      return this.verifyClientAssertion(jwt, iss, audiences);
    const bundle = this.bundleFor(iss, sub);
    if (!bundle) {
      throw brokerError('PROOF_UNKNOWN_ISSUER', `no trust bundle for issuer ${iss ?? sub ?? '(none)'}`, {
        field: 'client_assertion',
      });
    }
    const payload = await this.check(jwt, bundle.keys, {
      audience: bundle.audiences,
      issuer: bundle.config.issuer,
      algorithms: bundle.config.algorithms,
    });
    const subject = String(payload.sub);
    if (bundle.config.kind === 'spiffe' && !SPIFFE_ID.test(subject)) {
      throw brokerError('PROOF_CLAIM_INVALID', 'a JWT-SVID sub must be a SPIFFE ID', {
        field: 'client_assertion',
      });
    }
    let identityId = mapClaims(bundle.config.mappings, payload);
    let identity: Identity | undefined;
    if (identityId !== undefined) identity = await this.deps.findIdentity(identityId);
    else if (bundle.config.kind === 'spiffe') {
      // Default SPIFFE mapping: the inventory identity registered with exactly this SPIFFE ID.
      identity = await this.deps.findIdentityBySpiffeId(subject);
      identityId = identity?.id;
    }
    if (!identity) {
      throw brokerError(
        'PROOF_UNMAPPED',
        identityId
          ? `${subject} maps to identity ${identityId}, which is not in the inventory`
          : `no mapping rule of bundle ${bundle.config.name} matches ${subject}`,
        { field: 'client_assertion' },
      );
    }
    this.assertActive(identity);
    const workflow = bundle.config.kind === 'ci_oidc' ? stringClaim(payload, 'workflow') : undefined;
    return {
      kind: bundle.config.kind,
      identity,
      subject,
      issuer: typeof payload.iss === 'string' ? payload.iss : `spiffe://${bundle.config.trust_domain ?? ''}`,
      bundle: bundle.config.name,
      workflow,
    };
  }

  private async verifyClientAssertion(
    jwt: string,
    clientId: string,
    audiences: string[],
  ): Promise<WorkloadProof> {
    const keys = this.clients.get(clientId);
    if (!keys) throw new Error('unreachable');
    const payload = await this.check(jwt, keys, {
      audience: audiences,
      issuer: clientId,
      algorithms: ['EdDSA', 'ES256', 'ES384', 'RS256', 'PS256'],
      requiredClaims: ['jti'],
    });
    const now = this.deps.now().getTime();
    const exp = typeof payload.exp === 'number' ? payload.exp * 1000 : 0;
    const issued = typeof payload.iat === 'number' ? Math.min(payload.iat * 1000, now) : now;
    if (exp - issued > MAX_ASSERTION_LIFETIME_SECONDS * 1000) {
      throw brokerError(
        'PROOF_LIFETIME_TOO_LONG',
        `a client assertion may be valid for at most ${MAX_ASSERTION_LIFETIME_SECONDS} s`,
        { field: 'client_assertion' },
      );
    }
    const jti = String(payload.jti);
    if (jti.length > MAX_JTI_LENGTH) {
      throw brokerError('PROOF_CLAIM_INVALID', `jti is longer than ${MAX_JTI_LENGTH} characters`, {
        field: 'client_assertion',
      });
    }
    if (
      !this.seenAssertions.addIfAbsent(`${clientId}|${jti}`, exp, now) ||
      !(await this.deps.usedAssertions.claim(clientId, jti, exp))
    ) {
      throw brokerError('PROOF_REPLAYED', `assertion ${jti} of ${clientId} was already used`, {
        field: 'client_assertion',
      });
    }
    const identity = await this.deps.findIdentity(clientId);
    if (!identity) {
      throw brokerError('PROOF_UNMAPPED', `client ${clientId} is not in the inventory`, {
        field: 'client_assertion',
      });
    }
    this.assertActive(identity);
    return {
      kind: 'private_key_jwt',
      identity,
      subject: identity.spiffeId ?? identity.id,
      issuer: clientId,
      bundle: `client:${clientId}`,
      workflow: undefined,
    };
  }

  private bundleFor(iss: string | undefined, sub: string | undefined): Bundle | undefined {
    const td = sub ? SPIFFE_ID.exec(sub)?.[1] : undefined;
    return this.bundles.find((b) => {
      if (b.config.kind === 'spiffe') {
        return (
          td !== undefined &&
          b.config.trust_domain === td &&
          (b.config.issuer === undefined || b.config.issuer === iss)
        );
      }
      return iss !== undefined && b.config.issuer === iss;
    });
  }

  private assertActive(identity: Identity): void {
    if (identity.status !== 'active') {
      throw brokerError('PROOF_IDENTITY_INACTIVE', `identity ${identity.id} is ${identity.status}`, {
        field: 'client_assertion',
      });
    }
  }

  private async check(
    jwt: string,
    keys: JWTVerifyGetKey,
    opts: { audience: string[]; issuer: string | undefined; algorithms: string[]; requiredClaims?: string[] },
  ): Promise<JWTPayload> {
    try {
      const { payload } = await jwtVerify(jwt, keys, {
        audience: opts.audience,
        ...(opts.issuer !== undefined ? { issuer: opts.issuer } : {}),
        algorithms: opts.algorithms,
        requiredClaims: ['exp', 'sub', ...(opts.requiredClaims ?? [])],
        currentDate: this.deps.now(),
      });
      return payload;
    } catch (err) {
      throw mapJoseError(err, opts.audience);
    }
  }
}

function stringClaim(p: JWTPayload, name: string): string | undefined {
  const v = p[name];
  return typeof v === 'string' ? v : undefined;
}

function readJwksFile(path: string): { keys: Record<string, unknown>[] } {
  return JSON.parse(readFileSync(path, 'utf8')) as { keys: Record<string, unknown>[] };
}

/**
 * jose's stable error codes → ours, for workload proofs. A wrong audience names the accepted ones (the issuer
 * and endpoint URLs under BULKHEAD_PUBLIC_URL, none of them secret): the usual cause is a client addressing
 * the server by another URL than the configured one.
 */
function mapJoseError(err: unknown, audiences: string[]): Error {
  const e = err as { code?: string; claim?: string; message?: string };
  const field = { field: 'client_assertion' };
  switch (e.code) {
    case 'ERR_JWT_EXPIRED':
      return brokerError('PROOF_EXPIRED', 'the proof has expired', field);
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
    case 'ERR_JWKS_NO_MATCHING_KEY':
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
      return brokerError('PROOF_BAD_SIGNATURE', 'the proof does not verify against the trust bundle', field);
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return brokerError(
        'PROOF_BAD_SIGNATURE',
        'the proof uses an algorithm this bundle does not allow',
        field,
      );
    case 'ERR_JWKS_TIMEOUT':
      return brokerError('TRUST_BUNDLE_UNAVAILABLE', 'the trust bundle could not be fetched in time', field);
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      if (e.claim === 'aud')
        return brokerError(
          'PROOF_WRONG_AUDIENCE',
          `the proof is not addressed to this broker (aud must be one of: ${audiences.join(', ')})`,
          field,
        );
      if (e.claim === 'nbf' || (e.claim === 'iat' && /future/.test(e.message ?? ''))) {
        return brokerError('PROOF_NOT_YET_VALID', 'the proof is not valid yet', field);
      }
      return brokerError('PROOF_CLAIM_INVALID', `claim ${e.claim ?? '?'}: ${e.message ?? 'invalid'}`, field);
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID':
      return brokerError('PROOF_MALFORMED', e.message ?? 'malformed proof', field);
    default:
      // A failed JWKS fetch (connection refused, bad JSON) must fail closed, distinctly from a bad proof.
      if (e.code?.startsWith('ERR_JWKS') || err instanceof TypeError) {
        return brokerError('TRUST_BUNDLE_UNAVAILABLE', 'the trust bundle could not be loaded', {
          ...field,
          cause: err,
        });
      }
      return brokerError('PROOF_BAD_SIGNATURE', 'the proof could not be verified', { ...field, cause: err });
  }
}
