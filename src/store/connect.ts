/**
 * Opens the store: embedded SQLite by default, PostgreSQL when a `postgres://` URL is configured. Both sit
 * behind the same typed Kysely interface; callers never branch on the backend except in migrations.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import {
  CompiledQuery,
  type DatabaseConnection,
  type Driver,
  Kysely,
  PostgresDialect,
  SqliteDialect,
  SqliteDriver,
  sql,
  type SqliteDialectConfig,
} from 'kysely';
import pg from 'pg';
import type { Logger } from 'pino';
import { localFeed, PostgresChangeFeed, type ChangeFeed } from './change-feed.js';
import { attachSqliteWorker } from './durability.js';
import { SqliteWorker } from './sqlite-worker.js';
import type { Database } from './database.js';
import type { Dialect } from './migration-types.js';

// int8 (bigint) columns hold sequence numbers and counters far below 2^53: read them as numbers.
pg.types.setTypeParser(20, (v) => Number(v));

export interface StoreOptions {
  /** `postgres://...` selects PostgreSQL; otherwise `sqliteFile` is used. */
  databaseUrl?: string | undefined;
  /** PostgreSQL schema to use (created if missing); tests use one schema per run. */
  schema?: string | undefined;
  sqliteFile?: string | undefined;
  /** Where the store reports trouble it recovers from (the replica change listener). */
  log?: Pick<Logger, 'warn'> | undefined;
}

export interface Store {
  db: Kysely<Database>;
  dialect: Dialect;
  /** PostgreSQL schema the tables live in (undefined for SQLite). */
  schema?: string | undefined;
  /** Human-readable description without credentials, for logs. */
  describe: string;
  /** Change notifications between replicas (LISTEN/NOTIFY on PostgreSQL; nothing on SQLite). */
  feed: ChangeFeed;
  /** SQLite file stores: the worker thread that checkpoints the WAL and runs relaxed writes. */
  sqliteWorker?: SqliteWorker | undefined;
  ping(): Promise<void>;
  close(): Promise<void>;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export function openStore(options: StoreOptions): Store {
  if (options.databaseUrl && /^postgres(ql)?:\/\//.test(options.databaseUrl)) {
    return openPostgres(options.databaseUrl, options.schema, options.log);
  }
  if (options.databaseUrl)
    throw new Error('BULKHEAD_DATABASE_URL must start with postgres:// or postgresql://');
  return openSqlite(options.sqliteFile ?? './data/bulkhead.db', options.log);
}

function openSqlite(file: string, log: StoreOptions['log']): Store {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const raw = new SqliteDatabase(file);
  // WAL lets readers run beside the writer. synchronous=FULL fsyncs the WAL on every commit, so an
  // acknowledged write (a revocation above all) survives kill -9 and power loss, not only a process crash.
  raw.pragma('journal_mode = WAL');
  raw.pragma('synchronous = FULL');
  raw.pragma('foreign_keys = ON');
  raw.pragma('busy_timeout = 5000');
  // Refresh planner statistics when they are missing or stale, so filtered lists pick the right index.
  raw.pragma('optimize = 0x10002');
  // Checkpoints and relaxed writes off the event loop (see sqlite-worker.ts); an in-memory database is
  // visible to this connection only.
  const worker = file === ':memory:' ? undefined : new SqliteWorker(raw, file, { log });
  worker?.start();
  const db = new Kysely<Database>({
    dialect: new ImmediateSqliteDialect({ database: withStatementCache(raw) }),
  });
  if (worker) attachSqliteWorker(db, worker);
  return {
    db,
    dialect: 'sqlite',
    describe: `sqlite:${file}`,
    feed: localFeed,
    sqliteWorker: worker,
    async ping() {
      await sql`select 1`.execute(db);
    },
    async close() {
      await worker?.stop();
      await db.destroy();
    },
  };
}

/**
 * Kysely begins SQLite transactions with a plain (deferred) BEGIN: the snapshot is taken at the first read and
 * only upgraded to the write lock at the first write. When another connection (the worker thread's relaxed
 * writes: key last-used, decision log, baselines) commits in between, the upgrade fails with
 * SQLITE_BUSY_SNAPSHOT, which busy_timeout cannot retry, and the request fails with a 500. BEGIN IMMEDIATE
 * takes the write lock up front, waiting (busy_timeout) for a commit in progress instead.
 */
class ImmediateSqliteDialect extends SqliteDialect {
  readonly #config: SqliteDialectConfig;

  constructor(config: SqliteDialectConfig) {
    super(config);
    this.#config = config;
  }

  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.#config);
  }
}

class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

const STATEMENT_CACHE_SIZE = 256;

/**
 * Kysely prepares every query afresh, and compiling SQL is most of the cost of a small indexed read in
 * better-sqlite3. Statements are reusable, so keep the most recent ones by SQL text. A statement still
 * open in an iterator (`busy`) is never handed out twice: the caller gets a fresh one instead.
 */
function withStatementCache(raw: SqliteDatabase.Database): SqliteDialectConfig['database'] & object {
  const cache = new Map<string, SqliteDatabase.Statement>();
  return {
    close: () => raw.close(),
    prepare(text: string) {
      const hit = cache.get(text);
      if (hit && !hit.busy) return hit;
      const stmt = raw.prepare(text);
      if (!hit) {
        if (cache.size >= STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value!);
        cache.set(text, stmt);
      }
      return stmt;
    },
  };
}

function openPostgres(url: string, schema: string | undefined, log: StoreOptions['log']): Store {
  if (schema !== undefined && !SCHEMA_NAME.test(schema))
    throw new Error(`invalid PostgreSQL schema name: ${schema}`);
  const pool = new pg.Pool({
    connectionString: url,
    max: 10,
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
  });
  // An idle client that loses its server must not crash the process; the next query reports the error.
  pool.on('error', () => undefined);
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  const redacted = url.replace(/\/\/([^@/]*)@/, '//***@');
  const feed = new PostgresChangeFeed(db as Kysely<unknown>, url, schema ?? 'public', log);
  return {
    db,
    dialect: 'postgres',
    schema: schema ?? 'public',
    describe: `postgres:${redacted}${schema ? ` schema=${schema}` : ''}`,
    feed,
    async ping() {
      await sql`select 1`.execute(db);
    },
    async close() {
      await feed.close();
      await db.destroy();
    },
  };
}

/** Creates the configured PostgreSQL schema if it does not exist (a no-op for SQLite). */
export async function ensureSchema(store: Store, schema: string | undefined): Promise<void> {
  if (store.dialect !== 'postgres' || !schema) return;
  if (!SCHEMA_NAME.test(schema)) throw new Error(`invalid PostgreSQL schema name: ${schema}`);
  await sql`create schema if not exists ${sql.id(schema)}`.execute(store.db);
}
