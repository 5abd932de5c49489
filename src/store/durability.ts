/**
 * Relaxed-durability commits for high-volume records that are not changes: the decision log and detection
 * baselines. Every change, audit entry, alert and revocation keeps the default (fsync on every commit).
 *
 * What "relaxed" means, on both backends: a commit survives a crash of the Bulkhead process at once; only a
 * power failure or kernel crash within about a second of it can lose it. It never corrupts the store.
 * - SQLite (WAL): the commit runs with `synchronous = NORMAL`, so its WAL frames reach the OS but are not
 *   fsynced; they become durable at the next normal commit or checkpoint. An fsync per decision-log batch
 *   would otherwise stall the event loop (better-sqlite3 is synchronous) and show up as request latency.
 *   On a file store these commits run on the store's worker thread (sqlite-worker.ts).
 * - PostgreSQL: `SET LOCAL synchronous_commit = off`; the WAL writer flushes within 3 × wal_writer_delay.
 */
import { CompiledQuery, type Kysely, SqliteAdapter, type Transaction, sql } from 'kysely';
import { type SqliteWorker, SqliteWorkerUnavailable } from './sqlite-worker.js';

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
 * Where a SQLite store's relaxed writes can run off the event loop (see sqlite-worker.ts), by the store's
 * query executor: typed views of the store (`withTables`, casts) share it.
 */
const workers = new WeakMap<object, SqliteWorker>();

/** Lets `writeInRelaxedChunks` on `db`, or any typed view of it, use the store's worker. */
export function attachSqliteWorker<DB>(db: Kysely<DB>, worker: SqliteWorker): void {
  workers.set(db.getExecutor(), worker);
}

/**
 * Writes rows in relaxed commits of `chunk` rows. `build` turns a chunk into the statements that write it
 * (compiled on `db`, not executed). On a SQLite file store they run on the store's worker thread, so the event
 * loop only builds them; otherwise (PostgreSQL, in-memory SQLite, or a worker that has failed) they run
 * here, yielding to the event loop between commits: on SQLite every statement blocks the process, so one
 * large batch would hold up every request queued behind it. Chunks are built one per event-loop turn
 * either way, so serialising many rows never runs as one long task.
 */
export async function writeInRelaxedChunks<DB, R>(
  db: Kysely<DB>,
  rows: readonly R[],
  chunk: number,
  build: (rows: R[]) => CompiledQuery[],
): Promise<void> {
  const worker = workers.get(db.getExecutor());
  const sent: Promise<void>[] = [];
  const here = (queries: readonly CompiledQuery[]) =>
    relaxedTransaction(db, async (trx) => {
      for (const q of queries) await trx.executeQuery(q);
    });
  try {
    for (let i = 0; i < rows.length; i += chunk) {
      if (i > 0) await new Promise<void>((resolve) => setImmediate(resolve));
      const queries = build(rows.slice(i, i + chunk));
      if (worker?.available) {
        // A worker that dies before answering leaves the chunk unwritten: write it here instead.
        sent.push(
          worker.run(queries).catch((err: unknown) => {
            if (err instanceof SqliteWorkerUnavailable) return here(queries);
            throw err;
          }),
        );
      } else {
        await here(queries);
      }
    }
  } catch (err) {
    // Chunks already handed to the worker still finish (and may fail) after this one failed.
    await Promise.allSettled(sent);
    throw err;
  }
  await Promise.all(sent);
}

/** Statement text by dialect, table, columns and row count (a handful per table: full chunks and a tail). */
const insertTexts = new Map<string, string>();
const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;

/**
 * A multi-row INSERT of `values` (row after row, in `columns` order) without Kysely's query builder: for
 * high-volume writers (the decision log) whose rows would otherwise be built into a query tree and compiled
 * again for every chunk. The SQL text is made once per dialect, table, columns and row count; the values are
 * passed as parameters, never spliced into the text. `skipExisting` adds `on conflict do nothing`, for rows
 * whose key says they are the same row: a batch retried on the serving connection after the worker died
 * having committed it (but before it could say so) then inserts nothing twice and fails on nothing.
 */
export function insertRowsQuery<DB>(
  db: Kysely<DB>,
  table: string,
  columns: readonly string[],
  values: readonly unknown[],
  options: { skipExisting?: boolean } = {},
): CompiledQuery {
  const rows = values.length / columns.length;
  if (columns.length === 0 || rows < 1 || !Number.isInteger(rows)) {
    throw new Error(`insertRowsQuery: ${values.length} values do not fill rows of ${columns.length} columns`);
  }
  const sqlite = db.getExecutor().adapter instanceof SqliteAdapter;
  const skip = options.skipExisting === true;
  const key = `${sqlite ? 's' : 'p'}|${skip ? 'skip' : 'all'}|${table}|${columns.join(',')}|${rows}`;
  let text = insertTexts.get(key);
  if (text === undefined) {
    for (const name of [table, ...columns]) {
      if (!IDENTIFIER.test(name)) throw new Error(`insertRowsQuery: bad identifier ${JSON.stringify(name)}`);
    }
    const tuples: string[] = [];
    let n = 0;
    for (let r = 0; r < rows; r++) {
      const marks = columns.map(() => (sqlite ? '?' : `$${++n}`));
      tuples.push(`(${marks.join(', ')})`);
    }
    text = `insert into "${table}" (${columns.map((c) => `"${c}"`).join(', ')}) values ${tuples.join(', ')}${
      skip ? ' on conflict do nothing' : ''
    }`;
    if (insertTexts.size >= 256) insertTexts.clear();
    insertTexts.set(key, text);
  }
  return CompiledQuery.raw(text, values as unknown[]);
}
