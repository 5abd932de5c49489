/** Deleting an identity that owns something is refused: it would leave dangling owner references. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from '../helpers/server.js';

describe('inventory: deleting an owner', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server.stop();
  });

  async function created(path: string, body: Record<string, unknown>): Promise<void> {
    const res = await server.call('POST', path, { body });
    assert.equal(res.status, 201, JSON.stringify(res.body));
  }

  it('refuses while the person owns an identity or a resource, and deletes once they own nothing', async () => {
    await created('/v1/identities', {
      id: 'alice',
      kind: 'human',
      displayName: 'Alice',
      environment: 'prod',
    });
    // An id with a LIKE wildcard in it does not own what a similar id owns.
    await created('/v1/identities', { id: 'a_ice', kind: 'human', displayName: 'A', environment: 'prod' });
    await created('/v1/identities', {
      id: 'svc-a',
      kind: 'service_account',
      displayName: 'A',
      environment: 'prod',
      owners: ['alice'],
    });
    await created('/v1/resources', {
      id: 'db1',
      type: 'database',
      displayName: 'DB',
      sensitivity: 'regulated',
      environment: 'prod',
      owners: ['team:data', 'alice'],
    });

    const refused = await server.call('DELETE', '/v1/identities/alice');
    assert.equal(refused.status, 409);
    assert.equal(refused.body.code, 'BULKHEAD_CONFLICT');
    assert.equal(refused.body.field, 'params.id');
    assert.match(refused.body.detail, /identity svc-a/);
    assert.equal((await server.call('GET', '/v1/identities/alice')).status, 200);

    await server.call('PATCH', '/v1/identities/svc-a', { body: { owners: [] } });
    const stillResource = await server.call('DELETE', '/v1/identities/alice');
    assert.equal(stillResource.status, 409);
    assert.match(stillResource.body.detail, /resource db1/);

    assert.equal((await server.call('DELETE', '/v1/identities/a_ice')).status, 204);
    await server.call('PATCH', '/v1/resources/db1', { body: { owners: ['team:data'] } });
    assert.equal((await server.call('DELETE', '/v1/identities/alice')).status, 204);
    const audit = await server.call('GET', '/v1/audit?target_id=alice');
    assert.deepEqual(
      audit.body.items.map((e: any) => e.action).filter((a: string) => a.startsWith('identity.')),
      ['identity.create', 'identity.delete'],
    );
  });
});
