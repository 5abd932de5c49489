/**
 * Opens the store, applies every module's migrations and wires the core services into an AppContext.
 * Used by the server, by local CLI commands (`audit verify --data-dir`) and by tests.
 */
import type { Logger } from 'pino';
import { ApiKeyService, AUTH_CACHE_MS } from '../admin/api-keys.js';
import type { AppContext } from '../app-context.js';
import { AuditLog } from '../audit/audit-log.js';
import { sqliteFileFor, type Config } from '../config.js';
import { EventBus } from '../events/bus.js';
import { InventoryService } from '../inventory/service.js';
import { collectMigrations } from '../modules/index.js';
import type { BulkheadModule } from '../modules/types.js';
import { ensureSchema, openStore } from '../store/connect.js';
import { migrateToLatest } from '../store/migrate.js';

export async function openAppContext(
  config: Config,
  modules: BulkheadModule[],
  log: Logger,
  now: () => Date = () => new Date(),
): Promise<AppContext> {
  const store = openStore({
    databaseUrl: config.databaseUrl,
    schema: config.databaseSchema,
    sqliteFile: sqliteFileFor(config),
    log,
  });
  try {
    await ensureSchema(store, config.databaseSchema);
    const applied = await migrateToLatest(store, collectMigrations(modules));
    if (applied.length > 0) log.info({ migrations: applied }, 'applied migrations');
  } catch (err) {
    await store.close();
    throw err;
  }
  const audit = new AuditLog(store.dialect, now);
  const inventory = new InventoryService(store.db, audit, store.dialect, now, store.feed);
  return {
    db: store.db,
    dialect: store.dialect,
    store,
    config,
    audit,
    apiKeys: new ApiKeyService(store.db, audit, now, AUTH_CACHE_MS, store.feed, inventory),
    inventory,
    log,
    events: new EventBus(log),
    now,
  };
}
