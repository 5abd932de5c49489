import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  credential,
  ct,
  DAY,
  detect,
  iamUser,
  identity,
  nightlyEtl,
  rules,
  T0,
} from '../../../test/detect/helpers.js';

const old = iamUser('old-billing', 'AKIAEXAMPLEOLDBILL01');

describe('dormant-credential', () => {
  it('alerts when a key unused for 200 days (per the inventory) is used again', () => {
    const inventory = {
      identities: [
        identity({
          id: 'old-billing',
          kind: 'service_account',
          cloudArn: 'arn:aws:iam::111122223333:user/old-billing',
        }),
      ],
      credentials: [
        credential({
          id: 'cred-old',
          identityId: 'old-billing',
          fingerprint: 'AKIAEXAMPLEOLDBILL01',
          lastUsedAt: new Date(T0 - 200 * DAY).toISOString(),
        }),
      ],
    };
    const alerts = detect([ct(old, 'sts', 'GetCallerIdentity', { time: T0, id: 'wake-1' })], { inventory });
    assert.deepEqual(rules(alerts), ['dormant-credential']);
    assert.deepEqual(alerts[0]?.techniques, ['T1078.004']);
    assert.match(alerts[0]?.explanation ?? '', /200 days/);
  });

  it('alerts when the baseline last saw the key more than 90 days ago', () => {
    const history = [ct(old, 's3', 'ListBuckets', { time: T0 - 120 * DAY })];
    const alerts = detect([ct(old, 's3', 'ListBuckets', { time: T0 })], { history });
    assert.deepEqual(rules(alerts), ['dormant-credential']);
  });

  it('stays silent for credentials in regular use (nightly ETL over a month)', () => {
    const history = Array.from({ length: 30 }, (_, d) => nightlyEtl(T0 + d * DAY)).flat();
    assert.deepEqual(detect(nightlyEtl(T0 + 30 * DAY), { history }), []);
  });
});
