/**
 * Webhook notifications signed with HMAC-SHA256 over `<timestamp>.<body>` (the receiver recomputes it with
 * the shared secret and rejects old timestamps, so a captured request cannot be replayed later). The
 * `Idempotency-Key` lets a receiver drop the copy a retry or a crash-resume sends again.
 */
import { createHmac } from 'node:crypto';
import type { Notification, Notifier } from './handles.js';

export interface WebhookReceiver {
  url: string;
  secret: string;
  /** Channels this receiver gets (`page`, `owners`, ...); all when absent. */
  channels?: string[] | undefined;
}

export function signWebhook(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export class WebhookNotifier implements Notifier {
  constructor(
    private readonly receivers: WebhookReceiver[],
    private readonly now: () => Date = () => new Date(),
    private readonly timeoutMs = 5000,
  ) {}

  async send(n: Notification, idempotencyKey: string): Promise<{ delivered: number; failed: number }> {
    const body = JSON.stringify(n);
    let delivered = 0;
    let failed = 0;
    for (const r of this.receivers) {
      if (r.channels && !r.channels.includes(n.channel)) continue;
      const ts = String(Math.floor(this.now().getTime() / 1000));
      try {
        const res = await fetch(r.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-bulkhead-timestamp': ts,
            'x-bulkhead-signature': signWebhook(r.secret, ts, body),
            'idempotency-key': idempotencyKey,
          },
          body,
          signal: AbortSignal.timeout(this.timeoutMs),
        });
        if (res.ok) delivered++;
        else failed++;
      } catch {
        failed++;
      }
    }
    if (failed > 0 && delivered === 0) throw new Error(`webhook delivery failed for ${failed} receiver(s)`);
    return { delivered, failed };
  }
}

/** `BULKHEAD_RESPOND_WEBHOOKS`: comma-separated `url|secret` pairs. */
export function receiversFromEnv(value: string | undefined): WebhookReceiver[] {
  if (!value) return [];
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((pair) => {
      const [url, secret] = pair.split('|');
      if (!url || !secret || !/^https?:\/\//.test(url)) {
        throw new Error('BULKHEAD_RESPOND_WEBHOOKS entries must look like https://host/path|secret');
      }
      return { url, secret };
    });
}
