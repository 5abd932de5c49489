import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cli } from '../helpers/cli.js';
import { startTestServer, tempDir, type TestServer } from '../helpers/server.js';

const FIXTURE = new URL('../fixtures/aws-iam/escalation-account.json', import.meta.url);
const fixture = () => JSON.parse(readFileSync(FIXTURE, 'utf8'));

void describe('aws-iam import end to end', () => {
  let server: TestServer;
  const dir = tempDir('bulkhead-iam-');
  before(async () => {
    server = await startTestServer({ demo: false });
  });
  after(async () => {
    await server.stop();
  });

  void it('CLI imports the export and escalations list every method with the required JSON shape', async () => {
    const r = await cli(server, ['import', 'aws-iam', FIXTURE.pathname, '--json']);
    assert.equal(r.code, 0, r.err);
    const report = JSON.parse(r.out);
    assert.equal(report.scope, 'aws-iam:111122223333');
    assert.equal(report.principals.created.length, 55);
    assert.ok(report.edges > 40);
    const esc = await cli(server, ['escalations', '--json']);
    const list = JSON.parse(esc.out);
    const cpv = list.find((e: any) => e.principal === 'cpv-user');
    assert.deepEqual(
      Object.keys(cpv)
        .filter((k) => ['principal', 'principal_id', 'target', 'method', 'path'].includes(k))
        .sort(),
      ['method', 'path', 'principal', 'principal_id', 'target'],
    );
    assert.equal(cpv.principal_id, 'arn:aws:iam::111122223333:user/cpv-user');
    assert.equal(cpv.method, 'iam:CreatePolicyVersion');
    assert.equal(cpv.path[0].from, 'cpv-user');
    assert.equal(cpv.path.at(-1).to, cpv.target);
    assert.ok(
      cpv.path.every(
        (s: any) => typeof s.from === 'string' && typeof s.to === 'string' && typeof s.via === 'string',
      ),
    );
    assert.ok(!list.some((e: any) => e.principal === 'boundary-user'));
  });

  void it('re-import is idempotent, then reports updated and removed principals', async () => {
    let res = await server.call('POST', '/v1/graph/imports/aws-iam', { body: fixture() });
    assert.equal(res.status, 200);
    assert.equal(res.body.principals.created.length, 0);
    assert.equal(res.body.principals.updated.length, 0);
    assert.equal(res.body.principals.unchanged, 55);
    // Quarantine one principal: an import must not re-activate it.
    const q = await server.call('POST', '/v1/identities/aws-111122223333-user-assume-user/quarantine', {
      body: { reason: 'test' },
    });
    assert.equal(q.status, 200);
    const doc = fixture();
    doc.UserDetailList = doc.UserDetailList.filter((u: any) => u.UserName !== 'cpv-user');
    const attach = doc.UserDetailList.find((u: any) => u.UserName === 'attach-user');
    attach.UserPolicyList = [];
    attach.Tags = [{ Key: 'Environment', Value: 'staging' }];
    res = await server.call('POST', '/v1/graph/imports/aws-iam?file_name=second.json', { body: doc });
    assert.equal(res.status, 200);
    assert.deepEqual(
      res.body.principals.removed.map((p: any) => p.name),
      ['cpv-user'],
    );
    assert.equal(res.body.principals.removed[0].principal_id, 'arn:aws:iam::111122223333:user/cpv-user');
    assert.deepEqual(
      res.body.principals.updated.map((p: any) => p.name),
      ['attach-user'],
    );
    const esc = (await server.call('GET', '/v1/graph/escalations')).body;
    assert.ok(!esc.some((e: any) => e.principal === 'cpv-user'));
    assert.ok(!esc.some((e: any) => e.principal === 'attach-user'));
    assert.ok(!esc.some((e: any) => e.principal === 'assume-user'), 'a quarantined principal is not walked');
    const ident = await server.call('GET', '/v1/identities/aws-111122223333-user-assume-user');
    assert.equal(ident.body.status, 'quarantined');
    const imports = await server.call('GET', '/v1/graph/imports');
    assert.equal(imports.body.items[0].file_name, 'second.json');
  });

  void it('a failed import changes nothing (one transaction)', async () => {
    const before = await server.call('GET', '/v1/identities?source=aws-iam&limit=500');
    const beforeEdges = (await server.call('GET', '/v1/graph/stats')).body.edges;
    // An identity id that another source already owns makes the import fail half-way through.
    const clash = await server.call('POST', '/v1/identities', {
      body: {
        id: 'aws-111122223333-user-zz-late',
        kind: 'service_account',
        displayName: 'manual',
        environment: 'prod',
      },
    });
    assert.equal(clash.status, 201);
    const doc = fixture();
    doc.UserDetailList.push({
      ...doc.UserDetailList[1],
      UserName: 'zz-late',
      Arn: 'arn:aws:iam::111122223333:user/zz-late',
    });
    doc.UserDetailList = doc.UserDetailList.filter((u: any) => u.UserName !== 'sdpv-user');
    const res = await server.call('POST', '/v1/graph/imports/aws-iam', { body: doc });
    assert.equal(res.status, 409);
    assert.equal(res.body.code, 'BULKHEAD_IMPORT_CONFLICT');
    const afterList = await server.call('GET', '/v1/identities?source=aws-iam&limit=500');
    assert.deepEqual(
      afterList.body.items.map((i: any) => i.id),
      before.body.items.map((i: any) => i.id),
    );
    assert.equal((await server.call('GET', '/v1/graph/stats')).body.edges, beforeEdges + 0);
    const esc = (await server.call('GET', '/v1/graph/escalations')).body;
    assert.ok(esc.some((e: any) => e.principal === 'sdpv-user'));
  });

  void it('bad input: wrong structure, unknown kind, malformed and truncated files', async () => {
    let res = await server.call('POST', '/v1/graph/imports/aws-iam', { body: { UserDetailList: 'nope' } });
    assert.equal(res.status, 400);
    assert.equal(res.body.code, 'BULKHEAD_IMPORT_INVALID');
    assert.equal(res.body.field, 'UserDetailList');
    res = await server.call('POST', '/v1/graph/imports/aws-iam', {
      body: { UserDetailList: [{ UserName: 'x' }] },
    });
    assert.equal(res.body.field, 'UserDetailList[0].Arn');
    res = await server.call('POST', '/v1/graph/imports/aws-iam', { body: { hello: 1 } });
    assert.equal(res.body.code, 'BULKHEAD_IMPORT_INVALID');
    res = await server.call('POST', '/v1/graph/imports/aws-iam', { body: [] });
    assert.equal(res.status, 400);
    res = await server.call('POST', '/v1/graph/imports/nope', { body: {} });
    assert.equal(res.body.code, 'BULKHEAD_IMPORT_UNKNOWN_KIND');
    const truncated = join(dir, 'truncated.json');
    writeFileSync(truncated, readFileSync(FIXTURE, 'utf8').slice(0, 5000));
    const r = await cli(server, ['import', 'aws-iam', truncated]);
    assert.equal(r.code, 1);
    assert.match(r.err, /not valid JSON \(truncated\?\)/);
    const missing = await cli(server, ['import', 'aws-iam', join(dir, 'missing.json')]);
    assert.equal(missing.code, 1);
  });

  void it('unknown policy elements and malformed statements become warnings, not crashes', async () => {
    const doc = fixture();
    const u = doc.UserDetailList.find((x: any) => x.UserName === 'assume-neg-user');
    u.UserPolicyList.push({
      PolicyName: 'odd',
      PolicyDocument: {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Actions: 's3:*', Resource: '*' }, 'junk'],
        Extra: 1,
      },
    });
    u.UserPolicyList.push({ PolicyName: 'broken', PolicyDocument: '%7B%22Version' });
    const res = await server.call('POST', '/v1/graph/imports/aws-iam', { body: doc });
    assert.equal(res.status, 200);
    const codes = new Set(res.body.warnings.map((w: any) => w.code));
    for (const c of ['UNKNOWN_ELEMENT', 'MALFORMED_STATEMENT', 'MALFORMED_DOCUMENT'])
      assert.ok(codes.has(c), c);
    assert.ok(
      res.body.warnings.some(
        (w: any) => w.field.startsWith('UserDetailList[') && w.field.includes('PolicyDocument'),
      ),
    );
  });

  void it('blast radius and paths accept the IAM name or ARN', async () => {
    let res = await server.call('GET', '/v1/graph/blast-radius/chain-user');
    assert.equal(res.status, 200);
    assert.ok(res.body.admin.length >= 1);
    res = await server.call(
      'GET',
      `/v1/graph/paths?from=${encodeURIComponent('arn:aws:iam::111122223333:user/chain-user')}&to=admin`,
    );
    assert.equal(res.status, 200);
    assert.equal(res.body.paths[0].steps[0].to, 'identity:aws-111122223333-role-HopRole');
    // A leaked access key id is enough to ask for its blast radius.
    res = await server.call('GET', '/v1/graph/blast-radius/AKIAEXAMPLEKEY000001');
    assert.equal(res.status, 200);
    assert.equal(res.body.from, 'credential:aws-key-AKIAEXAMPLEKEY000001');
    assert.ok(
      res.body.identities.some((i: any) => i.node === 'identity:aws-111122223333-user-accesskey-neg-user'),
    );
    const human = await cli(server, ['import', 'aws-iam', FIXTURE.pathname, '--no-progress']);
    assert.equal(human.code, 0, human.err);
    assert.match(human.out, /Imported aws-iam:111122223333/);
  });
});

void describe('aws-iam import of hostile names', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ demo: false });
  });
  after(async () => {
    await server.stop();
  });

  const user = (name: string, extra: Record<string, unknown> = {}) => ({
    Path: '/',
    UserName: name,
    UserId: `AIDA${name.toUpperCase()}`,
    Arn: `arn:aws:iam::111122223333:user/${name}`,
    ...extra,
  });
  const exportOf = (users: unknown[]) => ({
    UserDetailList: users,
    GroupDetailList: [],
    RoleDetailList: [],
    Policies: [],
    IsTruncated: false,
  });

  void it('imports ARNs, policy references and tags named after Object.prototype members', async () => {
    const doc = exportOf([
      user('u1', {
        Tags: [{ Key: '__proto__', Value: 'tagged' }],
        AttachedManagedPolicies: [{ PolicyName: 'c', PolicyArn: 'constructor' }],
        UserPolicyList: [
          {
            PolicyName: 'p',
            PolicyDocument: {
              Version: '2012-10-17',
              Statement: [
                {
                  Effect: 'Allow',
                  Action: '*',
                  Resource: [
                    'arn:aws:constructor:us-east-1:111122223333:thing/x',
                    'arn:aws:toString:us-east-1:111122223333:*',
                  ],
                },
              ],
            },
          },
        ],
      }),
    ]);
    const res = await server.call('POST', '/v1/graph/imports/aws-iam', { body: doc });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const resources = await server.call('GET', '/v1/resources?limit=100');
    const byArn = new Map(resources.body.items.map((r: any) => [r.labels['aws.arn'], r.sensitivity]));
    assert.equal(byArn.get('arn:aws:constructor:us-east-1:111122223333:thing/x'), 'internal');
    const identity = await server.call('GET', '/v1/identities/aws-111122223333-user-u1');
    assert.equal(identity.status, 200);
    assert.equal(identity.body.labels['aws.tag.__proto__'], 'tagged');
    // Not a built-in policy: reported as unknown, like any managed policy missing from the export.
    assert.deepEqual(
      res.body.warnings.map((w: any) => [w.field, w.code]),
      [['constructor', 'UNKNOWN_ELEMENT']],
    );
  });

  void it('rejects two users with one name, or one access key twice, naming the duplicate; nothing is applied', async () => {
    const before = await server.call('GET', '/v1/identities?source=aws-iam&limit=100');
    const tagged = (v: string) => ({ Tags: [{ Key: 'team', Value: v }] });
    let res = await server.call('POST', '/v1/graph/imports/aws-iam', {
      body: exportOf([
        user('u1', tagged('changed')),
        user('u2', tagged('first')),
        user('u2', tagged('second')),
      ]),
    });
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.equal(res.body.code, 'BULKHEAD_IMPORT_INVALID');
    assert.equal(res.body.field, 'UserDetailList[2].UserName');
    assert.match(res.body.detail, /duplicate user u2: .* as UserDetailList\[1\]\.UserName/);

    const key = (id: string) => ({ AccessKeyMetadata: [{ AccessKeyId: id, Status: 'Active' }] });
    res = await server.call('POST', '/v1/graph/imports/aws-iam', {
      body: exportOf([user('u1', key('AKIADUPLICATE0000001')), user('u3', key('AKIADUPLICATE0000001'))]),
    });
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.equal(res.body.field, 'UserDetailList[1].AccessKeyMetadata[0].AccessKeyId');

    const after = await server.call('GET', '/v1/identities?source=aws-iam&limit=100');
    assert.deepEqual(after.body.items, before.body.items);
  });
});
