import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { adminDecision, globMatch, PolicyEvaluator } from './evaluate.js';
import { parseStatements, type PolicyWarning } from './policy-document.js';

function ev(doc: unknown, vars = {}, boundary?: unknown): PolicyEvaluator {
  const w: PolicyWarning[] = [];
  const b =
    boundary === undefined ? null : new PolicyEvaluator(parseStatements(boundary, 'boundary', 'b', w));
  return new PolicyEvaluator(parseStatements(doc, 'inline:test', 'doc', w), vars, b);
}
const doc = (...Statement: unknown[]) => ({ Version: '2012-10-17', Statement });

void describe('IAM policy evaluation', () => {
  void it('wildcards: * and ?, actions case-insensitive, ARNs case-sensitive', () => {
    assert.ok(globMatch('iam:*Policy*', 'iam:AttachUserPolicy', true));
    assert.ok(globMatch('s3:Get?bject', 's3:getobject', true));
    assert.ok(!globMatch('arn:aws:s3:::Bucket', 'arn:aws:s3:::bucket'));
    assert.ok(globMatch('arn:aws:s3:::logs-*/*', 'arn:aws:s3:::logs-2026/a/b'));
  });
  void it('explicit Deny beats Allow; NotAction and NotResource invert the match', () => {
    const e = ev(
      doc(
        { Effect: 'Allow', Action: 's3:*', Resource: '*' },
        { Effect: 'Deny', Action: 's3:DeleteObject', NotResource: 'arn:aws:s3:::scratch/*' },
        { Effect: 'Allow', NotAction: ['iam:*', 's3:*'], Resource: '*' },
      ),
    );
    assert.ok(e.evaluate('s3:GetObject', 'arn:aws:s3:::prod/x').allowed);
    assert.ok(!e.evaluate('s3:DeleteObject', 'arn:aws:s3:::prod/x').allowed);
    assert.ok(e.evaluate('s3:DeleteObject', 'arn:aws:s3:::scratch/x').allowed);
    assert.ok(e.evaluate('ec2:RunInstances', '*').allowed);
    assert.ok(!e.evaluate('iam:CreateUser', '*').allowed);
    assert.ok(e.explicitlyDenies('s3:DeleteObject', 'arn:aws:s3:::prod/x'));
  });
  void it('admin-equivalent needs all of IAM: AdministratorAccess yes, PowerUser-style NotAction no', () => {
    assert.equal(adminDecision(ev(doc({ Effect: 'Allow', Action: '*', Resource: '*' }))).grant, '*:* on *');
    assert.equal(
      adminDecision(ev(doc({ Effect: 'Allow', Action: 'iam:*', Resource: '*' }))).grant,
      'iam:* on *',
    );
    assert.ok(!adminDecision(ev(doc({ Effect: 'Allow', NotAction: 'iam:*', Resource: '*' }))).allowed);
    assert.ok(!adminDecision(ev(doc({ Effect: 'Allow', Action: '*', Resource: 'arn:aws:s3:::x' }))).allowed);
    assert.ok(
      !adminDecision(
        ev(
          doc(
            { Effect: 'Allow', Action: '*', Resource: '*' },
            { Effect: 'Deny', Action: 'iam:*', Resource: '*' },
          ),
        ),
      ).allowed,
    );
  });
  void it('conditions: an Allow counts but is flagged, a conditional Deny does not block', () => {
    const e = ev(
      doc(
        {
          Effect: 'Allow',
          Action: 'kms:Decrypt',
          Resource: '*',
          Condition: { Bool: { 'aws:MultiFactorAuthPresent': 'true' } },
        },
        {
          Effect: 'Deny',
          Action: 'kms:Decrypt',
          Resource: '*',
          Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } },
        },
      ),
    );
    const d = e.evaluate('kms:Decrypt', 'arn:aws:kms:us-east-1:1:key/k');
    assert.deepEqual([d.allowed, d.conditional], [true, true]);
  });
  void it('policy variables: ${aws:username} substituted, unknown variables widen, ${*} is a literal star', () => {
    const e = ev(
      doc({
        Effect: 'Allow',
        Action: 'iam:CreateAccessKey',
        Resource: 'arn:aws:iam::1:user/${aws:username}',
      }),
      { username: 'bob' },
    );
    assert.ok(e.evaluate('iam:CreateAccessKey', 'arn:aws:iam::1:user/bob').allowed);
    assert.ok(!e.evaluate('iam:CreateAccessKey', 'arn:aws:iam::1:user/alice').allowed);
    const tag = ev(
      doc({
        Effect: 'Allow',
        Action: 's3:GetObject',
        Resource: 'arn:aws:s3:::home/${aws:PrincipalTag/team}/*',
      }),
    );
    assert.ok(tag.evaluate('s3:GetObject', 'arn:aws:s3:::home/any/file').allowed);
    const star = ev(doc({ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/${*}' }));
    assert.ok(star.evaluate('s3:GetObject', 'arn:aws:s3:::b/*').allowed);
    assert.ok(!star.evaluate('s3:GetObject', 'arn:aws:s3:::b/x').allowed);
  });
  void it('a permissions boundary must also allow', () => {
    const e = ev(
      doc({ Effect: 'Allow', Action: '*', Resource: '*' }),
      {},
      doc({ Effect: 'Allow', Action: 's3:*', Resource: '*' }),
    );
    assert.ok(e.evaluate('s3:GetObject', '*').allowed);
    assert.ok(!e.evaluate('iam:AttachUserPolicy', '*').allowed);
    assert.ok(!adminDecision(e).allowed);
  });
  void it('documents: URL-encoded, JSON string or object; malformed parts become warnings', () => {
    const w: PolicyWarning[] = [];
    const enc = encodeURIComponent(
      JSON.stringify(doc({ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' })),
    );
    assert.equal(parseStatements(enc, 's', 'f', w).length, 1);
    assert.equal(
      parseStatements(JSON.stringify(doc({ Effect: 'Allow', Action: 'a:b', Resource: '*' })), 's', 'f', w)
        .length,
      1,
    );
    assert.equal(
      parseStatements({ Statement: { Effect: 'Allow', Action: 'a:b', Resource: '*' } }, 's', 'f', w).length,
      1,
    );
    assert.equal(w.length, 0);
    assert.equal(parseStatements('{"Statement": [', 's', 'f', w).length, 0);
    assert.equal(
      parseStatements(
        doc({ Effect: 'Maybe', Action: 'a:b' }, { Effect: 'Allow', Action: 'a:b', NotAction: 'c:d' }),
        's',
        'f',
        w,
      ).length,
      0,
    );
    assert.deepEqual(
      w.map((x) => x.code),
      ['MALFORMED_DOCUMENT', 'MALFORMED_STATEMENT', 'MALFORMED_STATEMENT'],
    );
  });
});
