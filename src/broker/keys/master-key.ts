/**
 * The master key that wraps the broker's private signing keys (invariant 5: no secret stored in clear).
 * It comes from `BULKHEAD_MASTER_KEY` (base64 of 32 bytes) or from `<dataDir>/master.key`, created with mode
 * 0600 on first start. The wrapped form is `v1.<iv>.<tag>.<ciphertext>` (AES-256-GCM, base64url), with the
 * key id as additional authenticated data so a ciphertext cannot be swapped onto another key's row.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { brokerError } from '../errors.js';

export const MASTER_KEY_FILE = 'master.key';

function decodeKey(text: string, where: string): Buffer {
  const key = Buffer.from(text.trim(), 'base64');
  if (key.length !== 32) {
    throw brokerError('MASTER_KEY_INVALID', `${where} must be the base64 encoding of exactly 32 bytes`);
  }
  return key;
}

/**
 * Loads the master key: the environment value wins; otherwise the key file, created on first start.
 * @example const key = loadMasterKey({ env: process.env.BULKHEAD_MASTER_KEY, dataDir: config.dataDir });
 */
export function loadMasterKey(input: { env?: string | undefined; dataDir: string }): {
  key: Buffer;
  source: 'env' | 'file' | 'created';
} {
  if (input.env !== undefined && input.env !== '') {
    return { key: decodeKey(input.env, 'BULKHEAD_MASTER_KEY'), source: 'env' };
  }
  const path = join(input.dataDir, MASTER_KEY_FILE);
  try {
    // 'wx' fails if the file exists, so two replicas starting together cannot overwrite each other's key.
    writeFileSync(path, randomBytes(32).toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
    chmodSync(path, 0o600);
    return { key: decodeKey(readFileSync(path, 'utf8'), path), source: 'created' };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const mode = statSync(path).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw brokerError(
      'MASTER_KEY_INVALID',
      `${path} is readable by group or others (mode ${mode.toString(8)}); chmod 600 it`,
    );
  }
  return { key: decodeKey(readFileSync(path, 'utf8'), path), source: 'file' };
}

export function sealSecret(masterKey: Buffer, plaintext: Buffer, aad: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', masterKey, iv);
  cipher.setAAD(Buffer.from(aad));
  const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return ['v1', iv, cipher.getAuthTag(), ct]
    .map((p) => (typeof p === 'string' ? p : p.toString('base64url')))
    .join('.');
}

export function openSecret(masterKey: Buffer, sealed: string, aad: string): Buffer {
  const [v, iv, tag, ct] = sealed.split('.');
  if (v !== 'v1' || !iv || !tag || ct === undefined) {
    throw brokerError('MASTER_KEY_INVALID', 'a sealed signing key has an unknown format');
  }
  try {
    const decipher = createDecipheriv('aes-256-gcm', masterKey, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(aad));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]);
  } catch (err) {
    throw brokerError('MASTER_KEY_INVALID', 'a signing key does not decrypt under this master key', {
      cause: err,
    });
  }
}
