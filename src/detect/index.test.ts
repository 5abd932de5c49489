import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { detectOptionsFromEnv } from './index.js';

describe('detect module options from the environment', () => {
  it('reads the learning period and Shared Signals receivers', () => {
    const o = detectOptionsFromEnv({
      BULKHEAD_DETECT_LEARNING_DAYS: '14',
      BULKHEAD_SSF_RECEIVERS: 'https://siem.example/ssf',
      BULKHEAD_SSF_ISSUER: 'https://bulkhead.example',
    });
    assert.equal(o.config?.learningPeriodMs, 14 * 86_400_000);
    assert.deepEqual(o.ssf, {
      receivers: [{ url: 'https://siem.example/ssf' }],
      issuer: 'https://bulkhead.example',
    });
    assert.deepEqual(detectOptionsFromEnv({}), { ssf: { receivers: [] } });
  });

  it('refuses a bad learning period', () => {
    assert.throws(() => detectOptionsFromEnv({ BULKHEAD_DETECT_LEARNING_DAYS: 'soon' }), /LEARNING_DAYS/);
    assert.throws(() => detectOptionsFromEnv({ BULKHEAD_DETECT_LEARNING_DAYS: '-1' }), /LEARNING_DAYS/);
  });

  it('reads the memory and discovery limits and refuses bad ones', () => {
    const o = detectOptionsFromEnv({
      BULKHEAD_DETECT_MAX_IDENTITY_BASELINES: '5000',
      BULKHEAD_DETECT_MAX_CREDENTIAL_BASELINES: '8000',
      BULKHEAD_DETECT_MAX_REMEMBERED_DISCOVERIES: '1000',
      BULKHEAD_DETECT_DISCOVERIES_PER_MINUTE: '0',
    });
    assert.deepEqual(o.limits, {
      maxIdentityBaselines: 5000,
      maxCredentialBaselines: 8000,
      maxRememberedDiscoveries: 1000,
      discoveriesPerMinute: 0,
    });
    assert.throws(
      () => detectOptionsFromEnv({ BULKHEAD_DETECT_MAX_IDENTITY_BASELINES: '0' }),
      /BULKHEAD_DETECT_MAX_IDENTITY_BASELINES must be an integer ≥ 1/,
    );
    assert.throws(
      () => detectOptionsFromEnv({ BULKHEAD_DETECT_DISCOVERIES_PER_MINUTE: 'lots' }),
      /BULKHEAD_DETECT_DISCOVERIES_PER_MINUTE/,
    );
  });
});
