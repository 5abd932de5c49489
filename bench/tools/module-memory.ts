/**
 * Which module holds the memory? Starts the server on a generated 100k-identity / 300k-credential store
 * with only the named modules active (all migrations still apply) and prints start-up time and memory.
 *   node --expose-gc --import tsx bench/tools/module-memory.ts core|policy|graph,posture|all
 * The store is generated once under $BULKHEAD_BENCH_DIR (default /tmp/bhlarge) and reused.
 */
import { existsSync } from 'node:fs';
import { pino } from 'pino';
import { loadConfig } from '../../src/config.js';
import { allModules } from '../../src/modules/index.js';
import type { BulkheadModule } from '../../src/modules/types.js';
import { startBulkhead } from '../../src/server/start.js';
import { generateLarge } from '../foundation.js';

const dir = process.env.BULKHEAD_BENCH_DIR ?? '/tmp/bhlarge';
if (!existsSync(`${dir}/bulkhead.db`)) await generateLarge(dir, 100_000, 300_000);
const which = process.argv[2] ?? 'all';
const active = (m: BulkheadModule) =>
  which === 'all' || m.name === 'core' || which.split(',').includes(m.name);
// An inactive module keeps its migrations (the store has them applied) and nothing else.
const modules = allModules().map((m) =>
  active(m) ? m : { name: `off-${m.name}`, ...(m.migrations ? { migrations: m.migrations } : {}) },
);
const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);
gc();
const before = process.memoryUsage();
const started = Date.now();
const server = await startBulkhead(
  { ...loadConfig({ dataDir: dir, demo: false }, { BULKHEAD_ADMIN_TOKEN: 'x'.repeat(20) }), port: 0 },
  { log: pino({ level: 'silent' }), modules },
);
gc();
const after = process.memoryUsage();
const mb = (n: number) => Math.round(n / 1e6);
console.log(
  `${which}: start ${Date.now() - started} ms, rss ${mb(after.rss)} MB (before start ${mb(before.rss)}), ` +
    `heap ${mb(after.heapUsed)} MB, external+arrayBuffers ${mb(after.external + after.arrayBuffers)} MB`,
);
await server.close();
