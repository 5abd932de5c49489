import type { BulkheadMigration } from './migration-types.js';

/** Core tables: inventory, admin keys, audit chain, settings. Portable column types only. */
export const coreMigrations: Record<string, BulkheadMigration> = {
  '1000-core-0001-initial': {
    async up(db, dialect) {
      const bigint = dialect === 'postgres' ? 'bigint' : 'integer';
      await db.schema
        .createTable('identities')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('display_name', 'text', (c) => c.notNull())
        .addColumn('spiffe_id', 'text')
        .addColumn('cloud_arn', 'text')
        .addColumn('k8s_service_account', 'text')
        .addColumn('owners', 'text', (c) => c.notNull())
        .addColumn('groups', 'text', (c) => c.notNull())
        .addColumn('owner_count', 'integer', (c) => c.notNull())
        .addColumn('environment', 'text', (c) => c.notNull())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('labels', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addColumn('last_seen_at', 'text')
        .execute();
      // (column, id): a filtered list is read in id order straight from the index (keyset pagination, no sort).
      for (const col of ['kind', 'environment', 'status', 'source', 'owner_count']) {
        await db.schema.createIndex(`identities_${col}_idx`).on('identities').columns([col, 'id']).execute();
      }
      await db.schema
        .createIndex('identities_last_seen_idx')
        .on('identities')
        .column('last_seen_at')
        .execute();
      await db.schema
        .createIndex('identities_spiffe_idx')
        .unique()
        .on('identities')
        .column('spiffe_id')
        .execute();
      await db.schema.createIndex('identities_arn_idx').on('identities').column('cloud_arn').execute();
      await db.schema
        .createIndex('identities_k8s_sa_idx')
        .on('identities')
        .column('k8s_service_account')
        .execute();

      await db.schema
        .createTable('identity_owners')
        .addColumn('identity_id', 'text', (c) => c.notNull().references('identities.id').onDelete('cascade'))
        .addColumn('owner', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('identity_owners_pk', ['identity_id', 'owner'])
        .execute();
      await db.schema
        .createIndex('identity_owners_owner_idx')
        .on('identity_owners')
        .column('owner')
        .execute();

      await db.schema
        .createTable('credentials')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('identity_id', 'text', (c) => c.notNull().references('identities.id').onDelete('cascade'))
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('fingerprint', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('scopes', 'text', (c) => c.notNull())
        .addColumn('stored_in', 'text', (c) => c.notNull())
        .addColumn('consumers', 'text', (c) => c.notNull())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('labels', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addColumn('last_used_at', 'text')
        .addColumn('expires_at', 'text')
        .addColumn('last_rotated_at', 'text')
        .execute();
      await db.schema
        .createIndex('credentials_identity_idx')
        .on('credentials')
        .column('identity_id')
        .execute();
      await db.schema
        .createIndex('credentials_fingerprint_idx')
        .on('credentials')
        .column('fingerprint')
        .execute();
      await db.schema.createIndex('credentials_status_idx').on('credentials').column('status').execute();

      await db.schema
        .createTable('credential_consumers')
        .addColumn('credential_id', 'text', (c) =>
          c.notNull().references('credentials.id').onDelete('cascade'),
        )
        .addColumn('identity_id', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('credential_consumers_pk', ['credential_id', 'identity_id'])
        .execute();
      await db.schema
        .createIndex('credential_consumers_identity_idx')
        .on('credential_consumers')
        .column('identity_id')
        .execute();

      await db.schema
        .createTable('resources')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('display_name', 'text', (c) => c.notNull())
        .addColumn('sensitivity', 'text', (c) => c.notNull())
        .addColumn('environment', 'text', (c) => c.notNull())
        .addColumn('owners', 'text', (c) => c.notNull())
        .addColumn('parent_id', 'text')
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('labels', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      for (const col of ['type', 'sensitivity', 'environment', 'parent_id']) {
        await db.schema.createIndex(`resources_${col}_idx`).on('resources').column(col).execute();
      }

      await db.schema
        .createTable('api_keys')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('token_hash', 'text', (c) => c.notNull().unique())
        .addColumn('scopes', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text')
        .addColumn('revoked_at', 'text')
        .addColumn('last_used_at', 'text')
        // The person this key acts for (approvals, audit), when it is a person's key rather than automation's.
        .addColumn('identity_id', 'text')
        .execute();

      await db.schema
        .createTable('audit_log')
        .addColumn('seq', bigint, (c) => c.primaryKey())
        .addColumn('at', 'text', (c) => c.notNull())
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('target_type', 'text', (c) => c.notNull())
        .addColumn('target_id', 'text', (c) => c.notNull())
        .addColumn('request_id', 'text')
        .addColumn('before', 'text')
        .addColumn('after', 'text')
        .addColumn('prev_hash', 'text', (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('audit_log_target_idx')
        .on('audit_log')
        .columns(['target_type', 'target_id'])
        .execute();

      await db.schema
        .createTable('audit_head')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('seq', bigint, (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull())
        .execute();
      await db.insertInto('audit_head').values({ id: 1, seq: 0, hash: GENESIS_HASH }).execute();

      await db.schema
        .createTable('settings')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('value', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
    },
  },
};

/** The `prev_hash` of the first audit entry. */
export const GENESIS_HASH = '0'.repeat(64);
