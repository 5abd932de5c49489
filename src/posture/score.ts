/**
 * Scores: an identity starts at 100 and loses points per finding by severity (floor 0); the organisation's
 * score is the mean over its active non-human identities, so one terrible NHI cannot hide behind a hundred
 * clean ones (it shows in `identities`), and fixing any finding raises the number.
 */
import type { Identity } from '../inventory/types.js';
import {
  NHI_RISKS,
  SEVERITIES,
  SEVERITY_WEIGHT,
  type Finding,
  type IdentityScore,
  type NhiId,
  type PostureReport,
  type Severity,
} from './model.js';

export function scoreFindings(
  identities: readonly Identity[],
  findings: readonly Finding[],
  now: Date,
): PostureReport {
  const perIdentity = new Map<string, Finding[]>();
  for (const f of findings) {
    if (!f.identityId) continue;
    let l = perIdentity.get(f.identityId);
    if (!l) perIdentity.set(f.identityId, (l = []));
    l.push(f);
  }
  const scored: IdentityScore[] = identities
    .filter((i) => i.kind !== 'human' && i.status === 'active')
    .map((i) => {
      const fs = perIdentity.get(i.id) ?? [];
      const loss = fs.reduce((sum, f) => sum + SEVERITY_WEIGHT[f.severity], 0);
      const worst = SEVERITIES.find((s) => fs.some((f) => f.severity === s)) ?? null;
      return { identityId: i.id, kind: i.kind, score: Math.max(0, 100 - loss), findings: fs.length, worst };
    })
    .sort((a, b) => a.score - b.score || a.identityId.localeCompare(b.identityId));
  const bySeverity = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
  const byNhi = Object.fromEntries(Object.keys(NHI_RISKS).map((k) => [k, 0])) as Record<NhiId, number>;
  for (const f of findings) {
    bySeverity[f.severity]++;
    byNhi[f.nhi]++;
  }
  const org =
    scored.length === 0
      ? 100
      : Math.round((scored.reduce((s, i) => s + i.score, 0) / scored.length) * 10) / 10;
  return {
    generatedAt: now.toISOString(),
    org: { score: org, identities: scored.length, findings: findings.length, bySeverity, byNhi },
    identities: scored,
    findings: [...findings],
  };
}
