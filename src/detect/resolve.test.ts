import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  assumedRole,
  credential,
  ct,
  iamUser,
  identity,
  k8s,
  normalize,
  T0,
} from '../../test/detect/helpers.js';
import { ActorResolver, actorKey, discoveredIdentityFor } from './resolve.js';

const resolver = new ActorResolver({
  identities: [
    identity({
      id: 'etl-warehouse',
      kind: 'workload',
      cloudArn: 'arn:aws:iam::111122223333:role/etl-warehouse',
    }),
    identity({ id: 'reporting', kind: 'service_account' }),
    identity({ id: 'eso', kind: 'service_account', k8sServiceAccount: 'external-secrets/sync' }),
  ],
  credentials: [
    credential({
      id: 'cred-rep',
      identityId: 'reporting',
      fingerprint: 'AKIAIOSFODNN7EXAMPLE',
      consumers: ['billing-job'],
    }),
  ],
});

describe('ActorResolver', () => {
  it('maps an access key id to its identity through the credential fingerprint', () => {
    const [e] = normalize([
      ct(iamUser('svc-reporting', 'AKIAIOSFODNN7EXAMPLE'), 'iam', 'ListUsers', { time: T0 }),
    ]);
    assert.equal(resolver.resolve(e!), true);
    assert.equal(e!.actor.identityId, 'reporting');
    assert.equal(e!.actor.kind, 'service_account');
    assert.equal(e!.credential?.credentialId, 'cred-rep');
    assert.deepEqual(e!.credential?.consumers, ['billing-job']);
    assert.equal(actorKey(e!), 'reporting');
  });

  it('maps an assumed-role session to the role identity by the issuing role ARN', () => {
    const [e] = normalize([ct(assumedRole('etl-warehouse', 'ecs-task'), 's3', 'GetObject', { time: T0 })]);
    assert.equal(resolver.resolve(e!), true);
    assert.equal(e!.actor.identityId, 'etl-warehouse');
  });

  it('maps a Kubernetes service account username to namespace/name', () => {
    const [e] = normalize([
      k8s('system:serviceaccount:external-secrets:sync', { time: T0, verb: 'list', resource: 'pods' }),
    ]);
    assert.equal(resolver.resolve(e!), true);
    assert.equal(e!.actor.identityId, 'eso');
  });

  it('flags unknown actors as unmanaged and proposes a discovered identity', () => {
    const [e] = normalize([
      ct(assumedRole('shadow-role', 'x', 'ASIAUNKNOWN000000001'), 's3', 'ListBuckets', { time: T0 }),
    ]);
    assert.equal(resolver.resolve(e!), false);
    assert.equal(e!.actor.unmanaged, true);
    const d = discoveredIdentityFor(e!);
    assert.match(d.id, /^discovered-[0-9a-f]{12}$/);
    assert.equal(d.kind, 'workload');
    assert.equal(d.cloudArn, 'arn:aws:iam::111122223333:role/shadow-role');
    const [sa] = normalize([
      k8s('system:serviceaccount:tools:runner', { time: T0, verb: 'list', resource: 'pods' }),
    ]);
    assert.equal(discoveredIdentityFor(sa!).k8sServiceAccount, 'tools/runner');
  });
});
