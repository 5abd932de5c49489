import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { ApiKeyService } from './admin/api-keys.js';
import type { AuditLog } from './audit/audit-log.js';
import type { Config } from './config.js';
import type { EventBus } from './events/bus.js';
import type { InventoryService } from './inventory/service.js';
import type { Store } from './store/connect.js';
import type { Database } from './store/database.js';
import type { Dialect } from './store/migration-types.js';

/** Everything a module needs from the running server, handed in explicitly (no globals). */
export interface AppContext {
  db: Kysely<Database>;
  dialect: Dialect;
  store: Store;
  config: Config;
  audit: AuditLog;
  apiKeys: ApiKeyService;
  inventory: InventoryService;
  log: Logger;
  /** In-process events between modules (decisions, tokens, alerts). */
  events: EventBus;
  now: () => Date;
}
