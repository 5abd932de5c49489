import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { cli } from '../helpers/cli.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const GITLEAKS = new URL('../fixtures/leaks/gitleaks-report.json', import.meta.url);
const TRUFFLEHOG = new URL('../fixtures/leaks/trufflehog.jsonl', import.meta.url);
const IAM = new URL('../fixtures/aws-iam/escalation-account.json', import.meta.url);

void describe('leak report import (NHI2)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ demo: true });
    const sha = createHash('sha256').update('ghp_bulkheadFixtureToken0000000000000000').digest('hex');
    for (const [id, fingerprint] of [
      ['cred-leak-aws', 'AKIAIOSFODNN7EXAMPLE'],
      ['cred-leak-gh', `sha256:${sha.slice(0, 32)}`],
    ]) {
      const r = await server.call('POST', '/v1/credentials', {
        body: { id, identityId: 'search-indexer', type: 'access_key', fingerprint },
      });
      assert.equal(r.status, 201);
    }
  });
  after(async () => {
    await server.stop();
  });

  void it('gitleaks: marks matching credentials by key id or sha256 prefix, never echoes a secret', async () => {
    const res = await server.call('POST', '/v1/graph/imports/leaks?file_name=gitleaks.json', {
      body: JSON.parse(readFileSync(GITLEAKS, 'utf8')),
    });
    assert.equal(res.status, 200);
    assert.equal(res.body.findings, 3);
    assert.deepEqual(res.body.matched.map((m: any) => m.credentialId).sort(), [
      'cred-leak-aws',
      'cred-leak-gh',
    ]);
    assert.deepEqual(res.body.unmatched, [
      { rule: 'generic-api-key', location: 'README.md:7 @d5b3e1a4c9f2' },
    ]);
    const text = JSON.stringify(res.body);
    for (const secret of ['AKIAIOSFODNN7EXAMPLE', 'ghp_bulkheadFixtureToken', 'not-in-the-inventory'])
      assert.ok(!text.includes(secret));
    const cred = await server.call('GET', '/v1/credentials/cred-leak-aws');
    assert.equal(cred.body.labels.leak, 'gitleaks:aws-access-token');
    assert.equal(cred.body.labels['leak.location'], 'deploy/old.env:12 @b3f1c9e2a7d0');
    const posture = await server.call('GET', '/v1/posture?nhi=NHI2');
    const leaked = posture.body.findings.map((f: any) => f.credentialId);
    assert.ok(leaked.includes('cred-leak-aws') && leaked.includes('cred-leak-gh'));
  });

  void it('trufflehog JSON lines through the CLI match an imported IAM access key', async () => {
    let r = await cli(server, ['import', 'aws-iam', IAM.pathname, '--json']);
    assert.equal(r.code, 0, r.err);
    r = await cli(server, ['import', 'leaks', TRUFFLEHOG.pathname, '--json']);
    assert.equal(r.code, 0, r.err);
    const report = JSON.parse(r.out);
    assert.deepEqual(
      report.matched.map((m: any) => [m.credentialId, m.rule]),
      [['aws-key-AKIAEXAMPLEKEY000001', 'AWS']],
    );
    r = await cli(server, ['import', 'leaks', TRUFFLEHOG.pathname]);
    assert.match(r.out, /1 findings: 1 matched/, r.err);
  });

  void it('rejects a report in neither format', async () => {
    const res = await server.call('POST', '/v1/graph/imports/leaks', { body: [{ hello: 'x' }] });
    assert.equal(res.status, 400);
    assert.equal(res.body.code, 'BULKHEAD_IMPORT_INVALID');
    assert.equal(res.body.field, 'body[0]');
  });
});
