import { Migrator, type Migration, type MigrationProvider } from 'kysely';
import type { Store } from './connect.js';
import type { BulkheadMigration } from './migration-types.js';

/**
 * Applies every module's migrations in name order. Names carry a module prefix (`1000-core-…`,
 * `2000-policy-…`), so a module added later may sort before already-applied ones: unordered application
 * is allowed, but each migration still runs exactly once, recorded in `kysely_migration`.
 */
export async function migrateToLatest(
  store: Store,
  migrations: Record<string, BulkheadMigration>,
): Promise<string[]> {
  const provider: MigrationProvider = {
    async getMigrations() {
      const out: Record<string, Migration> = {};
      for (const [name, m] of Object.entries(migrations)) {
        out[name] = { up: (db) => m.up(db, store.dialect) };
      }
      return out;
    },
  };
  // Name the schema explicitly: Kysely otherwise finds a migration table in *any* schema and may skip creating ours.
  const migrator = new Migrator({
    db: store.db,
    provider,
    allowUnorderedMigrations: true,
    ...(store.schema ? { migrationTableSchema: store.schema } : {}),
  });
  let { error, results } = await migrator.migrateToLatest();
  // Kysely looks for its migration table by listing the tables of every schema in the database; one dropped
  // meanwhile by someone else (another app's, or another test's, schema) fails that listing with 42P01 before
  // any migration ran. Nothing was applied then, so trying again is safe.
  for (let attempt = 1; attempt < 3 && error && isVanishedTable(error) && !results?.length; attempt++) {
    ({ error, results } = await migrator.migrateToLatest());
  }
  if (error) {
    const failed = results?.find((r) => r.status === 'Error');
    throw new Error(
      `migration ${failed?.migrationName ?? '?'} failed: ${error instanceof Error ? error.message : JSON.stringify(error)}`,
      { cause: error },
    );
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

function isVanishedTable(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === '42P01';
}
