/**
 * Relaxed-durability commits for high-volume records that are not changes: the decision log and detection
 * baselines. Every change, audit entry, alert and revocation keeps the default (fsync on every commit).
 *
 * What "relaxed" means, on both backends: a commit survives a crash of the Bulkhead process at once; only a
 * power failure or kernel crash within about a second of it can lose it. It never corrupts the store.
 * - SQLite (WAL): the commit runs with `synchronous = NORMAL`, so its WAL frames reach the OS but are not
 *   fsynced; they become durable at the next normal commit or checkpoint. An fsync per decision-log batch
 *   would otherwise stall the event loop (better-sqlite3 is synchronous) and show up as request latency.
 * - PostgreSQL: `SET LOCAL synchronous_commit = off`; the WAL writer flushes within 3 × wal_writer_delay.
 */
import { type Kysely, SqliteAdapter, type Transaction, sql } from 'kysely';

export async function relaxedTransaction<DB, T>(
  db: Kysely<DB>,
  fn: (trx: Transaction<DB>) => Promise<T>,
): Promise<T> {
  if (!(db.getExecutor().adapter instanceof SqliteAdapter)) {
    return db.transaction().execute(async (trx) => {
      await sql`set local synchronous_commit = off`.execute(trx);
      return fn(trx);
    });
  }
  // The connection is held for the whole callback, so no other query runs under the relaxed setting.
  return db.connection().execute(async (conn) => {
    await sql`pragma synchronous = NORMAL`.execute(conn);
    try {
      return await conn.transaction().execute(fn);
    } finally {
      await sql`pragma synchronous = FULL`.execute(conn);
    }
  });
}

/**
 * Writes rows in relaxed commits of `chunk` rows, yielding to the event loop between commits: on SQLite
 * every statement blocks the process, so one large batch would hold up every request queued behind it.
 */
export async function writeInRelaxedChunks<DB, R>(
  db: Kysely<DB>,
  rows: readonly R[],
  chunk: number,
  write: (trx: Transaction<DB>, rows: R[]) => Promise<unknown>,
): Promise<void> {
  for (let i = 0; i < rows.length; i += chunk) {
    if (i > 0) await new Promise<void>((resolve) => setImmediate(resolve));
    await relaxedTransaction(db, (trx) => write(trx, rows.slice(i, i + chunk)));
  }
}
