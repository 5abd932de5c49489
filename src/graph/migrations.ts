import type { BulkheadMigration } from '../store/migration-types.js';

export const graphMigrations: Record<string, BulkheadMigration> = {
  '6000-graph-0001-facts': {
    async up(db) {
      await db.schema
        .createTable('graph_nodes')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('external_id', 'text')
        .addColumn('sensitivity', 'text')
        .addColumn('admin', 'integer', (c) => c.notNull())
        .addColumn('environment', 'text')
        .execute();
      await db.schema.createIndex('graph_nodes_source_idx').on('graph_nodes').column('source').execute();
      await db.schema
        .createTable('graph_edges')
        .addColumn('origin', 'text', (c) => c.notNull())
        .addColumn('seq', 'integer', (c) => c.notNull())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('from_key', 'text', (c) => c.notNull())
        .addColumn('to_key', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('via', 'text', (c) => c.notNull())
        .addColumn('method', 'text')
        .addColumn('conditional', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('graph_edges_pk', ['origin', 'seq'])
        .execute();
      await db.schema.createIndex('graph_edges_source_idx').on('graph_edges').column('source').execute();
      await db.schema
        .createTable('graph_imports')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('file_name', 'text', (c) => c.notNull())
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('started_at', 'text', (c) => c.notNull())
        .addColumn('finished_at', 'text', (c) => c.notNull())
        .addColumn('summary', 'text', (c) => c.notNull())
        .execute();
    },
  },
};
