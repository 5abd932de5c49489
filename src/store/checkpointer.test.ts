import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import SqliteDatabase from 'better-sqlite3';
import { WalCheckpointer, type CheckpointResult } from './checkpointer.js';
import { openStore } from './connect.js';

const dir = mkdtempSync(join(tmpdir(), 'bulkhead-checkpointer-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function walDb(name: string) {
  const raw = new SqliteDatabase(join(dir, name));
  raw.pragma('journal_mode = WAL');
  raw.exec('create table t (id integer primary key, v text)');
  return raw;
}

function writeRows(raw: SqliteDatabase.Database, n: number) {
  const insert = raw.prepare('insert into t (v) values (?)');
  for (let i = 0; i < n; i++) insert.run('x'.repeat(200));
}

/**
 * Resolves with the first checkpoint that `accept`s; fails after 10 s. The worker is unref'd (it must not
 * keep a server process alive), so a timer keeps the test's event loop running meanwhile.
 */
function nextCheckpoint(
  c: WalCheckpointer,
  accept: (r: CheckpointResult) => boolean = () => true,
): Promise<CheckpointResult> {
  return new Promise((resolve, reject) => {
    const deadline = setTimeout(() => {
      off();
      reject(new Error('no checkpoint within 10 s'));
    }, 10_000);
    const off = c.onCheckpoint((r) => {
      if (!accept(r)) return;
      off();
      clearTimeout(deadline);
      resolve(r);
    });
  });
}

void describe('WalCheckpointer', () => {
  void it('turns automatic checkpoints off and copies the WAL from a worker thread', async () => {
    const raw = walDb('a.db');
    const c = new WalCheckpointer(raw, join(dir, 'a.db'), { intervalMs: 10, startDelayMs: 0 });
    c.start();
    assert.equal(raw.pragma('wal_autocheckpoint', { simple: true }), 0);
    const done = nextCheckpoint(c, (r) => r.log > 0 && r.checkpointed === r.log);
    writeRows(raw, 2000);
    const r = await done;
    assert.equal(r.checkpointed, r.log);
    assert.equal(r.busy, 0);
    await c.stop();
    assert.deepEqual(raw.prepare('select count(*) as n from t').get(), { n: 2000 });
    raw.close();
  });

  void it('gives the serving connection its automatic checkpoints back when the worker dies', async () => {
    const raw = walDb('b.db');
    const warnings: string[] = [];
    const c = new WalCheckpointer(raw, join(dir, 'b.db'), {
      intervalMs: 10,
      startDelayMs: 0,
      log: { warn: (_obj: unknown, msg?: string) => void warnings.push(msg ?? '') },
    });
    c.start();
    await nextCheckpoint(c);
    await c.kill();
    assert.equal(raw.pragma('wal_autocheckpoint', { simple: true }), 1000);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /checkpoint worker failed/);
    await c.stop();
    raw.close();
  });

  void it('never starts for a store closed before its start delay', async () => {
    const raw = walDb('c.db');
    const c = new WalCheckpointer(raw, join(dir, 'c.db'), { startDelayMs: 60_000 });
    c.start();
    await c.stop();
    assert.equal(c.last, undefined);
    raw.close();
  });

  void it('is part of a SQLite file store and not of an in-memory one', async () => {
    const file = openStore({ sqliteFile: join(dir, 'store.db') });
    const memory = openStore({ sqliteFile: ':memory:' });
    try {
      assert.ok(file.checkpointer);
      assert.equal(memory.checkpointer, undefined);
    } finally {
      await file.close();
      await memory.close();
    }
  });
});
