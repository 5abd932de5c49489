/**
 * Containment latency: alert → playbook (quarantine in the PDP, revoke the credential) → verified refused,
 * in-process over a SQLite file, for 1,000 incidents on 1,000 distinct T0 workloads. Baseline, same run: the
 * two bare inventory writes the playbook makes (quarantine + revoke) without planning, journal, timeline,
 * audit of steps or verification.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadConfig } from '../src/config.js';
import {
  credentialCreateSchema,
  identityCreateSchema,
  resourceCreateSchema,
} from '../src/inventory/schemas.js';
import { coreModule } from '../src/modules/index.js';
import { createPolicyModule } from '../src/policy/index.js';
import { createRespondModule } from '../src/respond/index.js';
import { startBulkhead } from '../src/server/start.js';
import { percentile, type BenchResult } from './lib.js';

const INCIDENTS = 1000;
const BASELINE = 300;

export async function run(): Promise<BenchResult[]> {
  const dataDir = mkdtempSync(join(tmpdir(), 'bulkhead-bench-respond-'));
  const policy = createPolicyModule({ pollMs: 0, decisionLog: { allowSampleRate: 0, denySampleRate: 0 } });
  const respond = createRespondModule({ pdp: () => policy.runtime().pdp, rotationTickMs: 0, retryBaseMs: 5 });
  const config = loadConfig(
    { host: '127.0.0.1', port: 0, dataDir, demo: false },
    { BULKHEAD_LOG_LEVEL: 'silent' },
  );
  const server = await startBulkhead(config, {
    log: pino({ level: 'silent' }),
    modules: [coreModule, policy, respond],
  });
  try {
    const inv = server.ctx.inventory;
    const meta = { actor: 'bench' };
    await inv.createResource(
      resourceCreateSchema.parse({
        id: 'bench-db',
        type: 'database',
        displayName: 'bench db',
        sensitivity: 'regulated',
        environment: 'prod',
      }),
      meta,
    );
    for (let i = 0; i < INCIDENTS + BASELINE; i++) {
      const id = `wl-${i}`;
      await inv.createIdentity(
        identityCreateSchema.parse({ id, kind: 'workload', displayName: id, environment: 'prod' }),
        meta,
      );
      await inv.createCredential(
        credentialCreateSchema.parse({
          id: `cred-${id}`,
          identityId: id,
          type: 'api_key',
          fingerprint: `sha256:bench-${i}`,
          scopes: ['db:bench-db:rw'],
          consumers: [id],
        }),
        meta,
      );
    }
    await policy.runtime().pdp.push(
      {
        policies: 'permit (principal, action == Action::"read", resource);',
        actions: [],
        requiredContext: {},
      },
      { activate: true },
      meta,
    );
    const service = respond.service();

    const baseline: number[] = [];
    for (let i = INCIDENTS; i < INCIDENTS + BASELINE; i++) {
      const t = process.hrtime.bigint();
      await inv.setIdentityStatus(`wl-${i}`, 'quarantined', meta, 'bench');
      await inv.revokeCredential(`cred-wl-${i}`, meta);
      baseline.push(Number(process.hrtime.bigint() - t) / 1e6);
    }

    const lat: number[] = [];
    let notContained = 0;
    for (let i = 0; i < INCIDENTS; i++) {
      const t = process.hrtime.bigint();
      const incident = await service.handleAlert({
        id: `alert-bench-${i}`,
        ruleId: 'credential-replay',
        severity: 'high',
        title: 'bench replay',
        identityId: `wl-${i}`,
        credential: `cred-wl-${i}`,
      });
      lat.push(Number(process.hrtime.bigint() - t) / 1e6);
      if (incident?.state !== 'contained') notContained++;
    }
    if (notContained > 0) throw new Error(`${notContained} incidents were not verified contained`);
    lat.sort((a, b) => a - b);
    baseline.sort((a, b) => a - b);
    const round = (v: number) => Math.round(v * 100) / 100;
    const p99 = percentile(lat, 99);
    return [
      {
        name: `respond: alert → verified contained, p50 (${INCIDENTS} incidents, in-process, SQLite)`,
        value: round(percentile(lat, 50)),
        unit: 'ms',
        baseline: { name: 'bare quarantine + revoke writes, p50', value: round(percentile(baseline, 50)) },
      },
      {
        name: `respond: alert → verified contained, p99 (${INCIDENTS} incidents, in-process, SQLite)`,
        value: round(p99),
        unit: 'ms',
        baseline: { name: 'bare quarantine + revoke writes, p99', value: round(percentile(baseline, 99)) },
        target: 'p99 < 1000 ms',
        met: p99 < 1000,
      },
    ];
  } finally {
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
