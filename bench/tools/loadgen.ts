/**
 * Open-loop HTTP/1.1 load generator for latency benchmarks, run in its own process.
 *
 * A load generator on the same 2 cores as the server must cost far less than the server, or its own
 * event-loop stalls and garbage collections show up as server latency. This one writes pre-serialised
 * request bytes to raw keep-alive sockets, finds the end of each response from its Content-Length without
 * building objects per response, and keeps latencies in a preallocated Float64Array.
 *
 * Requests are issued on a fixed schedule (request k is due at start + k/rps) whatever the responses do,
 * so a slow server cannot slow the load down. Latency is measured from the moment the request is written;
 * `lateMs` reports how far the generator itself fell behind its schedule, so a run where the generator was
 * the bottleneck is visible rather than hidden.
 *
 * Use `openLoopInChild()` from a benchmark; the child entry point is this file with `--loadgen` and the
 * spec as JSON on stdin.
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

export interface LoadSpec {
  url: string;
  method: 'GET' | 'POST';
  headers?: Record<string, string>;
  /** Bodies used round-robin (POST); each request takes the next one. */
  bodies?: string[];
  rps: number;
  /** Measured seconds, after `warmupSeconds` that are sent the same way but not recorded. */
  seconds: number;
  warmupSeconds?: number;
  connections?: number;
}

export interface LoadResult {
  sent: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  /** Requests that got a status other than 2xx. */
  errors: number;
  achievedRps: number;
  /** The generator's worst lag behind its own schedule during the measured part, in ms. */
  lateMs: number;
}

interface Conn {
  socket: net.Socket;
  busy: boolean;
  sentAt: number;
  record: boolean;
  buf: Buffer | null;
}

function requestBytes(spec: LoadSpec, target: URL): Buffer[] {
  const bodies = spec.method === 'POST' ? (spec.bodies ?? ['']) : [''];
  return bodies.map((body) => {
    const lines = [`${spec.method} ${target.pathname}${target.search} HTTP/1.1`, `host: ${target.host}`];
    for (const [k, v] of Object.entries(spec.headers ?? {})) lines.push(`${k}: ${v}`);
    if (spec.method === 'POST') lines.push(`content-length: ${Buffer.byteLength(body)}`);
    return Buffer.from(`${lines.join('\r\n')}\r\n\r\n${body}`);
  });
}

const HEADER_END = Buffer.from('\r\n\r\n');
const CONTENT_LENGTH = /\r\ncontent-length:\s*(\d+)/i;

/** Returns the byte length of the first complete response in `buf` and its status, or undefined. */
function completeResponse(buf: Buffer): { length: number; status: number } | undefined {
  const end = buf.indexOf(HEADER_END);
  if (end < 0) return undefined;
  const head = buf.toString('latin1', 0, end);
  const len = CONTENT_LENGTH.exec(head);
  if (!len) throw new Error('loadgen: response without content-length (chunked responses are not supported)');
  const total = end + 4 + Number(len[1]);
  if (buf.length < total) return undefined;
  return { length: total, status: Number(head.slice(9, 12)) };
}

export async function openLoop(spec: LoadSpec): Promise<LoadResult> {
  const target = new URL(spec.url);
  const payloads = requestBytes(spec, target);
  const warmup = Math.round((spec.warmupSeconds ?? 1) * spec.rps);
  const measured = Math.round(spec.seconds * spec.rps);
  const total = warmup + measured;
  const lat = new Float64Array(measured);
  let recorded = 0;
  let errors = 0;
  let completed = 0;
  let lateMs = 0;
  const conns: Conn[] = [];
  const idle: Conn[] = [];
  let finish: () => void = () => undefined;
  let fail: (err: Error) => void = () => undefined;
  const done = new Promise<void>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });

  const onData = (c: Conn, chunk: Buffer) => {
    c.buf = c.buf ? Buffer.concat([c.buf, chunk]) : chunk;
    const r = completeResponse(c.buf);
    if (!r) return;
    const t = performance.now();
    if (r.length !== c.buf.length) fail(new Error('loadgen: unexpected bytes after a response'));
    c.buf = null;
    if (c.record) lat[recorded++] = t - c.sentAt;
    if (c.record && (r.status < 200 || r.status > 299)) errors++;
    c.busy = false;
    idle.push(c);
    if (++completed === total) finish();
    else pump();
  };

  const connect = () =>
    new Promise<Conn>((resolve, reject) => {
      const socket = net.connect(Number(target.port), target.hostname, () => resolve(c));
      const c: Conn = { socket, busy: false, sentAt: 0, record: false, buf: null };
      socket.setNoDelay(true);
      socket.on('data', (chunk: Buffer) => {
        try {
          onData(c, chunk);
        } catch (err) {
          fail(err as Error);
        }
      });
      socket.once('error', (err) => {
        reject(err);
        fail(err);
      });
    });
  for (let i = 0; i < (spec.connections ?? 32); i++) {
    const c = await connect();
    conns.push(c);
    idle.push(c);
  }

  let next = 0;
  const start = performance.now();
  const interval = 1000 / spec.rps;
  // Sends every request that is due; a request due while all connections are busy waits for one.
  function pump() {
    const now = performance.now();
    while (next < total && start + next * interval <= now) {
      const c = idle.pop();
      if (!c) return;
      if (next >= warmup) lateMs = Math.max(lateMs, now - (start + next * interval));
      c.busy = true;
      c.record = next >= warmup;
      c.sentAt = performance.now();
      c.socket.write(payloads[next % payloads.length]!);
      next++;
    }
  }
  const timer = setInterval(pump, 1);
  pump();
  try {
    await done;
  } finally {
    clearInterval(timer);
    for (const c of conns) c.socket.destroy();
  }
  const elapsed = performance.now() - start;
  const sorted = Array.from(lat.subarray(0, recorded)).sort((a, b) => a - b);
  const pct = (p: number) =>
    sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
  return {
    sent: total,
    p50: pct(50),
    p90: pct(90),
    p99: pct(99),
    p999: pct(99.9),
    max: sorted[sorted.length - 1] ?? NaN,
    errors,
    achievedRps: total / (elapsed / 1000),
    lateMs,
  };
}

/** Runs `openLoop(spec)` in a fresh child process so the generator shares nothing with the caller. */
export function openLoopInChild(spec: LoadSpec): Promise<LoadResult> {
  const self = fileURLToPath(import.meta.url);
  const child = spawn(process.execPath, [...process.execArgv, self, '--loadgen'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  child.stdin.end(JSON.stringify(spec));
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`loadgen exited with ${code}`));
      try {
        resolve(JSON.parse(out) as LoadResult);
      } catch {
        reject(new Error(`loadgen printed no result: ${out.slice(0, 200)}`));
      }
    });
  });
}

if (process.argv[2] === '--loadgen') {
  // The spec (with its request bodies) arrives on stdin: it can be larger than an argument list may be.
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const spec = JSON.parse(Buffer.concat(chunks).toString('utf8')) as LoadSpec;
  await openLoop(spec).then(
    (r) => process.stdout.write(`${JSON.stringify(r)}\n`),
    (err: unknown) => {
      process.stderr.write(`loadgen: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
