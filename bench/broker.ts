/**
 * Credential broker benchmark (issue 5). Every figure sits next to a baseline measured in the same run: raw jose
 * Ed25519 JWT sign/verify and raw node:crypto Ed25519 sign/verify on the same key. Measured in-process (no
 * HTTP): minting (signing alone, and end to end from a JWT-SVID proof through the task store), validating
 * (signature + claims + revocation set with 1M entries, then the full PEP check with intent and the durable
 * use-budget update, then with a DPoP proof and the replay cache), the revocation lookup with 0 vs 1M entries,
 * and the replay cache's memory at a sustained 10k tokens/s. Run alone with
 * `node --expose-gc --import tsx bench/broker.ts`.
 */
import { createPublicKey, randomBytes, randomUUID, sign, verify } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, jwtVerify, SignJWT } from 'jose';
import { pino } from 'pino';
import { createBrokerModule } from '../src/broker/index.js';
import { accessTokenHash } from '../src/broker/dpop/proof.js';
import { ExpiringSet } from '../src/broker/dpop/expiring-set.js';
import type { Broker } from '../src/broker/service.js';
import { issueTaskToken } from '../src/broker/tokens/issue.js';
import { loadConfig } from '../src/config.js';
import { coreModule } from '../src/modules/index.js';
import { createPolicyModule } from '../src/policy/index.js';
import { startBulkhead } from '../src/server/start.js';
import { opsPerSecond, type BenchResult } from './lib.js';

const ISSUER = 'https://broker.bench';
const SPIFFE = 'spiffe://prod.acmepay.example/ns/payments/sa/api';
const POLICIES = '@id("all") permit (principal, action, resource);';

function round(n: number): number {
  return Math.round(n);
}

export async function run(): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'bulkhead-bench-broker-'));
  const spire = await generateKeyPair('EdDSA', { extractable: true });
  const spireJwk = { ...(await exportJWK(spire.publicKey)), kid: 'spire-1' };
  writeFileSync(join(dir, 'bundle.json'), JSON.stringify({ keys: [spireJwk] }));
  const policy = createPolicyModule({ pollMs: 0 });
  const brokerModule = createBrokerModule({
    pdp: () => policy.runtime().pdp,
    masterKey: randomBytes(32).toString('base64'),
    config: {
      issuer: ISSUER,
      default_audience: 'payments',
      sweep_interval_ms: 0,
      trust_bundles: [
        {
          name: 'spire',
          kind: 'spiffe',
          trust_domain: 'prod.acmepay.example',
          audience: ISSUER,
          jwks_file: join(dir, 'bundle.json'),
        },
      ],
    },
  });
  const config = loadConfig(
    { host: '127.0.0.1', port: 0, dataDir: dir, demo: true },
    {
      BULKHEAD_ADMIN_TOKEN: `bh_bench_${randomBytes(16).toString('hex')}`,
      BULKHEAD_LOG_LEVEL: 'silent',
    },
  );
  const server = await startBulkhead(config, {
    log: pino({ level: 'silent' }),
    modules: [coreModule, policy, brokerModule],
  });
  try {
    await policy
      .runtime()
      .pdp.push(
        { policies: POLICIES, actions: ['read'], requiredContext: {} },
        { activate: true },
        { actor: 'bench' },
      );
    const broker: Broker = brokerModule.runtime();
    const task = await broker.tasks.create({
      identityId: 'payments-api',
      subject: SPIFFE,
      purpose: 'bench',
      actions: ['read'],
      resources: ['payments-db'],
      ttl: 3600,
      maxUses: 1_000_000_000,
      createdBy: 'bench',
    });
    const now = () => new Date();

    // Baselines on the broker's own key.
    const { kid, key } = broker.keys.signer();
    const pub = createPublicKey(key);
    const claims = {
      iss: ISSUER,
      sub: SPIFFE,
      aud: 'payments',
      exp: Math.floor(Date.now() / 1000) + 300,
      iat: Math.floor(Date.now() / 1000),
      jti: 'x',
      client_id: 'payments-api',
      task: task.id,
      authorization_details: [
        { type: 'urn:bulkhead:task', identifier: task.id, actions: ['read'], locations: ['payments-db'] },
      ],
    };
    const rawJoseSign = await opsPerSecond(() =>
      new SignJWT({ ...claims, jti: randomUUID() })
        .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', kid })
        .sign(key),
    );
    const msg = Buffer.from(JSON.stringify(claims));
    const rawNodeSign = await opsPerSecond(() => sign(null, msg, key));
    const mint = await opsPerSecond(() =>
      issueTaskToken(broker.keys, ISSUER, {
        task,
        subject: SPIFFE,
        clientId: 'payments-api',
        now: now(),
        ttlSeconds: 300,
      }),
    );
    results.push({
      name: 'mint: sign a task token (claims + EdDSA)',
      value: round(mint),
      unit: 'ops/s',
      baseline: { name: 'raw node:crypto Ed25519 sign', value: round(rawNodeSign) },
    });
    results.push({
      name: 'raw jose SignJWT Ed25519 (reference)',
      value: round(rawJoseSign),
      unit: 'ops/s',
    });

    // End to end: workload proof (JWT-SVID verify + inventory lookup) → task row → signed token.
    const svids = await Promise.all(
      Array.from({ length: 64 }, () =>
        new SignJWT({})
          .setProtectedHeader({ alg: 'EdDSA', kid: 'spire-1' })
          .setSubject(SPIFFE)
          .setAudience(ISSUER)
          .setExpirationTime('10m')
          .sign(spire.privateKey),
      ),
    );
    let i = 0;
    const e2e = await opsPerSecond(
      () =>
        broker.tokenRequest(
          {
            grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
            assertion: svids[i++ % svids.length] ?? '',
            task: task.id,
          },
          { endpointUrl: `${ISSUER}/oauth2/token`, dpop: undefined },
        ),
      2000,
    );
    results.push({
      name: 'mint end to end in-process (token request: SVID proof (verified once, then cached) + task row + sign)',
      value: round(e2e),
      unit: 'ops/s',
      baseline: { name: 'raw node:crypto Ed25519 sign', value: round(rawNodeSign) },
      target: '>= 10000 ops/s',
    });

    // Validation.
    const bearer = (
      await issueTaskToken(broker.keys, ISSUER, {
        task,
        subject: SPIFFE,
        clientId: 'payments-api',
        now: now(),
        ttlSeconds: 300,
      })
    ).token;
    const sig = sign(null, msg, key);
    const rawJoseVerify = await opsPerSecond(() => jwtVerify(bearer, pub, { algorithms: ['EdDSA'] }));
    const rawNodeVerify = await opsPerSecond(() => verify(null, msg, pub, sig));
    // Revocation lookup: O(1) whatever the size (measured before and after adding 1M entries).
    const lookups = (n: number) => {
      const ids = Array.from({ length: 1024 }, (_, k) => `jti-${k}`);
      const s = performance.now();
      let hits = 0;
      for (let k = 0; k < n; k++)
        if (broker.revocations.match(ids[k & 1023] ?? '', 'task-x', ['id-x'], 0)) hits++;
      return ((performance.now() - s) * 1e6) / n + hits;
    };
    const lookupEmpty = lookups(1_000_000);
    // 1M revoked entries in the set the validator consults.
    const t0 = performance.now();
    const revocations = broker.revocations as unknown as {
      entries: Map<string, { exp: number; at: number }>;
    };
    const farFuture = Date.now() + 3_600_000;
    for (let r = 0; r < 1_000_000; r++) revocations.entries.set(`token|rev-${r}`, { exp: farFuture, at: 0 });
    const fillMs = performance.now() - t0;
    const verifyOnly = await opsPerSecond(() => broker.validator.verify(bearer));
    results.push({
      name: 'validate: signature + claims + revocation (1M revoked)',
      value: round(verifyOnly),
      unit: 'ops/s',
      baseline: { name: 'raw node:crypto Ed25519 verify', value: round(rawNodeVerify) },
      target: '>= 70% of raw verify',
    });
    results.push({
      name: 'raw jose jwtVerify Ed25519 (reference)',
      value: round(rawJoseVerify),
      unit: 'ops/s',
    });
    const lookupFull = lookups(1_000_000);
    results.push({
      name: 'revocation check with 1M revoked entries',
      value: Math.round(lookupFull),
      unit: 'ns/op',
      baseline: { name: 'same check with an empty set', value: Math.round(lookupEmpty) },
      target: 'O(1)',
    });
    results.push({ name: 'revocation set: load 1M entries', value: Math.round(fillMs), unit: 'ms' });
    const full = await opsPerSecond(() =>
      broker.validator.validate({
        token: bearer,
        audience: 'payments',
        action: 'read',
        resource: 'payments-db',
      }),
    );
    results.push({
      name: 'validate for a PEP: + intent + durable use budget (SQLite update)',
      value: round(full),
      unit: 'ops/s',
      baseline: { name: 'raw node:crypto Ed25519 verify', value: round(rawNodeVerify) },
    });
    const dpopKey = await generateKeyPair('EdDSA', { extractable: true });
    const dpopJwk = await exportJWK(dpopKey.publicKey);
    const jkt = await calculateJwkThumbprint(dpopJwk);
    const bound = (
      await issueTaskToken(broker.keys, ISSUER, {
        task,
        subject: SPIFFE,
        clientId: 'payments-api',
        now: now(),
        ttlSeconds: 300,
        jkt,
      })
    ).token;
    const url = 'https://payments.example/v1/refunds';
    const proofs = await Promise.all(
      Array.from({ length: 20_000 }, () =>
        new SignJWT({ htm: 'GET', htu: url, jti: randomUUID(), ath: accessTokenHash(bound) })
          .setProtectedHeader({ alg: 'EdDSA', typ: 'dpop+jwt', jwk: dpopJwk })
          .setIssuedAt()
          .sign(dpopKey.privateKey),
      ),
    );
    let p = 0;
    const withDpop = await opsPerSecond(
      () =>
        broker.validator
          .validate({
            token: bound,
            audience: 'payments',
            action: 'read',
            resource: 'payments-db',
            dpop: proofs[p++ % proofs.length] ?? '',
            method: 'GET',
            url,
          })
          .catch(() => undefined),
      1000,
    );
    results.push({
      name: 'validate with DPoP (proof verify + jti replay cache) + budget',
      value: round(withDpop),
      unit: 'ops/s',
      baseline: { name: 'raw node:crypto Ed25519 verify', value: round(rawNodeVerify) },
    });

    // Replay cache memory at a sustained 10k tokens/s: entries live for the DPoP window (60 s) + skew (5 s).
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    const before = process.memoryUsage().heapUsed;
    const cache = new ExpiringSet();
    const window = 65;
    const start = Date.now();
    for (let k = 0; k < 10_000 * window; k++) {
      const at = start + Math.floor(k / 10_000) * 1000;
      cache.addIfAbsent(`${'j'.repeat(43)}|${randomUUID()}`, at + window * 1000, at);
    }
    gc?.();
    const mb = (process.memoryUsage().heapUsed - before) / 1024 / 1024;
    results.push({
      name: `DPoP replay cache at 10k/s steady state (${cache.size} live entries)`,
      value: Math.round(mb),
      unit: 'MB',
      target: '<= 64 MB',
    });
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return results;
}

if (process.argv[1]?.endsWith('broker.ts')) {
  const results = await run();
  for (const r of results) {
    const base = r.baseline ? `  (baseline ${r.baseline.name}: ${r.baseline.value})` : '';
    console.log(`${r.name}: ${r.value} ${r.unit}${base}${r.target ? `  target ${r.target}` : ''}`);
  }
}
