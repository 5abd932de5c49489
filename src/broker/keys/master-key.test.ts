import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadMasterKey, openSecret, sealSecret } from './master-key.js';

void describe('master key', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bulkhead-mk-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  void it('creates <dataDir>/master.key with mode 0600 on first start and reuses it', () => {
    const first = loadMasterKey({ dataDir: dir });
    assert.equal(first.source, 'created');
    assert.equal(statSync(join(dir, 'master.key')).mode & 0o777, 0o600);
    const second = loadMasterKey({ dataDir: dir });
    assert.equal(second.source, 'file');
    assert.deepEqual(second.key, first.key);
  });

  void it('refuses a key file readable by others, and a key that is not 32 bytes', () => {
    chmodSync(join(dir, 'master.key'), 0o644);
    assert.throws(() => loadMasterKey({ dataDir: dir }), { code: 'BULKHEAD_MASTER_KEY_INVALID' });
    chmodSync(join(dir, 'master.key'), 0o600);
    assert.throws(() => loadMasterKey({ env: Buffer.alloc(16).toString('base64'), dataDir: dir }), {
      code: 'BULKHEAD_MASTER_KEY_INVALID',
    });
    const env = randomBytes(32);
    assert.deepEqual(loadMasterKey({ env: env.toString('base64'), dataDir: dir }).key, env);
  });

  void it('seals with AES-256-GCM: no plaintext, bound to its kid, wrong key or tamper refused', () => {
    const key = randomBytes(32);
    const secret = Buffer.from('ed25519 private key bytes');
    const sealed = sealSecret(key, secret, 'kid-1');
    assert.ok(!sealed.includes(secret.toString('base64url')));
    assert.ok(!readFileSync(join(dir, 'master.key'), 'utf8').includes(sealed));
    assert.deepEqual(openSecret(key, sealed, 'kid-1'), secret);
    assert.throws(() => openSecret(key, sealed, 'kid-2'), { code: 'BULKHEAD_MASTER_KEY_INVALID' });
    assert.throws(() => openSecret(randomBytes(32), sealed, 'kid-1'), {
      code: 'BULKHEAD_MASTER_KEY_INVALID',
    });
    const parts = sealed.split('.');
    const ct = Buffer.from(parts[3] ?? '', 'base64url');
    ct[0] = (ct[0] ?? 0) ^ 1;
    const tampered = [parts[0], parts[1], parts[2], ct.toString('base64url')].join('.');
    assert.throws(() => openSecret(key, tampered, 'kid-1'), { code: 'BULKHEAD_MASTER_KEY_INVALID' });
  });
});
