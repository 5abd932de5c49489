import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from '../helpers/server.js';

const IAM = JSON.parse(
  readFileSync(new URL('../fixtures/aws-iam/escalation-account.json', import.meta.url), 'utf8'),
);

void describe('posture NHI5 on imported IAM permissions', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ demo: false });
    const r = await server.call('POST', '/v1/graph/imports/aws-iam', { body: IAM });
    assert.equal(r.status, 200);
  });
  after(async () => {
    await server.stop();
  });

  void it('compares policy grants with CloudTrail-style use and proposes a least-privilege policy', async () => {
    server.ctx.events.publish({
      id: 'ct-1',
      time: new Date().toISOString(),
      type: 'cloudtrail',
      source: 'detect',
      identityId: 'aws-111122223333-user-cpv-user',
      action: 's3:GetObject',
      resource: 'arn:aws:s3:::acme-payroll/reports/q3.csv',
      outcome: 'success',
    });
    const res = await server.call('GET', '/v1/posture?nhi=NHI5');
    const f = res.body.findings.find(
      (x: any) => x.rule === 'NHI5-unused-grants' && x.identityId === 'aws-111122223333-user-cpv-user',
    );
    assert.ok(f, JSON.stringify(res.body.findings.map((x: any) => x.id)));
    assert.deepEqual(f.evidence.unused, ['s3:ListBucket on arn:aws:s3:::acme-payroll']);
    assert.deepEqual(f.evidence.leastPrivilegePolicy.Statement[0], {
      Effect: 'Allow',
      Action: ['s3:GetObject'],
      Resource: ['arn:aws:s3:::acme-payroll/reports/q3.csv'],
    });
    const usage = await server.call('GET', '/v1/posture/identities/aws-111122223333-user-cpv-user/usage');
    assert.equal(usage.status, 200);
    assert.equal(usage.body.observed, true);
    assert.deepEqual(usage.body.unused, ['s3:ListBucket on arn:aws:s3:::acme-payroll']);
    assert.deepEqual(usage.body.used, ['s3:GetObject on arn:aws:s3:::acme-payroll/reports/q3.csv']);
    const none = await server.call('GET', '/v1/posture/identities/aws-111122223333-user-attach-user/usage');
    assert.equal(none.body.observed, false);
    assert.equal((await server.call('GET', '/v1/posture/identities/nobody/usage')).status, 404);
    // VendorRole's cross-account trust requires an ExternalId: no NHI6 finding.
    const nhi6 = await server.call('GET', '/v1/posture?nhi=NHI6');
    assert.ok(!nhi6.body.findings.some((x: any) => x.identityId === 'aws-111122223333-role-VendorRole'));
    // Escalation-capable principals are over-privileged too.
    const all = await server.call('GET', '/v1/posture?nhi=NHI5');
    assert.ok(
      all.body.findings.some(
        (x: any) => x.rule === 'NHI5-escalation' && x.identityId === 'aws-111122223333-user-cpv-user',
      ),
    );
  });
});
