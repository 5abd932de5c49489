import { createDetectModule } from '../../src/detect/index.js';
import { coreModule } from '../../src/modules/index.js';
import { createPolicyModule } from '../../src/policy/index.js';
import type { TokenAuthority } from '../../src/respond/handles.js';
import { createRespondModule, type RespondModuleOptions } from '../../src/respond/index.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** A stand-in for the broker: remembers live task tokens per identity and revocations. */
export class FakeBroker implements TokenAuthority {
  readonly live = new Map<string, number>();
  readonly revocations: string[] = [];
  readonly disabledTasks: string[] = [];
  /** Identities whose tokens some replica keeps accepting (revocation "fails"). */
  readonly stuck = new Set<string>();

  revokeTokensOf(identityId: string) {
    const n = this.live.get(identityId) ?? 0;
    if (!this.stuck.has(identityId)) this.live.set(identityId, 0);
    this.revocations.push(identityId);
    return Promise.resolve({ revoked: n });
  }
  disableTask(taskId: string) {
    this.disabledTasks.push(taskId);
    return Promise.resolve();
  }
  identityHasActiveTokens(identityId: string) {
    return Promise.resolve((this.live.get(identityId) ?? 0) > 0);
  }
}

export interface RespondServer {
  server: TestServer;
  policy: ReturnType<typeof createPolicyModule>;
  detect: ReturnType<typeof createDetectModule>;
  respond: ReturnType<typeof createRespondModule>;
}

export async function startRespondServer(
  options: Omit<RespondModuleOptions, 'pdp' | 'detect'> = {},
  postgres = false,
  now?: () => Date,
): Promise<RespondServer> {
  const policy = createPolicyModule({ pollMs: 0 });
  const detect = createDetectModule({ ssf: { receivers: [] } });
  const respond = createRespondModule({
    pdp: () => policy.runtime().pdp,
    detect: () => detect.service(),
    retryBaseMs: 1,
    rotationTickMs: 0,
    ...options,
  });
  const server = await startTestServer({
    demo: true,
    postgres,
    modules: [coreModule, policy, detect, respond],
    ...(now ? { now } : {}),
  });
  return { server, policy, detect, respond };
}

/** Polls until `check` returns a value (no sleeps in assertions: a deadline instead). */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error('condition not reached before the deadline');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Runs `body` while revoking the credentials `fails` picks throws (an upstream IAM API down), then puts the
 * real revocation back, whatever `body` does.
 */
export async function whileRevokeFails<T>(
  server: TestServer,
  body: () => Promise<T>,
  fails: (credentialId: string) => boolean = () => true,
): Promise<T> {
  const inventory = server.ctx.inventory;
  const revoke = inventory.revokeCredential.bind(inventory);
  inventory.revokeCredential = (id, ...rest) =>
    fails(id) ? Promise.reject(new Error('upstream IAM API unavailable')) : revoke(id, ...rest);
  try {
    return await body();
  } finally {
    inventory.revokeCredential = revoke;
  }
}
