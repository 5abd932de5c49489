/**
 * The token hot path on node:crypto directly: compact JWS (RFC 7515) with EdDSA/Ed25519 (RFC 8037) only, for
 * the broker's own `at+jwt` tokens. jose stays the library for everything that arrives from elsewhere
 * (workload proofs, DPoP proofs, any algorithm); here the header is fixed by us, so the check is narrow and
 * strict: exactly `alg: EdDSA`, `typ: at+jwt`, a string `kid`, no `crit`. Measured against raw
 * `crypto.sign`/`crypto.verify` in bench/broker.ts.
 */
import { sign, verify, type KeyObject } from 'node:crypto';

export type JwsFailure = 'malformed' | 'bad_signature';

/** Signs claims as a compact JWS with the broker header. */
export function signCompact(claims: object, kid: string, key: KeyObject): string {
  const header = Buffer.from(JSON.stringify({ alg: 'EdDSA', typ: 'at+jwt', kid })).toString('base64url');
  const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
  const input = `${header}.${payload}`;
  return `${input}.${sign(null, Buffer.from(input), key).toString('base64url')}`;
}

export interface ParsedCompact {
  kid: string;
  signingInput: string;
  payloadPart: string;
  signature: Buffer;
}

/** Splits and checks the header; undefined when it is not a broker token. */
export function parseCompact(token: string): ParsedCompact | undefined {
  const a = token.indexOf('.');
  const b = token.indexOf('.', a + 1);
  if (a <= 0 || b <= a + 1 || token.indexOf('.', b + 1) !== -1 || b === token.length - 1) return undefined;
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(token.slice(0, a), 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof header !== 'object' || header === null) return undefined;
  const h = header as Record<string, unknown>;
  if (h.alg !== 'EdDSA' || h.typ !== 'at+jwt' || typeof h.kid !== 'string' || 'crit' in h) return undefined;
  const signature = Buffer.from(token.slice(b + 1), 'base64url');
  if (signature.length !== 64) return undefined;
  return { kid: h.kid, signingInput: token.slice(0, b), payloadPart: token.slice(a + 1, b), signature };
}

/** Verifies the signature and returns the payload object, or why not. */
export function verifyCompact(parsed: ParsedCompact, key: KeyObject): Record<string, unknown> | JwsFailure {
  if (!verify(null, Buffer.from(parsed.signingInput), key, parsed.signature)) return 'bad_signature';
  try {
    const payload: unknown = JSON.parse(Buffer.from(parsed.payloadPart, 'base64url').toString('utf8'));
    return typeof payload === 'object' && payload !== null && !Array.isArray(payload)
      ? (payload as Record<string, unknown>)
      : 'malformed';
  } catch {
    return 'malformed';
  }
}
