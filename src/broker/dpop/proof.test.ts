import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { ExpiringSet } from './expiring-set.js';
import { accessTokenHash, verifyDpopProof } from './proof.js';

const NOW = new Date('2026-01-01T00:00:00Z');
const NOW_S = NOW.getTime() / 1000;
const URL_ = 'https://rs.example/v1/refunds';

async function setup() {
  const { privateKey, publicKey } = await generateKeyPair('EdDSA', { extractable: true });
  const jwk = await exportJWK(publicKey);
  const proof = (
    claims: Record<string, unknown> = {},
    header: Record<string, unknown> = {},
    jwkOverride?: JWK,
  ) =>
    new SignJWT({ htm: 'GET', htu: URL_, jti: randomUUID(), iat: NOW_S, ...claims })
      .setProtectedHeader({ alg: 'EdDSA', typ: 'dpop+jwt', jwk: jwkOverride ?? jwk, ...header })
      .sign(privateKey);
  return { proof, jwk };
}

const check = (replay = new ExpiringSet(), extra: Record<string, unknown> = {}) => ({
  method: 'GET',
  url: URL_,
  now: NOW,
  iatWindowSeconds: 60,
  replay,
  ...extra,
});

void describe('DPoP proof (RFC 9449 §4.3)', () => {
  void it('accepts a good proof and returns the RFC 7638 thumbprint; query and fragment are ignored in htu', async () => {
    const { proof } = await setup();
    const r = await verifyDpopProof(await proof({ htu: `${URL_}?a=1#f` }), check());
    assert.match(r.jkt, /^[A-Za-z0-9_-]{43}$/);
  });

  void it('iat window boundaries on a frozen clock', async () => {
    const { proof } = await setup();
    await verifyDpopProof(await proof({ iat: NOW_S - 60 }), check());
    await verifyDpopProof(await proof({ iat: NOW_S + 5 }), check());
    await assert.rejects(verifyDpopProof(await proof({ iat: NOW_S - 61 }), check()), {
      code: 'BULKHEAD_DPOP_IAT_OUT_OF_WINDOW',
    });
    await assert.rejects(verifyDpopProof(await proof({ iat: NOW_S + 6 }), check()), {
      code: 'BULKHEAD_DPOP_IAT_OUT_OF_WINDOW',
    });
  });

  void it('htm, htu, ath, typ, private key in header, jti replay', async () => {
    const { proof, jwk } = await setup();
    await assert.rejects(verifyDpopProof(await proof({ htm: 'POST' }), check()), {
      code: 'BULKHEAD_DPOP_HTM_MISMATCH',
    });
    await assert.rejects(verifyDpopProof(await proof({ htu: 'https://rs.example/other' }), check()), {
      code: 'BULKHEAD_DPOP_HTU_MISMATCH',
    });
    await assert.rejects(verifyDpopProof(await proof(), check(undefined, { accessToken: 'tok' })), {
      code: 'BULKHEAD_DPOP_ATH_MISMATCH',
    });
    await verifyDpopProof(
      await proof({ ath: accessTokenHash('tok') }),
      check(undefined, { accessToken: 'tok' }),
    );
    await assert.rejects(verifyDpopProof(await proof({}, { typ: 'JWT' }), check()), {
      code: 'BULKHEAD_DPOP_INVALID',
    });
    await assert.rejects(verifyDpopProof(await proof({}, {}, { ...jwk, d: 'secret' }), check()), {
      code: 'BULKHEAD_DPOP_INVALID',
    });
    await assert.rejects(verifyDpopProof('garbage', check()), { code: 'BULKHEAD_DPOP_INVALID' });
    const other = await setup();
    await assert.rejects(verifyDpopProof(await proof({}, {}, other.jwk), check()), {
      code: 'BULKHEAD_DPOP_INVALID',
    });
    const replay = new ExpiringSet();
    const p = await proof();
    await verifyDpopProof(p, check(replay));
    await assert.rejects(verifyDpopProof(p, check(replay)), { code: 'BULKHEAD_DPOP_REPLAY' });
  });

  void it('a proof is never accepted twice, up to and including the last instant of its window', async () => {
    const { proof } = await setup();
    const replay = new ExpiringSet();
    const p = await proof();
    const at = (ms: number) => verifyDpopProof(p, check(replay, { now: new Date(NOW.getTime() + ms) }));
    await at(0);
    await assert.rejects(at(59_999), { code: 'BULKHEAD_DPOP_REPLAY' });
    await assert.rejects(at(60_000), { code: 'BULKHEAD_DPOP_REPLAY' });
    await assert.rejects(at(60_001), { code: 'BULKHEAD_DPOP_IAT_OUT_OF_WINDOW' });
    // First used at the very last accepted instant: still remembered for its replay.
    const late = await proof();
    const lastInstant = check(replay, { now: new Date(NOW.getTime() + 60_000) });
    await verifyDpopProof(late, lastInstant);
    await assert.rejects(verifyDpopProof(late, lastInstant), { code: 'BULKHEAD_DPOP_REPLAY' });
  });

  void it('the replay cache forgets a jti once the proof could no longer be accepted (bounded memory)', () => {
    const set = new ExpiringSet();
    for (let i = 0; i < 1000; i++) set.addIfAbsent(`k${i}`, 1000 + i, 0);
    assert.equal(set.size, 1000);
    assert.equal(set.addIfAbsent('k5', 5000, 10), false);
    set.prune(10_000);
    assert.equal(set.size, 0);
    assert.equal(set.addIfAbsent('k5', 20_000, 10_001), true);
    // Held at its expiry instant, gone one millisecond later.
    assert.equal(set.addIfAbsent('k5', 20_000, 20_000), false);
    set.prune(20_001);
    assert.equal(set.size, 0);
  });
});
