import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Credential } from '../inventory/types.js';
import { describeNarrowing, planNarrowing, sameScopes } from './narrow.js';

function credential(id: string, scopes: string[], status: Credential['status'] = 'active'): Credential {
  return {
    id,
    identityId: 'svc',
    type: 'api_key',
    fingerprint: `sha256:${id}`,
    status,
    scopes,
    storedIn: [],
    consumers: ['svc'],
    source: 'test',
    labels: {},
    createdAt: '2026-01-01T00:00:00Z',
    updatedAt: '2026-01-01T00:00:00Z',
    lastUsedAt: null,
    expiresAt: null,
    lastRotatedAt: null,
  };
}

void describe('planNarrowing', () => {
  void it('keeps used scopes, leaves wholly unused and revoked credentials alone, lists policy grants', () => {
    const plan = planNarrowing(
      [
        credential('a', ['crm:read', 'tickets:write']),
        credential('b', ['status-page:read']),
        credential('c', ['tickets:write'], 'revoked'),
      ],
      {
        granted: [],
        used: ['read on crm'],
        unused: ['tickets:write', 'status-page:read', 's3:ListBucket on arn:aws:s3:::x'],
      },
    );
    assert.deepEqual(plan.changes, [
      {
        credentialId: 'a',
        before: ['crm:read', 'tickets:write'],
        after: ['crm:read'],
        removed: ['tickets:write'],
      },
    ]);
    assert.deepEqual(plan.unusedCredentials, ['b']);
    assert.deepEqual(plan.policyGrantsUnused, ['s3:ListBucket on arn:aws:s3:::x']);
    assert.match(describeNarrowing(plan), /^a: -tickets:write \(keeps crm:read\)/);
  });

  void it('everything used: no change', () => {
    const plan = planNarrowing([credential('a', ['crm:read'])], { granted: [], used: [], unused: [] });
    assert.deepEqual(plan.changes, []);
    assert.ok(sameScopes(['x', 'y'], ['y', 'x']));
    assert.ok(!sameScopes(['x'], ['x', 'y']));
  });
});
