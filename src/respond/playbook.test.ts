import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isBulkheadError } from '../errors.js';
import { DEFAULT_PLAYBOOKS } from './default-playbooks.js';
import { planRun, type RunFacts } from './plan.js';
import { parsePlaybook, playbookMatches } from './playbook.js';

function problems(yaml: string): {
  code: string;
  problems: { path: string; line: number | null; message: string }[];
} {
  try {
    parsePlaybook(yaml);
  } catch (err) {
    assert.ok(isBulkheadError(err));
    return { code: err.code, problems: (err.extra?.problems ?? []) as never };
  }
  assert.fail('expected the playbook to be refused');
}

const GOOD = `apiVersion: bulkhead/v1
kind: Playbook
id: test
match:
  rules: [credential-replay]
steps:
  - action: quarantine_identity
  - action: revoke_credential
  - action: verify_contained
`;

const facts = (p: Partial<RunFacts>): RunFacts => ({
  alertId: 'a1',
  ruleId: 'credential-replay',
  severity: 'high',
  identityId: 'svc',
  credentialId: 'cred',
  tier: 'T0',
  leaked: false,
  ...p,
});

describe('playbook parsing', () => {
  it('accepts the built-in playbooks', () => {
    for (const yaml of Object.values(DEFAULT_PLAYBOOKS))
      assert.equal(parsePlaybook(yaml).playbook.mode, 'enforce');
  });

  it('defaults a new playbook to dry-run and numbers unnamed steps', () => {
    const p = parsePlaybook(GOOD).playbook;
    assert.equal(p.mode, 'dry_run');
    assert.deepEqual(
      p.steps.map((s) => s.id),
      ['1-quarantine-identity', '2-revoke-credential', '3-verify-contained'],
    );
  });

  it('names the line of an unknown action', () => {
    const r = problems(GOOD.replace('revoke_credential', 'revoke_everything'));
    assert.equal(r.code, 'BULKHEAD_RESPOND_PLAYBOOK_INVALID');
    assert.equal(r.problems[0]?.path, 'steps[1].action');
    assert.equal(r.problems[0]?.line, 8);
  });

  it('names the line of a YAML syntax error', () => {
    const r = problems('apiVersion: bulkhead/v1\nkind: [Playbook\n');
    assert.equal(r.code, 'BULKHEAD_RESPOND_PLAYBOOK_INVALID');
    assert.ok((r.problems[0]?.line ?? 0) >= 2);
  });

  it('refuses an alias bomb or an unresolved alias as invalid YAML of body.yaml', () => {
    const bomb =
      'a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: [*b,*b,*b,*b,*b,*b,*b,*b,*b]';
    assert.throws(
      () => parsePlaybook(bomb),
      (err) => {
        assert.ok(isBulkheadError(err));
        assert.equal(err.code, 'BULKHEAD_RESPOND_PLAYBOOK_INVALID');
        assert.equal(err.field, 'body.yaml');
        assert.match(String((err.extra?.problems as { message: string }[])[0]?.message), /alias count/);
        return true;
      },
    );
    assert.match(problems('a: *missing\n').problems[0]?.message ?? '', /Unresolved alias/);
  });

  it('refuses unknown keys, missing steps, duplicate step ids and non-objects', () => {
    assert.equal(problems(GOOD.replace('kind: Playbook', 'kind: Playbook\nfoo: 1')).problems[0]?.line, 1);
    assert.ok(problems(GOOD.replace(/steps:[\s\S]*/, 'steps: []\n')).problems[0]?.path.startsWith('steps'));
    const dup = problems(
      GOOD.replace(
        '  - action: revoke_credential',
        '  - id: a\n    action: revoke_credential\n  - id: a\n    action: notify',
      ),
    );
    assert.equal(dup.problems[0]?.path, 'steps[2].id');
    assert.equal(problems('just a string').code, 'BULKHEAD_RESPOND_PLAYBOOK_INVALID');
    assert.equal(problems('').code, 'BULKHEAD_RESPOND_PLAYBOOK_INVALID');
  });

  it('matches on rule, minimum severity and tier', () => {
    const p = parsePlaybook(
      GOOD.replace(
        'rules: [credential-replay]',
        'rules: [credential-replay]\n  min_severity: high\n  tiers: [T0, T1]',
      ),
    ).playbook;
    assert.equal(playbookMatches(p, { ruleId: 'credential-replay', severity: 'critical', tier: 'T0' }), true);
    assert.equal(playbookMatches(p, { ruleId: 'credential-replay', severity: 'medium', tier: 'T0' }), false);
    assert.equal(playbookMatches(p, { ruleId: 'credential-replay', severity: 'high', tier: 'T2' }), false);
    assert.equal(playbookMatches(p, { ruleId: 'other', severity: 'high', tier: 'T0' }), false);
  });
});

describe('run planning', () => {
  const p = parsePlaybook(GOOD).playbook;
  const noDeps = { credentialConsumers: [], identityDependents: [] };
  const consumers = {
    credentialConsumers: [{ identityId: 'worker', credentialId: 'cred' }],
    identityDependents: [],
  };

  it('contains a T0 automatically', () => {
    const plan = planRun(p, facts({}), noDeps);
    assert.deepEqual(
      plan.map((s) => s.disposition),
      ['run', 'run', 'run'],
    );
  });

  it('makes T2/T3 containment wait for approval by default', () => {
    const plan = planRun(p, facts({ tier: 'T3' }), noDeps);
    assert.deepEqual(
      plan.map((s) => s.disposition),
      ['approval', 'approval', 'run'],
    );
  });

  it('stages a revocation that would break another workload, naming it', () => {
    const plan = planRun(p, facts({}), consumers);
    assert.equal(plan[1]?.disposition, 'approval');
    assert.match(plan[1]?.reason ?? '', /staged: would break worker/);
    assert.deepEqual(plan[1]?.breaks, [{ identityId: 'worker', credentialId: 'cred' }]);
  });

  it('revokes a leaked credential at once and lists what breaks', () => {
    const plan = planRun(p, facts({ leaked: true }), consumers);
    assert.equal(plan[1]?.disposition, 'run');
    assert.match(plan[1]?.reason ?? '', /will break worker/);
  });

  it('skips a step without a target', () => {
    const plan = planRun(p, facts({ credentialId: null }), noDeps);
    assert.equal(plan[1]?.disposition, 'skip');
  });
});
