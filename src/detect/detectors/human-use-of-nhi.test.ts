import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  assumedRole,
  ciDeploy,
  ct,
  DAY,
  detect,
  identity,
  k8s,
  rules,
  T0,
} from '../../../test/detect/helpers.js';

describe('human-use-of-nhi', () => {
  it('alerts on a browser user agent on a workload role session', () => {
    const role = assumedRole('etl-warehouse', 'i-0abc', 'ASIAEXAMPLEETL00001');
    const alerts = detect([
      ct(role, 's3', 'ListBuckets', {
        time: T0,
        id: 'ui-1',
        userAgent:
          'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36',
      }),
    ]);
    assert.deepEqual(rules(alerts), ['human-use-of-nhi']);
    assert.deepEqual(alerts[0]?.techniques, ['T1078.004']);
  });

  it('alerts on a console login by an inventory service account', () => {
    const inventory = {
      identities: [
        identity({
          id: 'svc-reporting',
          kind: 'service_account',
          cloudArn: 'arn:aws:iam::111122223333:user/svc-reporting',
        }),
      ],
      credentials: [],
    };
    const alerts = detect(
      [
        ct(
          {
            userIdentity: {
              type: 'IAMUser',
              principalId: 'AIDA',
              arn: 'arn:aws:iam::111122223333:user/svc-reporting',
              accountId: '111122223333',
              userName: 'svc-reporting',
            },
          },
          'signin',
          'ConsoleLogin',
          {
            time: T0,
            userAgent: 'Mozilla/5.0',
            response: { ConsoleLogin: 'Success' },
            eventType: 'AwsConsoleSignIn',
          },
        ),
      ],
      { inventory },
    );
    assert.deepEqual(rules(alerts), ['human-use-of-nhi']);
  });

  it('alerts on kubectl with a service-account token that never used kubectl', () => {
    const sa = 'system:serviceaccount:payments:api';
    const history = Array.from({ length: 8 }, (_, d) =>
      k8s(sa, {
        time: T0 + d * DAY,
        verb: 'get',
        resource: 'configmaps',
        namespace: 'payments',
        userAgent: 'payments-api/1.4 (linux/amd64)',
      }),
    );
    const alerts = detect(
      [
        k8s(sa, {
          time: T0 + 9 * DAY,
          verb: 'get',
          resource: 'pods',
          namespace: 'payments',
          userAgent: 'kubectl/v1.30.1 (darwin/arm64) kubernetes/7b5d2f0',
          ip: '10.244.1.30',
        }),
      ],
      { history },
    );
    assert.deepEqual(rules(alerts), ['human-use-of-nhi']);
  });

  it('stays silent for SDK and CLI use in CI, and for humans in the console', () => {
    const sso = assumedRole('AWSReservedSSO_Admin_0123456789abcdef', 'alice@acme.example');
    assert.deepEqual(
      detect([
        ...ciDeploy(T0),
        ct(sso, 's3', 'ListBuckets', { time: T0 + 1, userAgent: 'Mozilla/5.0 Chrome/120.0' }),
      ]),
      [],
    );
  });
});
