import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assumedRole, ct, detect, iamUser, identity, rules, T0 } from '../../../test/detect/helpers.js';

const ci = assumedRole('github-deploy', 'GitHubActions-99', 'ASIACIEXAMPLE0000001');

describe('nhi-privilege-change', () => {
  it('alerts on an access key created for another user (Stratus aws.persistence.iam-backdoor-user)', () => {
    const alerts = detect([
      ct(ci, 'iam', 'CreateAccessKey', {
        time: T0,
        id: 'cak-1',
        params: { userName: 'admin-alice' },
        response: { accessKey: { accessKeyId: 'AKIANEW', status: 'Active', userName: 'admin-alice' } },
      }),
    ]);
    assert.deepEqual(rules(alerts), ['nhi-privilege-change']);
    assert.deepEqual(alerts[0]?.techniques, ['T1098.001']);
    assert.deepEqual(alerts[0]?.event_ids, ['cak-1']);
  });

  it('alerts on AdministratorAccess attached to a new user (Stratus aws.persistence.iam-create-admin-user)', () => {
    const alerts = detect([
      ct(ci, 'iam', 'CreateUser', { time: T0, params: { userName: 'stratus-red-team-user' } }),
      ct(ci, 'iam', 'AttachUserPolicy', {
        time: T0 + 1000,
        params: {
          userName: 'stratus-red-team-user',
          policyArn: 'arn:aws:iam::aws:policy/AdministratorAccess',
        },
      }),
    ]);
    assert.deepEqual(rules(alerts), ['nhi-privilege-change']);
    assert.equal(alerts[0]?.severity, 'critical');
    assert.deepEqual(alerts[0]?.techniques, ['T1098.003']);
  });

  it('alerts on a rewritten trust policy and an inline wildcard policy', () => {
    const alerts = detect([
      ct(ci, 'iam', 'UpdateAssumeRolePolicy', {
        time: T0,
        params: {
          roleName: 'prod-admin',
          policyDocument:
            '{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::193672423079:root"},"Action":"sts:AssumeRole"}]}',
        },
      }),
      ct(ci, 'iam', 'PutRolePolicy', {
        time: T0 + 1000,
        params: {
          roleName: 'ci',
          policyName: 'x',
          policyDocument:
            '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}',
        },
      }),
    ]);
    assert.deepEqual(rules(alerts), ['nhi-privilege-change', 'nhi-privilege-change']);
    assert.deepEqual(
      alerts.map((a) => a.techniques[0]),
      ['T1098.003', 'T1098.003'],
    );
  });

  it('alerts on a Kubernetes cluster-admin binding and a token minted for another SA', () => {
    const alerts = detect([
      {
        kind: 'Event',
        apiVersion: 'audit.k8s.io/v1',
        auditID: 'crb-1',
        stage: 'ResponseComplete',
        verb: 'create',
        user: { username: 'system:serviceaccount:ci:deployer' },
        sourceIPs: ['10.244.0.9'],
        objectRef: {
          resource: 'clusterrolebindings',
          name: 'backdoor',
          apiGroup: 'rbac.authorization.k8s.io',
        },
        requestObject: { roleRef: { kind: 'ClusterRole', name: 'cluster-admin' } },
        responseStatus: { code: 201 },
        stageTimestamp: new Date(T0).toISOString(),
      },
      {
        kind: 'Event',
        apiVersion: 'audit.k8s.io/v1',
        auditID: 'tok-1',
        stage: 'ResponseComplete',
        verb: 'create',
        user: { username: 'system:serviceaccount:ci:deployer' },
        sourceIPs: ['10.244.0.9'],
        objectRef: {
          resource: 'serviceaccounts',
          subresource: 'token',
          namespace: 'kube-system',
          name: 'clusterrole-aggregation-controller',
        },
        responseStatus: { code: 201 },
        stageTimestamp: new Date(T0 + 1000).toISOString(),
      },
    ]);
    assert.deepEqual(rules(alerts), ['nhi-privilege-change', 'nhi-privilege-change']);
    assert.deepEqual(
      alerts.map((a) => a.techniques[0]),
      ['T1098', 'T1528'],
    );
  });

  it('does not alert on a user rotating their own key, non-admin attachments, refusals, or known humans', () => {
    const self = iamUser('svc-reporting', 'AKIAEXAMPLEREPORT001');
    const human = iamUser('alice', 'AKIAEXAMPLEALICE0001');
    const alerts = detect(
      [
        ct(self, 'iam', 'CreateAccessKey', { time: T0, params: { userName: 'svc-reporting' } }),
        ct(self, 'iam', 'CreateAccessKey', { time: T0 + 1 }),
        ct(ci, 'iam', 'AttachRolePolicy', {
          time: T0 + 2,
          params: { roleName: 'app', policyArn: 'arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess' },
        }),
        ct(ci, 'iam', 'CreateAccessKey', {
          time: T0 + 3,
          params: { userName: 'bob' },
          errorCode: 'AccessDenied',
        }),
        ct(human, 'iam', 'CreateAccessKey', { time: T0 + 4, params: { userName: 'bob' } }),
      ],
      {
        inventory: {
          identities: [
            identity({ id: 'alice', kind: 'human', cloudArn: 'arn:aws:iam::111122223333:user/alice' }),
          ],
          credentials: [],
        },
      },
    );
    assert.deepEqual(alerts, []);
  });
});
