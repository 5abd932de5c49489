import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Credential, Identity, Resource } from '../inventory/types.js';
import { computeTier, reachFromScopes } from './tiers.js';
import { identityRecord, resourceRecord } from '../../test/helpers/records.js';

const NOW = new Date('2026-01-01T00:00:00Z');

const identity = identityRecord;

function credential(p: Partial<Credential> & Pick<Credential, 'id' | 'identityId'>): Credential {
  return {
    type: 'api_key',
    fingerprint: `sha256:${p.id}`,
    status: 'active',
    scopes: [],
    storedIn: [],
    consumers: [p.identityId],
    source: 'test',
    labels: {},
    createdAt: NOW.toISOString(),
    updatedAt: NOW.toISOString(),
    lastUsedAt: null,
    expiresAt: null,
    lastRotatedAt: null,
    ...p,
  };
}

function resource(id: string, sensitivity: Resource['sensitivity'], type = 'database'): Resource {
  return resourceRecord({ id, sensitivity, type });
}

const resources = new Map(
  [
    resource('payments-db', 'regulated'),
    resource('tickets', 'internal', 'saas_app'),
    resource('status-page', 'public', 'saas_app'),
    resource('crm', 'confidential', 'saas_app'),
  ].map((r) => [r.id, r]),
);

function tierOf(i: Identity, creds: Credential[]) {
  return computeTier({ identity: i, credentials: creds, reach: reachFromScopes(creds, resources), now: NOW });
}

describe('crisis tiers', () => {
  it('break-glass and shared accounts are always T0, even with no credentials', () => {
    const bg = tierOf(identity({ id: 'bg', kind: 'break_glass' }), []);
    assert.equal(bg.tier, 'T0');
    assert.equal(bg.reasons[0]?.code, 'break_glass');
    assert.equal(tierOf(identity({ id: 'sh', kind: 'shared_account' }), []).tier, 'T0');
  });

  it('reaching regulated data is T0 and says through which credential', () => {
    const i = identity({ id: 'api', kind: 'workload' });
    const t = tierOf(i, [credential({ id: 'c1', identityId: 'api', scopes: ['db:payments-db:rw'] })]);
    assert.equal(t.tier, 'T0');
    const r = t.reasons.find((x) => x.code === 'regulated_data');
    assert.ok(r?.message.includes('c1:db:payments-db:rw'));
  });

  it('reach follows resource parents: a database scope reaches its regulated tables', () => {
    const withChild = new Map(resources);
    withChild.set('warehouse', resource('warehouse', 'confidential', 'data_warehouse'));
    withChild.set('warehouse.finance', {
      ...resource('warehouse.finance', 'regulated', 'schema'),
      parentId: 'warehouse',
    });
    const creds = [credential({ id: 'wh', identityId: 'a', scopes: ['warehouse:read'] })];
    const reach = reachFromScopes(creds, withChild);
    assert.deepEqual(
      reach.map((r) => r.resource.id),
      ['warehouse', 'warehouse.finance'],
    );
    const t = computeTier({
      identity: identity({ id: 'a', kind: 'ai_agent' }),
      credentials: creds,
      reach,
      now: NOW,
    });
    assert.equal(t.tier, 'T0');
    assert.match(t.reasons[0]?.message ?? '', /warehouse\.finance .*via warehouse/);
  });

  it('pipeline / release rights and admin groups are T0', () => {
    const ci = identity({ id: 'ci', kind: 'ci_pipeline' });
    assert.equal(
      tierOf(ci, [credential({ id: 'c', identityId: 'ci', scopes: ['npm:publish'] })]).reasons[0]?.code,
      'pipeline_release',
    );
    const admin = identity({ id: 'adm', kind: 'service_account', groups: ['infra-admins'] });
    assert.equal(tierOf(admin, []).reasons[0]?.code, 'access_control');
    const wildcard = identity({ id: 'w', kind: 'service_account' });
    assert.equal(tierOf(wildcard, [credential({ id: 'k', identityId: 'w', scopes: ['aws:*'] })]).tier, 'T0');
  });

  it('a third-party integration with sensitive reach is T1', () => {
    const i = identity({ id: 'saas', kind: 'third_party_integration' });
    const t = tierOf(i, [credential({ id: 'o', identityId: 'saas', scopes: ['crm:read'] })]);
    assert.equal(t.tier, 'T1');
    assert.equal(t.reasons[0]?.code, 'third_party_reach');
  });

  it('a short-TTL token shared across workflows is T1', () => {
    const i = identity({ id: 'bot', kind: 'service_account' });
    const c = credential({
      id: 't',
      identityId: 'bot',
      type: 'token',
      scopes: ['tickets:read'],
      consumers: ['bot', 'other-workflow'],
      expiresAt: new Date(NOW.getTime() + 3_600_000).toISOString(),
    });
    assert.equal(tierOf(i, [c]).reasons[0]?.code, 'reusable_token');
  });

  it('write to a non-critical system is T2; read-only is T3', () => {
    const i = identity({ id: 'svc', kind: 'service_account' });
    assert.equal(
      tierOf(i, [credential({ id: 'w', identityId: 'svc', scopes: ['tickets:write'] })]).tier,
      'T2',
    );
    const ro = tierOf(i, [credential({ id: 'r', identityId: 'svc', scopes: ['status-page:read'] })]);
    assert.equal(ro.tier, 'T3');
    assert.match(ro.reasons[0]?.message ?? '', /long-lived/);
  });

  it('revoked credentials do not count', () => {
    const i = identity({ id: 'svc', kind: 'service_account' });
    const t = tierOf(i, [
      credential({ id: 'x', identityId: 'svc', status: 'revoked', scopes: ['db:payments-db:rw'] }),
    ]);
    assert.equal(t.tier, 'T3');
  });

  it('graph facts: an escalation path to admin makes a read-only identity T0 with the path as the reason', () => {
    const i = identity({ id: 'svc', kind: 'service_account' });
    const creds = [credential({ id: 'r', identityId: 'svc', scopes: ['status-page:read'] })];
    const base = { identity: i, credentials: creds, reach: reachFromScopes(creds, resources), now: NOW };
    assert.equal(computeTier(base).tier, 'T3');
    assert.equal(computeTier({ ...base, graph: { escalations: [], admin: [] } }).tier, 'T3');
    const t = computeTier({
      ...base,
      graph: {
        escalations: [
          {
            method: 'iam:CreatePolicyVersion',
            target: 'admin:aws:1',
            path: 'svc -[iam:CreatePolicyVersion]-> p',
          },
        ],
        admin: [],
      },
    });
    assert.equal(t.tier, 'T0');
    assert.equal(t.reasons[0]?.code, 'privilege_escalation');
    assert.match(t.reasons[0]?.message ?? '', /svc -\[iam:CreatePolicyVersion\]-> p/);
  });

  it('policy note: the active policy set permitting writes to regulated data is a T0 reason', () => {
    const i = identity({ id: 'svc', kind: 'service_account' });
    const base = { identity: i, credentials: [], reach: [], now: NOW };
    assert.equal(computeTier({ ...base, policyRegulatedWrites: [] }).tier, 'T3');
    const t = computeTier({ ...base, policyRegulatedWrites: [{ resource: 'payments-db', action: 'write' }] });
    assert.equal(t.tier, 'T0');
    assert.equal(t.reasons[0]?.code, 'policy_regulated_write');
  });
});
