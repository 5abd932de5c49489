import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { cli } from '../helpers/cli.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

void describe('posture on the demo org', () => {
  let server: TestServer;
  let clock = new Date('2026-11-25T08:00:00Z');
  before(async () => {
    server = await startTestServer({ demo: true, now: () => clock });
  });
  after(async () => {
    await server.stop();
  });

  void it('finds every OWASP NHI Top 10 risk in the demo org, with NIST and ATT&CK ids', async () => {
    const res = await server.call('GET', '/v1/posture');
    assert.equal(res.status, 200);
    const byRule = (rule: string) =>
      res.body.findings.filter((f: any) => f.rule === rule).map((f: any) => f.credentialId ?? f.identityId);
    assert.ok(byRule('NHI1-ownerless').includes('ci-legacy-jenkins'));
    assert.ok(byRule('NHI2-leaked').includes('cred-leaked-test-key'));
    assert.ok(byRule('NHI3-broad-third-party').includes('saas-payroll'));
    assert.ok(byRule('NHI4-static-secret-with-federation').includes('cred-payments-api-db'));
    assert.ok(byRule('NHI5-admin').includes('ci-platform-terraform'));
    assert.ok(byRule('NHI6-ci-static-cloud-key').includes('cred-terraform-aws'));
    assert.ok(byRule('NHI7-long-lived').includes('cred-terraform-aws'));
    assert.ok(byRule('NHI8-nonprod-reaches-prod').includes('ci-web-build'));
    assert.ok(byRule('NHI9-shared-credential').includes('cred-payments-api-db'));
    assert.ok(byRule('NHI10-shared-account').includes('shared-ops'));
    for (const k of ['NHI1', 'NHI2', 'NHI3', 'NHI4', 'NHI5', 'NHI6', 'NHI7', 'NHI8', 'NHI9', 'NHI10'])
      assert.ok(res.body.org.byNhi[k] > 0, k);
    for (const f of res.body.findings) {
      assert.ok(f.nist.length > 0 && f.attack.length > 0, f.id);
      assert.match(f.nist[0], /^[A-Z]{2}\.[A-Z]{2}-\d{2}$/);
    }
    assert.ok(res.body.org.score > 0 && res.body.org.score < 100);
  });

  void it('NHI5 compares granted with used permissions once events are recorded', async () => {
    const ctx = server.ctx;
    ctx.events.publish({
      id: 'e1',
      time: clock.toISOString(),
      type: 'decision',
      source: 'policy',
      identityId: 'etl-warehouse',
      action: 's3:GetObject',
      resource: 's3-raw-events',
      outcome: 'allow',
    });
    ctx.events.publish({
      id: 'e2',
      time: clock.toISOString(),
      type: 'decision',
      source: 'policy',
      identityId: 'etl-warehouse',
      action: 'crm:export',
      resource: 'crm',
      outcome: 'deny',
    });
    const res = await server.call('GET', '/v1/posture?nhi=NHI5');
    const f = res.body.findings.find(
      (x: any) => x.rule === 'NHI5-unused-grants' && x.identityId === 'etl-warehouse',
    );
    assert.ok(f);
    assert.ok(f.evidence.unused.includes('crm:export'), 'a denied attempt is not use');
    assert.ok(!f.evidence.unused.includes('s3:s3-raw-events:read'));
    assert.ok(res.body.findings.every((x: any) => x.nhi === 'NHI5'));
  });

  void it('scores one identity; 404 for unknown', async () => {
    const res = await server.call('GET', '/v1/posture/identities/ci-platform-terraform');
    assert.equal(res.status, 200);
    assert.ok(res.body.score < 100);
    assert.ok(res.body.items.length > 0);
    assert.equal((await server.call('GET', '/v1/posture/identities/nobody')).status, 404);
  });

  void it('stores a trend: automatic at most hourly, explicit on POST', async () => {
    const before = (await server.call('GET', '/v1/posture/trend')).body.items.length;
    await server.call('GET', '/v1/posture');
    assert.equal(
      (await server.call('GET', '/v1/posture/trend')).body.items.length,
      before,
      'no second snapshot within the hour',
    );
    clock = new Date(clock.getTime() + 2 * 3_600_000);
    // Fix a finding: the score goes up in the next snapshot.
    await server.call('PATCH', '/v1/identities/ci-legacy-jenkins', { body: { owners: ['frank'] } });
    await server.call('GET', '/v1/posture');
    const created = await server.call('POST', '/v1/posture/snapshots', { body: {} });
    assert.equal(created.status, 201);
    const trend = (await server.call('GET', '/v1/posture/trend')).body.items;
    assert.equal(trend.length, before + 2);
    assert.ok(trend.at(-1).byNhi.NHI1 < trend[0].byNhi.NHI1, 'the fixed finding is gone from the trend');
  });

  void it('CLI prints JSON, SARIF and Markdown', async () => {
    let r = await cli(server, ['posture', '--sarif']);
    assert.equal(r.code, 0, r.err);
    const sarif = JSON.parse(r.out);
    assert.equal(sarif.version, '2.1.0');
    assert.ok(sarif.runs[0].results.length > 0);
    r = await cli(server, ['posture', '--markdown']);
    assert.match(r.out, /^# NHI posture report/);
    assert.match(r.out, /## NHI7 Long-Lived Secrets/);
    r = await cli(server, ['posture', '--json', '--min-severity', 'critical']);
    assert.ok(JSON.parse(r.out).findings.every((f: any) => f.severity === 'critical'));
    r = await cli(server, ['posture']);
    assert.match(r.out, /Organisation score/);
    r = await cli(server, ['posture', '--json', '--sarif']);
    assert.equal(r.code, 1);
    r = await cli(server, ['posture', '--trend', '--json']);
    assert.ok(Array.isArray(JSON.parse(r.out).items));
  });
});
