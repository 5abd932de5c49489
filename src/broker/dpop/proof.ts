/**
 * DPoP proof checks (RFC 9449 §4.3): the proof is a `dpop+jwt` signed with the public key in its own header;
 * it names the HTTP method (`htm`) and URL (`htu`) of this very request, is fresh (`iat` within a window),
 * is never seen twice (`jti` replay cache), and when an access token rides along, hashes it (`ath`). The
 * key's RFC 7638 thumbprint is what a token's `cnf.jkt` binds to.
 */
import { createHash } from 'node:crypto';
import { calculateJwkThumbprint, decodeProtectedHeader, importJWK, jwtVerify, type JWK } from 'jose';
import { brokerError } from '../errors.js';
import type { ExpiringSet } from './expiring-set.js';

export const DPOP_ALGORITHMS = ['EdDSA', 'ES256', 'ES384', 'RS256', 'PS256'] as const;
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'];

/**
 * Imported DPoP keys and their thumbprints, by JWK: a client proves with the same key for every request, so
 * import and RFC 7638 hashing are done once per key, not per proof. Bounded; cleared when full.
 */
const importedKeys = new Map<string, { key: Awaited<ReturnType<typeof importJWK>>; jkt: string }>();

async function importProofKey(jwk: JWK, alg: string) {
  const id = `${alg}|${JSON.stringify(jwk)}`;
  let hit = importedKeys.get(id);
  if (!hit) {
    hit = { key: await importJWK(jwk, alg), jkt: await calculateJwkThumbprint(jwk, 'sha256') };
    if (importedKeys.size >= 10_000) importedKeys.clear();
    importedKeys.set(id, hit);
  }
  return hit;
}

export interface DpopCheck {
  method: string;
  url: string;
  now: Date;
  /** How old a proof may be. */
  iatWindowSeconds: number;
  /** How far in the future `iat` may be (clock skew); small, since it lengthens how long a jti is remembered. */
  skewSeconds?: number | undefined;
  replay: ExpiringSet;
  /** The access token presented with the proof (resource requests); its hash must be `ath`. */
  accessToken?: string | undefined;
}

/** `htu` comparison ignores query and fragment (RFC 9449 §4.3 step 9). */
export function normalizeHtu(url: string): string | undefined {
  try {
    const u = new URL(url);
    u.search = '';
    u.hash = '';
    return u.href;
  } catch {
    return undefined;
  }
}

export function accessTokenHash(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

/**
 * Verifies one proof and returns the thumbprint of its key.
 * @example const { jkt } = await verifyDpopProof(req.headers.dpop, { method: 'POST', url, now, ... });
 */
export async function verifyDpopProof(
  proof: string,
  check: DpopCheck,
): Promise<{ jkt: string; jti: string }> {
  const field = { field: 'headers.dpop' };
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(proof);
  } catch {
    throw brokerError('DPOP_INVALID', 'the DPoP proof is not a compact JWS', field);
  }
  if (header.typ !== 'dpop+jwt') throw brokerError('DPOP_INVALID', 'DPoP proof typ must be dpop+jwt', field);
  if (typeof header.alg !== 'string' || !(DPOP_ALGORITHMS as readonly string[]).includes(header.alg)) {
    throw brokerError('DPOP_INVALID', 'DPoP proof alg must be an asymmetric JWS algorithm', field);
  }
  const jwk = header.jwk;
  if (!jwk || typeof jwk !== 'object' || PRIVATE_MEMBERS.some((m) => m in jwk)) {
    throw brokerError('DPOP_INVALID', 'DPoP proof header must carry a public jwk', field);
  }
  let payload: Record<string, unknown>;
  let jkt: string;
  try {
    const imported = await importProofKey(jwk, header.alg);
    jkt = imported.jkt;
    ({ payload } = await jwtVerify(proof, imported.key, {
      typ: 'dpop+jwt',
      algorithms: [...DPOP_ALGORITHMS],
      currentDate: check.now,
    }));
  } catch (err) {
    throw brokerError('DPOP_INVALID', 'the DPoP proof signature does not verify', { ...field, cause: err });
  }
  const { jti, htm, htu, iat, ath } = payload;
  if (typeof jti !== 'string' || jti.length < 8 || jti.length > 256) {
    throw brokerError('DPOP_INVALID', 'DPoP proof needs a jti (8 to 256 characters)', field);
  }
  if (htm !== check.method) throw brokerError('DPOP_HTM_MISMATCH', `DPoP htm must be ${check.method}`, field);
  const expected = normalizeHtu(check.url);
  if (typeof htu !== 'string' || expected === undefined || normalizeHtu(htu) !== expected) {
    throw brokerError('DPOP_HTU_MISMATCH', `DPoP htu must be ${expected ?? check.url}`, field);
  }
  const nowS = check.now.getTime() / 1000;
  const skew = check.skewSeconds ?? 5;
  if (typeof iat !== 'number' || iat < nowS - check.iatWindowSeconds || iat > nowS + skew) {
    throw brokerError(
      'DPOP_IAT_OUT_OF_WINDOW',
      `DPoP iat must be at most ${check.iatWindowSeconds} s old and ${skew} s ahead`,
      field,
    );
  }
  if (check.accessToken !== undefined && ath !== accessTokenHash(check.accessToken)) {
    throw brokerError('DPOP_ATH_MISMATCH', 'DPoP ath does not match the presented access token', field);
  }
  // Last, so a proof that fails another check does not burn its jti. Remembered through the last instant
  // the iat check above accepts it (iat + window, inclusive).
  const expires = (iat + check.iatWindowSeconds) * 1000;
  if (!check.replay.addIfAbsent(`${jkt}|${jti}`, expires, check.now.getTime())) {
    throw brokerError('DPOP_REPLAY', `DPoP proof ${jti} was already used`, field);
  }
  return { jkt, jti };
}
