/**
 * The graph module: the in-memory identity graph, its queries (blast radius, attack paths, escalations,
 * choke points) and the importers that feed it (AWS IAM, Kubernetes RBAC, Bulkhead YAML).
 */
import type { AppContext } from '../app-context.js';
import type { BulkheadModule } from '../modules/types.js';
import { registerGraphCommands } from './commands.js';
import { registerImportCommands } from './importers/commands.js';
import { registerImportRoutes } from './importers/routes.js';
import { graphMigrations } from './migrations.js';
import { registerGraphRoutes } from './routes.js';
import { GraphService } from './service.js';

const services = new WeakMap<AppContext, GraphService>();

/** The running graph of a server (for modules that read it, e.g. posture); undefined before graph starts. */
export function graphServiceOf(ctx: AppContext): GraphService | undefined {
  return services.get(ctx);
}

export interface GraphModuleOptions {
  /**
   * How often to check the shared store for changes made by other replicas (PostgreSQL only; default 5 s).
   * 0 turns it off.
   */
  resyncMs?: number;
}

export function createGraphModule(
  options: GraphModuleOptions = {},
): BulkheadModule & { service(): GraphService | undefined } {
  let service: GraphService | undefined;
  return {
    name: 'graph',
    migrations: graphMigrations,
    service: () => service,
    async start(ctx) {
      service = new GraphService(ctx.db, ctx.inventory, (err) =>
        ctx.log.error({ err }, 'identity graph update failed'),
      );
      await service.start();
      const resync = options.resyncMs ?? (ctx.dialect === 'postgres' ? 5000 : 0);
      if (resync > 0) service.startResync(resync);
      services.set(ctx, service);
    },
    async stop() {
      service?.stop();
      await service?.settled();
    },
    registerRoutes(app, ctx) {
      if (!service) throw new Error('graph module routes registered before start');
      registerGraphRoutes(app, ctx, service);
      registerImportRoutes(app, ctx, service);
    },
    registerCommands(program, cli) {
      registerGraphCommands(program, cli);
      registerImportCommands(program, cli);
    },
  };
}
