/**
 * Policy slices: which policies each action and principal type gets, that equal slices are shared, that a
 * request with no applicable policy is denied without calling Cedar, that reasons come in the bundle's
 * order, and that Cedar's pre-parsed sets of a version no PDP holds any more are emptied. (That slices decide
 * exactly as the whole set is checked in footprint-equivalence.test.ts.)
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import cedar from '../../src/policy/cedar.js';
import {
  discardUnusedPolicySet,
  evaluateCedar,
  loadPolicySet,
  releasePolicySet,
  retainPolicySet,
  type CedarQuery,
  type LoadedPolicySet,
} from '../../src/policy/engine.js';
import { compileBundle } from '../../src/policy/policy-bundle.js';
import { planSlices, scopeOf, type PolicyScope } from '../../src/policy/slices.js';

const POLICIES = `
@id("eng-reads") permit (principal in Group::"eng", action == Action::"read", resource);
@id("humans-rw") permit (principal is Human, action in [Action::"read", Action::"write"], resource);
@id("bob-deploys") permit (principal == Human::"bob", action == Action::"deploy", resource);
@id("no-agent-writes") forbid (principal is AiAgent, action == Action::"write", resource);
@id("anyone-reads-dev") permit (principal, action == Action::"read", resource) when { resource.environment == "dev" };
`;

function load(policies = POLICIES): LoadedPolicySet {
  const c = compileBundle({ policies, actions: [], requiredContext: {} });
  assert.ok(c.ok, c.ok ? '' : JSON.stringify(c.errors));
  return loadPolicySet(1, c.compiled);
}

const sliceOf = (set: LoadedPolicySet, action: string, type: string) => {
  const s = set.slices.get(action)?.get(type);
  assert.ok(s, `a slice for ${action} by ${type}`);
  return s;
};

function query(type: string, id: string, action: string, environment = 'prod'): CedarQuery {
  return {
    principal: { type, id },
    action,
    resource: { type: 'Resource', id: 'db' },
    context: {},
    entities: [
      { uid: { type, id }, attrs: { id }, parents: [{ type: 'Group', id: 'eng' }] },
      { uid: { type: 'Resource', id: 'db' }, attrs: { environment }, parents: [] },
    ],
  };
}

const denyNoReason = (setId: string) =>
  cedar.statefulIsAuthorized({
    principal: { type: 'Human', id: 'bob' },
    action: { type: 'Action', id: 'read' },
    resource: { type: 'Resource', id: 'db' },
    context: {},
    validateRequest: false,
    preparsedPolicySetId: setId,
    entities: [{ uid: { type: 'Resource', id: 'db' }, attrs: { environment: 'dev' }, parents: [] }],
  });

void describe('policy slices', () => {
  void it('reads action and principal type from the scope, and anything else as "any"', () => {
    const json = (text: string) => {
      const parts = cedar.policySetTextToParts(text);
      assert.equal(parts.type, 'success');
      if (parts.type !== 'success') throw new Error('unreachable');
      const j = cedar.policyToJson(parts.policies[0]!);
      assert.equal(j.type, 'success');
      return j.type === 'success' ? j.json : undefined;
    };
    const scope = (text: string, groups = false) => {
      const s = scopeOf(json(text), groups);
      return { actions: s.actions && [...s.actions], types: s.principalTypes && [...s.principalTypes] };
    };
    assert.deepEqual(scope('permit (principal, action, resource);'), {
      actions: undefined,
      types: undefined,
    });
    assert.deepEqual(scope('permit (principal is AiAgent, action == Action::"x", resource);'), {
      actions: ['x'],
      types: ['AiAgent'],
    });
    assert.deepEqual(
      scope('permit (principal is Human in Group::"g", action in [Action::"a", Action::"b"], resource);'),
      {
        actions: ['a', 'b'],
        types: ['Human'],
      },
    );
    assert.deepEqual(scope('permit (principal == Workload::"w", action in Action::"a", resource);'), {
      actions: ['a'],
      types: ['Workload'],
    });
    // Membership can reach any principal type; with action groups, `in` can reach other actions.
    assert.deepEqual(scope('permit (principal in Group::"g", action in Action::"a", resource);', true), {
      actions: undefined,
      types: undefined,
    });
    assert.deepEqual(scopeOf('not a policy', false), { actions: undefined, principalTypes: undefined });
  });

  void it('gives each action and principal type the policies that can apply, sharing equal lists', () => {
    const set = load();
    const ids = (action: string, type: string) =>
      [...set.compiled.policies.keys()].filter((id) =>
        planSlices(set.compiled.scopes, [action], [type]).lists[0]!.includes(id),
      );
    assert.deepEqual(ids('read', 'Human'), ['eng-reads', 'humans-rw', 'anyone-reads-dev']);
    assert.deepEqual(ids('read', 'AiAgent'), ['eng-reads', 'anyone-reads-dev']);
    assert.deepEqual(ids('write', 'AiAgent'), ['no-agent-writes']);
    assert.deepEqual(ids('deploy', 'Human'), ['bob-deploys']);
    assert.deepEqual(ids('admin', 'Human'), []);
    // Equal lists are one pre-parsed set: read by a Workload and by an AiAgent see the same two policies.
    assert.equal(sliceOf(set, 'read', 'Workload'), sliceOf(set, 'read', 'AiAgent'));
    assert.notEqual(sliceOf(set, 'read', 'Human'), sliceOf(set, 'read', 'AiAgent'));
    assert.equal(sliceOf(set, 'admin', 'Human').empty, true);
    // Checking a version (push) parses the whole set only.
    const checked = loadPolicySet(1, set.compiled, false);
    assert.equal(checked.slices.size, 0);
    assert.deepEqual(checked.cedarIds, [set.fullSetId]);
    // One parsed set per distinct slice and one for the whole set; with no obligation policy, a base set is
    // its full set.
    const distinct = new Set([...set.slices.values()].flatMap((m) => [...m.values()]));
    assert.equal(set.cedarIds.length, 1 + distinct.size);
    for (const d of distinct) assert.equal(d.baseSetId, d.fullSetId);
    const withObligation = load(
      `${POLICIES} @id("step-up") @obligation("step_up") forbid (principal is Human, action == Action::"write", resource) unless { context has auth_age_minutes };`,
    );
    const write = sliceOf(withObligation, 'write', 'Human');
    assert.notEqual(write.baseSetId, write.fullSetId, 'a slice with an obligation policy has a base set');
    assert.equal(
      sliceOf(withObligation, 'read', 'Human').baseSetId,
      sliceOf(withObligation, 'read', 'Human').fullSetId,
    );
  });

  void it('slices more coarsely, then not at all, when slices would hold too many policy copies', () => {
    const types = ['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H'];
    // Ten unscoped policies and ten scoped ones.
    const tenAndTen = (scoped: (i: number) => PolicyScope) => {
      const scopes = new Map<string, PolicyScope>();
      for (let i = 0; i < 10; i++) scopes.set(`any-${i}`, { actions: undefined, principalTypes: undefined });
      for (let i = 0; i < 10; i++) scopes.set(`scoped-${i}`, scoped(i));
      return scopes;
    };
    const byType = tenAndTen((i) => ({ actions: undefined, principalTypes: new Set([types[i % 8]!]) }));
    // By type: eight lists of 11-12 policies (~90 copies) exceed 4 × 20; by action every list is the whole set.
    const coarse = planSlices(byType, ['read', 'write'], types);
    assert.equal(coarse.granularity, 'action');
    assert.deepEqual(
      coarse.lists.map((l) => l.length),
      [20],
    );
    assert.equal(coarse.index.get('write')?.get('C'), 0);
    // Forty actions, ten with a policy of their own: ten lists of 11 (110 copies), by type or not.
    const perAction = tenAndTen((i) => ({ actions: new Set([`a${i}`]), principalTypes: undefined }));
    const actions = Array.from({ length: 40 }, (_, i) => `a${i}`);
    const none = planSlices(perAction, actions, types);
    assert.equal(none.granularity, 'none');
    assert.equal(none.index.size, 0);
    // Five of those actions: five lists of 11 (55 copies) fit the minimum budget (64), sliced by action and type.
    const small = planSlices(perAction, actions.slice(0, 5), types);
    assert.equal(small.granularity, 'action+type');
  });

  void it('decides from the slice: no policy applies → deny without Cedar; reasons in bundle order', () => {
    const set = load();
    const admin = evaluateCedar(set, query('Human', 'bob', 'admin'));
    assert.equal(admin.kind, 'deny');
    assert.deepEqual(
      admin.reasons.map((r) => r.id),
      ['bulkhead.no_permit'],
    );
    const deploy = evaluateCedar(set, query('Human', 'bob', 'deploy'));
    assert.deepEqual(deploy, { kind: 'allow', reasons: [{ id: 'bob-deploys' }] });
    // Three permits determine this one; Cedar reports them in no fixed order, the PDP in the bundle's.
    const read = evaluateCedar(set, query('Human', 'alice', 'read', 'dev'));
    assert.deepEqual(
      read.reasons.map((r) => r.id),
      ['eng-reads', 'humans-rw', 'anyone-reads-dev'],
    );
    const agentWrite = evaluateCedar(set, query('AiAgent', 'a1', 'write'));
    assert.equal(agentWrite.kind, 'deny');
    assert.deepEqual(
      agentWrite.reasons.map((r) => r.id),
      ['no-agent-writes'],
    );
  });

  void it("narrows what Cedar sees to the slice's own footprint when it is less than the set's", () => {
    const set = load(`
      @id("owners-write") permit (principal, action == Action::"write", resource) when { resource.owners.contains(principal.id) };
      @id("dev-reads") permit (principal, action == Action::"read", resource) when { resource.environment == "dev" && context.hour > 0 };
      @id("agents") forbid (principal is AiAgent, action, resource) when { principal.hasTag("team") };`);
    assert.deepEqual([...(set.compiled.footprint.resourceAttrs ?? [])].sort(), ['environment', 'owners']);
    const read = sliceOf(set, 'read', 'Human').footprint;
    assert.ok(read, 'the read slice reads less than the set');
    assert.deepEqual([...(read.resourceAttrs ?? [])], ['environment']);
    assert.deepEqual([...(read.principalAttrs ?? [])], []);
    assert.deepEqual([...(read.contextAttrs ?? [])], ['hour']);
    assert.equal(read.tags, false, 'only the agents slice reads tags');
    assert.equal(sliceOf(set, 'read', 'AiAgent').footprint?.tags, true);
    const q = query('Human', 'alice', 'read', 'dev');
    q.entities[1]!.attrs.owners = ['alice'];
    q.context = { hour: 10, risk_score: 1 };
    assert.deepEqual(evaluateCedar(set, q), { kind: 'allow', reasons: [{ id: 'dev-reads' }] });
    // A set that reads another entity's data is never pruned, so neither are its slices.
    const unpruned = load(
      `${POLICIES} @id("literal") permit (principal, action == Action::"read", resource) when { Resource::"root".environment == "dev" };`,
    );
    assert.equal(sliceOf(unpruned, 'read', 'Human').footprint, undefined);
  });

  void it('empties the Cedar sets of a version once nothing holds it, not before', () => {
    const set = load(
      `${POLICIES} @id("v-release") permit (principal, action == Action::"invoke", resource);`,
    );
    const reasons = () => {
      const r = denyNoReason(set.fullSetId);
      assert.equal(r.type, 'success');
      return r.type === 'success' ? [...r.response.diagnostics.reason].sort() : [];
    };
    assert.deepEqual(reasons(), ['anyone-reads-dev', 'humans-rw'], 'loaded');
    retainPolicySet(set);
    retainPolicySet(set); // a second PDP of the same process on the same content
    discardUnusedPolicySet(set);
    assert.deepEqual(
      reasons(),
      ['anyone-reads-dev', 'humans-rw'],
      'held: a check of the same content keeps it',
    );
    releasePolicySet(set);
    assert.deepEqual(reasons(), ['anyone-reads-dev', 'humans-rw'], 'still held by the other PDP');
    releasePolicySet(set);
    assert.deepEqual(reasons(), [], 'emptied once no PDP holds it');
    const slice = denyNoReason(sliceOf(set, 'read', 'Human').fullSetId);
    assert.ok(slice.type === 'success' && slice.response.diagnostics.reason.length === 0, 'slices too');
  });
});
