/**
 * The detect module: normalized events from Bulkhead, CloudTrail and Kubernetes audit logs; detectors for
 * abnormal sequences in the machine lane; deduplicated alerts with ATT&CK techniques; Shared Signals out.
 */
import type { BulkheadModule } from '../modules/types.js';
import { registerDetectCommands } from './commands.js';
import type { DetectConfig } from './detector.js';
import { detectMigrations } from './migrations.js';
import { registerDetectRoutes } from './routes.js';
import { DetectService } from './service.js';
import { receiversFromEnv, type SsfReceiver } from './ssf.js';

export interface DetectModuleOptions {
  config?: Partial<DetectConfig>;
  ssf?: { receivers: SsfReceiver[]; issuer?: string };
  bodyLimitBytes?: number;
  maxDecodedBytes?: number;
  maxLineBytes?: number;
}

const DAY_MS = 86_400_000;

/** Options from the environment: BULKHEAD_DETECT_LEARNING_DAYS, BULKHEAD_SSF_RECEIVERS, BULKHEAD_SSF_ISSUER. */
export function detectOptionsFromEnv(env: NodeJS.ProcessEnv): DetectModuleOptions {
  const days = env.BULKHEAD_DETECT_LEARNING_DAYS;
  const n = days === undefined ? undefined : Number(days);
  if (n !== undefined && (!Number.isFinite(n) || n < 0)) {
    throw new Error('BULKHEAD_DETECT_LEARNING_DAYS must be a non-negative number');
  }
  return {
    ...(n === undefined ? {} : { config: { learningPeriodMs: n * DAY_MS } }),
    ssf: {
      receivers: receiversFromEnv(env.BULKHEAD_SSF_RECEIVERS),
      ...(env.BULKHEAD_SSF_ISSUER ? { issuer: env.BULKHEAD_SSF_ISSUER } : {}),
    },
  };
}

export function createDetectModule(
  fixed?: DetectModuleOptions,
): BulkheadModule & { service(): DetectService } {
  let service: DetectService | undefined;
  const get = (): DetectService => {
    if (!service) throw new Error('the detect module has not been started');
    return service;
  };
  return {
    name: 'detect',
    migrations: detectMigrations,
    service: get,
    async start(ctx) {
      const options = fixed ?? detectOptionsFromEnv(process.env);
      service = new DetectService(ctx, {
        config: options.config,
        ssf: options.ssf,
        maxLineBytes: options.maxLineBytes,
      });
      await service.start();
    },
    async stop() {
      await service?.stop();
    },
    registerRoutes(app) {
      registerDetectRoutes(app, get, {
        bodyLimitBytes: fixed?.bodyLimitBytes ?? 32 * 1024 * 1024,
        maxDecodedBytes: fixed?.maxDecodedBytes ?? 256 * 1024 * 1024,
      });
    },
    registerCommands(program, cli) {
      registerDetectCommands(program, cli);
    },
  };
}
