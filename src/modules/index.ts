/**
 * Every module the server and CLI load, in order. A new module is added here and nowhere else: its
 * migrations run at start, its routes are registered, its commands join the CLI.
 */
import { registerAdminRoutes } from '../admin/routes.js';
import { registerAuditRoutes } from '../audit/routes.js';
import { createBrokerModule } from '../broker/index.js';
import { createDetectModule } from '../detect/index.js';
import { registerInventoryRoutes } from '../inventory/routes.js';
import { createPolicyModule } from '../policy/index.js';
import { coreMigrations } from '../store/core-migrations.js';
import type { BulkheadMigration } from '../store/migration-types.js';
import type { BulkheadModule } from './types.js';

export const coreModule: BulkheadModule = {
  name: 'core',
  migrations: coreMigrations,
  registerRoutes(app, ctx) {
    registerInventoryRoutes(app, ctx);
    registerAdminRoutes(app, ctx);
    registerAuditRoutes(app, ctx);
  },
};

export function allModules(): BulkheadModule[] {
  const policy = createPolicyModule();
  const broker = createBrokerModule({
    pdp: () => policy.runtime().pdp,
    approvals: () => policy.runtime().approvals,
  });
  return [coreModule, policy, broker, createDetectModule()];
}

/** All migrations of the given modules; a duplicate name is a programming error caught at start. */
export function collectMigrations(modules: BulkheadModule[]): Record<string, BulkheadMigration> {
  const out: Record<string, BulkheadMigration> = {};
  for (const m of modules) {
    for (const [name, migration] of Object.entries(m.migrations ?? {})) {
      if (out[name]) throw new Error(`migration ${name} is defined twice (module ${m.name})`);
      out[name] = migration;
    }
  }
  return out;
}
