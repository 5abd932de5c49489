import type { BulkheadMigration } from '../store/migration-types.js';

export const brokerMigrations: Record<string, BulkheadMigration> = {
  '3000-broker-0001-initial': {
    async up(db) {
      await db.schema
        .createTable('broker_signing_keys')
        .addColumn('kid', 'text', (c) => c.primaryKey())
        .addColumn('alg', 'text', (c) => c.notNull())
        .addColumn('public_jwk', 'text', (c) => c.notNull())
        .addColumn('private_enc', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('retired_at', 'text')
        .addColumn('expires_at', 'text')
        .execute();
      await db.schema
        .createTable('broker_tasks')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('identity_id', 'text', (c) => c.notNull())
        .addColumn('subject', 'text', (c) => c.notNull())
        .addColumn('on_behalf_of', 'text')
        .addColumn('purpose', 'text', (c) => c.notNull())
        .addColumn('actions', 'text', (c) => c.notNull())
        .addColumn('resources', 'text', (c) => c.notNull())
        .addColumn('audience', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('max_uses', 'integer', (c) => c.notNull())
        .addColumn('uses', 'integer', (c) => c.notNull())
        .addColumn('approvals', 'text', (c) => c.notNull())
        .addColumn('workflow', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .addColumn('ended_at', 'text')
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('policy_version', 'integer')
        .execute();
      await db.schema
        .createIndex('broker_tasks_status_idx')
        .on('broker_tasks')
        .columns(['status', 'expires_at'])
        .execute();
      await db.schema
        .createTable('broker_revocations')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('target', 'text', (c) => c.notNull())
        .addColumn('revoked_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text')
        .addColumn('reason', 'text')
        .addColumn('actor', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('broker_revocations_at_idx')
        .on('broker_revocations')
        .column('revoked_at')
        .execute();
    },
  },
  '3000-broker-0002-downstream': {
    async up(db) {
      await db.schema
        .createTable('broker_downstream')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('task_id', 'text', (c) => c.notNull())
        .addColumn('plugin', 'text', (c) => c.notNull())
        .addColumn('resource', 'text', (c) => c.notNull())
        .addColumn('principal', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .addColumn('dropped_at', 'text')
        .execute();
      await db.schema
        .createIndex('broker_downstream_task_idx')
        .on('broker_downstream')
        .column('task_id')
        .execute();
    },
  },
  '3000-broker-0003-downstream-once': {
    async up(db) {
      // Reserved before a plugin provisions anything: the primary key makes "once per task and resource"
      // hold across concurrent requests and replicas. A separate table, so the few duplicates the old
      // check-then-insert could leave in broker_downstream still migrate (and still get dropped).
      await db.schema
        .createTable('broker_downstream_reservations')
        .addColumn('task_id', 'text', (c) => c.notNull())
        .addColumn('resource', 'text', (c) => c.notNull())
        .addColumn('reserved_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('broker_downstream_reservations_pk', ['task_id', 'resource'])
        .execute();
      await db
        .insertInto('broker_downstream_reservations')
        .columns(['task_id', 'resource', 'reserved_at'])
        .expression(
          db
            .selectFrom('broker_downstream')
            .select(['task_id', 'resource'])
            .select((eb) => eb.fn.min('created_at').as('reserved_at'))
            .groupBy(['task_id', 'resource']),
        )
        .execute();
    },
  },
  '3000-broker-0004-client-assertions': {
    async up(db) {
      await db.schema
        .createTable('broker_client_assertions')
        .addColumn('client_id', 'text', (c) => c.notNull())
        .addColumn('jti', 'text', (c) => c.notNull())
        .addColumn('used_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('broker_client_assertions_pk', ['client_id', 'jti'])
        .execute();
      await db.schema
        .createIndex('broker_client_assertions_exp_idx')
        .on('broker_client_assertions')
        .column('expires_at')
        .execute();
    },
  },
  '3000-broker-0005-revocations-expiry': {
    async up(db) {
      // The sweeper deletes rows long past their expiry (RevocationSet.purgeExpired).
      await db.schema
        .createIndex('broker_revocations_exp_idx')
        .on('broker_revocations')
        .column('expires_at')
        .execute();
    },
  },
};
