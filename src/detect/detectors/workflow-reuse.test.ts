import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { credential, detect, identity, rules, T0 } from '../../../test/detect/helpers.js';

function use(i: number, action: string, data: Record<string, unknown>, credentialId = 'jti-task-1') {
  return {
    id: `use-${i}`,
    time: new Date(T0 + i * 1000).toISOString(),
    type: 'token.used',
    source: 'broker',
    identityId: 'payments-worker',
    credentialId,
    action,
    outcome: 'allow',
    data,
  };
}

describe('workflow-reuse', () => {
  it('alerts when a task token is used outside its declared intent', () => {
    const alerts = detect([
      use(1, 'payments.refund', { intentActions: ['payments.refund'], workflow: 'refunds' }),
      use(2, 'payments.payout', { intentActions: ['payments.refund'], workflow: 'refunds' }),
    ]);
    assert.deepEqual(rules(alerts), ['workflow-reuse']);
    assert.deepEqual(alerts[0]?.techniques, ['T1550.001']);
    assert.deepEqual(alerts[0]?.event_ids, ['use-2']);
  });

  it('does not mistake the broker issuing a task token for a use outside its intent', () => {
    const issued = {
      ...use(1, 'unused', { intentActions: ['read'], workflow: 'nightly' }),
      type: 'token.issued',
    };
    delete (issued as { action?: string }).action;
    assert.deepEqual(
      rules(detect([issued, use(2, 'read', { intentActions: ['read'], workflow: 'nightly' })])),
      [],
    );
  });

  it('alerts when a task token shows up in another workflow', () => {
    const alerts = detect([
      use(1, 'payments.refund', { workflow: 'refunds' }),
      use(2, 'payments.refund', { workflow: 'nightly-reconcile' }),
    ]);
    assert.deepEqual(rules(alerts), ['workflow-reuse']);
  });

  it('alerts when a credential is presented by a workload that is not a recorded consumer', () => {
    const inventory = {
      identities: [identity({ id: 'payments-worker', kind: 'workload' })],
      credentials: [
        credential({
          id: 'cred-db',
          identityId: 'payments-worker',
          fingerprint: 'sha256:dbpass',
          consumers: ['payments-api', 'payments-worker'],
        }),
      ],
    };
    const alerts = detect([use(1, 'db.connect', { presentedBy: 'fraud-model' }, 'sha256:dbpass')], {
      inventory,
    });
    assert.deepEqual(rules(alerts), ['workflow-reuse']);
    assert.match(alerts[0]?.explanation ?? '', /fraud-model/);
  });

  it('stays silent for use within intent, workflow and consumers', () => {
    const inventory = {
      identities: [identity({ id: 'payments-worker', kind: 'workload' })],
      credentials: [
        credential({
          id: 'cred-db',
          identityId: 'payments-worker',
          fingerprint: 'sha256:dbpass',
          consumers: ['payments-api'],
        }),
      ],
    };
    const alerts = detect(
      [
        use(1, 'payments.refund', {
          intentActions: ['payments.refund', 'payments.read'],
          workflow: 'refunds',
        }),
        use(2, 'payments.read', { intentActions: ['payments.refund', 'payments.read'], workflow: 'refunds' }),
        use(3, 'db.connect', { presentedBy: 'payments-api' }, 'sha256:dbpass'),
      ],
      { inventory },
    );
    assert.deepEqual(alerts, []);
  });
});
