/**
 * `npm run bench [-- <name>...]`: runs every bench/<name>.ts that exports `run()`, prints one table and
 * writes bench/results/<name>.json. Each benchmark measures its own baseline in the same run, because
 * absolute numbers on a shared machine are noise; the ratio is what to compare between runs.
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BenchResult } from './lib.js';

const dir = new URL('.', import.meta.url).pathname;
const filters = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.ts') && !['run.ts', 'lib.ts'].includes(f) && !f.endsWith('.test.ts'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error(`no benchmark matches ${filters.join(' ')}`);
  process.exit(1);
}
mkdirSync(join(dir, 'results'), { recursive: true });
let failed = false;
for (const file of files) {
  const name = file.replace(/\.ts$/, '');
  console.error(`bench ${name} ...`);
  const started = Date.now();
  try {
    const mod = (await import(pathToFileURL(join(dir, file)).href)) as { run?: () => Promise<BenchResult[]> };
    if (typeof mod.run !== 'function') continue;
    const results = await mod.run();
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
  } catch (err) {
    failed = true;
    console.error(`bench ${name} failed:`, err);
  }
}
process.exit(failed ? 1 : 0);
