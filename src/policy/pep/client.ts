/**
 * A small policy enforcement point client for the AuthZEN evaluation API. It never throws and never
 * allows on doubt: a timeout, a network error, a non-2xx answer or a malformed body is a deny with a reason
 * (fail closed). Successful answers are cached for a short TTL in a bounded LRU.
 *
 * @example
 * const pdp = new PdpClient({ baseUrl: 'http://pdp:8080', token: process.env.PDP_TOKEN });
 * const d = await pdp.evaluate({ subject: { type: 'identity', id: 'payments-api' },
 *   action: { name: 'read' }, resource: { type: 'database', id: 'payments-db' } });
 * if (!d.decision) refuse(d.reason);
 */
import { LruCache } from '../decision-cache.js';

export interface AuthzenEntityRef {
  type: string;
  id: string;
  properties?: Record<string, unknown>;
}

export interface AuthzenEvaluationRequest {
  subject: AuthzenEntityRef;
  action: { name: string; properties?: Record<string, unknown> };
  resource: AuthzenEntityRef;
  context?: Record<string, unknown>;
}

export interface PepDecision {
  decision: boolean;
  /** Set when the PEP denied on its own: `pdp_timeout`, `pdp_unreachable`, `pdp_error`, `pdp_bad_response`. */
  reason?: string;
  context?: Record<string, unknown>;
  cached: boolean;
}

export interface PdpClientOptions {
  baseUrl: string;
  token?: string | undefined;
  /** Deadline for one PDP call (default 250 ms); past it the answer is deny. */
  timeoutMs?: number;
  /** How long a PDP answer is reused (default 1000 ms; 0 disables the cache). */
  cacheTtlMs?: number;
  cacheSize?: number;
  fetch?: typeof fetch;
  clock?: () => number;
}

export class PdpClient {
  private readonly url: string;
  private readonly cache: LruCache<{ decision: boolean; context?: Record<string, unknown> }> | undefined;
  private readonly fetchImpl: typeof fetch;
  private readonly timeoutMs: number;

  constructor(private readonly options: PdpClientOptions) {
    this.url = `${options.baseUrl.replace(/\/+$/, '')}/access/v1/evaluation`;
    const ttl = options.cacheTtlMs ?? 1000;
    this.cache = ttl > 0 ? new LruCache(options.cacheSize ?? 10_000, ttl, options.clock) : undefined;
    this.fetchImpl = options.fetch ?? fetch;
    this.timeoutMs = options.timeoutMs ?? 250;
  }

  async evaluate(req: AuthzenEvaluationRequest, requestId?: string): Promise<PepDecision> {
    // A request carrying a one-time approval grant must reach the PDP every time.
    const cacheable = this.cache && req.context?.approval_id === undefined;
    const key = cacheable ? JSON.stringify(req) : '';
    if (cacheable) {
      const hit = this.cache?.get(key);
      if (hit) return { ...hit, cached: true };
    }
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: 'application/json',
    };
    if (this.options.token) headers.authorization = `Bearer ${this.options.token}`;
    if (requestId) headers['x-request-id'] = requestId;
    let res: Response;
    try {
      res = await this.fetchImpl(this.url, {
        method: 'POST',
        headers,
        body: JSON.stringify(req),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      const timeout = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
      return { decision: false, reason: timeout ? 'pdp_timeout' : 'pdp_unreachable', cached: false };
    }
    let body: unknown;
    try {
      body = await res.json();
    } catch {
      return { decision: false, reason: 'pdp_bad_response', cached: false };
    }
    if (!res.ok) return { decision: false, reason: 'pdp_error', cached: false };
    if (
      typeof body !== 'object' ||
      body === null ||
      typeof (body as { decision?: unknown }).decision !== 'boolean'
    ) {
      return { decision: false, reason: 'pdp_bad_response', cached: false };
    }
    const b = body as { decision: boolean; context?: Record<string, unknown> };
    const answer = { decision: b.decision, ...(b.context ? { context: b.context } : {}) };
    if (cacheable) this.cache?.set(key, answer);
    return { ...answer, cached: false };
  }
}
