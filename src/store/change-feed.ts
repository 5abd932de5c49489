/**
 * Cross-replica change notifications. Replicas sharing one PostgreSQL schema tell each other about committed
 * changes with LISTEN/NOTIFY, so a quarantine, a disabled identity or a policy activation made through one
 * replica reaches the decision caches of the others within milliseconds rather than at their next poll.
 *
 * Delivery is best-effort by design: a message is sent after its transaction commits, and one lost while a
 * listener reconnects (or because a process died between commit and notify) is caught by the periodic poll
 * each consumer keeps as its safety net. On reconnect, subscribers are told to resync at once.
 *
 * SQLite is one process: its feed carries nothing.
 */
import { createHash, randomBytes } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import pg from 'pg';
import type { Logger } from 'pino';

export interface ChangeFeed {
  /** Whether messages can cross processes at all (PostgreSQL). */
  readonly distributed: boolean;
  /** Tells the other replicas. Never throws: a failure is logged and the consumers' poll catches up. */
  publish(topic: string, data: unknown): void;
  /**
   * Messages on `topic` from other replicas (never this process's own); `resync` runs when the listener
   * (re)connects, since messages may have been missed while it was down. Connects on first use.
   */
  subscribe(topic: string, onMessage: (data: unknown) => void, resync?: () => void): () => void;
  close(): Promise<void>;
}

/** A feed for a single process: nothing to tell anyone. */
export const localFeed: ChangeFeed = {
  distributed: false,
  publish() {},
  subscribe() {
    return () => undefined;
  },
  async close() {},
};

interface Subscriber {
  topic: string;
  onMessage: (data: unknown) => void;
  resync: (() => void) | undefined;
}

const MAX_PAYLOAD = 7900; // PostgreSQL refuses NOTIFY payloads of 8000 bytes or more
const MAX_BACKOFF_MS = 30_000;

/** One channel per schema, so test schemas and tenants sharing a server never hear each other. */
export function feedChannel(schema: string): string {
  return `bulkhead_${createHash('sha256').update(schema).digest('hex').slice(0, 20)}`;
}

export class PostgresChangeFeed implements ChangeFeed {
  readonly distributed = true;
  private readonly origin = randomBytes(8).toString('hex');
  private readonly channel: string;
  private readonly subscribers = new Set<Subscriber>();
  private client: pg.Client | undefined;
  private connecting: Promise<void> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private backoffMs = 500;
  private closed = false;
  private waiters: (() => void)[] = [];

  constructor(
    private readonly db: Kysely<unknown>,
    private readonly connectionString: string,
    schema: string,
    private readonly log?: Pick<Logger, 'warn'>,
  ) {
    this.channel = feedChannel(schema);
  }

  publish(topic: string, data: unknown): void {
    if (this.closed) return;
    const payload = JSON.stringify({ o: this.origin, t: topic, d: data });
    if (Buffer.byteLength(payload) > MAX_PAYLOAD) {
      this.log?.warn({ topic }, 'change notification too large; replicas will pick it up on their next poll');
      return;
    }
    sql`select pg_notify(${this.channel}, ${payload})`.execute(this.db).catch((err: unknown) => {
      this.log?.warn(
        { err, topic },
        'could not notify other replicas; they will pick it up on their next poll',
      );
    });
  }

  subscribe(topic: string, onMessage: (data: unknown) => void, resync?: () => void): () => void {
    const sub: Subscriber = { topic, onMessage, resync };
    this.subscribers.add(sub);
    if (!this.client && !this.connecting && !this.retryTimer) this.connect();
    return () => this.subscribers.delete(sub);
  }

  /** Resolves once the listener is connected (tests use it to avoid racing the first message). */
  ready(): Promise<void> {
    if (this.client || this.closed) return Promise.resolve();
    if (!this.connecting && !this.retryTimer) this.connect();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private connect(): void {
    const client = new pg.Client({ connectionString: this.connectionString });
    let gone = false;
    // A failing connection can report itself several ways (rejected connect, 'error', 'end'): act once.
    const lost = (err?: unknown) => {
      if (gone) return;
      gone = true;
      if (this.client === client) this.client = undefined;
      client.removeAllListeners('notification');
      client.end().catch(() => undefined);
      if (this.closed) return;
      this.log?.warn({ err, retryInMs: this.backoffMs }, 'replica change listener lost; polling meanwhile');
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        this.connect();
      }, this.backoffMs);
      this.retryTimer.unref();
      this.backoffMs = Math.min(this.backoffMs * 2, MAX_BACKOFF_MS);
    };
    // An error after connecting (server restart, network) must never crash the process.
    client.on('error', (err) => lost(err));
    client.on('end', () => lost());
    client.on('notification', (msg) => this.deliver(msg.channel, msg.payload));
    this.connecting = (async () => {
      try {
        await client.connect();
        await client.query(`LISTEN ${this.channel}`);
        if (this.closed) {
          await client.end();
          return;
        }
        this.client = client;
        this.backoffMs = 500;
        for (const s of this.subscribers) s.resync?.();
        for (const w of this.waiters.splice(0)) w();
      } catch (err) {
        lost(err);
      } finally {
        this.connecting = undefined;
      }
    })();
  }

  private deliver(channel: string, payload: string | undefined): void {
    if (channel !== this.channel || !payload) return;
    let msg: { o?: unknown; t?: unknown; d?: unknown };
    try {
      msg = JSON.parse(payload) as typeof msg;
    } catch {
      return;
    }
    if (msg.o === this.origin || typeof msg.t !== 'string') return;
    for (const s of this.subscribers) {
      if (s.topic !== msg.t) continue;
      try {
        s.onMessage(msg.d);
      } catch (err) {
        this.log?.warn({ err, topic: msg.t }, 'change notification handler failed');
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.connecting) await this.connecting;
    const client = this.client;
    this.client = undefined;
    this.subscribers.clear();
    for (const w of this.waiters.splice(0)) w();
    if (client) await client.end().catch(() => undefined);
  }
}
