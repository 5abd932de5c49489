import type { BulkheadMigration } from '../store/migration-types.js';

export const respondMigrations: Record<string, BulkheadMigration> = {
  '5000-respond-0001-initial': {
    async up(db, dialect) {
      const bigint = dialect === 'postgres' ? 'bigint' : 'integer';
      await db.schema
        .createTable('respond_playbooks')
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('yaml', 'text', (c) => c.notNull())
        .addColumn('sha256', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('respond_playbooks_pk', ['id', 'version'])
        .execute();
      await db.schema
        .createTable('respond_incidents')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('title', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('owner', 'text')
        .addColumn('identity_id', 'text')
        .addColumn('credential_id', 'text')
        .addColumn('tier', 'text')
        .addColumn('severity', 'text', (c) => c.notNull())
        .addColumn('rule_ids', 'text', (c) => c.notNull())
        .addColumn('alert_ids', 'text', (c) => c.notNull())
        .addColumn('first_event_at', 'text')
        .addColumn('detected_at', 'text', (c) => c.notNull())
        .addColumn('acknowledged_at', 'text')
        .addColumn('contained_at', 'text')
        .addColumn('resolved_at', 'text')
        .addColumn('ttd_ms', bigint)
        .addColumn('ttc_ms', bigint)
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('respond_incidents_identity_idx')
        .on('respond_incidents')
        .columns(['identity_id', 'state'])
        .execute();
      await db.schema
        .createIndex('respond_incidents_created_idx')
        .on('respond_incidents')
        .column('created_at')
        .execute();
      await db.schema
        .createTable('respond_timeline')
        .addColumn('incident_id', 'text', (c) => c.notNull())
        .addColumn('seq', 'integer', (c) => c.notNull())
        .addColumn('at', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('message', 'text', (c) => c.notNull())
        .addColumn('data', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('respond_timeline_pk', ['incident_id', 'seq'])
        .execute();
      await db.schema
        .createTable('respond_runs')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('incident_id', 'text', (c) => c.notNull())
        .addColumn('playbook_id', 'text', (c) => c.notNull())
        .addColumn('playbook_version', 'integer', (c) => c.notNull())
        .addColumn('dry_run', 'integer', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('facts', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('respond_runs_incident_idx')
        .on('respond_runs')
        .column('incident_id')
        .execute();
      await db.schema.createIndex('respond_runs_state_idx').on('respond_runs').column('state').execute();
      await db.schema
        .createTable('respond_steps')
        .addColumn('run_id', 'text', (c) => c.notNull())
        .addColumn('idx', 'integer', (c) => c.notNull())
        .addColumn('step_id', 'text', (c) => c.notNull())
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('params', 'text', (c) => c.notNull())
        .addColumn('disposition', 'text', (c) => c.notNull())
        .addColumn('reason', 'text', (c) => c.notNull())
        .addColumn('breaks', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull())
        .addColumn('result', 'text')
        .addColumn('approved_by', 'text')
        .addColumn('started_at', 'text')
        .addColumn('finished_at', 'text')
        .addPrimaryKeyConstraint('respond_steps_pk', ['run_id', 'idx'])
        .execute();
      await db.schema
        .createTable('respond_rotations')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('old_credential_id', 'text', (c) => c.notNull())
        .addColumn('new_credential_id', 'text', (c) => c.notNull())
        .addColumn('identity_id', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('leaked', 'integer', (c) => c.notNull())
        .addColumn('consumers', 'text', (c) => c.notNull())
        .addColumn('consumer_state', 'text', (c) => c.notNull())
        .addColumn('overlap_ends_at', 'text', (c) => c.notNull())
        .addColumn('completed_at', 'text')
        .addColumn('report', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
    },
  },
  '5000-respond-0002-break-glass': {
    async up(db) {
      await db.schema
        .createTable('respond_break_glass')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('identity_id', 'text', (c) => c.notNull())
        .addColumn('justification', 'text', (c) => c.notNull())
        .addColumn('requested_by', 'text', (c) => c.notNull())
        .addColumn('started_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .addColumn('ended_at', 'text')
        .addColumn('incident_id', 'text')
        .execute();
      await db.schema
        .createIndex('respond_break_glass_open_idx')
        .on('respond_break_glass')
        .columns(['ended_at', 'expires_at'])
        .execute();
    },
  },
  '5000-respond-0003-run-lease': {
    // Several replicas share one PostgreSQL: a run is executed by the replica holding its lease; a lease
    // that is not renewed (the replica died) lets another one resume the run.
    async up(db) {
      await db.schema.alterTable('respond_runs').addColumn('lease_owner', 'text').execute();
      await db.schema.alterTable('respond_runs').addColumn('lease_until', 'text').execute();
    },
  },
};
