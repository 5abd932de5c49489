import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import SqliteDatabase from 'better-sqlite3';
import { sql } from 'kysely';
import { openStore } from './connect.js';

const dir = mkdtempSync(join(tmpdir(), 'bulkhead-connect-'));
after(() => rmSync(dir, { recursive: true, force: true }));

void describe('SQLite store', () => {
  void it('commits a read-then-write transaction when another connection writes between its read and its write', async () => {
    const file = join(dir, 'snapshot.db');
    const store = openStore({ sqliteFile: file });
    // The other writer stands in for the worker thread's relaxed commits; it does not wait for locks.
    const other = new SqliteDatabase(file);
    try {
      await sql`create table t (id text primary key, v integer not null)`.execute(store.db);
      await sql`insert into t (id, v) values ('a', 0), ('b', 0)`.execute(store.db);
      other.pragma('busy_timeout = 0');
      const otherWrite = other.prepare(`update t set v = v + 1 where id = 'b'`);
      let otherWroteDuring = false;
      await store.db.transaction().execute(async (trx) => {
        const { rows } = await sql<{ v: number }>`select v from t where id = 'a'`.execute(trx);
        try {
          otherWrite.run();
          otherWroteDuring = true;
        } catch (err) {
          // The transaction already holds the write lock: the other writer has to wait for its commit.
          assert.equal((err as { code?: string }).code, 'SQLITE_BUSY');
        }
        await sql`update t set v = ${(rows[0]?.v ?? 0) + 1} where id = 'a'`.execute(trx);
      });
      if (!otherWroteDuring) otherWrite.run();
      const { rows } = await sql<{ id: string; v: number }>`select id, v from t order by id`.execute(
        store.db,
      );
      assert.deepEqual(rows, [
        { id: 'a', v: 1 },
        { id: 'b', v: 1 },
      ]);
    } finally {
      other.close();
      await store.close();
    }
  });
});
