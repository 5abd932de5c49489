/**
 * Foundation benchmarks:
 *  - inventory lookups/s through InventoryService vs a raw better-sqlite3 prepared statement (same file);
 *  - HTTP GET /v1/identities/:id p50/p99 vs an empty Fastify handler, same client, same run;
 *  - RSS of a real `bulkhead serve` process idle with demo data (target <= 150 MB);
 *  - RSS and list/filter p99 with a generated inventory of 100k identities + 300k credentials
 *    (targets <= 500 MB, p99 <= 50 ms).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import SqliteDatabase from 'better-sqlite3';
import Fastify from 'fastify';
import { pino } from 'pino';
import { loadConfig } from '../src/config.js';
import { credentialToRow, identityToRow } from '../src/inventory/rows.js';
import { IDENTITY_KINDS, type Credential, type Identity } from '../src/inventory/types.js';
import { allModules } from '../src/modules/index.js';
import { openAppContext } from '../src/server/context.js';
import { startBulkhead } from '../src/server/start.js';
import { latencies, opsPerSecond, percentile, round, rssMb, type BenchResult } from './lib.js';

const TOKEN = `bh_bench_${randomBytes(16).toString('hex')}`;
const silent = pino({ level: 'silent' });

async function lookups(dataDir: string): Promise<BenchResult[]> {
  const config = loadConfig({ dataDir, demo: true }, { BULKHEAD_ADMIN_TOKEN: TOKEN });
  const running = await startBulkhead({ ...config, port: 0 }, { log: silent });
  try {
    const ids = (await running.ctx.inventory.listIdentities({ limit: 500 })).items.map((i) => i.id);
    let k = 0;
    const next = () => ids[k++ % ids.length]!;
    const raw = new SqliteDatabase(join(dataDir, 'bulkhead.db'), { readonly: true });
    const stmt = raw.prepare('select * from identities where id = ?');
    const rawOps = await opsPerSecond(() => stmt.get(next()));
    raw.close();
    const svcOps = await opsPerSecond(() => running.ctx.inventory.getIdentity(next()));

    // HTTP: GET identity vs an empty Fastify handler, same client and connection handling.
    const empty = Fastify({ logger: false });
    empty.get('/v1/identities/:id', async () => ({}));
    await empty.listen({ host: '127.0.0.1', port: 0 });
    const emptyAddr = empty.server.address();
    const emptyPort = typeof emptyAddr === 'object' && emptyAddr ? emptyAddr.port : 0;
    const auth = { authorization: `Bearer ${TOKEN}` };
    const base = await latencies(() => `http://127.0.0.1:${emptyPort}/v1/identities/${next()}`, 3000);
    const real = await latencies(() => `${running.url}/v1/identities/${next()}`, 3000, auth);
    await empty.close();
    return [
      {
        name: 'inventory lookups (InventoryService.getIdentity, SQLite)',
        value: Math.round(svcOps),
        unit: 'ops/s',
        baseline: { name: 'raw better-sqlite3 prepared get', value: Math.round(rawOps) },
      },
      {
        name: 'HTTP GET /v1/identities/:id p50',
        value: round(percentile(real, 50), 3),
        unit: 'ms',
        baseline: { name: 'empty Fastify handler', value: round(percentile(base, 50), 3) },
      },
      {
        name: 'HTTP GET /v1/identities/:id p99',
        value: round(percentile(real, 99), 3),
        unit: 'ms',
        baseline: { name: 'empty Fastify handler', value: round(percentile(base, 99), 3) },
      },
    ];
  } finally {
    await running.close();
  }
}

/** Starts the built server (dist/) as a child process, as `npm start` would, and returns its URL. */
function serve(dataDir: string, demo: boolean): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    process.execPath,
    [
      'bin/bulkhead.js',
      'serve',
      '--port',
      '0',
      '--data-dir',
      dataDir,
      demo ? '--demo' : '--no-demo',
      '--json',
    ],
    {
      env: { ...process.env, BULKHEAD_ADMIN_TOKEN: TOKEN, BULKHEAD_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`server exited (${code})`)));
    createInterface({ input: child.stdout }).once('line', (line) => {
      resolve({ child, url: (JSON.parse(line) as { url: string }).url });
    });
  });
}

async function stop(child: ChildProcess): Promise<void> {
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
}

/**
 * RSS once the server is idle. V8's memory reducer returns start-up garbage to the OS only after the process
 * has been quiet for a while (about 20-30 s here), so sample for 35 s without requests and report the median
 * of the last five samples; the first sample (right after start-up) is reported beside it.
 */
async function settledRss(pid: number): Promise<{ settled: number; atStart: number }> {
  const samples: number[] = [rssMb(pid)];
  for (let i = 0; i < 35; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    samples.push(rssMb(pid));
  }
  const last = samples.slice(-5).sort((a, b) => a - b);
  return { settled: last[2]!, atStart: samples[0]! };
}

async function idleRss(dataDir: string): Promise<BenchResult> {
  const { child, url } = await serve(dataDir, true);
  try {
    await latencies(() => `${url}/v1/identities?limit=100`, 200, { authorization: `Bearer ${TOKEN}` });
    const { settled: rss, atStart } = await settledRss(child.pid!);
    return {
      name: `server RSS idle with demo data (after 35 s idle; ${round(atStart, 1)} MB right after start-up)`,
      value: round(rss, 1),
      unit: 'MB',
      target: '<= 150 MB',
      met: rss <= 150,
    };
  } finally {
    await stop(child);
  }
}

/** Writes 100k identities and 300k credentials straight into a migrated SQLite store (no audit: it is a fixture). */
export async function generateLarge(
  dataDir: string,
  identities: number,
  credentialsTotal: number,
): Promise<void> {
  const config = loadConfig({ dataDir }, {});
  const ctx = await openAppContext(config, allModules(), silent);
  await ctx.store.close();
  const db = new SqliteDatabase(join(dataDir, 'bulkhead.db'));
  db.pragma('journal_mode = WAL');
  const humans = 2000;
  const now = Date.now();
  const iso = (daysAgo: number) => new Date(now - daysAgo * 86_400_000).toISOString();
  const insertIdentity = db.prepare(
    `insert into identities (id, kind, display_name, spiffe_id, cloud_arn, k8s_service_account, owners, groups, owner_count,
       environment, source, labels, status, created_at, updated_at, last_seen_at)
     values (@id, @kind, @display_name, @spiffe_id, @cloud_arn, @k8s_service_account, @owners, @groups, @owner_count,
       @environment, @source, @labels, @status, @created_at, @updated_at, @last_seen_at)`,
  );
  const insertOwner = db.prepare('insert into identity_owners (identity_id, owner) values (?, ?)');
  const insertCred = db.prepare(
    `insert into credentials (id, identity_id, type, fingerprint, status, scopes, stored_in, consumers, source, labels,
       created_at, updated_at, last_used_at, expires_at, last_rotated_at)
     values (@id, @identity_id, @type, @fingerprint, @status, @scopes, @stored_in, @consumers, @source, @labels,
       @created_at, @updated_at, @last_used_at, @expires_at, @last_rotated_at)`,
  );
  const insertConsumer = db.prepare(
    'insert into credential_consumers (credential_id, identity_id) values (?, ?)',
  );
  const envs = ['prod', 'staging', 'dev'];
  const nhiKinds = IDENTITY_KINDS.filter((k) => k !== 'human');
  db.transaction(() => {
    for (let i = 0; i < identities; i++) {
      const human = i < humans;
      const id = human ? `user-${i}` : `nhi-${i}`;
      const owners =
        human || i % 7 === 0 ? [] : [`user-${i % humans}`, ...(i % 3 === 0 ? [`team:t${i % 50}`] : [])];
      const identity: Identity = {
        id,
        kind: human ? 'human' : nhiKinds[i % nhiKinds.length]!,
        displayName: `Identity ${i}`,
        spiffeId: human ? null : `spiffe://bench.example/ns/n${i % 100}/sa/${id}`,
        cloudArn: i % 4 === 0 ? `arn:aws:iam::123456789012:role/${id}` : null,
        k8sServiceAccount: null,
        owners,
        groups: [`g${i % 200}`],
        environment: envs[i % 3]!,
        source: i % 2 ? 'aws-iam' : 'k8s',
        labels: { team: `t${i % 50}` },
        status: i % 97 === 0 ? 'disabled' : 'active',
        createdAt: iso(400),
        updatedAt: iso(10),
        lastSeenAt: i % 5 === 0 ? iso(200) : iso(i % 30),
      };
      insertIdentity.run(identityToRow(identity));
      for (const o of owners) insertOwner.run(id, o);
      if (human) continue;
      const j = i - humans;
      const count =
        Math.floor(((j + 1) * credentialsTotal) / (identities - humans)) -
        Math.floor((j * credentialsTotal) / (identities - humans));
      for (let c = 0; c < count; c++) {
        const credId = `cred-${i}-${c}`;
        const consumer = `nhi-${humans + ((i + c * 13) % (identities - humans))}`;
        const cred: Credential = {
          id: credId,
          identityId: id,
          type: c % 2 ? 'api_key' : 'access_key',
          fingerprint: `sha256:${i.toString(16)}${c}`,
          status: 'active',
          scopes: ['read'],
          storedIn: ['vault:kv/bench'],
          consumers: [id, consumer],
          source: 'bench',
          labels: {},
          createdAt: iso(300),
          updatedAt: iso(10),
          lastUsedAt: iso(i % 100),
          expiresAt: null,
          lastRotatedAt: iso(i % 400),
        };
        insertCred.run(credentialToRow(cred));
        insertConsumer.run(credId, id);
        if (consumer !== id) insertConsumer.run(credId, consumer);
      }
    }
  })();
  db.close();
}

async function large(dataDir: string): Promise<BenchResult[]> {
  const identities = 100_000;
  const credentials = 300_000;
  const t0 = Date.now();
  await generateLarge(dataDir, identities, credentials);
  console.error(`  generated ${identities} identities + ${credentials} credentials in ${Date.now() - t0} ms`);
  const { child, url } = await serve(dataDir, false);
  try {
    const auth = { authorization: `Bearer ${TOKEN}` };
    let k = 0;
    const queries = [
      '/v1/identities?limit=50',
      '/v1/identities?kind=ai_agent&limit=50',
      '/v1/identities?owner=user-17&limit=50',
      '/v1/identities?owner=team:t3&limit=50',
      '/v1/identities?environment=prod&status=active&limit=50',
      '/v1/identities?stale_days=90&limit=50',
      '/v1/identities?no_owner=true&kind=workload&limit=50',
      '/v1/identities?limit=50&cursor=' +
        Buffer.from(JSON.stringify({ after: 'nhi-77777' })).toString('base64url'),
      '/v1/credentials?identity_id=nhi-5000&limit=50',
      '/v1/credentials?consumer=nhi-6000&limit=50',
      '/v1/credentials?type=api_key&limit=50',
    ];
    const lat = await latencies(() => url + queries[k++ % queries.length]!, 2200, auth);
    const worst = { query: '', p99: 0 };
    for (const q of queries) {
      const p = percentile(await latencies(() => url + q, 100, auth), 99);
      if (p > worst.p99) Object.assign(worst, { query: q, p99: p });
    }
    const { settled: rss, atStart } = await settledRss(child.pid!);
    const p99 = percentile(lat, 99);
    return [
      {
        name: `server RSS with 100k identities + 300k credentials (after 35 s idle; ${round(atStart, 1)} MB right after the queries)`,
        value: round(rss, 1),
        unit: 'MB',
        target: '<= 500 MB',
        met: rss <= 500,
      },
      {
        name: 'list/filter p50 (100k inventory, 11 query shapes)',
        value: round(percentile(lat, 50), 2),
        unit: 'ms',
      },
      {
        name: 'list/filter p99 (100k inventory, 11 query shapes)',
        value: round(p99, 2),
        unit: 'ms',
        target: '<= 50 ms',
        met: p99 <= 50,
      },
      {
        name: `slowest query shape p99: ${worst.query.split('?')[1] ?? ''}`,
        value: round(worst.p99, 2),
        unit: 'ms',
      },
    ];
  } finally {
    await stop(child);
  }
}

export async function run(): Promise<BenchResult[]> {
  const dirs = [0, 1, 2].map(() => mkdtempSync(join(tmpdir(), 'bulkhead-bench-')));
  try {
    const results = await lookups(dirs[0]!);
    results.push(await idleRss(dirs[1]!));
    results.push(...(await large(dirs[2]!)));
    return results;
  } finally {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}
