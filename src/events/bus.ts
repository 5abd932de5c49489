/**
 * In-process event bus: modules publish what happened (a decision, a token issued, a credential revoked) and
 * others subscribe (detection reads decisions and token use; containment reads alerts). Delivery is
 * synchronous and isolated: a throwing subscriber is logged and never breaks the publisher or other subscribers.
 * Durable storage of events is each consumer's job (e.g. the detect module's event table).
 */
import type { Logger } from 'pino';

export interface BulkheadEvent {
  /** Unique id (uuid or source event id). */
  id: string;
  /** ISO-8601 time the event happened. */
  time: string;
  /** Dotted type, e.g. `decision`, `token.issued`, `token.used`, `credential.revoked`, `alert.raised`. */
  type: string;
  /** Module that published it, e.g. `policy`, `broker`, `detect`. */
  source: string;
  /** Inventory identity id of the actor, when known. */
  identityId?: string | undefined;
  credentialId?: string | undefined;
  action?: string | undefined;
  resource?: string | undefined;
  outcome?: 'success' | 'failure' | 'deny' | 'allow' | undefined;
  /** Type-specific details (must be JSON-safe; never a secret). */
  data?: Record<string, unknown> | undefined;
}

export type EventListener = (event: BulkheadEvent) => void;

interface Subscription {
  listeners: Set<EventListener>;
  /** `token.*` -> `token.`: worked out once, not on every publish. */
  prefix: string | undefined;
}

export class EventBus {
  private readonly patterns = new Map<string, Subscription>();

  constructor(private readonly log?: Logger) {}

  /** Subscribes to one type, a prefix (`token.*`) or everything (`*`); returns an unsubscribe function. */
  subscribe(pattern: string, listener: EventListener): () => void {
    let sub = this.patterns.get(pattern);
    if (!sub) {
      sub = { listeners: new Set(), prefix: pattern.endsWith('.*') ? pattern.slice(0, -1) : undefined };
      this.patterns.set(pattern, sub);
    }
    const { listeners } = sub;
    listeners.add(listener);
    return () => listeners.delete(listener);
  }

  publish(event: BulkheadEvent): void {
    for (const [pattern, sub] of this.patterns) {
      if (!matches(pattern, event.type, sub.prefix)) continue;
      for (const listener of sub.listeners) {
        try {
          listener(event);
        } catch (err) {
          this.log?.error({ err, eventType: event.type, pattern }, 'event subscriber failed');
        }
      }
    }
  }
}

function matches(pattern: string, type: string, prefix: string | undefined): boolean {
  if (pattern === '*' || pattern === type) return true;
  return prefix !== undefined && type.startsWith(prefix);
}
