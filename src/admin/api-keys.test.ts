import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { hashToken } from './api-keys.js';

void describe('hashToken', () => {
  void it('is the hex SHA-256 of the token (FIPS 180-2 vector; same as a Hash object on any token)', () => {
    assert.equal(hashToken('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    const token = 'bh_0123456789ab_é漢字-_';
    assert.equal(hashToken(token), createHash('sha256').update(token, 'utf8').digest('hex'));
  });
});
