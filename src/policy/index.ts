/**
 * The policy module: Cedar policy decision point with the OpenID AuthZEN 1.0 API, obligations and
 * approvals, and the decision log.
 */
import type { AppContext } from '../app-context.js';
import type { Config } from '../config.js';
import { DEMO_POLICIES } from '../demo/demo-policies.js';
import type { BulkheadModule } from '../modules/types.js';
import { registerAuthzenRoutes } from './authzen/routes.js';
import { registerPolicyCommands } from './cli.js';
import { ApprovalStore, DEFAULT_APPROVALS, type ApprovalConfig } from './approvals.js';
import { DecisionLog, DEFAULT_DECISION_LOG, type DecisionLogConfig } from './decision-log.js';
import { wallClock } from './request-context.js';
import { EntityIndex } from './entity-index.js';
import { policyMigrations } from './migrations.js';
import { registerPolicyRoutes } from './routes.js';
import { PolicyDecisionPoint } from './service.js';
import { policyDb } from './tables.js';

export interface PolicyModuleOptions {
  decisionLog?: Partial<DecisionLogConfig>;
  approvals?: Partial<ApprovalConfig>;
  cacheSize?: number;
  cacheTtlMs?: number;
  /** How often to look for activations made by another replica (0 = never). */
  pollMs?: number;
  /** IANA time zone for `context.hour` / `context.weekday`; default `BULKHEAD_POLICY_TIMEZONE` or UTC. */
  timeZone?: string;
  /**
   * Throwaway Cedar evaluations run in the background at start-up so the engine's code is optimised before
   * real traffic needs it (PolicyDecisionPoint.warmUpEngine); default `BULKHEAD_POLICY_WARMUP` or 300.
   */
  warmUpEvaluations?: number;
}

export const DEFAULT_WARMUP_EVALUATIONS = 300;

function envNumber(name: string): number | undefined {
  const v = process.env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number`);
  return n;
}

export interface PolicyRuntime {
  pdp: PolicyDecisionPoint;
  approvals: ApprovalStore;
  decisionLog: DecisionLog;
  index: EntityIndex;
}

/** Builds the runtime for a context (used by the module and by tests/benchmarks in-process). */
export async function startPolicyRuntime(
  ctx: AppContext,
  options: PolicyModuleOptions = {},
): Promise<PolicyRuntime> {
  const db = policyDb(ctx.db);
  const logConfig: DecisionLogConfig = {
    ...DEFAULT_DECISION_LOG,
    ...definedOnly({
      allowSampleRate: envNumber('BULKHEAD_DECISION_LOG_ALLOW_SAMPLE'),
      denySampleRate: envNumber('BULKHEAD_DECISION_LOG_DENY_SAMPLE'),
      retentionDays: envNumber('BULKHEAD_DECISION_LOG_RETENTION_DAYS'),
    }),
    ...options.decisionLog,
  };
  const index = new EntityIndex(ctx.inventory);
  await index.load();
  const approvals = new ApprovalStore(db, ctx.audit, ctx.inventory, ctx.now, {
    ...DEFAULT_APPROVALS,
    ...options.approvals,
  });
  const decisionLog = new DecisionLog(db, ctx.events, ctx.log, ctx.now, logConfig);
  decisionLog.start();
  const pdp = new PolicyDecisionPoint(
    {
      db,
      audit: ctx.audit,
      log: ctx.log,
      events: ctx.events,
      now: ctx.now,
      index,
      approvals,
      decisionLog,
      feed: ctx.store.feed,
    },
    {
      cacheSize: options.cacheSize ?? 50_000,
      cacheTtlMs: options.cacheTtlMs ?? 60_000,
      timeZone: options.timeZone ?? envTimeZone(),
      warmUpEvaluations: Math.floor(
        options.warmUpEvaluations ?? envNumber('BULKHEAD_POLICY_WARMUP') ?? DEFAULT_WARMUP_EVALUATIONS,
      ),
    },
  );
  await pdp.start(options.pollMs ?? 2000);
  return { pdp, approvals, decisionLog, index };
}

function envTimeZone(): string | undefined {
  const zone = process.env.BULKHEAD_POLICY_TIMEZONE;
  if (!zone) return undefined;
  try {
    wallClock(zone);
  } catch (err) {
    throw new Error(`BULKHEAD_POLICY_TIMEZONE: ${(err as Error).message}`);
  }
  return zone;
}

function definedOnly<T extends Record<string, unknown>>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export function createPolicyModule(options: PolicyModuleOptions = {}): BulkheadModule & {
  runtime(): PolicyRuntime;
} {
  let runtime: PolicyRuntime | undefined;
  let config: Config | undefined;
  const get = () => {
    if (!runtime) throw new Error('policy module not started');
    return runtime;
  };
  return {
    name: 'policy',
    migrations: policyMigrations,
    async start(ctx) {
      runtime = await startPolicyRuntime(ctx, options);
      config = ctx.config;
    },
    registerRoutes(app) {
      // The server starts modules before it registers routes, so the runtime exists here.
      const r = get();
      registerPolicyRoutes(app, r.pdp, r.approvals, r.decisionLog);
      registerAuthzenRoutes(app, r.pdp, () => config?.publicUrl);
    },
    registerCommands(program, cli) {
      registerPolicyCommands(program, cli);
    },
    async loadDemo() {
      const { pdp } = get();
      if (pdp.activeVersion !== null) return;
      await pdp.push(
        DEMO_POLICIES,
        { comment: 'demo policies (Acme Pay)', activate: true },
        { actor: 'system:demo' },
      );
    },
    async stop() {
      if (!runtime) return;
      runtime.pdp.stop();
      runtime.index.stop();
      await runtime.decisionLog.stop();
    },
    runtime: get,
  };
}
