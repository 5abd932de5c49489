/** Shared benchmark helpers: timing, percentiles, a keep-alive HTTP client, and RSS of a child process. */
import { readFileSync } from 'node:fs';
import http from 'node:http';

export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  /** The same measurement on a reference implementation, taken in the same run. */
  baseline?: { name: string; value: number };
  /** Human-readable target, e.g. `<= 150 MB`. */
  target?: string;
  /** Whether the target was met, when one is given. */
  met?: boolean;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

/** Runs `fn` repeatedly for about `ms` milliseconds; returns operations per second. */
export async function opsPerSecond(fn: () => unknown, ms = 1500): Promise<number> {
  for (let i = 0; i < 200; i++) await fn();
  let n = 0;
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(ms) * 1_000_000n;
  let now = start;
  while (now < deadline) {
    for (let i = 0; i < 50; i++) await fn();
    n += 50;
    now = process.hrtime.bigint();
  }
  return n / (Number(now - start) / 1e9);
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

export function httpGet(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
  });
}

/** Sequential GETs (one in flight, keep-alive): per-request latency in ms, sorted. */
export async function latencies(
  urls: () => string,
  n: number,
  headers: Record<string, string> = {},
): Promise<number[]> {
  for (let i = 0; i < Math.min(200, n); i++) await httpGet(urls(), headers);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    const status = await httpGet(urls(), headers);
    out.push(Number(process.hrtime.bigint() - t) / 1e6);
    if (status !== 200) throw new Error(`GET ${urls()} -> ${status}`);
  }
  return out.sort((a, b) => a - b);
}

/** Resident set size of a process in MB (Linux /proc). */
export function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) / 1024;
}

export const round = (v: number, digits = 2) => Math.round(v * 10 ** digits) / 10 ** digits;
