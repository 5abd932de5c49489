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

export class EventBus {
  private readonly listeners = new Map<string, Set<EventListener>>();

  constructor(private readonly log?: Logger) {}

  /** Subscribes to one type, a prefix (`token.*`) or everything (`*`); returns an unsubscribe function. */
  subscribe(pattern: string, listener: EventListener): () => void {
    let set = this.listeners.get(pattern);
    if (!set) {
      set = new Set();
      this.listeners.set(pattern, set);
    }
    set.add(listener);
    return () => set.delete(listener);
  }

  publish(event: BulkheadEvent): void {
    for (const [pattern, set] of this.listeners) {
      if (!matches(pattern, event.type)) continue;
      for (const listener of set) {
        try {
          listener(event);
        } catch (err) {
          this.log?.error({ err, eventType: event.type, pattern }, 'event subscriber failed');
        }
      }
    }
  }
}

function matches(pattern: string, type: string): boolean {
  if (pattern === '*' || pattern === type) return true;
  return pattern.endsWith('.*') && type.startsWith(pattern.slice(0, -1));
}
