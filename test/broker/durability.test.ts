/**
 * Revocation wins across a crash: a real `bulkhead serve` child (all modules, master key file created on first
 * start) is killed with SIGKILL right after acknowledging a revocation; after a restart on the same data dir
 * the token is still refused, and the signing key still decrypts (same kid in the JWKS).
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { spawnServe, type ServeProcess } from '../helpers/serve-process.js';
import { tempDir } from '../helpers/server.js';
import { keyPair, POLICIES, PAYMENTS_API, SPIFFE_TD } from './harness.js';

const TOKEN = `bh_broker_${randomBytes(16).toString('hex')}`;
const AUD = 'https://broker.durability.test';

function startServer(dataDir: string, configPath: string): Promise<ServeProcess> {
  return spawnServe(dataDir, {
    BULKHEAD_ADMIN_TOKEN: TOKEN,
    BULKHEAD_BROKER_CONFIG: configPath,
    BULKHEAD_MASTER_KEY: '',
  });
}

function killed(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.removeAllListeners('exit');
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

async function call(url: string, method: string, path: string, body?: unknown, token: string | null = TOKEN) {
  const res = await fetch(url + path, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

async function form(url: string, path: string, params: Record<string, string>) {
  const res = await fetch(url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params).toString(),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

void describe('broker durability under kill -9', () => {
  const dataDir = tempDir();
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  void it('keeps an acknowledged revocation and the encrypted signing key across SIGKILL', async () => {
    const spire = await keyPair();
    writeFileSync(join(dataDir, 'bundle.json'), JSON.stringify({ keys: [spire.publicJwk] }));
    const configPath = join(dataDir, 'broker.yaml');
    writeFileSync(
      configPath,
      [
        `issuer: ${AUD}`,
        'default_audience: payments',
        'trust_bundles:',
        '  - name: spire',
        '    kind: spiffe',
        `    trust_domain: ${SPIFFE_TD}`,
        `    audience: ${AUD}`,
        '    jwks_file: bundle.json',
      ].join('\n'),
    );
    const svid = () =>
      new SignJWT({})
        .setProtectedHeader({ alg: 'EdDSA', kid: spire.publicJwk.kid ?? '' })
        .setSubject(PAYMENTS_API)
        .setAudience(AUD)
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(spire.privateKey);

    const first = await startServer(dataDir, configPath);
    try {
      const mode = statSync(join(dataDir, 'master.key')).mode & 0o777;
      assert.equal(mode, 0o600);
      const push = await call(first.url, 'POST', '/v1/policies', {
        policies: POLICIES,
        actions: ['read', 'write'],
      });
      assert.equal(push.status, 201, JSON.stringify(push.body));
      const task = await call(
        first.url,
        'POST',
        '/v1/tasks',
        { purpose: 'durability', actions: ['read'], resources: ['payments-db'], ttl: 600, max_uses: 10 },
        await svid(),
      );
      assert.equal(task.status, 201, JSON.stringify(task.body));
      const minted = await form(first.url, '/oauth2/token', {
        grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
        assertion: await svid(),
        task: task.body.id as string,
      });
      assert.equal(minted.status, 200, JSON.stringify(minted.body));
      const token: string = minted.body.access_token;
      const check = { token, action: 'read', resource: 'payments-db', audience: 'payments' };
      const validated = await call(first.url, 'POST', '/v1/broker/validate', check);
      assert.equal(validated.status, 200, JSON.stringify(validated.body));
      const jwks = await call(first.url, 'GET', '/.well-known/jwks.json', undefined, null);
      const revoke = await form(first.url, '/oauth2/revoke', { token });
      assert.equal(revoke.status, 200);
      await killed(first.child);

      const second = await startServer(dataDir, configPath);
      try {
        const res = await call(second.url, 'POST', '/v1/broker/validate', check);
        assert.equal(res.status, 401);
        assert.equal(res.body.code, 'BULKHEAD_TOKEN_REVOKED');
        const jwks2 = await call(second.url, 'GET', '/.well-known/jwks.json', undefined, null);
        assert.deepEqual(jwks2.body, jwks.body);
        // The restarted server still signs with the stored (decrypted) key.
        const again = await form(second.url, '/oauth2/token', {
          grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
          assertion: await svid(),
          task: task.body.id as string,
        });
        assert.equal(again.status, 200, JSON.stringify(again.body));
        const ok = await call(second.url, 'POST', '/v1/broker/validate', {
          ...check,
          token: again.body.access_token,
        });
        assert.equal(ok.status, 200, JSON.stringify(ok.body));
      } finally {
        await killed(second.child);
      }
    } finally {
      if (first.child.exitCode === null && first.child.signalCode === null) await killed(first.child);
    }
  });
});
