/**
 * Durability: a real `bulkhead serve` child process is killed with SIGKILL while clients are writing.
 * Every write the server acknowledged (201) must be there after a restart, and the audit chain must verify.
 * This is what `synchronous=FULL` + WAL buys: an acknowledged revocation cannot be lost to a crash.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { connect } from 'node:net';
import { after, describe, it } from 'node:test';
import { runCli } from '../../src/cli/main.js';
import { spawnServe, type ServeProcess } from '../helpers/serve-process.js';
import { tempDir } from '../helpers/server.js';

const TOKEN = `bh_durability_${randomBytes(16).toString('hex')}`;

function startServer(dataDir: string, logLevel = 'warn'): Promise<ServeProcess> {
  return spawnServe(dataDir, { BULKHEAD_ADMIN_TOKEN: TOKEN, BULKHEAD_LOG_LEVEL: logLevel }, ['--no-demo']);
}

async function post(url: string, body: unknown): Promise<number> {
  const res = await fetch(`${url}/v1/identities`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  await res.arrayBuffer();
  return res.status;
}

describe('durability under kill -9', () => {
  const dataDir = tempDir();
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  it('loses no acknowledged write and keeps the audit chain intact', async () => {
    const first = await startServer(dataDir);
    const acknowledged: string[] = [];
    let stop = false;
    let n = 0;
    const writer = async () => {
      while (!stop) {
        const id = `w-${n++}`;
        try {
          const status = await post(first.url, {
            id,
            kind: 'workload',
            displayName: id,
            environment: 'prod',
          });
          if (status === 201) acknowledged.push(id);
        } catch {
          return; // connection died with the server: this write was never acknowledged
        }
      }
    };
    const writers = Array.from({ length: 8 }, writer);
    // Kill once enough writes are acknowledged, with more still in flight.
    await new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (acknowledged.length >= 150) {
          clearInterval(check);
          resolve();
        }
      }, 5);
    });
    first.child.kill('SIGKILL');
    await new Promise((r) => first.child.once('exit', r));
    stop = true;
    await Promise.all(writers);
    assert.ok(acknowledged.length >= 150);

    const second = await startServer(dataDir);
    try {
      const res = await fetch(`${second.url}/v1/identities?limit=500&environment=prod`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      const page = (await res.json()) as { items: { id: string }[]; next_cursor: string | null };
      const present = new Set(page.items.map((i) => i.id));
      const lost = acknowledged.filter((id) => !present.has(id));
      assert.deepEqual(lost, [], `${lost.length} acknowledged writes lost`);
      const verify = await fetch(`${second.url}/v1/audit/verify`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      const v = (await verify.json()) as { ok: boolean };
      assert.equal(v.ok, true, JSON.stringify(v));
    } finally {
      second.child.kill('SIGTERM');
      await new Promise((r) => second.child.once('exit', r));
    }
  });
});

describe('graceful shutdown', () => {
  const dataDir = tempDir();
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  it('drains in-flight requests on SIGTERM, exits 0, and keeps every acknowledged write', async () => {
    // At info, stderr shows whether the SIGTERM handler ran ("draining in-flight requests") if this fails.
    const { child, url } = await startServer(dataDir, 'info');
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
      child.once('exit', (code, signal) => r({ code, signal })),
    );
    const inFlight = Array.from({ length: 40 }, (_, i) =>
      post(url, { id: `g-${i}`, kind: 'workload', displayName: 'g', environment: 'prod' }).then(
        (status) => ({ id: `g-${i}`, status }),
        () => ({ id: `g-${i}`, status: 0 }),
      ),
    );
    child.kill('SIGTERM');
    const results = await Promise.all(inFlight);
    const exit = await exited;
    assert.equal(exit.code, 0, `exit ${exit.code} signal ${exit.signal}; stderr: ${stderr.slice(-2000)}`);
    for (const r of results) assert.ok([201, 503, 0].includes(r.status), `unexpected ${r.status}`);
    const acknowledged = results.filter((r) => r.status === 201).map((r) => r.id);
    const again = await startServer(dataDir);
    try {
      for (const id of acknowledged) {
        const res = await fetch(`${again.url}/v1/identities/${id}`, {
          headers: { authorization: `Bearer ${TOKEN}` },
        });
        assert.equal(res.status, 200, `${id} acknowledged but missing`);
      }
    } finally {
      again.child.kill('SIGTERM');
      await new Promise((r) => again.child.once('exit', r));
    }
  });

  it('a second SIGTERM while draining exits at once with code 1, saying so', async () => {
    const { child, url } = await startServer(dataDir, 'info');
    let stderr = '';
    const waiters: { text: string; resolve: () => void }[] = [];
    const logged = (text: string) =>
      new Promise<void>((resolve) => {
        if (stderr.includes(text)) resolve();
        else waiters.push({ text, resolve });
      });
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
      for (const w of waiters) if (stderr.includes(w.text)) w.resolve();
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
      child.once('exit', (code, signal) => r({ code, signal })),
    );
    // A request whose body never finishes keeps the drain waiting.
    const { port, hostname } = new URL(url);
    const socket = connect(Number(port), hostname);
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    socket.on('error', () => undefined);
    socket.write(
      `POST /v1/identities HTTP/1.1\r\nhost: ${hostname}\r\nauthorization: Bearer ${TOKEN}\r\n` +
        'content-type: application/json\r\ncontent-length: 100\r\n\r\n{"id":',
    );
    // Only once the server is handling it: a request that arrives after the first signal is refused (503),
    // and then nothing is left to drain.
    await logged('"msg":"incoming request"');
    child.kill('SIGTERM');
    await logged('draining in-flight requests');
    child.kill('SIGTERM');
    const exit = await exited;
    socket.destroy();
    assert.deepEqual(exit, { code: 1, signal: null }, stderr.slice(-2000));
    assert.match(stderr, /second signal: exiting without draining/);
  });

  it('installs its signal handlers before it prints the ready line', async (t) => {
    // Until a handler exists, SIGTERM has the kernel's default action. A supervisor (or the tests above)
    // signalling as soon as it reads the ready line must reach the drain, whatever the scheduler does; this
    // runs `serve` in-process to check the order without depending on timing.
    const ownDir = tempDir();
    t.after(() => rmSync(ownDir, { recursive: true, force: true }));
    const existing = { SIGTERM: process.listeners('SIGTERM'), SIGINT: process.listeners('SIGINT') };
    const added = (signal: 'SIGTERM' | 'SIGINT') =>
      process.listeners(signal).filter((l) => !existing[signal].includes(l));
    t.after(() => {
      for (const signal of ['SIGTERM', 'SIGINT'] as const)
        for (const l of added(signal)) process.removeListener(signal, l);
    });
    const exitCode = new Promise<number | undefined>((resolve) => {
      t.mock.method(process, 'exit', ((code?: number) => resolve(code)) as typeof process.exit);
    });
    let ready: { url: string; handlers: number } | undefined;
    const code = await runCli(['serve', '--port', '0', '--data-dir', ownDir, '--json', '--no-demo'], {
      stdout: (line) => {
        ready = { url: (JSON.parse(line) as { url: string }).url, handlers: added('SIGTERM').length };
      },
      stderr: () => undefined,
      env: { BULKHEAD_ADMIN_TOKEN: TOKEN, BULKHEAD_LOG_LEVEL: 'fatal' },
    });
    assert.equal(code, 0);
    assert.ok(ready, 'serve printed no ready line');
    const up = (await fetch(`${ready.url}/healthz`)).status;
    // Stop the server before asserting on the order, so a failure does not leave it running in this process.
    process.emit('SIGTERM', 'SIGTERM');
    assert.equal(await exitCode, 0);
    await assert.rejects(fetch(`${ready.url}/healthz`), 'the server still answers after draining');
    assert.equal(up, 200);
    assert.equal(ready.handlers, 1, 'no SIGTERM handler when the ready line was printed');
    assert.equal(added('SIGINT').length, 1);
  });
});
