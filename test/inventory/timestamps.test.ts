/**
 * Timestamps are accepted with any UTC offset and stored in UTC, so the filters that compare them
 * (`?expired=true`, `stale_days`) answer by the instant, not by the text.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from '../helpers/server.js';

const NOW = new Date('2026-06-01T12:00:00.000Z');

describe('inventory timestamps with offsets', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ now: () => NOW });
    const svc = await server.call('POST', '/v1/identities', {
      body: { id: 'svc-a', kind: 'service_account', displayName: 'A', environment: 'prod' },
    });
    assert.equal(svc.status, 201);
  });
  after(async () => {
    await server.stop();
  });

  it('stores expiresAt in UTC and lists as expired only what expired', async () => {
    const cases = [
      // 11:00Z, an hour ago, written in a zone ahead of UTC: as text it sorts after now.
      ['cred-expired', '2026-06-02T01:00:00+14:00', '2026-06-01T11:00:00.000Z'],
      // 13:00Z, in an hour, written in a zone behind UTC: as text it sorts before now.
      ['cred-valid', '2026-06-01T01:00:00-12:00', '2026-06-01T13:00:00.000Z'],
    ] as const;
    for (const [id, expiresAt, utc] of cases) {
      const created = await server.call('POST', '/v1/credentials', {
        body: { id, identityId: 'svc-a', type: 'api_key', fingerprint: `AKIA-${id}`, expiresAt },
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.equal(created.body.expiresAt, utc);
    }
    const expired = await server.call('GET', '/v1/credentials?expired=true');
    assert.deepEqual(
      expired.body.items.map((c: any) => c.id),
      ['cred-expired'],
    );
  });

  it('stores lastSeenAt in UTC on create and PATCH, and stale_days compares instants', async () => {
    // 40 days and 2 hours before now, written at +14:00.
    const stale = await server.call('POST', '/v1/identities', {
      body: {
        id: 'svc-stale',
        kind: 'service_account',
        displayName: 'S',
        environment: 'prod',
        lastSeenAt: '2026-04-23T00:00:00+14:00',
      },
    });
    assert.equal(stale.body.lastSeenAt, '2026-04-22T10:00:00.000Z');
    const fresh = await server.call('PATCH', '/v1/identities/svc-a', {
      body: { lastSeenAt: '2026-06-01T00:00:00-12:00' },
    });
    assert.equal(fresh.body.lastSeenAt, '2026-06-01T12:00:00.000Z');
    const list = await server.call('GET', '/v1/identities?stale_days=40');
    assert.deepEqual(
      list.body.items.map((i: any) => i.id),
      ['svc-stale'],
    );
  });

  it('still refuses a timestamp that is not one, naming the field', async () => {
    const res = await server.call('PATCH', '/v1/credentials/cred-valid', {
      body: { expiresAt: '2026-13-01T00:00:00Z' },
    });
    assert.equal(res.status, 400);
    assert.equal(res.body.code, 'BULKHEAD_VALIDATION_FAILED');
    assert.equal(res.body.field, 'body.expiresAt');
  });
});
