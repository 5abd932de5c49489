/** The AuthZEN decision endpoints write no access-log line per request at info; at debug they do. */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/http/logger.js';
import { startBulkhead } from '../../src/server/start.js';
import { tempDir } from '../helpers/server.js';

async function requestLines(level: 'info' | 'debug'): Promise<{ url: string; msg: string }[]> {
  const lines: { url: string; msg: string }[] = [];
  let pending = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      pending += chunk.toString();
      let nl;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const entry = JSON.parse(pending.slice(0, nl)) as { msg?: string; req?: { url?: string } };
        pending = pending.slice(nl + 1);
        if (entry.msg === 'incoming request' || entry.msg === 'request completed') {
          lines.push({ url: entry.req?.url ?? '(response)', msg: entry.msg });
        }
      }
      cb();
    },
  });
  const dataDir = tempDir();
  const token = 'bh_access_log_test_token_0123456789';
  const running = await startBulkhead(
    loadConfig({ host: '127.0.0.1', port: 0, dataDir, demo: false }, { BULKHEAD_ADMIN_TOKEN: token }),
    { log: createLogger(level, sink) },
  );
  try {
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const evaluation = {
      subject: { type: 'identity', id: 'nobody' },
      action: { name: 'read' },
      resource: { type: 'database', id: 'x' },
    };
    const one = await fetch(`${running.url}/access/v1/evaluation`, {
      method: 'POST',
      headers,
      body: JSON.stringify(evaluation),
    });
    assert.equal(one.status, 200);
    assert.equal(((await one.json()) as { decision: boolean }).decision, false);
    const batch = await fetch(`${running.url}/access/v1/evaluations`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ evaluations: [evaluation] }),
    });
    assert.equal(batch.status, 200);
    await batch.arrayBuffer();
    const bad = await fetch(`${running.url}/access/v1/evaluation`, { method: 'POST', headers, body: '{' });
    assert.equal(bad.status, 400);
    await bad.arrayBuffer();
    const list = await fetch(`${running.url}/v1/identities`, { headers });
    assert.equal(list.status, 200);
    await list.arrayBuffer();
  } finally {
    await running.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
  return lines;
}

void describe('access log on the decision endpoints', () => {
  void it('at info: no request lines for /access/v1/evaluation(s), still for other routes', async () => {
    const lines = await requestLines('info');
    assert.ok(
      lines.some((l) => l.url === '/v1/identities' && l.msg === 'incoming request'),
      'other routes are logged',
    );
    assert.deepEqual(
      lines.filter((l) => l.url.startsWith('/access/v1/')),
      [],
      'decisions are in the decision log instead',
    );
  });

  void it('at debug: the decision endpoints are logged too', async () => {
    const lines = await requestLines('debug');
    for (const url of ['/access/v1/evaluation', '/access/v1/evaluations']) {
      assert.ok(
        lines.some((l) => l.url === url && l.msg === 'incoming request'),
        `${url} logged`,
      );
    }
  });
});
