import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import SqliteDatabase from 'better-sqlite3';
import { sql } from 'kysely';
import { openStore } from './connect.js';
import { writeInRelaxedChunks } from './durability.js';
import { SqliteWorker, SqliteWorkerUnavailable, type CheckpointResult } from './sqlite-worker.js';

const dir = mkdtempSync(join(tmpdir(), 'bulkhead-sqlite-worker-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function walDb(name: string) {
  const raw = new SqliteDatabase(join(dir, name));
  raw.pragma('journal_mode = WAL');
  raw.exec('create table t (id integer primary key, v text not null)');
  return raw;
}

const count = (raw: SqliteDatabase.Database) => raw.prepare('select count(*) as n from t').get();

/**
 * Resolves with the first checkpoint that `accept`s; fails after 10 s. The worker is unref'd while idle (it
 * must not keep a server process alive), so a timer keeps the test's event loop running meanwhile.
 */
function nextCheckpoint(
  w: SqliteWorker,
  accept: (r: CheckpointResult) => boolean = () => true,
): Promise<CheckpointResult> {
  return new Promise((resolve, reject) => {
    const deadline = setTimeout(() => {
      off();
      reject(new Error('no checkpoint within 10 s'));
    }, 10_000);
    const off = w.onCheckpoint((r) => {
      if (!accept(r)) return;
      off();
      clearTimeout(deadline);
      resolve(r);
    });
  });
}

void describe('SqliteWorker', () => {
  void it('turns automatic checkpoints off and copies the WAL from its own thread', async () => {
    const raw = walDb('a.db');
    const w = new SqliteWorker(raw, join(dir, 'a.db'), { checkpointIntervalMs: 10, startDelayMs: 0 });
    w.start();
    assert.equal(raw.pragma('wal_autocheckpoint', { simple: true }), 0);
    const done = nextCheckpoint(w, (r) => r.log > 0 && r.checkpointed === r.log);
    const insert = raw.prepare('insert into t (v) values (?)');
    for (let i = 0; i < 2000; i++) insert.run('x'.repeat(200));
    const r = await done;
    assert.equal(r.busy, 0);
    await w.stop();
    assert.deepEqual(count(raw), { n: 2000 });
    raw.close();
  });

  void it('runs a batch of statements in one transaction: all of it, or none of it with the error', async () => {
    const raw = walDb('b.db');
    const w = new SqliteWorker(raw, join(dir, 'b.db'), { startDelayMs: 60_000 });
    w.start();
    await w.run([
      { sql: 'insert into t (v) values (?), (?)', parameters: ['a', 'b'] },
      { sql: 'insert into t (v) values (?)', parameters: ['c'] },
    ]);
    assert.deepEqual(count(raw), { n: 3 }, 'committed and visible to the serving connection');
    await assert.rejects(
      w.run([
        { sql: 'insert into t (v) values (?)', parameters: ['d'] },
        { sql: 'insert into t (v) values (?)', parameters: [null] },
      ]),
      (err: Error & { code?: string }) => err.code === 'SQLITE_CONSTRAINT_NOTNULL',
    );
    assert.deepEqual(count(raw), { n: 3 }, 'the failed batch left nothing behind');
    await w.stop();
    await assert.rejects(w.run([]), SqliteWorkerUnavailable);
    raw.close();
  });

  void it('when the worker dies: automatic checkpoints come back and writes run on the caller again', async () => {
    const raw = walDb('c.db');
    const warnings: string[] = [];
    const w = new SqliteWorker(raw, join(dir, 'c.db'), {
      checkpointIntervalMs: 10,
      startDelayMs: 0,
      log: { warn: (_obj: unknown, msg?: string) => void warnings.push(msg ?? '') },
    });
    w.start();
    await nextCheckpoint(w);
    await w.kill();
    assert.equal(raw.pragma('wal_autocheckpoint', { simple: true }), 1000);
    assert.equal(w.available, false);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /SQLite worker failed/);
    await assert.rejects(w.run([]), SqliteWorkerUnavailable);
    await w.stop();
    raw.close();
  });

  void it('never starts for a store closed before its start delay and first write', async () => {
    const raw = walDb('d.db');
    const w = new SqliteWorker(raw, join(dir, 'd.db'), { startDelayMs: 60_000 });
    w.start();
    await w.stop();
    assert.equal(w.last, undefined);
    raw.close();
  });

  void it('carries relaxed writes of a SQLite file store, and falls back to the event loop without it', async () => {
    const store = openStore({ sqliteFile: join(dir, 'store.db') });
    const memory = openStore({ sqliteFile: ':memory:' });
    try {
      assert.ok(store.sqliteWorker);
      assert.equal(memory.sqliteWorker, undefined);
      await sql`create table relaxed_probe (id text primary key)`.execute(store.db);
      const ids = Array.from({ length: 60 }, (_, i) => `r${i}`);
      const write = (list: string[]) =>
        writeInRelaxedChunks(store.db, list, 25, (chunk) => [
          sql`insert into relaxed_probe (id) values ${sql.join(chunk.map((id) => sql`(${id})`))}`.compile(
            store.db,
          ),
        ]);
      await write(ids.slice(0, 30));
      assert.equal(store.sqliteWorker.committedBatches, 2, '30 rows in chunks of 25, on the worker');
      await store.sqliteWorker.kill();
      await write(ids.slice(30));
      assert.equal(store.sqliteWorker.committedBatches, 2, 'written on the serving connection');
      const rows = await sql<{ n: number }>`select count(*) as n from relaxed_probe`.execute(store.db);
      assert.equal(rows.rows[0]?.n, 60);
      // A duplicate key fails the write whichever connection ran it.
      await assert.rejects(write(['r1']), /UNIQUE/);
    } finally {
      await store.close();
      await memory.close();
    }
  });

  void it('a chunk that cannot be built fails the write after the chunks already sent have finished', async () => {
    const store = openStore({ sqliteFile: join(dir, 'store2.db') });
    try {
      await sql`create table relaxed_probe (id text primary key)`.execute(store.db);
      let built = 0;
      await assert.rejects(
        writeInRelaxedChunks(store.db, ['a', 'b', 'c'], 1, (chunk) => {
          if (++built === 3) throw new Error('cannot serialise');
          return [sql`insert into relaxed_probe (id) values (${chunk[0]})`.compile(store.db)];
        }),
        /cannot serialise/,
      );
      const rows = await sql<{ id: string }>`select id from relaxed_probe order by id`.execute(store.db);
      assert.deepEqual(
        rows.rows.map((r) => r.id),
        ['a', 'b'],
      );
    } finally {
      await store.close();
    }
  });
});
