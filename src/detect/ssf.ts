/**
 * Shared Signals: alerts leave Bulkhead as Security Event Tokens (RFC 8417) pushed to receivers with
 * RFC 8935 push delivery. A credential-level alert becomes a RISC `credential-compromise`; a token-level one
 * (replay, reuse outside its workflow) a CAEP `session-revoked`, telling the receiver to drop the session.
 * The signing key is Ed25519, generated per process; receivers verify with the JWKS at `/v1/ssf/jwks.json`.
 */
import { randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import type { Alert } from './alert.js';

export const SET_EVENT_TYPES = {
  'credential-compromise': 'https://schemas.openid.net/secevent/risc/event-type/credential-compromise',
  'session-revoked': 'https://schemas.openid.net/secevent/caep/event-type/session-revoked',
} as const;

/** One Shared Signals event about a credential or a session / identity, before signing. */
export interface SecuritySignal {
  signal: keyof typeof SET_EVENT_TYPES;
  /** Opaque subject id: the credential (credential-compromise) or the identity (session-revoked). */
  subject: string;
  /** RFC 8417 `txn`: the same for every copy of one event, so a receiver drops duplicates. */
  txn: string;
  eventTime: Date;
  reason: string;
}

export interface SsfReceiver {
  /** RFC 8935 push endpoint. */
  url: string;
  /** `aud` of the SETs sent there (defaults to the URL's origin). */
  audience?: string | undefined;
  /** Optional bearer token the receiver requires. */
  authorization?: string | undefined;
}

export interface SsfOptions {
  issuer: string;
  receivers: SsfReceiver[];
  /** Per-push timeout. */
  timeoutMs?: number | undefined;
  fetchImpl?: typeof fetch | undefined;
}

export interface DeliveryResult {
  receiver: string;
  ok: boolean;
  status?: number | undefined;
  /** RFC 8935 §2.3 error code returned by the receiver (e.g. `invalid_request`, `authentication_failed`). */
  err?: string | undefined;
}

export class SetSigner {
  private constructor(
    private readonly key: CryptoKey,
    readonly kid: string,
    readonly publicJwk: JWK,
  ) {}

  static async create(): Promise<SetSigner> {
    const { privateKey, publicKey } = await generateKeyPair('Ed25519');
    const jwk = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(jwk);
    return new SetSigner(privateKey, kid, { ...jwk, kid, alg: 'EdDSA', use: 'sig' });
  }

  jwks(): { keys: JWK[] } {
    return { keys: [this.publicJwk] };
  }

  /** Builds and signs the SET for an alert; returns undefined for alerts that map to no signal. */
  async sign(alert: Alert, issuer: string, audience: string, now: Date): Promise<string | undefined> {
    if (alert.signal !== 'credential-compromise' && alert.signal !== 'session-revoked') return undefined;
    return this.signSignal(
      {
        signal: alert.signal,
        subject: alert.credential ?? alert.identity_id ?? alert.identity,
        txn: alert.id,
        eventTime: new Date(Date.parse(alert.last_seen)),
        reason: `${alert.title} (${alert.rule_id}, ${alert.techniques.join(', ')})`,
      },
      issuer,
      audience,
      now,
    );
  }

  /** Builds and signs one SET (RISC credential-compromise or CAEP session-revoked) about an opaque subject. */
  async signSignal(signal: SecuritySignal, issuer: string, audience: string, now: Date): Promise<string> {
    const eventTimestamp = Math.floor(signal.eventTime.getTime() / 1000);
    const reason = { en: signal.reason };
    const payload =
      signal.signal === 'credential-compromise'
        ? { credential_type: 'api_key', event_timestamp: eventTimestamp, reason_admin: reason }
        : { event_timestamp: eventTimestamp, reason_admin: reason, initiating_entity: 'policy' };
    return (
      new SignJWT({
        sub_id: { format: 'opaque', id: signal.subject },
        txn: signal.txn,
        events: { [SET_EVENT_TYPES[signal.signal]]: payload },
      })
        // RFC 8417 §2.3: explicit typing so a SET cannot be mistaken for an ID or access token.
        .setProtectedHeader({ alg: 'EdDSA', kid: this.kid, typ: 'secevent+jwt' })
        .setIssuer(issuer)
        .setAudience(audience)
        .setIssuedAt(Math.floor(now.getTime() / 1000))
        .setJti(randomUUID())
        .sign(this.key)
    );
  }
}

/** RFC 8935 push: POST the SET as `application/secevent+jwt`; 202 means accepted. */
export async function pushSet(
  set: string,
  receiver: SsfReceiver,
  options: SsfOptions,
): Promise<DeliveryResult> {
  const doFetch = options.fetchImpl ?? fetch;
  const headers: Record<string, string> = {
    'content-type': 'application/secevent+jwt',
    accept: 'application/json',
  };
  if (receiver.authorization) headers.authorization = receiver.authorization;
  try {
    const res = await doFetch(receiver.url, {
      method: 'POST',
      headers,
      body: set,
      signal: AbortSignal.timeout(options.timeoutMs ?? 5000),
    });
    if (res.status === 202 || res.status === 200)
      return { receiver: receiver.url, ok: true, status: res.status };
    let err: string | undefined;
    try {
      const body = (await res.json()) as { err?: unknown };
      if (typeof body.err === 'string') err = body.err;
    } catch {
      /* receiver sent no JSON error */
    }
    return { receiver: receiver.url, ok: false, status: res.status, err };
  } catch (error) {
    return { receiver: receiver.url, ok: false, err: error instanceof Error ? error.message : String(error) };
  }
}

export function audienceOf(receiver: SsfReceiver): string {
  return receiver.audience ?? new URL(receiver.url).origin;
}

/** `BULKHEAD_SSF_RECEIVERS`: comma-separated push URLs. */
export function receiversFromEnv(value: string | undefined): SsfReceiver[] {
  if (!value) return [];
  return value
    .split(',')
    .map((u) => u.trim())
    .filter(Boolean)
    .map((url) => {
      const parsed = new URL(url);
      if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
        throw new Error(`BULKHEAD_SSF_RECEIVERS: ${url} is not an http(s) URL`);
      }
      return { url };
    });
}
