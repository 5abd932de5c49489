/**
 * Every module the server and CLI load, in order. A new module is added here and nowhere else: its
 * migrations run at start, its routes are registered, its commands join the CLI.
 */
import { registerAdminRoutes } from '../admin/routes.js';
import { registerAuditRoutes } from '../audit/routes.js';
import { createBrokerModule } from '../broker/index.js';
import { brokerTokenAuthority } from '../broker/token-authority.js';
import { createDetectModule } from '../detect/index.js';
import { createGraphModule } from '../graph/index.js';
import { registerInventoryRoutes } from '../inventory/routes.js';
import { createPolicyModule } from '../policy/index.js';
import { createPostureModule } from '../posture/index.js';
import { createRespondModule } from '../respond/index.js';
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
  // Modules that need each other get explicit handles (no global registry); posture must come after graph.
  const [policy, detect] = [createPolicyModule(), createDetectModule()];
  const broker = createBrokerModule({
    pdp: () => policy.runtime().pdp,
    approvals: () => policy.runtime().approvals,
  });
  const tokens = brokerTokenAuthority(() => broker.runtime());
  const posture = createPostureModule();
  const respond = createRespondModule({
    pdp: () => policy.runtime().pdp,
    detect: () => detect.service(),
    broker: () => tokens,
    usage: () => posture.service(),
  });
  return [coreModule, policy, broker, detect, respond, createGraphModule(), posture];
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
