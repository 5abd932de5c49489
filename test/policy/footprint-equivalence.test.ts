/**
 * Pruning the entity slice to the policies' footprint, and evaluating only the policy slice for the
 * request's action and principal type, must never change a decision. For a range of policy sets (scopes,
 * ancestry, attributes, tags, request properties, whole-context use, entity literals, IP ranges,
 * obligations), every request in a cross product of principals, resources, actions, contexts and properties
 * is decided four ways, and all four must agree on the decision, the determining policies, the obligations
 * and whether Cedar reported an error:
 * - pruned: what the PDP passes (footprint of the set) to the policy slice it picks;
 * - pruned, whole set: the same entities against every policy;
 * - full: every attribute and tag (`FULL_FOOTPRINT`), ancestors as separate entities, every policy;
 * - legacy: the slice as it was before footprints: full, plus an entity per group and both request
 *   property entities even when empty; every policy.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EntityJson } from '@cedar-policy/cedar-wasm/nodejs';
import type { Identity, Resource } from '../../src/inventory/types.js';
import { identityRecord, resourceRecord } from '../helpers/records.js';
import { ACTION_PROPERTIES_TYPE, SUBJECT_PROPERTIES_TYPE } from '../../src/policy/cedar-schema.js';
import {
  evaluateCedar,
  loadPolicySet,
  type CedarOutcome,
  type LoadedPolicySet,
} from '../../src/policy/engine.js';
import { EntityIndex, type InventoryReader, type ResourceRef } from '../../src/policy/entity-index.js';
import { FULL_FOOTPRINT, prunedContext, type PolicyFootprint } from '../../src/policy/footprint.js';
import { compileBundle } from '../../src/policy/policy-bundle.js';
import { buildCedarContext } from '../../src/policy/request-context.js';

const identity = (id: string, over: Partial<Identity> = {}) => identityRecord({ id, kind: 'human', ...over });
const resource = (id: string, over: Partial<Resource> = {}) => resourceRecord({ id, ...over });

const IDENTITIES = [
  identity('alice', { groups: ['eng', 'oncall'], labels: { team: 'payments' }, environment: 'dev' }),
  identity('bob', { groups: ['staff'], labels: { team: 'search' } }),
  identity('agent', { kind: 'ai_agent', groups: ['eng'] }),
  identity('wl', { kind: 'workload', spiffeId: 'spiffe://example.org/wl', labels: { team: 'payments' } }),
];

const RESOURCES = [
  resource('root', { sensitivity: 'public' }),
  resource('db', { parentId: 'root', owners: ['alice'], labels: { team: 'payments' } }),
  resource('table', { parentId: 'db', sensitivity: 'regulated', environment: 'dev' }),
  resource('orphan', { parentId: 'gone', labels: { team: 'search' } }),
];

const REFS: ResourceRef[] = [
  ...RESOURCES.map((r) => ({ id: r.id })),
  { id: 'db', properties: { team: 'search', owner: 'x' } },
  { id: 'ext', type: 'api', properties: { environment: 'dev', sensitivity: 'public' } },
];

const POLICY_SETS: Record<string, string> = {
  'group scope': 'permit (principal in Group::"eng", action == Action::"read", resource);',
  ancestry: 'permit (principal, action, resource in Resource::"root");',
  'attributes and forbid': `
    permit (principal, action == Action::"write", resource) when { resource.owners.contains(principal.id) };
    forbid (principal is AiAgent, action, resource) when { resource.sensitivity == "regulated" };
    permit (principal, action == Action::"read", resource) when { principal.environment == resource.environment };`,
  tags: `permit (principal, action, resource) when {
      principal.hasTag("team") && resource.hasTag("team") && principal.getTag("team") == resource.getTag("team") };`,
  'request properties': `
    permit (principal, action, resource) when {
      context.subject_properties.hasTag("role") && context.subject_properties.getTag("role") == "admin" };
    permit (principal, action == Action::"read", resource) when {
      context.action_properties.hasTag("method") && context.action_properties.getTag("method") == "GET" };`,
  'context and has': `
    permit (principal, action, resource);
    forbid (principal, action, resource) when { context has risk_score && context.risk_score > 50 };
    forbid (principal is Workload, action, resource) unless { principal has spiffe_id };
    forbid (principal, action == Action::"deploy", resource) unless { context has task_id };`,
  'ip range and time': `permit (principal, action, resource) when {
      context has source_ip && context.source_ip.isInRange(ip("10.0.0.0/8")) && context.hour >= 0 };`,
  'not inventoried': `permit (principal, action, resource) when { !resource.inventoried && resource.environment == "dev" };`,
  'whole context':
    'permit (principal, action, resource) when { context == context && context has risk_score };',
  'entity literal': 'permit (principal, action, resource) when { Resource::"root".sensitivity == "public" };',
  'scopes by action and principal type': `
    permit (principal is Human in Group::"eng", action in [Action::"read", Action::"write"], resource);
    permit (principal == Workload::"wl", action == Action::"deploy", resource);
    forbid (principal is AiAgent, action == Action::"write", resource);
    permit (principal in Group::"eng", action in Action::"read", resource) when { resource.sensitivity != "regulated" };
    permit (principal is AiAgent, action, resource is Resource) when { context has task_id };`,
  'obligations in slices': `
    permit (principal, action in [Action::"read", Action::"write"], resource);
    @obligation("step_up") @max_auth_age_minutes("5")
    forbid (principal is Human, action == Action::"write", resource) unless { context has auth_age_minutes };
    @obligation("justification_required")
    forbid (principal, action == Action::"read", resource) when { resource.sensitivity == "regulated" };
    forbid (principal is AiAgent, action == Action::"write", resource);`,
  'error in a forbid':
    'permit (principal, action, resource); forbid (principal, action, resource) when { context has risk_score && context.risk_score * 4611686018427387904 > 0 };',
};

const CONTEXTS: Record<string, unknown>[] = [
  {},
  { risk_score: 70, task_id: 't-1' },
  { risk_score: 2, source_ip: '10.1.2.3' },
  { source_ip: '192.168.0.1', environment: 'dev' },
];

const PROPERTIES: { subject?: Record<string, unknown>; action?: Record<string, unknown> }[] = [
  {},
  { subject: { role: 'admin' } },
  { subject: { role: 'viewer' }, action: { method: 'GET' } },
];

function inventory(): InventoryReader {
  const page = <T>(items: T[]) => Promise.resolve({ items, next_cursor: null });
  return {
    findIdentity: (id) => Promise.resolve(IDENTITIES.find((i) => i.id === id)),
    findResource: (id) => Promise.resolve(RESOURCES.find((r) => r.id === id)),
    listIdentities: () => page(IDENTITIES),
    listResources: () => page(RESOURCES),
    onChange: () => () => undefined,
  };
}

/** The entities before footprints existed: group entities, and both property entities even when empty. */
function legacyEntities(
  index: EntityIndex,
  who: Identity,
  slice: { entities: EntityJson[] },
  props: (typeof PROPERTIES)[number],
): EntityJson[] {
  const tagsOf = (p: Record<string, unknown> | undefined) =>
    Object.fromEntries(Object.entries(p ?? {}).map(([k, v]) => [k, String(v)]));
  return [
    index.principalEntity(who, FULL_FOOTPRINT),
    ...who.groups.map((g) => ({ uid: { type: 'Group', id: g }, attrs: {}, parents: [] })),
    ...slice.entities,
    {
      uid: { type: SUBJECT_PROPERTIES_TYPE, id: 'request' },
      attrs: {},
      parents: [],
      tags: tagsOf(props.subject),
    },
    {
      uid: { type: ACTION_PROPERTIES_TYPE, id: 'request' },
      attrs: {},
      parents: [],
      tags: tagsOf(props.action),
    },
  ];
}

const summary = (o: CedarOutcome) => ({
  kind: o.kind,
  reasons: o.reasons.map((r) => r.id).sort(),
  obligations: o.kind === 'deny' ? o.obligations.map((ob) => `${ob.type}:${ob.policy}`).sort() : [],
});

void describe('policy footprint: pruned entity slices decide exactly as full ones', async () => {
  const index = new EntityIndex(inventory());
  await index.load();
  const now = new Date('2026-03-04T12:00:00Z');

  for (const [name, text] of Object.entries(POLICY_SETS)) {
    void it(name, () => {
      const compiled = compileBundle({ policies: text, actions: [], requiredContext: {} });
      assert.ok(compiled.ok, `${name}: ${compiled.ok ? '' : JSON.stringify(compiled.errors)}`);
      const set = loadPolicySet(1, compiled.compiled);
      // No slices: evaluateCedar falls back to the whole set.
      const whole: LoadedPolicySet = { ...set, slices: new Map() };
      const fp = compiled.compiled.footprint;
      let compared = 0;
      let allows = 0;
      for (const who of IDENTITIES) {
        for (const ref of REFS) {
          for (const action of ['read', 'write', 'deploy']) {
            for (const raw of CONTEXTS) {
              for (const props of PROPERTIES) {
                const ctx = buildCedarContext(raw, now, false);
                assert.ok(ctx.ok);
                const decideWith = (f: PolicyFootprint, legacy = false, policies = whole) => {
                  const slice = index.resourceSlice(ref, f);
                  return summary(
                    evaluateCedar(policies, {
                      principal: EntityIndex.principalUid(who),
                      action,
                      resource: slice.uid,
                      context: prunedContext(ctx.context, f),
                      entities: legacy
                        ? legacyEntities(index, who, slice, props)
                        : index.requestEntities(who, slice, props.subject, props.action, f),
                    }),
                  );
                };
                const pruned = decideWith(fp, false, set);
                const where = `${name}: ${who.id} ${action} ${JSON.stringify(ref)} ${JSON.stringify(raw)} ${JSON.stringify(props)}`;
                assert.deepEqual(pruned, decideWith(fp), where);
                assert.deepEqual(pruned, decideWith(FULL_FOOTPRINT), where);
                assert.deepEqual(pruned, decideWith(FULL_FOOTPRINT, true), where);
                compared++;
                if (pruned.kind === 'allow') allows++;
              }
            }
          }
        }
      }
      assert.equal(compared, IDENTITIES.length * REFS.length * 3 * CONTEXTS.length * PROPERTIES.length);
      // Each set must both allow and deny somewhere, or the comparison proves little.
      assert.ok(allows > 0 && allows < compared, `${name}: ${allows} of ${compared} allowed`);
    });
  }

  void it('prunes the sets that allow it (the comparison above is not between equal inputs)', () => {
    const compiled = compileBundle({
      policies: POLICY_SETS['attributes and forbid']!,
      actions: [],
      requiredContext: {},
    });
    assert.ok(compiled.ok);
    const fp = compiled.compiled.footprint;
    assert.notEqual(fp, FULL_FOOTPRINT);
    const alice = IDENTITIES[0]!;
    assert.deepEqual(Object.keys(index.principalEntity(alice, fp).attrs).sort(), ['environment', 'id']);
    assert.deepEqual(Object.keys(index.resourceSlice({ id: 'db' }, fp).entities[0]!.attrs).sort(), [
      'environment',
      'owners',
      'sensitivity',
    ]);
    const table = index.resourceSlice({ id: 'table' }, fp);
    assert.equal(table.entities.length, 1, 'ancestors are parents, not entities');
    assert.deepEqual(table.entities[0]?.parents, [
      { type: 'Resource', id: 'db' },
      { type: 'Resource', id: 'root' },
    ]);
    assert.equal(index.resourceSlice({ id: 'table' }, FULL_FOOTPRINT).entities.length, 3);
  });
});
