import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { startRespondServer } from './helpers.js';

describe('respond on PostgreSQL', () => {
  it('leak report → revoked and contained; incidents, timeline and rotations round-trip', async () => {
    const s = await startRespondServer({}, true);
    try {
      const secret = 'pg-leaked-secret-value-0001';
      const hex = createHash('sha256').update(secret).digest('hex');
      await s.server.call('POST', '/v1/credentials', {
        body: {
          id: 'cred-pg-leak',
          identityId: 'search-indexer',
          type: 'api_key',
          fingerprint: `sha256:${hex.slice(0, 32)}`,
          consumers: ['search-indexer'],
        },
      });
      const res = await s.server.call('POST', '/v1/leaks?format=trufflehog', {
        body: [{ DetectorName: 'Generic', Raw: secret, SourceName: 'ci-logs' }],
      });
      assert.equal(res.status, 200);
      assert.equal(res.body.matched[0].state, 'contained');
      const inc = await s.server.call('GET', `/v1/incidents/${res.body.matched[0].incidentId}`);
      assert.equal(typeof inc.body.timeToContainMs, 'number');
      assert.ok(inc.body.timeline.length >= 4);
      const list = await s.server.call('GET', '/v1/incidents?state=contained');
      assert.equal(list.body.items.length, 1);
      const rot = await s.server.call('POST', '/v1/rotations', { body: { credential_id: 'cred-ci-cache' } });
      assert.equal(rot.body.state, 'overlap');
      const ack = await s.server.call('POST', `/v1/rotations/${rot.body.id}/ack`, {
        body: { consumer: 'ci-web-build' },
      });
      assert.ok(ack.body.consumerState['ci-web-build'].switchedAt);
      const done = await s.server.call('POST', `/v1/rotations/${rot.body.id}/complete`, {
        body: { force: true },
      });
      assert.deepEqual(
        done.body.report.stillOnOld.map((x: { consumer: string }) => x.consumer),
        ['svc-dev-ci-cache'],
      );
    } finally {
      await s.server.stop();
    }
  });
});
