import type { BulkheadMigration } from '../store/migration-types.js';

export const postureMigrations: Record<string, BulkheadMigration> = {
  '6500-posture-0001-initial': {
    async up(db) {
      await db.schema
        .createTable('posture_snapshots')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('taken_at', 'text', (c) => c.notNull())
        .addColumn('org_score_x10', 'integer', (c) => c.notNull())
        .addColumn('identities', 'integer', (c) => c.notNull())
        .addColumn('findings', 'integer', (c) => c.notNull())
        .addColumn('by_severity', 'text', (c) => c.notNull())
        .addColumn('by_nhi', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('posture_snapshots_taken_idx')
        .on('posture_snapshots')
        .column('taken_at')
        .execute();
      await db.schema
        .createTable('posture_usage')
        .addColumn('identity_id', 'text', (c) => c.notNull())
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('resource', 'text', (c) => c.notNull())
        .addColumn('count', 'integer', (c) => c.notNull())
        .addColumn('first_seen', 'text', (c) => c.notNull())
        .addColumn('last_seen', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('posture_usage_pk', ['identity_id', 'action', 'resource'])
        .execute();
    },
  },
};
