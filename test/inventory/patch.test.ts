/**
 * PATCH over HTTP changes only the fields it sends: every other field (status above all: a quarantined
 * identity must stay quarantined) keeps its value.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** `after` equals `before` except for the fields named in `changed` (and the update time). */
function assertOnlyChanged(before: any, after: any, changed: Record<string, unknown>): void {
  const expected = { ...before, ...changed, updatedAt: after.updatedAt };
  assert.deepEqual(after, expected);
}

describe('inventory PATCH', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
    const alice = await server.call('POST', '/v1/identities', {
      body: { id: 'alice', kind: 'human', displayName: 'Alice', environment: 'prod' },
    });
    assert.equal(alice.status, 201);
  });
  after(async () => {
    await server.stop();
  });

  it('keeps an identity quarantined, with its owners, groups, labels and source, when one field changes', async () => {
    const created = await server.call('POST', '/v1/identities', {
      body: {
        id: 'svc-a',
        kind: 'service_account',
        displayName: 'A',
        environment: 'prod',
        owners: ['alice'],
        groups: ['g1'],
        labels: { team: 'pay' },
        source: 'aws-iam',
        lastSeenAt: '2026-01-01T00:00:00.000Z',
      },
    });
    assert.equal(created.status, 201);
    const quarantined = await server.call('POST', '/v1/identities/svc-a/quarantine', {
      body: { reason: 'compromised' },
    });
    assert.equal(quarantined.body.status, 'quarantined');
    const patched = await server.call('PATCH', '/v1/identities/svc-a', { body: { displayName: 'A2' } });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    assertOnlyChanged(quarantined.body, patched.body, { displayName: 'A2' });
    assert.equal((await server.call('GET', '/v1/identities/svc-a')).body.status, 'quarantined');
  });

  it('keeps a credential’s status, scopes, storage, labels and source when one field changes, revoked too', async () => {
    for (const [id, status] of [
      ['cred-expired', 'expired'],
      ['cred-revoked', 'revoked'],
    ] as const) {
      const created = await server.call('POST', '/v1/credentials', {
        body: {
          id,
          identityId: 'alice',
          type: 'api_key',
          fingerprint: `AKIA-${id}`,
          status,
          scopes: ['s3:*'],
          storedIn: ['vault'],
          consumers: ['alice'],
          labels: { k: 'v' },
          source: 'aws-iam',
          expiresAt: '2026-01-01T00:00:00.000Z',
        },
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const patched = await server.call('PATCH', `/v1/credentials/${id}`, {
        body: { fingerprint: `AKIA-${id}-2` },
      });
      assert.equal(patched.status, 200, JSON.stringify(patched.body));
      assertOnlyChanged(created.body, patched.body, { fingerprint: `AKIA-${id}-2` });
    }
  });

  it('keeps a resource’s owners, labels and source when one field changes', async () => {
    const created = await server.call('POST', '/v1/resources', {
      body: {
        id: 'db1',
        type: 'database',
        displayName: 'DB',
        sensitivity: 'regulated',
        environment: 'prod',
        owners: ['alice'],
        labels: { a: 'b' },
        source: 'k8s',
      },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const patched = await server.call('PATCH', '/v1/resources/db1', { body: { displayName: 'DB2' } });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    assertOnlyChanged(created.body, patched.body, { displayName: 'DB2' });
  });
});
