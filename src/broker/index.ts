/**
 * The broker module: just-in-time, task-scoped, short-lived, sender-bound credentials. A workload proves who
 * it is without a static secret, declares a task the PDP approves, and gets tokens useless outside that task.
 * The PDP is injected (`pdp: () => policyModule.runtime().pdp`), never reached for globally.
 */
import type { AppContext } from '../app-context.js';
import { listenUrl } from '../config.js';
import type { BulkheadModule } from '../modules/types.js';
import { registerBrokerCommands } from './cli.js';
import {
  loadBrokerConfigFile,
  parseBrokerConfig,
  type BrokerConfig,
  type BrokerConfigInput,
} from './config.js';
import { loadMasterKey } from './keys/master-key.js';
import { brokerMigrations } from './migrations.js';
import { registerOAuthRoutes } from './oauth-routes.js';
import { registerBrokerRoutes } from './routes.js';
import { Broker } from './service.js';
import { brokerDb } from './tables.js';
import type { ApprovalLookup, DecisionPoint } from './tasks/task-service.js';

export interface BrokerModuleOptions {
  /** The policy decision point (required to start tasks; without it every task is denied). */
  pdp?: () => DecisionPoint;
  /** The PDP's approval store, to follow pending tasks' approvals (`() => policyModule.runtime().approvals`). */
  approvals?: () => ApprovalLookup;
  /** Config object; otherwise the file named by `BULKHEAD_BROKER_CONFIG`; otherwise defaults. */
  config?: BrokerConfigInput | BrokerConfig;
  /** base64 of 32 bytes; otherwise `BULKHEAD_MASTER_KEY`; otherwise `<dataDir>/master.key`. */
  masterKey?: string;
}

const denyAll: DecisionPoint = {
  decide: () =>
    Promise.resolve({
      decision: false,
      reasons: [{ id: 'bulkhead.no_pdp', message: 'the broker has no policy decision point' }],
      obligations: [],
      policyVersion: null,
      cached: false,
    }),
};

export function resolveBrokerConfig(
  options: BrokerModuleOptions,
  env: NodeJS.ProcessEnv = process.env,
): BrokerConfig {
  if (options.config) return parseBrokerConfig(options.config);
  const path = env.BULKHEAD_BROKER_CONFIG;
  return path ? loadBrokerConfigFile(path) : parseBrokerConfig({});
}

/** Builds a started broker for a context (the module, tests and the benchmark use this). */
export async function startBroker(ctx: AppContext, options: BrokerModuleOptions = {}): Promise<Broker> {
  const config = resolveBrokerConfig(options);
  const { key, source } = loadMasterKey({
    env: options.masterKey ?? process.env.BULKHEAD_MASTER_KEY,
    dataDir: ctx.config.dataDir,
  });
  if (source === 'created')
    ctx.log.warn({ dataDir: ctx.config.dataDir }, 'broker master key created (keep a backup)');
  const db = brokerDb(ctx.db);
  const broker = new Broker({
    db,
    audit: ctx.audit,
    events: ctx.events,
    feed: ctx.store.feed,
    now: ctx.now,
    pdp: options.pdp ?? (() => denyAll),
    approvals: options.approvals,
    masterKey: key,
    config,
    publicUrl: () => ctx.config.publicUrl ?? listenUrl(ctx.config.host, ctx.config.port),
    findIdentity: (id) => ctx.inventory.findIdentity(id),
    revokeCredential: (id, meta) => ctx.inventory.revokeCredential(id, meta),
    async findIdentityBySpiffeId(spiffeId) {
      const row = await ctx.db
        .selectFrom('identities')
        .select('id')
        .where('spiffe_id', '=', spiffeId)
        .limit(2)
        .execute();
      // Two identities claiming one SPIFFE ID is ambiguous: map neither.
      if (row.length !== 1 || !row[0]) return undefined;
      return ctx.inventory.findIdentity(row[0].id);
    },
  });
  await broker.start();
  return broker;
}

export function createBrokerModule(
  options: BrokerModuleOptions = {},
): BulkheadModule & { runtime(): Broker } {
  let broker: Broker | undefined;
  let unsubscribe: (() => void) | undefined;
  const get = () => {
    if (!broker) throw new Error('broker module not started');
    return broker;
  };
  return {
    name: 'broker',
    migrations: brokerMigrations,
    async start(ctx) {
      broker = await startBroker(ctx, options);
      const b = broker;
      // An identity that is quarantined or disabled loses every task token at once (containment): the
      // revocation is written before the quarantine call returns, so the caller never races it.
      const offChange = ctx.inventory.onChange((change) => {
        if (change.entity === 'identity' && change.op !== 'create') b.proofs.clearCache();
      });
      const offCommitted = ctx.inventory.onCommitted(async (change) => {
        if (change.entity === 'identity' && change.op !== 'create') await revokeIfInactive(ctx, b, change.id);
      });
      unsubscribe = () => {
        offChange();
        offCommitted();
      };
    },
    registerRoutes(app) {
      registerOAuthRoutes(app, get);
      registerBrokerRoutes(app, get);
    },
    registerCommands(program, cli) {
      registerBrokerCommands(program, cli);
    },
    async stop() {
      unsubscribe?.();
      await broker?.stop();
    },
    runtime: get,
  };
}

/**
 * Tokens an identity held before it was quarantined, disabled or deleted stop working (they live ≤ token TTL):
 * those issued to it, those of its tasks and those it acted in, including tokens exchanged from them.
 * Written whatever tasks it owns: an agent holding only delegated tokens owns none.
 */
async function revokeIfInactive(ctx: AppContext, broker: Broker, identityId: string): Promise<void> {
  try {
    const identity = await ctx.inventory.findIdentity(identityId);
    if (identity && identity.status === 'active') return;
    const ttlMs = broker.deps.config.token_ttl_seconds * 1000;
    await broker.revoke({
      kind: 'identity',
      target: identityId,
      expiresAt: new Date(ctx.now().getTime() + ttlMs + 60_000).toISOString(),
      reason: identity ? `identity ${identity.status}` : 'identity deleted',
      actor: 'system:broker',
    });
  } catch (err) {
    ctx.log.error({ err, identityId }, 'broker could not revoke the tokens of a deactivated identity');
  }
}
