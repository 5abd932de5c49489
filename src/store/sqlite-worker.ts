/**
 * A worker thread with its own SQLite connection that takes two jobs off the event loop.
 *
 * better-sqlite3 is synchronous: whatever SQLite does inside a call holds the whole process, every request
 * included. Two kinds of work were the largest source of request-latency spikes under steady load (1k
 * decisions/s, `npm run bench -- policy`):
 *
 * - WAL checkpoints. By default SQLite checkpoints when a commit pushes the WAL past 1000 pages: that commit
 *   copies the WAL into the database file and fsyncs it, several milliseconds. Measured on 25-row commits:
 *   0.2 ms at the median, over 3 ms at the 99th percentile with automatic checkpoints, 0.6 ms without. So
 *   the serving connection turns automatic checkpoints off and the worker runs `PRAGMA
 *   wal_checkpoint(PASSIVE)` on a timer; a passive checkpoint never blocks readers or writers.
 * - Relaxed-durability writes (decision log, detection baselines; see durability.ts), ~0.4 ms per 25-row
 *   commit on the event loop. The caller compiles the statements (so SQL stays in one place, Kysely) and
 *   the worker runs them in a transaction with `synchronous = NORMAL`.
 *
 * Durability is unchanged: a commit is durable in the WAL (or, for relaxed writes, as durable as before)
 * before it is acknowledged, whichever connection copies it into the database later. The worker starts on
 * first use or after a short delay, so short-lived stores (CLI runs, tests) rarely pay for it. If it fails,
 * the serving connection goes back to automatic checkpoints and relaxed writes run on the event loop again:
 * the WAL can never grow without bound and no write is lost.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type SqliteDatabase from 'better-sqlite3';
import type { Logger } from 'pino';

export interface CheckpointResult {
  /** WAL frames at the time of the checkpoint. */
  log: number;
  /** Frames copied into the database file (equal to `log` when the WAL is fully checkpointed). */
  checkpointed: number;
  /** 1 when another connection held a lock the checkpoint needed (it retries next time). */
  busy: number;
}

/** A statement as Kysely compiles it: SQL text and positional parameters (strings, numbers, null). */
export interface WorkerStatement {
  sql: string;
  parameters: readonly unknown[];
}

export interface SqliteWorkerOptions {
  checkpointIntervalMs?: number;
  /** The worker starts this long after the store opens if nothing needed it before. */
  startDelayMs?: number;
  log?: Pick<Logger, 'warn'> | undefined;
}

/** Thrown by `run` when the worker is gone (stopped or failed); the caller writes on its own connection. */
export class SqliteWorkerUnavailable extends Error {
  constructor() {
    super('SQLite worker unavailable');
    this.name = 'SqliteWorkerUnavailable';
  }
}

/** SQLite's own default, restored if the worker fails. */
const DEFAULT_AUTOCHECKPOINT_PAGES = 1000;

// CommonJS, evaluated in the worker; it loads the same better-sqlite3 build as the serving connection.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true });
db.pragma('busy_timeout = 5000');
db.pragma('synchronous = NORMAL');
db.pragma('foreign_keys = ON');
const statements = new Map();
const prepare = (text) => {
  let s = statements.get(text);
  if (!s) {
    if (statements.size >= 256) statements.delete(statements.keys().next().value);
    s = db.prepare(text);
    statements.set(text, s);
  }
  return s;
};
const runAll = db.transaction((queries) => {
  for (const q of queries) {
    const s = prepare(q.sql);
    if (s.reader) s.all(...q.parameters);
    else s.run(...q.parameters);
  }
});
const checkpoint = () => {
  try {
    const [r] = db.pragma('wal_checkpoint(PASSIVE)');
    parentPort.postMessage({ type: 'checkpoint', result: r });
  } catch (err) {
    // Another connection holding a lock is not a failure: the next run tries again.
    if (err && (err.code === 'SQLITE_BUSY' || err.code === 'SQLITE_LOCKED')) return;
    throw err;
  }
};
const timer = setInterval(checkpoint, workerData.intervalMs);
parentPort.on('message', (m) => {
  if (m.type === 'run') {
    try {
      runAll(m.queries);
      parentPort.postMessage({ type: 'done', id: m.id });
    } catch (err) {
      parentPort.postMessage({ type: 'done', id: m.id, error: { message: String(err && err.message), code: err && err.code } });
    }
  } else if (m.type === 'stop') {
    clearInterval(timer);
    db.close();
    parentPort.close();
  }
});
`;

interface Pending {
  resolve: () => void;
  reject: (err: Error) => void;
}

export class SqliteWorker {
  private worker: Worker | undefined;
  private startTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  private failed = false;
  private nextId = 0;
  private readonly pending = new Map<number, Pending>();
  /** The worker's most recent checkpoint. */
  last: CheckpointResult | undefined;
  /** Write batches the worker has committed. */
  committedBatches = 0;
  private readonly listeners = new Set<(r: CheckpointResult) => void>();

  constructor(
    private readonly raw: SqliteDatabase.Database,
    private readonly file: string,
    private readonly options: SqliteWorkerOptions = {},
  ) {}

  /** Turns automatic checkpoints off on the serving connection and schedules the worker. */
  start(): void {
    this.raw.pragma('wal_autocheckpoint = 0');
    this.startTimer = setTimeout(() => this.ensureWorker(), this.options.startDelayMs ?? 1000);
    this.startTimer.unref();
  }

  /** False once the worker has failed or the store is closing: write on the serving connection instead. */
  get available(): boolean {
    return !this.failed && !this.stopping;
  }

  /** Calls `listener` after each checkpoint the worker completes; returns an unsubscribe function. */
  onCheckpoint(listener: (r: CheckpointResult) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Runs the statements in one transaction on the worker's connection (relaxed durability). Rejects with
   * the SQLite error if a statement fails (nothing of the batch is kept), and with `SqliteWorkerUnavailable`
   * if the worker is or goes away before answering.
   */
  run(queries: readonly WorkerStatement[]): Promise<void> {
    const worker = this.ensureWorker();
    if (!worker) return Promise.reject(new SqliteWorkerUnavailable());
    const id = this.nextId++;
    if (this.pending.size === 0) worker.ref(); // keep the process alive until the write is answered
    return new Promise<void>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({
        type: 'run',
        id,
        queries: queries.map((q) => ({ sql: q.sql, parameters: q.parameters })),
      });
    });
  }

  private ensureWorker(): Worker | undefined {
    if (!this.available) return undefined;
    if (this.worker) return this.worker;
    if (this.startTimer) clearTimeout(this.startTimer);
    let worker: Worker;
    try {
      worker = this.spawn();
    } catch (err) {
      this.fail(err as Error);
      return undefined;
    }
    this.worker = worker;
    return worker;
  }

  private spawn(): Worker {
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      // Plain CommonJS: none of the parent's node flags (a TypeScript loader under tests, --cpu-prof, ...).
      execArgv: [],
      workerData: {
        driver: createRequire(import.meta.url).resolve('better-sqlite3'),
        file: this.file,
        intervalMs: this.options.checkpointIntervalMs ?? 1000,
      },
    });
    worker.unref();
    worker.on(
      'message',
      (m: {
        type: string;
        id?: number;
        result?: CheckpointResult;
        error?: { message: string; code?: string };
      }) => {
        if (m.type === 'checkpoint' && m.result) {
          this.last = m.result;
          for (const l of this.listeners) l(m.result);
          return;
        }
        if (m.type !== 'done' || m.id === undefined) return;
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        if (this.pending.size === 0 && !this.stopping) worker.unref();
        if (!p) return;
        if (m.error) p.reject(Object.assign(new Error(m.error.message), { code: m.error.code }));
        else {
          this.committedBatches++;
          p.resolve();
        }
      },
    );
    worker.on('error', (err) => this.fail(err));
    worker.on('exit', (code) => {
      if (!this.stopping) this.fail(new Error(`SQLite worker exited with code ${code}`));
    });
    return worker;
  }

  /** Back to SQLite's automatic checkpoints and to writes on the serving connection. */
  private fail(err: Error): void {
    if (this.failed) return;
    this.failed = true;
    this.worker = undefined;
    this.rejectPending();
    if (this.stopping) return;
    this.options.log?.warn(
      { err },
      'SQLite worker failed; checkpoints and relaxed writes run on the event loop again (latency spikes possible)',
    );
    if (this.raw.open) this.raw.pragma(`wal_autocheckpoint = ${DEFAULT_AUTOCHECKPOINT_PAGES}`);
  }

  private rejectPending(): void {
    for (const p of this.pending.values()) p.reject(new SqliteWorkerUnavailable());
    this.pending.clear();
  }

  /** Stops the worker after the writes already handed to it (the serving connection checkpoints on close). */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.startTimer) clearTimeout(this.startTimer);
    const worker = this.worker;
    this.worker = undefined;
    if (!worker) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.ref(); // a graceful close waits for the worker's writes and its connection to close
    worker.postMessage({ type: 'stop' });
    await exited;
    this.rejectPending();
  }

  /** For tests: ends the worker as a crash would. */
  async kill(): Promise<void> {
    await this.worker?.terminate();
  }
}
