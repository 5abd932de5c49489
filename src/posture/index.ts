/**
 * The posture module: NHI findings mapped to OWASP NHI Top 10 (2025), NIST CSF 2.0, ATT&CK and the OWASP
 * Agentic Top 10, per-identity and organisation scores, and a stored trend. Reads the graph module's graph,
 * so it is listed after `graph` in `allModules()`.
 */
import type { BulkheadModule } from '../modules/types.js';
import { registerPostureCommands } from './commands.js';
import { postureMigrations } from './migrations.js';
import { registerPostureRoutes } from './routes.js';
import { PostureService } from './service.js';

export function createPostureModule(): BulkheadModule & { service(): PostureService | undefined } {
  let service: PostureService | undefined;
  return {
    name: 'posture',
    migrations: postureMigrations,
    /** The running service (for modules that read granted vs used, e.g. respond's narrow_permissions). */
    service: () => service,
    async start(ctx) {
      service = new PostureService(ctx);
      service.start();
    },
    async stop() {
      await service?.stop();
    },
    registerRoutes(app) {
      if (!service) throw new Error('posture routes registered before start');
      registerPostureRoutes(app, service);
    },
    registerCommands(program, cli) {
      registerPostureCommands(program, cli);
    },
  };
}
