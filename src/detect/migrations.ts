import type { BulkheadMigration } from '../store/migration-types.js';

export const detectMigrations: Record<string, BulkheadMigration> = {
  '4000-detect-0001-initial': {
    async up(db, dialect) {
      const bigint = dialect === 'postgres' ? 'bigint' : 'integer';
      await db.schema
        .createTable('detect_alerts')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('dedup_key', 'text', (c) => c.notNull())
        .addColumn('rule_id', 'text', (c) => c.notNull())
        .addColumn('title', 'text', (c) => c.notNull())
        .addColumn('severity', 'text', (c) => c.notNull())
        .addColumn('severity_rank', 'integer', (c) => c.notNull())
        .addColumn('techniques', 'text', (c) => c.notNull())
        .addColumn('identity', 'text', (c) => c.notNull())
        .addColumn('identity_id', 'text')
        .addColumn('unmanaged', 'integer', (c) => c.notNull())
        .addColumn('credential', 'text')
        .addColumn('event_ids', 'text', (c) => c.notNull())
        .addColumn('first_seen', 'text', (c) => c.notNull())
        .addColumn('last_seen', 'text', (c) => c.notNull())
        .addColumn('count', bigint, (c) => c.notNull())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('explanation', 'text', (c) => c.notNull())
        .addColumn('suggested_response', 'text', (c) => c.notNull())
        .addColumn('signal', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      for (const col of ['last_seen', 'rule_id', 'identity_id', 'severity_rank', 'dedup_key']) {
        await db.schema.createIndex(`detect_alerts_${col}_idx`).on('detect_alerts').column(col).execute();
      }
      await db.schema
        .createTable('detect_baselines')
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('detect_baselines_pk', ['kind', 'key'])
        .execute();
    },
  },
};
