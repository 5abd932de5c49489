import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createLocalJWKSet, jwtVerify } from 'jose';
import type { Alert } from './alert.js';
import { pushSet, receiversFromEnv, SET_EVENT_TYPES, SetSigner } from './ssf.js';

const alert: Alert = {
  id: 'alert-1',
  rule_id: 'credential-replay',
  title: 'Credential replayed',
  severity: 'critical',
  techniques: ['T1550.001'],
  identity: 'payments-api',
  identity_id: 'payments-api',
  unmanaged: false,
  credential: 'jti-abc',
  event_ids: ['tok-1'],
  first_seen: '2026-03-02T09:00:00.000Z',
  last_seen: '2026-03-02T09:00:05.000Z',
  count: 1,
  source: 'bulkhead',
  explanation: 'x',
  suggested_response: 'y',
  signal: 'session-revoked',
  dedup_key: 'k',
};

describe('Security Event Tokens', () => {
  let url = '';
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ err: 'invalid_audience', description: 'wrong aud' }));
    });
  });
  before(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  it('signs a CAEP session-revoked SET with typ secevent+jwt, txn and sub_id', async () => {
    const signer = await SetSigner.create();
    const now = new Date('2026-03-02T09:00:06Z');
    const set = await signer.sign(alert, 'https://bulkhead.test', 'https://rp.test', now);
    assert.ok(set);
    const { payload, protectedHeader } = await jwtVerify(set, createLocalJWKSet(signer.jwks()), {
      issuer: 'https://bulkhead.test',
      audience: 'https://rp.test',
      typ: 'secevent+jwt',
      currentDate: now,
    });
    assert.equal(protectedHeader.alg, 'EdDSA');
    assert.equal(protectedHeader.kid, signer.kid);
    assert.equal(payload.txn, 'alert-1');
    assert.deepEqual(payload.sub_id, { format: 'opaque', id: 'jti-abc' });
    const events = payload.events as Record<string, { event_timestamp: number }>;
    assert.deepEqual(Object.keys(events), [SET_EVENT_TYPES['session-revoked']]);
    assert.equal(events[SET_EVENT_TYPES['session-revoked']]?.event_timestamp, 1772442005);
  });

  it('emits nothing for alerts without a signal', async () => {
    const signer = await SetSigner.create();
    assert.equal(await signer.sign({ ...alert, signal: null }, 'i', 'a', new Date()), undefined);
  });

  it('reports an RFC 8935 error response from the receiver', async () => {
    const result = await pushSet('a.b.c', { url }, { issuer: 'i', receivers: [] });
    assert.deepEqual(result, { receiver: url, ok: false, status: 400, err: 'invalid_audience' });
  });

  it('reports an unreachable receiver without throwing', async () => {
    const result = await pushSet(
      'a.b.c',
      { url: 'http://127.0.0.1:1/x' },
      { issuer: 'i', receivers: [], timeoutMs: 2000 },
    );
    assert.equal(result.ok, false);
  });

  it('parses BULKHEAD_SSF_RECEIVERS and refuses non-http URLs', () => {
    assert.deepEqual(receiversFromEnv(' https://a.example/ssf , http://b.example/x'), [
      { url: 'https://a.example/ssf' },
      { url: 'http://b.example/x' },
    ]);
    assert.deepEqual(receiversFromEnv(undefined), []);
    assert.throws(() => receiversFromEnv('ftp://x.example'), /not an http/);
  });
});
