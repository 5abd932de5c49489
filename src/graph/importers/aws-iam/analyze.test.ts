import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { computeBlastRadius } from '../../queries/blast-radius.js';
import { findEscalations, type Escalation } from '../../queries/escalations.js';
import { graphFromPlan } from '../preview.js';
import { buildAwsIamPlan } from './analyze.js';

const fixture = JSON.parse(
  readFileSync(new URL('../../../../test/fixtures/aws-iam/escalation-account.json', import.meta.url), 'utf8'),
);

const graphOf = graphFromPlan;

const plan = buildAwsIamPlan(fixture);
const escalations = findEscalations(graphOf(plan));
const methodsOf = (name: string) => escalations.filter((e) => e.principal === name).map((e) => e.method);

const POSITIVE: [string, string][] = [
  ['cpv-user', 'iam:CreatePolicyVersion'],
  ['sdpv-user', 'iam:SetDefaultPolicyVersion'],
  ['attach-user', 'iam:AttachUserPolicy'],
  ['putuser-user', 'iam:PutUserPolicy'],
  ['group-attach-user', 'iam:AttachGroupPolicy'],
  ['group-put-user', 'iam:PutGroupPolicy'],
  ['addtogroup-user', 'iam:AddUserToGroup'],
  ['accesskey-user', 'iam:CreateAccessKey'],
  ['loginprofile-user', 'iam:CreateLoginProfile'],
  ['updatelogin-user', 'iam:UpdateLoginProfile'],
  ['updatearp-user', 'iam:UpdateAssumeRolePolicy'],
  ['attachrole-user', 'iam:AttachRolePolicy'],
  ['SelfPutRole', 'iam:PutRolePolicy'],
  ['passrole-lambda-user', 'iam:PassRole+lambda:CreateFunction'],
  ['passrole-ec2-user', 'iam:PassRole+ec2:RunInstances'],
  ['passrole-cfn-user', 'iam:PassRole+cloudformation:CreateStack'],
  ['passrole-glue-user', 'iam:PassRole+glue:CreateDevEndpoint'],
  ['passrole-dp-user', 'iam:PassRole+datapipeline:CreatePipeline'],
  ['assume-user', 'sts:AssumeRole'],
  ['chain-user', 'sts:AssumeRole'],
];

const NEGATIVE: [string, string][] = [
  ['cpv-neg-user', 'CreatePolicyVersion limited to a policy not attached to it'],
  ['sdpv-neg-user', 'no policy version grants more'],
  ['attach-neg-user', 'explicit Deny'],
  ['accesskey-neg-user', 'CreateAccessKey only on itself (${aws:username})'],
  ['addtogroup-neg-user', 'can only join a read-only group'],
  ['passrole-lambda-neg-user', 'cannot invoke the function'],
  ['passrole-ec2-neg-user', 'role has no instance profile'],
  ['passrole-deny-user', 'Deny on iam:PassRole for the admin role'],
  ['assume-neg-user', 'trust names the account but its own policy has no sts:AssumeRole'],
  ['boundary-user', 'permissions boundary allows only s3'],
  ['notaction-user', 'NotAction excludes iam:* and sts:*'],
  ['putuser-neg-user', 'PutUserPolicy only on another user'],
  ['group-attach-neg-user', 'AttachGroupPolicy on a group it is not in'],
  ['group-put-neg-user', 'explicit Deny on PutGroupPolicy beats its group grant'],
  ['attachrole-neg-user', 'AttachRolePolicy on a role it cannot assume'],
  ['SelfPutNegRole', 'PutRolePolicy only on another role'],
  ['loginprofile-neg-user', 'CreateLoginProfile only on itself'],
  ['updatelogin-neg-user', 'explicit Deny on UpdateLoginProfile'],
  ['updatearp-neg-user', 'UpdateAssumeRolePolicy on a role without admin'],
  ['passrole-cfn-neg-user', 'no cloudformation:CreateStack'],
  ['passrole-glue-neg-user', 'the passable role does not trust glue'],
  ['passrole-dp-neg-user', 'no datapipeline:PutPipelineDefinition'],
  ['chain-neg-user', 'the role it can assume leads nowhere'],
];

void describe('aws-iam import: privilege escalation methods', () => {
  for (const [principal, method] of POSITIVE) {
    void it(`${principal} escalates with ${method}`, () => {
      assert.ok(
        methodsOf(principal).includes(method),
        `${principal}: got ${JSON.stringify(methodsOf(principal))}`,
      );
      const e = escalations.find((x) => x.principal === principal && x.method === method)!;
      assert.match(e.principal_id, /^arn:aws:iam::111122223333:(user|role)\//);
      assert.ok(e.path.length >= 1);
      assert.ok(e.path.every((s) => s.from && s.to && s.via));
      // The path reads principal → … → target.
      assert.equal(e.path[0]!.from, principal);
      assert.equal(e.path.at(-1)!.to, e.target);
    });
  }
  for (const [principal, why] of NEGATIVE) {
    void it(`${principal} cannot escalate (${why})`, () => {
      assert.deepEqual(methodsOf(principal), []);
    });
  }

  void it('direct admins are admin-equivalent, not escalations, and are listed with includeDirect', () => {
    assert.deepEqual(methodsOf('admin-user'), []);
    const all = findEscalations(graphOf(plan), { includeDirect: true });
    assert.ok(all.some((e: Escalation) => e.principal === 'admin-user' && e.method === 'admin-permission'));
    assert.equal(
      plan.identities.find((i) => i.labels['aws.name'] === 'admin-user')!.labels['bulkhead.admin'],
      'true',
    );
  });

  void it('the method is the principal’s own step: key theft is reported once, as iam:CreateAccessKey', () => {
    assert.deepEqual(methodsOf('accesskey-user'), ['iam:CreateAccessKey']);
    const e = escalations.find((x) => x.principal === 'accesskey-user')!;
    assert.equal(e.target, 'admin-user');
    assert.equal(e.path.length, 1);
  });

  void it('an assume-role chain shows every hop', () => {
    const e = escalations.find((x) => x.principal === 'chain-user')!;
    assert.deepEqual(
      e.path.map((s) => [s.from, s.to]),
      [
        ['chain-user', 'HopRole'],
        ['HopRole', 'AdminRole'],
      ],
    );
    assert.deepEqual(
      e.path.map((s) => s.to_id),
      ['arn:aws:iam::111122223333:role/HopRole', 'arn:aws:iam::111122223333:role/AdminRole'],
    );
  });

  void it('joining a non-admin group is not an escalation but shows in the blast radius', () => {
    const g = graphOf(plan);
    const r = computeBlastRadius(g, g.find('identity:aws-111122223333-user-addtogroup-neg-user')!);
    const payroll = r.bySensitivity.confidential.find((i) => i.name === 'arn:aws:s3:::acme-payroll')!;
    assert.deepEqual(
      payroll.path.map((s) => s.method ?? s.kind),
      ['iam:AddUserToGroup', 'has_permission'],
    );
  });

  void it('a conditional Allow is flagged, not dropped', () => {
    const e = escalations.find((x) => x.principal === 'updatelogin-user')!;
    assert.equal(e.conditional, true);
    assert.ok(plan.warnings.some((w) => w.code === 'CONDITION_NOT_EVALUATED'));
  });

  void it('third-party trust becomes an external principal that can assume the role', () => {
    const ext = plan.nodes.find((n) => n.key === 'external:aws-account:999988887777');
    assert.ok(ext);
    const vendor = plan.identities.find((i) => i.labels['aws.name'] === 'VendorRole')!;
    assert.equal(vendor.labels['aws.third-party-trust'], 'true');
  });

  void it('maps principals, kinds, groups and access keys into inventory drafts', () => {
    const admin = plan.identities.find((i) => i.labels['aws.name'] === 'admin-user')!;
    assert.equal(admin.kind, 'human');
    assert.equal(admin.cloudArn, 'arn:aws:iam::111122223333:user/admin-user');
    assert.deepEqual(admin.groups, ['aws:111122223333:admins']);
    assert.equal(plan.identities.find((i) => i.labels['aws.name'] === 'LambdaAdminRole')!.kind, 'workload');
    assert.deepEqual(
      plan.credentials.map((c) => [c.fingerprint, c.status]),
      [
        ['AKIAEXAMPLEKEY000001', 'active'],
        ['AKIAEXAMPLEKEY000002', 'expired'],
      ],
    );
    assert.ok(plan.resources.some((r) => r.labels['aws.arn'] === 'arn:aws:s3:::acme-payroll'));
  });
});

void describe('aws-iam import: trust policy details', () => {
  const A = '111122223333';
  const doc = (...Statement: unknown[]) => ({ Version: '2012-10-17', Statement });
  const role = (name: string, trust: unknown, extra: Record<string, unknown> = {}) => ({
    RoleName: name,
    Arn: `arn:aws:iam::${A}:role/${name}`,
    AssumeRolePolicyDocument: trust,
    ...extra,
  });
  const admin = {
    AttachedManagedPolicies: [
      { PolicyName: 'AdministratorAccess', PolicyArn: 'arn:aws:iam::aws:policy/AdministratorAccess' },
    ],
  };

  void it('a trust naming a role session trusts that role; an identity-policy Deny still blocks an explicit trust', () => {
    const p = buildAwsIamPlan({
      UserDetailList: [
        {
          UserName: 'denied',
          Arn: `arn:aws:iam::${A}:user/denied`,
          UserPolicyList: [
            {
              PolicyName: 'd',
              PolicyDocument: doc({ Effect: 'Deny', Action: 'sts:AssumeRole', Resource: '*' }),
            },
          ],
        },
      ],
      RoleDetailList: [
        role(
          'Worker',
          doc({ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }),
        ),
        role(
          'Target',
          doc({
            Effect: 'Allow',
            Principal: {
              AWS: [`arn:aws:sts::${A}:assumed-role/Worker/i-0abc`, `arn:aws:iam::${A}:user/denied`],
            },
            Action: 'sts:AssumeRole',
          }),
          admin,
        ),
        role(
          'Federated',
          doc({
            Effect: 'Allow',
            Principal: { Federated: `arn:aws:iam::${A}:oidc-provider/token.actions.githubusercontent.com` },
            Action: 'sts:AssumeRoleWithWebIdentity',
            Condition: { StringLike: { 'token.actions.githubusercontent.com:sub': 'repo:acme/*' } },
          }),
          admin,
        ),
      ],
    });
    const esc = findEscalations(graphFromPlan(p));
    assert.deepEqual(
      esc.filter((e) => e.principal !== 'GitHub').map((e) => [e.principal, e.method, e.target]),
      [['Worker', 'sts:AssumeRole', 'Target']],
    );
    const fed = p.nodes.find((n) => n.key.startsWith('external:federated:'))!;
    assert.match(fed.key, /oidc-provider\/token\.actions\.githubusercontent\.com$/);
    const edge = [...p.edges.values()].flat().find((e) => e.from === fed.key)!;
    assert.equal(edge.method, 'sts:AssumeRoleWithWebIdentity');
    assert.equal(edge.conditional, true);
  });
});
