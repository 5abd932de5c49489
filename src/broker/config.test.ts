import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BrokerConfigError, parseBrokerConfig } from './config.js';

void describe('broker config', () => {
  void it('defaults: 5 minute tokens, overlap ≥ TTL, no trust bundles', () => {
    const c = parseBrokerConfig({});
    assert.equal(c.token_ttl_seconds, 300);
    assert.ok(c.key_overlap_seconds >= c.token_ttl_seconds);
    assert.deepEqual(c.trust_bundles, []);
  });

  void it('rejects a TTL over 5 minutes, an overlap shorter than the TTL, unknown keys, ambiguous bundles', () => {
    assert.throws(() => parseBrokerConfig({ token_ttl_seconds: 301 }), BrokerConfigError);
    assert.throws(
      () => parseBrokerConfig({ token_ttl_seconds: 300, key_overlap_seconds: 100 }),
      /key_overlap/,
    );
    assert.throws(() => parseBrokerConfig({ tokn_ttl: 1 }), BrokerConfigError);
    const bundle = { name: 'b', kind: 'spiffe', trust_domain: 'x', audience: 'a' };
    assert.throws(() => parseBrokerConfig({ trust_bundles: [bundle] }), /exactly one of/);
    assert.throws(
      () =>
        parseBrokerConfig({
          trust_bundles: [{ ...bundle, kind: 'ci_oidc', trust_domain: undefined, jwks_file: 'f' }],
        }),
      /issuer/,
    );
    const ok = parseBrokerConfig({ trust_bundles: [{ ...bundle, jwks_file: 'b.json' }] }, '/etc/bulkhead');
    assert.equal(ok.trust_bundles[0]?.jwks_file, '/etc/bulkhead/b.json');
  });
});
