import type { BulkheadMigration } from '../store/migration-types.js';

export const policyMigrations: Record<string, BulkheadMigration> = {
  '2000-policy-0001-initial': {
    async up(db, dialect) {
      const bigint = dialect === 'postgres' ? 'bigint' : 'integer';
      await db.schema
        .createTable('policy_versions')
        .addColumn('version', 'integer', (c) => c.primaryKey())
        .addColumn('bundle', 'text', (c) => c.notNull())
        .addColumn('sha256', 'text', (c) => c.notNull())
        .addColumn('comment', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('policy_active')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('activated_at', 'text', (c) => c.notNull())
        .addColumn('activated_by', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('policy_approvals')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('principal_id', 'text', (c) => c.notNull())
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('resource_id', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('approvers', 'text', (c) => c.notNull())
        .addColumn('policy_ids', 'text', (c) => c.notNull())
        .addColumn('justification', 'text')
        .addColumn('requested_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .addColumn('decided_by', 'text')
        .addColumn('decided_at', 'text')
        .addColumn('grant_expires_at', 'text')
        .addColumn('used_at', 'text')
        .execute();
      await db.schema
        .createIndex('policy_approvals_triple_idx')
        .on('policy_approvals')
        .columns(['principal_id', 'action', 'resource_id', 'status'])
        .execute();
      await db.schema
        .createTable('policy_decisions')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('at', 'text', (c) => c.notNull())
        .addColumn('principal', 'text', (c) => c.notNull())
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('resource', 'text', (c) => c.notNull())
        .addColumn('context_digest', 'text', (c) => c.notNull())
        .addColumn('decision', 'text', (c) => c.notNull())
        .addColumn('reasons', 'text', (c) => c.notNull())
        .addColumn('obligations', 'text', (c) => c.notNull())
        .addColumn('policy_version', 'integer', (c) => c.notNull())
        .addColumn('latency_us', bigint, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('policy_decisions_at_idx').on('policy_decisions').column('at').execute();
      await db.schema
        .createIndex('policy_decisions_principal_idx')
        .on('policy_decisions')
        .column('principal')
        .execute();
    },
  },
};
