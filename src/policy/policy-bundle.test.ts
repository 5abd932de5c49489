import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileBundle } from './policy-bundle.js';

const bundle = (
  policies: string,
  actions: string[] = [],
  requiredContext: Record<string, string[]> = {},
) => ({
  policies,
  actions,
  requiredContext,
});

void describe('compileBundle', () => {
  void it('names policies by @id, falls back to policyN, and collects obligations', () => {
    const r = compileBundle(
      bundle(
        'permit (principal, action == Action::"read", resource);\n' +
          '@id("mfa") @obligation("step_up") @max_auth_age_minutes("10") @acr("phr")\n' +
          'forbid (principal is Human, action, resource) unless { context has auth_age_minutes && context.auth_age_minutes <= 10 };',
      ),
    );
    assert.ok(r.ok);
    assert.deepEqual([...r.compiled.policies.keys()], ['policy0', 'mfa']);
    assert.deepEqual(r.compiled.obligations.get('mfa'), {
      type: 'step_up',
      maxAuthAgeMinutes: 10,
      acr: 'phr',
    });
  });

  void it('reports schema errors with the policy id and line/column', () => {
    const r = compileBundle(
      bundle('@id("a")\npermit (principal, action, resource)\nwhen { principal.shoe_size > 3 };'),
    );
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.equal(r.errors[0]?.policyId, 'a');
    assert.equal(r.errors[0]?.line, 3);
    assert.match(r.errors[0]?.message ?? '', /shoe_size/);
  });

  void it('refuses unknown obligations, obligations on permits, duplicate ids, bad actions and context names', () => {
    const bad = [
      bundle('@obligation("dance") forbid (principal, action, resource);'),
      bundle('@obligation("step_up") permit (principal, action, resource);'),
      bundle(
        '@id("x") permit (principal, action, resource);\n@id("x") forbid (principal, action, resource);',
      ),
      bundle('permit (principal, action, resource);', ['bad action']),
      bundle('permit (principal, action, resource);', [], { read: ['shoe_size'] }),
      bundle('permit (principal, action == Action::"undeclared", resource);'),
      bundle('permit (principal == ?principal, action, resource);'),
    ];
    for (const b of bad) assert.equal(compileBundle(b).ok, false, b.policies);
  });

  void it('requires has-guards for optional context and tags (fail closed by construction)', () => {
    assert.equal(
      compileBundle(bundle('permit (principal, action, resource) when { context.risk_score < 5 };')).ok,
      false,
    );
    assert.equal(
      compileBundle(bundle('permit (principal, action, resource) when { resource.getTag("x") == "y" };')).ok,
      false,
    );
  });
});
