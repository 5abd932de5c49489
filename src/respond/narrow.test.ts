import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Credential } from '../inventory/types.js';
import { runAction, type ActionDeps } from './actions.js';
import { describeNarrowing, planNarrowing, sameScopes } from './narrow.js';
import type { StepRecord } from './store.js';

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

void describe('narrow_permissions after a crash', () => {
  void it('applies the plan saved in the journal without asking for usage again, and writes nothing twice', async () => {
    const cred = credential('a', ['crm:read', 'tickets:write']);
    const updates: string[][] = [];
    let usageAsked = 0;
    const deps = {
      inventory: {
        findCredential: (id: string) => Promise.resolve(id === 'a' ? cred : undefined),
        updateCredential: (_id: string, patch: { scopes?: string[] }) => {
          updates.push(patch.scopes!);
          cred.scopes = patch.scopes!;
          return Promise.resolve(cred);
        },
      },
      usage: {
        usageOf: () => {
          usageAsked++;
          return Promise.resolve({
            observed: true,
            granted: [],
            used: [],
            unused: ['crm:read', 'tickets:write'],
          });
        },
      },
      rotations: { start: () => Promise.reject(new Error('unused')) },
    } as unknown as ActionDeps;
    const saved = {
      narrowing: {
        changes: [
          {
            credentialId: 'a',
            before: ['crm:read', 'tickets:write'],
            after: ['crm:read'],
            removed: ['tickets:write'],
          },
        ],
        unusedCredentials: [],
        policyGrantsUnused: [],
      },
    };
    const step = {
      runId: 'run-1',
      idx: 1,
      stepId: 'narrow',
      action: 'narrow_permissions',
      params: {},
      result: { intent: saved },
    } as unknown as StepRecord;
    const input = {
      facts: {
        alertId: 'x',
        ruleId: 'r',
        severity: 'high',
        identityId: 'svc',
        credentialId: null,
        tier: 'T0' as const,
        leaked: false,
      },
      step,
      incident: { id: 'inc-1' } as never,
      done: [],
      missed: [],
      meta: { actor: 'test' },
      saveIntent: () => Promise.reject(new Error('must not plan again')),
    };
    const first = await runAction(deps, input);
    assert.equal(first.outcome, 'done');
    const second = await runAction(deps, input);
    assert.equal(second.outcome, 'done');
    assert.equal(usageAsked, 0);
    assert.deepEqual(updates, [['crm:read']], 'the second run finds the scopes already narrowed');
  });
});
