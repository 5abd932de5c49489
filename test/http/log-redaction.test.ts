/** Secrets never reach the log: Authorization headers, token-like query parameters and secret body fields. */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { createLogger, redactUrl } from '../../src/http/logger.js';
import { startBulkhead } from '../../src/server/start.js';
import { tempDir } from '../helpers/server.js';

describe('log redaction', () => {
  it('masks token-like query parameters in URLs', () => {
    assert.equal(
      redactUrl('/x?access_token=abc&limit=5&client_secret=s3cr3t#frag'),
      '/x?access_token=[REDACTED]&limit=5&client_secret=[REDACTED]#frag',
    );
    assert.equal(redactUrl('/v1/identities?limit=5'), '/v1/identities?limit=5');
  });

  it('keeps tokens out of request logs and structured fields', async () => {
    let captured = '';
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        captured += chunk.toString();
        cb();
      },
    });
    const log = createLogger('debug', sink);
    const dataDir = tempDir();
    const adminToken = 'bh_redaction_test_token_0123456789';
    const running = await startBulkhead(
      loadConfig({ host: '127.0.0.1', port: 0, dataDir, demo: false }, { BULKHEAD_ADMIN_TOKEN: adminToken }),
      { log },
    );
    try {
      const res = await fetch(`${running.url}/v1/identities?access_token=leaky-query-secret`, {
        headers: { authorization: `Bearer ${adminToken}`, cookie: 'session=cookie-secret' },
      });
      await res.arrayBuffer();
      const created = await fetch(`${running.url}/v1/admin/keys`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'k', scopes: ['read'] }),
      });
      const key = (await created.json()) as { token: string };
      log.info({ token: key.token, nested: { client_secret: 'body-secret' } }, 'a careless log line');
    } finally {
      await running.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
    assert.match(captured, /request completed/, 'request logging is on');
    for (const secret of [adminToken, 'leaky-query-secret', 'cookie-secret', 'body-secret']) {
      assert.ok(!captured.includes(secret), `log contains ${secret}`);
    }
    assert.ok(!/bh_[A-Za-z0-9]+_[A-Za-z0-9_-]{40,}/.test(captured), 'no generated API token in the log');
    assert.match(captured, /\[REDACTED\]/);
  });
});
