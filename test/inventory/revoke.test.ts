/** A credential's revoke reason is kept on the credential and in the audit entry of the revoke. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from '../helpers/server.js';

describe('inventory: revoking a credential', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
    const svc = await server.call('POST', '/v1/identities', {
      body: { id: 'svc-a', kind: 'service_account', displayName: 'A', environment: 'prod' },
    });
    assert.equal(svc.status, 201);
  });
  after(async () => {
    await server.stop();
  });

  async function revokeEntries(id: string): Promise<any[]> {
    const audit = await server.call('GET', `/v1/audit?target_id=${id}`);
    return audit.body.items.filter((e: any) => e.action === 'credential.revoke');
  }

  it('records the reason, and a second revoke changes nothing', async () => {
    const created = await server.call('POST', '/v1/credentials', {
      body: { id: 'cred-1', identityId: 'svc-a', type: 'api_key', fingerprint: 'AKIA-1', labels: { k: 'v' } },
    });
    assert.equal(created.status, 201);
    const revoked = await server.call('POST', '/v1/credentials/cred-1/revoke', {
      body: { reason: 'leaked in a public repo' },
    });
    assert.equal(revoked.status, 200);
    assert.equal(revoked.body.status, 'revoked');
    assert.deepEqual(revoked.body.labels, { k: 'v', 'bulkhead.status-reason': 'leaked in a public repo' });
    const [entry, ...more] = await revokeEntries('cred-1');
    assert.equal(more.length, 0);
    assert.equal(entry.after.labels['bulkhead.status-reason'], 'leaked in a public repo');

    const again = await server.call('POST', '/v1/credentials/cred-1/revoke', { body: { reason: 'other' } });
    assert.equal(again.status, 200);
    assert.deepEqual(again.body, revoked.body);
    assert.equal((await revokeEntries('cred-1')).length, 1);
  });

  it('adds no reason label when none is given', async () => {
    await server.call('POST', '/v1/credentials', {
      body: { id: 'cred-2', identityId: 'svc-a', type: 'api_key', fingerprint: 'AKIA-2' },
    });
    const revoked = await server.call('POST', '/v1/credentials/cred-2/revoke', { body: {} });
    assert.equal(revoked.body.status, 'revoked');
    assert.deepEqual(revoked.body.labels, {});
  });
});
