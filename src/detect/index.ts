/**
 * The detect module: normalized events from Bulkhead, CloudTrail and Kubernetes audit logs; detectors for
 * abnormal sequences in the machine lane; deduplicated alerts with ATT&CK techniques; Shared Signals out.
 */
import type { BulkheadModule } from '../modules/types.js';
import { registerDetectCommands } from './commands.js';
import type { DetectConfig } from './detector.js';
import { detectMigrations } from './migrations.js';
import { registerDetectRoutes } from './routes.js';
import { DetectService, type DetectLimits } from './service.js';
import { receiversFromEnv, type SsfReceiver } from './ssf.js';

export interface DetectModuleOptions {
  config?: Partial<DetectConfig>;
  ssf?: { receivers: SsfReceiver[]; issuer?: string };
  bodyLimitBytes?: number;
  maxDecodedBytes?: number;
  maxLineBytes?: number;
  limits?: Partial<DetectLimits>;
}

const DAY_MS = 86_400_000;

/** Environment variables of the memory and inventory limits (see `DetectLimits`), with their minimum. */
const LIMIT_ENV: [keyof DetectLimits, string, number][] = [
  ['maxIdentityBaselines', 'BULKHEAD_DETECT_MAX_IDENTITY_BASELINES', 1],
  ['maxCredentialBaselines', 'BULKHEAD_DETECT_MAX_CREDENTIAL_BASELINES', 1],
  ['maxRememberedDiscoveries', 'BULKHEAD_DETECT_MAX_REMEMBERED_DISCOVERIES', 1],
  ['discoveriesPerMinute', 'BULKHEAD_DETECT_DISCOVERIES_PER_MINUTE', 0],
];

/**
 * Options from the environment: BULKHEAD_DETECT_LEARNING_DAYS, the limits in `LIMIT_ENV`,
 * BULKHEAD_SSF_RECEIVERS, BULKHEAD_SSF_ISSUER.
 */
export function detectOptionsFromEnv(env: NodeJS.ProcessEnv): DetectModuleOptions {
  const days = env.BULKHEAD_DETECT_LEARNING_DAYS;
  const n = days === undefined ? undefined : Number(days);
  if (n !== undefined && (!Number.isFinite(n) || n < 0)) {
    throw new Error('BULKHEAD_DETECT_LEARNING_DAYS must be a non-negative number');
  }
  const limits: Partial<DetectLimits> = {};
  for (const [key, name, min] of LIMIT_ENV) {
    const raw = env[name];
    if (raw === undefined) continue;
    const v = Number(raw);
    if (!Number.isSafeInteger(v) || v < min) throw new Error(`${name} must be an integer ≥ ${min}`);
    limits[key] = v;
  }
  return {
    ...(n === undefined ? {} : { config: { learningPeriodMs: n * DAY_MS } }),
    ...(Object.keys(limits).length > 0 ? { limits } : {}),
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
        limits: options.limits,
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
