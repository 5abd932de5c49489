import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { BulkheadEvent } from '../../src/events/bus.js';
import { startRespondServer, type RespondServer } from '../respond/helpers.js';

const NDJSON = { 'content-type': 'application/x-ndjson' };

for (const postgres of [false, true]) {
  describe(`detection → respond: re-announcing alerts${postgres ? ' (PostgreSQL)' : ''}`, () => {
    let s: RespondServer;
    const raised: BulkheadEvent[] = [];

    before(async () => {
      s = await startRespondServer({}, postgres);
      s.server.ctx.events.subscribe('alert.raised', (e) => raised.push(e));
    });

    after(async () => {
      await s.server.stop();
    });

    const post = async (records: unknown[]) => {
      const res = await s.server.call('POST', '/v1/events', {
        raw: records.map((r) => JSON.stringify(r)).join('\n') + '\n',
        headers: NDJSON,
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      await s.detect.service().idle();
      await s.respond.service().idle();
      return res.body as { alerts: { id: string; rule_id: string; created: boolean }[] };
    };
    const incidentsOf = async (identityId: string) =>
      (await s.server.call('GET', `/v1/incidents?identity_id=${identityId}`)).body.items as {
        id: string;
        state: string;
      }[];

    it('opens a new alert and a new incident when the replay recurs after its incident was resolved', async () => {
      const now = Date.now();
      const replay = (id: string, minutesAgo: number) => ({
        id,
        time: new Date(now - minutesAgo * 60_000).toISOString(),
        type: 'token.used',
        source: 'broker',
        identityId: 'payments-api',
        credentialId: 'jti-abc',
        action: 'refunds.create',
        outcome: 'success',
        data: { boundJkt: 'key-good', presentedJkt: 'key-evil', sourceIp: '203.0.113.7' },
      });
      const first = await post([replay('e1', 30)]);
      assert.deepEqual(
        first.alerts.map((a) => [a.rule_id, a.created]),
        [['credential-replay', true]],
      );
      const [incident] = await incidentsOf('payments-api');
      assert.ok(incident);
      const resolved = await s.server.call('POST', `/v1/incidents/${incident.id}/resolve`, {
        body: { note: 'handled' },
      });
      assert.equal(resolved.status, 200);

      // Within the dedup window: before the fix this only bumped the count of the closed alert.
      const second = await post([replay('e2', 10)]);
      assert.deepEqual(
        second.alerts.map((a) => [a.rule_id, a.created]),
        [['credential-replay', true]],
      );
      assert.notEqual(second.alerts[0]?.id, first.alerts[0]?.id);
      assert.ok(raised.some((e) => e.id === second.alerts[0]?.id));
      const incidents = await incidentsOf('payments-api');
      assert.equal(incidents.length, 2);
      assert.equal(incidents.filter((i) => i.state === 'resolved').length, 1, JSON.stringify(incidents));
      const alerts = await s.server.call(
        'GET',
        '/v1/alerts?identity_id=payments-api&rule_id=credential-replay',
      );
      assert.deepEqual(alerts.body.items.map((a: any) => a.count).sort(), [1, 1]);

      // While the new incident is open, the same activity merges again.
      const third = await post([replay('e3', 5)]);
      assert.deepEqual(
        third.alerts.map((a) => [a.id, a.created]),
        [[second.alerts[0]?.id, false]],
      );
    });

    it('announces a merged alert again when its severity rises', async () => {
      const now = Date.now();
      const call = (id: string, outcome: string) => ({
        id,
        time: new Date(now - 60_000).toISOString(),
        type: 'decision',
        source: 'policy',
        identityId: 'agent-support-bot',
        action: 'iam.create_key',
        outcome,
      });
      const denied = await post([call('a1', 'deny')]);
      const alertId = denied.alerts.find((a) => a.rule_id === 'agent-tool-escalation')?.id;
      assert.ok(alertId, JSON.stringify(denied));
      const announced = () => raised.filter((e) => e.id === alertId).map((e) => e.data?.severity);
      assert.deepEqual(announced(), ['medium']);

      const allowed = await post([call('a2', 'allow')]);
      assert.deepEqual(
        allowed.alerts.filter((a) => a.id === alertId).map((a) => a.created),
        [false],
      );
      assert.deepEqual(announced(), ['medium', 'high']);
      // The same severity again is only a count bump.
      await post([call('a3', 'allow')]);
      assert.deepEqual(announced(), ['medium', 'high']);
    });
  });
}
