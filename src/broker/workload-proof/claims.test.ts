import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { claimAt, globMatches, mapClaims, type MappingRule } from './claims.js';

void describe('claim mapping rules', () => {
  void it('reads dotted paths, including keys that contain dots', () => {
    const c = { 'kubernetes.io': { namespace: 'payments', serviceaccount: { name: 'api' } }, a: { b: 'x' } };
    assert.equal(claimAt(c, 'kubernetes.io.namespace'), 'payments');
    assert.equal(claimAt(c, 'kubernetes.io.serviceaccount.name'), 'api');
    assert.equal(claimAt(c, 'a.b'), 'x');
    assert.equal(claimAt(c, 'a.c'), undefined);
  });

  void it('globs match whole values only, and regex characters are literal', () => {
    assert.ok(globMatches('spiffe://prod.example/ns/*/sa/api', 'spiffe://prod.example/ns/payments/sa/api'));
    assert.ok(!globMatches('spiffe://prod.example/ns/*/sa/api', 'spiffe://prod.example/ns/payments/sa/api2'));
    assert.ok(!globMatches('a.b', 'axb'));
  });

  void it('first rule whose every claim matches wins; a non-string claim never matches', () => {
    const rules: MappingRule[] = [
      { match: { repository: 'acme/pay', ref: 'refs/heads/main' }, identity: 'deploy' },
      { match: { repository: 'acme/*' }, identity: 'ci-any' },
    ];
    assert.equal(mapClaims(rules, { repository: 'acme/pay', ref: 'refs/heads/main' }), 'deploy');
    assert.equal(mapClaims(rules, { repository: 'acme/pay', ref: 'refs/heads/dev' }), 'ci-any');
    assert.equal(mapClaims(rules, { repository: ['acme/pay'] }), undefined);
    assert.equal(mapClaims(rules, {}), undefined);
  });
});
