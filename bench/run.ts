/**
 * `npm run bench [-- <name>...]`: runs every bench/<name>.ts that exports `run()`, prints one table and
 * writes bench/results/<name>.json. Each benchmark measures its own baseline in the same run, because
 * absolute numbers on a shared machine are noise; the ratio is what to compare between runs.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BenchResult } from './lib.js';

const dir = new URL('.', import.meta.url).pathname;
const RESULT_MARK = '@@bulkhead-bench-results ';
const filters = process.argv[2] === '--child' ? [] : process.argv.slice(2);
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.ts') && !['run.ts', 'lib.ts'].includes(f) && !f.endsWith('.test.ts'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error(`no benchmark matches ${filters.join(' ')}`);
  process.exit(1);
}
mkdirSync(join(dir, 'results'), { recursive: true });

// Each benchmark runs in its own process: memory figures (RSS, heap) must not include what an earlier
// benchmark left behind, and a crash in one does not hide the others.
const child = process.argv[2] === '--child' ? process.argv[3] : undefined;
if (child) {
  const mod = (await import(pathToFileURL(join(dir, child)).href)) as { run?: () => Promise<BenchResult[]> };
  const results = typeof mod.run === 'function' ? await mod.run() : [];
  process.stdout.write(`${RESULT_MARK}${JSON.stringify(results)}\n`);
  process.exit(0);
}

let failed = false;
for (const file of files) {
  const name = file.replace(/\.ts$/, '');
  console.error(`bench ${name} ...`);
  const started = Date.now();
  const results = runChild(file);
  if (!results) {
    failed = true;
    continue;
  }
  const record = {
    bench: name,
    at: new Date().toISOString(),
    node: process.version,
    seconds: (Date.now() - started) / 1000,
    results,
  };
  writeFileSync(join(dir, 'results', `${name}.json`), `${JSON.stringify(record, null, 2)}\n`);
  console.log(`\n## ${name}  (${record.seconds.toFixed(1)} s, results in bench/results/${name}.json)`);
  console.table(
    results.map((r) => ({
      metric: r.name,
      value: `${r.value} ${r.unit}`,
      baseline: r.baseline ? `${r.baseline.value} ${r.unit} (${r.baseline.name})` : '',
      target: r.target ?? '',
      met: r.met === undefined ? '' : r.met ? 'yes' : 'NO',
    })),
  );
}
process.exit(failed ? 1 : 0);

function runChild(file: string): BenchResult[] | undefined {
  const res = spawnSync(
    process.execPath,
    [...process.execArgv, fileURLToPath(import.meta.url), '--child', file],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  const line = res.stdout.split('\n').find((l) => l.startsWith(RESULT_MARK));
  if (res.status !== 0 || !line) {
    console.error(`bench ${file} failed (exit ${res.status ?? res.signal})`);
    return undefined;
  }
  return JSON.parse(line.slice(RESULT_MARK.length)) as BenchResult[];
}
