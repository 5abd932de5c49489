import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Credential, Identity } from '../inventory/types.js';
import { evaluatePosture, grantCovers, type PostureGraph, type PostureInput } from './rules.js';
import { scoreFindings } from './score.js';
import { toMarkdown, toSarif } from './formats.js';

const NOW = new Date('2026-11-25T00:00:00Z');
const daysAgo = (d: number) => new Date(NOW.getTime() - d * 86_400_000).toISOString();

function identity(id: string, over: Partial<Identity> = {}): Identity {
  return {
    id,
    kind: 'service_account',
    displayName: id,
    spiffeId: null,
    cloudArn: null,
    k8sServiceAccount: null,
    owners: ['team:x'],
    groups: [],
    environment: 'prod',
    source: 'manual',
    labels: {},
    status: 'active',
    createdAt: daysAgo(10),
    updatedAt: daysAgo(10),
    lastSeenAt: daysAgo(1),
    ...over,
  };
}
function credential(id: string, identityId: string, over: Partial<Credential> = {}): Credential {
  return {
    id,
    identityId,
    type: 'token',
    fingerprint: `fp-${id}`,
    status: 'active',
    scopes: [],
    storedIn: ['vault:kv/x'],
    consumers: [identityId],
    source: 'manual',
    labels: {},
    createdAt: daysAgo(10),
    updatedAt: daysAgo(10),
    lastUsedAt: null,
    expiresAt: daysAgo(-10),
    lastRotatedAt: daysAgo(10),
    ...over,
  };
}
const noGraph: PostureGraph = {
  adminPath: () => null,
  reach: () => ({ regulated: 0, confidential: 0, admin: 0, environments: new Set(), prodResources: [] }),
};
function run(over: Partial<PostureInput>) {
  return evaluatePosture({
    now: NOW,
    identities: [],
    credentials: [],
    resources: [],
    rotationDays: 90,
    staleDays: 90,
    usage: null,
    graph: noGraph,
    ...over,
  });
}
const rules = (fs: { rule: string }[]) => fs.map((f) => f.rule).sort();

void describe('posture rules', () => {
  void it('NHI1: ownerless, owner left, stale with live credentials — and not for a healthy NHI', () => {
    const fs = run({
      identities: [
        identity('bob', { kind: 'human', status: 'disabled' }),
        identity('a', { owners: [] }),
        identity('b', { owners: ['bob'] }),
        identity('c', { lastSeenAt: daysAgo(200) }),
        identity('ok'),
      ],
      credentials: [credential('c1', 'c')],
    });
    assert.deepEqual(rules(fs.filter((f) => f.nhi === 'NHI1')), [
      'NHI1-owner-left',
      'NHI1-ownerless',
      'NHI1-stale',
    ]);
    assert.ok(!fs.some((f) => f.identityId === 'ok'));
  });
  void it('NHI2 leaked secret (public location or leak report) is critical; NHI10 laptop storage', () => {
    const fs = run({
      identities: [identity('a'), identity('alice', { kind: 'human' })],
      credentials: [
        credential('c1', 'a', { storedIn: ['github.com/x/y (public)'] }),
        credential('c2', 'a', { labels: { leak: 'gitleaks:aws-access-token' } }),
        credential('c3', 'a', { storedIn: ['laptop:alice/.aws/credentials'] }),
        credential('c4', 'a', { consumers: ['a', 'alice'] }),
      ],
    });
    assert.deepEqual(
      fs.filter((f) => f.nhi === 'NHI2').map((f) => [f.credentialId, f.severity]),
      [
        ['c1', 'critical'],
        ['c2', 'critical'],
      ],
    );
    assert.deepEqual(rules(fs.filter((f) => f.nhi === 'NHI10')), [
      'NHI10-human-consumer',
      'NHI10-secret-on-laptop',
    ]);
    assert.deepEqual(fs.find((f) => f.nhi === 'NHI2')!.attack, ['T1552', 'T1552.001']);
  });
  void it('NHI3 third party with regulated reach; NHI5 admin and escalation; NHI8 non-prod reaching prod', () => {
    const graph: PostureGraph = {
      adminPath: (id) =>
        id === 'adm'
          ? { method: 'direct', target: 'aws' }
          : id === 'esc'
            ? { method: 'iam:CreatePolicyVersion', target: 'aws' }
            : null,
      reach: (id) => ({
        regulated: id === 'vendor' ? 2 : 0,
        confidential: 0,
        admin: 0,
        environments: new Set(),
        prodResources: id === 'devsvc' ? ['payments-db'] : [],
      }),
    };
    const fs = run({
      graph,
      identities: [
        identity('vendor', { kind: 'third_party_integration' }),
        identity('adm'),
        identity('esc'),
        identity('devsvc', { environment: 'dev' }),
        identity('prodsvc'),
      ],
    });
    assert.deepEqual(rules(fs), [
      'NHI3-broad-third-party',
      'NHI5-admin',
      'NHI5-escalation',
      'NHI8-nonprod-reaches-prod',
    ]);
  });
  void it('NHI4 static secret where federation exists; NHI6 pipeline with cloud key; NHI7 old secret without expiry; NHI9 reuse; NHI8 across environments', () => {
    const fs = run({
      identities: [
        identity('w', { spiffeId: 'spiffe://x/w' }),
        identity('ci', { kind: 'ci_pipeline' }),
        identity('other'),
        identity('stg', { environment: 'staging' }),
      ],
      credentials: [
        credential('pw', 'w', { type: 'password' }),
        credential('key', 'ci', { type: 'access_key', expiresAt: null, lastRotatedAt: daysAgo(400) }),
        credential('shared', 'other', { consumers: ['other', 'w', 'stg'] }),
        credential('fresh', 'other', { expiresAt: null, lastRotatedAt: daysAgo(30) }),
      ],
    });
    assert.deepEqual(rules(fs), [
      'NHI4-static-secret-with-federation',
      'NHI6-ci-static-cloud-key',
      'NHI7-long-lived',
      'NHI8-credential-across-environments',
      'NHI9-shared-credential',
    ]);
    assert.equal(fs.find((f) => f.rule === 'NHI7-long-lived')!.severity, 'high');
  });
  void it('NHI6 role trust: Principal "*" and cross-account trust without a condition', () => {
    const fs = run({
      identities: [
        identity('open', { labels: { 'aws.trust-anyone': 'true' } }),
        identity('vendor', { labels: { 'aws.trust-external-unconditioned': '999988887777' } }),
        identity('fine', { labels: { 'aws.third-party-trust': 'true' } }),
      ],
    });
    assert.deepEqual(
      fs.map((f) => [f.rule, f.identityId, f.severity]),
      [
        ['NHI6-trust-anyone', 'open', 'critical'],
        ['NHI6-cross-account-without-external-id', 'vendor', 'medium'],
      ],
    );
  });
  void it('NHI5 granted vs used: suggests the used subset; skipped when no usage was recorded', () => {
    const identities = [identity('etl')];
    const credentials = [
      credential('c', 'etl', { scopes: ['s3:raw-events:read', 'warehouse:write', 'crm:export'] }),
    ];
    assert.equal(run({ identities, credentials }).filter((f) => f.rule === 'NHI5-unused-grants').length, 0);
    const fs = run({
      identities,
      credentials,
      usage: [
        { identityId: 'etl', action: 's3:GetObject', resource: 'raw-events/2026/11' },
        { identityId: 'etl', action: 'warehouse.insert', resource: 'warehouse' },
      ],
    });
    const f = fs.find((x) => x.rule === 'NHI5-unused-grants')!;
    assert.deepEqual(f.evidence.unused, ['crm:export']);
    assert.match(f.remediation, /s3:GetObject on raw-events\/2026\/11/);
    assert.ok(
      grantCovers('db:payments-db:rw', { identityId: 'x', action: 'db.query', resource: 'payments-db' }),
    );
    assert.ok(
      !grantCovers('db:payments-db:rw', { identityId: 'x', action: 'db.query', resource: 'ledger-db' }),
    );
  });
  void it('AI agents carry the OWASP Agentic mapping; scores and SARIF/Markdown renderings', () => {
    const identities = [identity('agent', { kind: 'ai_agent', owners: [] }), identity('clean')];
    const fs = run({ identities });
    assert.deepEqual(fs[0]!.agentic, []);
    const report = scoreFindings(identities, fs, NOW);
    assert.equal(report.identities.find((i) => i.identityId === 'agent')!.score, 80);
    assert.equal(report.identities.find((i) => i.identityId === 'clean')!.score, 100);
    assert.equal(report.org.score, 90);
    const sarif = toSarif(report) as any;
    assert.equal(sarif.version, '2.1.0');
    assert.equal(sarif.runs[0].results[0].ruleId, 'NHI1-ownerless');
    assert.equal(sarif.runs[0].results[0].level, 'error');
    assert.ok(sarif.runs[0].tool.driver.rules[0].properties.tags.includes('NHI1'));
    assert.match(toMarkdown(report), /\| NHI1 Improper Offboarding \| 1 \|/);
  });
});
