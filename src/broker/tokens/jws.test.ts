import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { jwtVerify } from 'jose';
import { parseCompact, signCompact, verifyCompact } from './jws.js';

const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');

void describe('broker compact JWS (EdDSA at+jwt only)', () => {
  void it('is standard: jose verifies what we sign, and we verify it', async () => {
    const token = signCompact({ sub: 's', exp: 2_000_000_000 }, 'k1', privateKey);
    const { payload, protectedHeader } = await jwtVerify(token, publicKey, { typ: 'at+jwt' });
    assert.equal(payload.sub, 's');
    assert.equal(protectedHeader.kid, 'k1');
    const parsed = parseCompact(token);
    assert.ok(parsed);
    assert.deepEqual(verifyCompact(parsed, publicKey), { sub: 's', exp: 2_000_000_000 });
  });

  void it('refuses other algorithms, types, crit, extra segments and bad signatures', () => {
    const token = signCompact({ sub: 's' }, 'k1', privateKey);
    const [, payload, sig] = token.split('.');
    for (const header of [
      { alg: 'none', typ: 'at+jwt', kid: 'k1' },
      { alg: 'HS256', typ: 'at+jwt', kid: 'k1' },
      { alg: 'EdDSA', typ: 'JWT', kid: 'k1' },
      { alg: 'EdDSA', typ: 'at+jwt' },
      { alg: 'EdDSA', typ: 'at+jwt', kid: 'k1', crit: ['x'] },
    ]) {
      assert.equal(parseCompact(`${b64(header)}.${payload}.${sig}`), undefined, JSON.stringify(header));
    }
    assert.equal(parseCompact(`${token}.x`), undefined);
    assert.equal(parseCompact('a.b'), undefined);
    assert.equal(parseCompact(`${token.split('.').slice(0, 2).join('.')}.`), undefined);
    const tampered = parseCompact(`${token.split('.')[0]}.${b64({ sub: 'root' })}.${sig}`);
    assert.ok(tampered);
    assert.equal(verifyCompact(tampered, publicKey), 'bad_signature');
    const other = generateKeyPairSync('ed25519').publicKey;
    const good = parseCompact(token);
    assert.ok(good);
    assert.equal(verifyCompact(good, other), 'bad_signature');
  });
});
