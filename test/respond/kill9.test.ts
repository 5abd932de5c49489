/**
 * A real `bulkhead serve` child is killed with SIGKILL while a playbook step is in flight (its webhook is
 * being delivered). After a restart the run completes: the revocation made before the crash is not made again,
 * the interrupted notification is re-sent with the same Idempotency-Key, and the incident ends contained.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { spawnServe, type ServeProcess } from '../helpers/serve-process.js';
import { tempDir } from '../helpers/server.js';
import { eventually } from './helpers.js';

const TOKEN = `bh_respond_kill9_${randomBytes(16).toString('hex')}`;

function startServer(dataDir: string, webhook: string): Promise<ServeProcess> {
  return spawnServe(dataDir, {
    BULKHEAD_ADMIN_TOKEN: TOKEN,
    BULKHEAD_RESPOND_WEBHOOKS: `${webhook}|kill9-secret`,
  });
}

async function call(url: string, method: string, path: string, body?: unknown) {
  const res = await fetch(url + path, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: (await res.json()) as any };
}

describe('playbook run under kill -9', () => {
  const dataDir = tempDir('bulkhead-respond-kill9-');
  const held: ServerResponse[] = [];
  const keys: string[] = [];
  let hang = true;
  const hook = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      keys.push(String(req.headers['idempotency-key']));
      if (hang) held.push(res);
      else res.writeHead(204).end();
    });
  });
  after(async () => {
    for (const r of held) r.destroy();
    await new Promise<void>((r) => hook.close(() => r()));
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('resumes the run after a crash and applies nothing twice', async () => {
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    const webhook = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/page`;
    const first = await startServer(dataDir, webhook);
    try {
      // The request itself waits for the run, which is stuck delivering the page: do not await it.
      const pending = call(first.url, 'POST', '/v1/incidents', {
        id: 'alert-kill9',
        rule_id: 'leaked-secret',
        severity: 'critical',
        identity_id: 'etl-warehouse',
        credential: 'cred-etl-crm',
      }).catch(() => undefined);
      await eventually(async () => (keys.length > 0 ? true : undefined), 15_000);
      first.child.kill('SIGKILL');
      await pending;
    } finally {
      first.child.kill('SIGKILL');
    }
    hang = false;
    const second = await startServer(dataDir, webhook);
    try {
      const incident = await eventually(async () => {
        const r = await call(second.url, 'GET', '/v1/incidents?identity_id=etl-warehouse');
        const i = (r.body.items as { id: string; state: string }[])[0];
        return i?.state === 'contained' ? i : undefined;
      }, 15_000);
      const detail = await call(second.url, 'GET', `/v1/incidents/${incident.id}`);
      const steps = Object.fromEntries(
        (detail.body.runs[0].steps as { stepId: string; status: string; attempts: number }[]).map((s) => [
          s.stepId,
          s,
        ]),
      );
      assert.equal(steps.revoke?.status, 'done');
      assert.equal(steps.revoke?.attempts, 1, 'the revocation ran once');
      assert.equal(steps.page?.status, 'done');
      assert.equal(steps.verify?.status, 'done');
      assert.equal(keys.length, 2);
      assert.equal(keys[0], keys[1], 'the re-sent page carries the same Idempotency-Key');
      const audit = await call(second.url, 'GET', '/v1/audit?limit=500');
      const revokes = (audit.body.items as { action: string; targetId: string }[]).filter(
        (e) => e.action === 'credential.revoke' && e.targetId === 'cred-etl-crm',
      );
      assert.equal(revokes.length, 1);
      const verified = await call(second.url, 'POST', '/v1/audit/verify', {});
      assert.equal(verified.status, 200);
      assert.equal(verified.body.ok, true);
    } finally {
      second.child.kill('SIGKILL');
    }
  });
});
