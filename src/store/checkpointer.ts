/**
 * SQLite WAL checkpoints on a worker thread instead of inside a commit on the event loop.
 *
 * By default SQLite checkpoints when a commit pushes the WAL past 1000 pages: that commit then copies the
 * WAL into the database file and fsyncs it, several milliseconds during which better-sqlite3 (synchronous)
 * holds the whole process. Under steady writes (the decision log at 1k decisions/s) that was the largest
 * source of request-latency spikes: 25-row commits took 0.2 ms at the median and over 3 ms at the 99th
 * percentile with automatic checkpoints, 0.6 ms without.
 *
 * So the serving connection turns automatic checkpoints off and a worker thread with its own connection
 * runs `PRAGMA wal_checkpoint(PASSIVE)` on a timer. A passive checkpoint never blocks readers or writers;
 * the writer restarts the WAL from the top once it has been copied. Durability is unchanged: a commit is
 * durable in the WAL before it is acknowledged, whoever copies it later. If the worker fails, the serving
 * connection goes back to automatic checkpoints, so the WAL can never grow without bound.
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

export interface CheckpointerOptions {
  intervalMs?: number;
  /** The worker starts this long after the store opens: short-lived stores (CLI runs, tests) never pay for it. */
  startDelayMs?: number;
  log?: Pick<Logger, 'warn'> | undefined;
}

/** SQLite's own default, restored if the worker fails. */
const DEFAULT_AUTOCHECKPOINT_PAGES = 1000;

// CommonJS, evaluated in the worker; it loads the same better-sqlite3 build as the serving connection.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true });
db.pragma('busy_timeout = 0');
db.pragma('synchronous = FULL');
const run = () => {
  try {
    const [r] = db.pragma('wal_checkpoint(PASSIVE)');
    parentPort.postMessage({ type: 'checkpoint', result: r });
  } catch (err) {
    // Another connection holding a lock is not a failure: the next run tries again.
    if (err && (err.code === 'SQLITE_BUSY' || err.code === 'SQLITE_LOCKED')) return;
    throw err;
  }
};
const timer = setInterval(run, workerData.intervalMs);
parentPort.on('message', (m) => {
  if (m !== 'stop') return;
  clearInterval(timer);
  db.close();
  parentPort.close();
});
parentPort.postMessage({ type: 'ready' });
`;

export class WalCheckpointer {
  private worker: Worker | undefined;
  private startTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  private failed = false;
  /** The worker's most recent checkpoint. */
  last: CheckpointResult | undefined;
  private readonly listeners = new Set<(r: CheckpointResult) => void>();

  constructor(
    private readonly raw: SqliteDatabase.Database,
    private readonly file: string,
    private readonly options: CheckpointerOptions = {},
  ) {}

  /** Turns automatic checkpoints off on the serving connection and schedules the worker. */
  start(): void {
    this.raw.pragma('wal_autocheckpoint = 0');
    this.startTimer = setTimeout(() => this.spawn(), this.options.startDelayMs ?? 1000);
    this.startTimer.unref();
  }

  /** Calls `listener` after each checkpoint the worker completes; returns an unsubscribe function. */
  onCheckpoint(listener: (r: CheckpointResult) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private spawn(): void {
    if (this.stopping || this.failed) return;
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        driver: createRequire(import.meta.url).resolve('better-sqlite3'),
        file: this.file,
        intervalMs: this.options.intervalMs ?? 1000,
      },
    });
    worker.unref();
    worker.on('message', (m: { type: string; result?: CheckpointResult }) => {
      if (m.type !== 'checkpoint' || !m.result) return;
      this.last = m.result;
      for (const l of this.listeners) l(m.result);
    });
    worker.on('error', (err) => this.fail(err));
    worker.on('exit', (code) => {
      if (!this.stopping) this.fail(new Error(`checkpoint worker exited with code ${code}`));
    });
    this.worker = worker;
  }

  /** Back to SQLite's automatic checkpoints on the serving connection. */
  private fail(err: Error): void {
    if (this.failed || this.stopping) return;
    this.failed = true;
    this.worker = undefined;
    this.options.log?.warn(
      { err },
      'SQLite checkpoint worker failed; checkpoints run inside commits again (latency spikes possible)',
    );
    if (this.raw.open) this.raw.pragma(`wal_autocheckpoint = ${DEFAULT_AUTOCHECKPOINT_PAGES}`);
  }

  /** Stops the worker (the serving connection checkpoints when it closes). */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.startTimer) clearTimeout(this.startTimer);
    const worker = this.worker;
    this.worker = undefined;
    if (!worker) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.ref(); // a graceful close waits for the worker's connection to close
    worker.postMessage('stop');
    await exited;
  }

  /** For tests: ends the worker as a crash would. */
  async kill(): Promise<void> {
    await this.worker?.terminate();
  }
}
