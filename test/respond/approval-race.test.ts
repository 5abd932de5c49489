import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Notifier } from '../../src/respond/handles.js';
import { eventually, startRespondServer, type RespondServer } from './helpers.js';

/** A webhook receiver held open until the test lets it answer, so a run can be caught mid-step. */
class HeldNotifier implements Notifier {
  entered!: Promise<void>;
  private enter!: () => void;
  private answer: (() => void) | undefined;
  constructor() {
    this.entered = new Promise((r) => (this.enter = r));
  }
  send() {
    this.enter();
    return new Promise<{ delivered: number; failed: number }>((resolve) => {
      this.answer = () => resolve({ delivered: 1, failed: 0 });
    });
  }
  release() {
    this.answer?.();
  }
}

describe('approving a step while its run is executing', () => {
  let s: RespondServer;
  const notifier = new HeldNotifier();
  before(async () => {
    s = await startRespondServer({ notifier });
  });
  after(async () => s.server.stop());

  it('the approved step runs: the run is not completed while a step is pending', async () => {
    const yaml = `apiVersion: bulkhead/v1
kind: Playbook
id: revoke-then-page
mode: enforce
match:
  rules: [approve-race]
steps:
  - id: revoke
    action: revoke_credential
    approval: required
  - id: page
    action: notify
    with: { channel: page }
`;
    assert.equal((await s.server.call('POST', '/v1/playbooks', { body: { yaml } })).status, 201);
    const cred = await s.server.call('POST', '/v1/credentials', {
      body: { id: 'cred-race', identityId: 'payments-api', type: 'api_key', fingerprint: 'fp-race' },
    });
    assert.equal(cred.status, 201);
    const handed = s.server.call('POST', '/v1/incidents', {
      body: {
        id: 'alert-race',
        rule_id: 'approve-race',
        severity: 'high',
        identity_id: 'payments-api',
        credential: 'cred-race',
      },
    });
    await notifier.entered; // the run is inside the page step; revoke waits for approval
    const list = await s.server.call('GET', '/v1/incidents?identity_id=payments-api');
    const incidentId = (list.body.items as { id: string }[])[0]!.id;
    const approved = s.server.call('POST', `/v1/incidents/${incidentId}/steps/revoke/approve`);
    // The approval has committed (its own pass is queued behind the running one) before the page answers.
    await eventually(async () => {
      const i = await s.server.call('GET', `/v1/incidents/${incidentId}`);
      const revoke = (i.body.runs[0].steps as { stepId: string; status: string }[]).find(
        (x) => x.stepId === 'revoke',
      );
      return revoke?.status === 'pending' ? true : undefined;
    });
    notifier.release();
    assert.equal((await approved).status, 200);
    assert.equal((await handed).status, 200);
    await s.respond.service().idle();

    const detail = await s.server.call('GET', `/v1/incidents/${incidentId}`);
    const run = detail.body.runs[0];
    const byId = Object.fromEntries(
      (run.steps as { stepId: string; status: string }[]).map((x) => [x.stepId, x.status]),
    );
    assert.deepEqual(byId, { revoke: 'done', page: 'done' });
    assert.equal(run.state, 'completed');
    assert.equal((await s.server.call('GET', '/v1/credentials/cred-race')).body.status, 'revoked');
  });
});
