import type { Command } from 'commander';
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../app-context.js';
import type { CliContext } from '../cli/context.js';
import type { BulkheadMigration } from '../store/migration-types.js';

/**
 * A feature module (inventory, policy, broker, detect, respond, graph, ...). The server applies every module's
 * migrations, registers its routes and runs its start/stop hooks; the CLI adds its commands.
 */
export interface BulkheadModule {
  name: string;
  migrations?: Record<string, BulkheadMigration>;
  registerRoutes?(app: FastifyInstance, ctx: AppContext): void;
  registerCommands?(program: Command, cli: CliContext): void;
  start?(ctx: AppContext): Promise<void>;
  /**
   * Adds this module's part of the demo organisation (policies, playbooks, ...). Called after every module has
   * started, only when demo data was loaded on this start; must skip what already exists.
   */
  loadDemo?(ctx: AppContext): Promise<void>;
  stop?(): Promise<void>;
}
