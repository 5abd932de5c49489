/**
 * The `jti`s of RFC 7523 client assertions already accepted, kept in the store until the assertion expires, so
 * "single use" (RFC 7523 §3 item 7) holds across replicas and restarts, not only within one process.
 */
import type { BrokerDb } from '../tables.js';

export class UsedAssertions {
  constructor(
    private readonly db: BrokerDb,
    private readonly now: () => Date,
  ) {}

  /**
   * Records a client's assertion `jti` as used until `expiresAtMs`; false when it is already recorded and not
   * yet expired (a replay). A row left over from an expired assertion is taken over.
   */
  async claim(clientId: string, jti: string, expiresAtMs: number): Promise<boolean> {
    const now = this.now().toISOString();
    const expiresAt = new Date(expiresAtMs).toISOString();
    const res = await this.db
      .insertInto('broker_client_assertions')
      .values({ client_id: clientId, jti, used_at: now, expires_at: expiresAt })
      .onConflict((oc) =>
        oc
          .columns(['client_id', 'jti'])
          .doUpdateSet({ used_at: now, expires_at: expiresAt })
          .where('broker_client_assertions.expires_at', '<=', now),
      )
      .executeTakeFirst();
    return (res.numInsertedOrUpdatedRows ?? 0n) > 0n;
  }

  /** Sweeper: forgets `jti`s whose assertions have expired (they are refused as expired anyway). */
  async prune(): Promise<number> {
    const res = await this.db
      .deleteFrom('broker_client_assertions')
      .where('expires_at', '<=', this.now().toISOString())
      .executeTakeFirst();
    return Number(res.numDeletedRows);
  }
}
