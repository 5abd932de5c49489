/**
 * The respond module: crisis tiers, playbooks that contain within seconds without cascading into an outage,
 * staged rotation, incidents with time to detect / time to contain, leaked-secret intake.
 */
import type { DetectService } from '../detect/service.js';
import { detectDb, upsertAlert } from '../detect/store.js';
import type { BulkheadModule } from '../modules/types.js';
import { registerRespondCommands } from './commands.js';
import { graphServiceOf } from '../graph/index.js';
import { InventoryDependencyMap, type DependencyMap } from './dependency-map.js';
import { GraphDependencyMap } from './graph-map.js';
import type { DecisionPoint, Notifier, TokenAuthority, UsageSource } from './handles.js';
import { respondMigrations } from './migrations.js';
import { receiversFromEnv, WebhookNotifier } from './notifier.js';
import { registerRespondRoutes } from './routes.js';
import { RespondService, type RespondOptions } from './service.js';

export interface RespondModuleOptions {
  /** The policy decision point (verification that a quarantined identity is refused; policy rollback). */
  pdp?: () => DecisionPoint;
  /** The token broker, once it exists (task-token revocation and introspection). */
  broker?: () => TokenAuthority | undefined;
  /** Detection, for the first-event time of its alerts (time to detect). */
  detect?: () => DetectService;
  notifier?: Notifier;
  /** Granted vs used per identity (the posture module), for `narrow_permissions`. */
  usage?: () => UsageSource | undefined;
  /** Replaces the inventory-based dependency map (e.g. by the graph module). */
  dependencyMap?: DependencyMap;
  retryBaseMs?: number;
  rotationTickMs?: number;
}

export function createRespondModule(
  options: RespondModuleOptions = {},
): BulkheadModule & { service(): RespondService } {
  let service: RespondService | undefined;
  const get = (): RespondService => {
    if (!service) throw new Error('the respond module has not been started');
    return service;
  };
  return {
    name: 'respond',
    migrations: respondMigrations,
    service: get,
    async start(ctx) {
      const receivers = receiversFromEnv(process.env.BULKHEAD_RESPOND_WEBHOOKS);
      const detect = options.detect;
      const serviceOptions: RespondOptions = {
        pdp: options.pdp,
        broker: options.broker,
        usage: options.usage,
        // Detection's Shared Signals sender (its signing key and receivers) carries notify's SETs.
        signals: detect
          ? () => {
              try {
                return detect();
              } catch {
                return undefined; // detection not started in this process
              }
            }
          : undefined,
        notifier:
          options.notifier ?? (receivers.length > 0 ? new WebhookNotifier(receivers, ctx.now) : undefined),
        // The graph (when its module runs in this server) adds reach, escalation paths and dependents found
        // through it; the inventory answers the rest and everything when there is no graph.
        dependencyMap:
          options.dependencyMap ??
          new GraphDependencyMap(new InventoryDependencyMap(ctx.inventory), () => graphServiceOf(ctx)),
        retryBaseMs: options.retryBaseMs,
        rotationTickMs: options.rotationTickMs,
        recordAlert: detect
          ? async (a) => {
              const now = ctx.now().toISOString();
              await upsertAlert(
                detectDb(detect().ctxDb()),
                {
                  id: a.id,
                  rule_id: a.ruleId,
                  title: a.title,
                  severity: a.severity,
                  techniques: ['T1552.001'], // Unsecured Credentials: Credentials In Files
                  identity: a.identityId ?? 'unknown',
                  identity_id: a.identityId,
                  unmanaged: false,
                  credential: a.credential,
                  event_ids: [],
                  first_seen: a.firstSeen ?? now,
                  last_seen: now,
                  count: 1,
                  source: 'bulkhead',
                  explanation: `A secret matching ${a.credential ?? 'a credential'} was reported exposed (${a.detail}).`,
                  suggested_response: 'Revoke the credential now; rotate its consumers to a new one.',
                  signal: 'credential-compromise',
                  dedup_key: `leaked-secret|${a.credential ?? a.id}`,
                },
                now,
              );
            }
          : undefined,
        alertFirstSeen: detect
          ? async (alertId) => {
              const row = await detectDb(detect().ctxDb())
                .selectFrom('detect_alerts')
                .select('first_seen')
                .where('id', '=', alertId)
                .executeTakeFirst();
              return row?.first_seen;
            }
          : undefined,
      };
      service = new RespondService(ctx, serviceOptions);
      await service.start();
    },
    async stop() {
      await service?.stop();
    },
    registerRoutes(app) {
      registerRespondRoutes(app, get);
    },
    registerCommands(program, cli) {
      registerRespondCommands(program, cli);
    },
  };
}
