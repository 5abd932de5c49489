import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { after, before, describe, it } from 'node:test';
import { inventoryJsonSchema } from '../../src/graph/importers/yaml/schema.js';
import { cli } from '../helpers/cli.js';
import { startTestServer, tempDir, type TestServer } from '../helpers/server.js';

const FIXTURE = new URL('../fixtures/yaml/acme-inventory.yaml', import.meta.url);

void describe('yaml inventory import', () => {
  let server: TestServer;
  const dir = tempDir('bulkhead-yaml-');
  before(async () => {
    server = await startTestServer({ demo: false });
  });
  after(async () => {
    await server.stop();
  });

  void it('the committed JSON Schema is the one generated from the zod schema', () => {
    const committed = JSON.parse(
      readFileSync(new URL('../../src/graph/importers/yaml/inventory.schema.json', import.meta.url), 'utf8'),
    );
    assert.deepEqual(committed, JSON.parse(JSON.stringify(inventoryJsonSchema())));
  });

  void it('imports identities, credentials, resources and grants; paths use the declared grants', async () => {
    const r = await cli(server, ['import', 'yaml', FIXTURE.pathname, '--json']);
    assert.equal(r.code, 0, r.err);
    const report = JSON.parse(r.out);
    assert.equal(report.scope, 'yaml:acme-platform');
    assert.equal(report.principals.created.length, 3);
    assert.equal(report.credentials.created, 1);
    assert.equal(report.resources.created, 2);
    const cred = await server.call('GET', '/v1/credentials/yml-deployer-token');
    assert.equal(cred.body.source, 'yaml');
    const paths = await server.call('GET', '/v1/graph/paths?from=yml-deployer&to=admin');
    // yml-terraform is itself admin-equivalent, so the cheapest path to "admin" ends there.
    assert.deepEqual(
      paths.body.paths.map((p: any) => p.steps.map((s: any) => s.via)),
      [['OIDC trust of the Terraform role']],
    );
    const toNode = await server.call('GET', '/v1/graph/paths?from=yml-deployer&to=admin:aws:prod');
    assert.deepEqual(
      toNode.body.paths[0].steps.map((s: any) => s.via),
      ['OIDC trust of the Terraform role', 'AdministratorAccess'],
    );
    const blast = await server.call('GET', '/v1/graph/blast-radius/yml-deployer');
    assert.ok(blast.body.bySensitivity.confidential.some((i: any) => i.node === 'resource:yml-orders-db'));
    const esc = (await server.call('GET', '/v1/graph/escalations')).body;
    assert.ok(esc.some((e: any) => e.principal === 'yml-deployer' && e.method === 'oidc-federation'));
  });

  void it('re-import: the file is the whole record (a removed label goes), a quarantine stays', async () => {
    const doc = parseYaml(readFileSync(FIXTURE, 'utf8'));
    doc.identities[1].labels = { tier: 't1' };
    let res = await server.call('POST', '/v1/graph/imports/yaml', { body: doc });
    assert.deepEqual(
      res.body.principals.updated.map((p: any) => p.id),
      ['yml-deployer'],
    );
    await server.call('POST', '/v1/identities/yml-deployer/quarantine', { body: { reason: 'drill' } });
    delete doc.identities[1].labels;
    doc.identities = doc.identities.filter((i: any) => i.id !== 'yml-terraform');
    doc.grants = doc.grants.filter((g: any) => g.from !== 'yml-terraform' && g.to !== 'yml-terraform');
    res = await server.call('POST', '/v1/graph/imports/yaml', { body: doc });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(
      res.body.principals.removed.map((p: any) => p.id),
      ['yml-terraform'],
    );
    const ident = (await server.call('GET', '/v1/identities/yml-deployer')).body;
    assert.equal(ident.labels.tier, undefined);
    assert.equal(ident.labels['bulkhead.status-reason'], 'drill');
    assert.equal(ident.status, 'quarantined');
  });

  void it('rejects an invalid file as a whole, naming the field', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(
      bad,
      readFileSync(FIXTURE, 'utf8').replace('owners: [yml-alice, team:platform]', 'owners: [yml-terraform]'),
    );
    let r = await cli(server, ['import', 'yaml', bad]);
    assert.equal(r.code, 1);
    assert.match(r.err, /BULKHEAD_IMPORT_INVALID.*field body\.identities\[1\]\.owners\[0\]/);
    const res = await server.call('POST', '/v1/graph/imports/yaml', {
      body: {
        apiVersion: 'bulkhead.dev/v1',
        kind: 'Inventory',
        scope: 'x',
        identities: [{ id: 'a', kind: 'robot' }],
      },
    });
    assert.equal(res.status, 400);
    assert.equal(res.body.field, 'body.identities[0].kind');
    writeFileSync(bad, 'apiVersion: [unclosed');
    r = await cli(server, ['import', 'yaml', bad]);
    assert.match(r.err, /not valid YAML/);
  });
});
