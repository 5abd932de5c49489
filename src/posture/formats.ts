/** Report renderings: SARIF 2.1.0 (for code-scanning UIs) and Markdown (for humans and tickets). */
import { VERSION } from '../version.js';
import { NHI_RISKS, type Finding, type NhiId, type PostureReport, type Severity } from './model.js';

const SARIF_LEVEL: Record<Severity, 'error' | 'warning' | 'note'> = {
  critical: 'error',
  high: 'error',
  medium: 'warning',
  low: 'note',
};
const SECURITY_SEVERITY: Record<Severity, string> = {
  critical: '9.5',
  high: '8.0',
  medium: '5.5',
  low: '3.0',
};

export function toSarif(report: PostureReport): Record<string, unknown> {
  const rules = new Map<string, Finding>();
  for (const f of report.findings) if (!rules.has(f.rule)) rules.set(f.rule, f);
  const ruleIds = [...rules.keys()];
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'bulkhead-posture',
            version: VERSION,
            informationUri: 'https://owasp.org/www-project-non-human-identities-top-10/',
            rules: ruleIds.map((id) => {
              const f = rules.get(id)!;
              return {
                id,
                name: id.replace(/[^A-Za-z0-9]/g, ''),
                shortDescription: { text: f.title },
                fullDescription: { text: `${f.nhi} ${NHI_RISKS[f.nhi]}: ${f.title}` },
                help: { text: f.remediation },
                properties: {
                  tags: [
                    'security',
                    f.nhi,
                    ...f.nist.map((n) => `NIST-CSF-${n}`),
                    ...f.attack.map((a) => `ATTACK-${a}`),
                  ],
                  'security-severity': SECURITY_SEVERITY[f.severity],
                },
              };
            }),
          },
        },
        results: report.findings.map((f) => ({
          ruleId: f.rule,
          ruleIndex: ruleIds.indexOf(f.rule),
          level: SARIF_LEVEL[f.severity],
          message: { text: f.message },
          locations: [
            {
              logicalLocations: [
                {
                  name: f.credentialId ?? f.identityId ?? f.resourceId ?? 'org',
                  kind: f.credentialId ? 'credential' : f.identityId ? 'identity' : 'resource',
                  fullyQualifiedName: `${f.identityId ?? ''}${f.credentialId ? `/${f.credentialId}` : ''}`,
                },
              ],
            },
          ],
          partialFingerprints: { bulkheadFindingId: f.id },
          properties: {
            severity: f.severity,
            nhi: f.nhi,
            nist: f.nist,
            attack: f.attack,
            agentic: f.agentic,
            evidence: f.evidence,
          },
        })),
      },
    ],
  };
}

function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export function toMarkdown(report: PostureReport): string {
  const o = report.org;
  const lines = [
    `# NHI posture report`,
    '',
    `Generated ${report.generatedAt}. Organisation score **${o.score}/100** over ${o.identities} active non-human identities; ${o.findings} findings ` +
      `(${o.bySeverity.critical} critical, ${o.bySeverity.high} high, ${o.bySeverity.medium} medium, ${o.bySeverity.low} low).`,
    '',
    '| OWASP NHI Top 10 (2025) | Findings |',
    '|---|---|',
    ...(Object.keys(NHI_RISKS) as NhiId[]).map((k) => `| ${k} ${NHI_RISKS[k]} | ${o.byNhi[k]} |`),
    '',
    '## Lowest-scoring identities',
    '',
    '| Identity | Kind | Score | Findings |',
    '|---|---|---|---|',
    ...report.identities
      .filter((i) => i.findings > 0)
      .slice(0, 20)
      .map((i) => `| ${cell(i.identityId)} | ${i.kind} | ${i.score} | ${i.findings} |`),
  ];
  for (const k of Object.keys(NHI_RISKS) as NhiId[]) {
    const fs = report.findings.filter((f) => f.nhi === k);
    if (fs.length === 0) continue;
    lines.push(
      '',
      `## ${k} ${NHI_RISKS[k]}`,
      '',
      '| Severity | Subject | Finding | NIST CSF 2.0 | ATT&CK | Fix |',
      '|---|---|---|---|---|---|',
    );
    for (const f of fs) {
      lines.push(
        `| ${f.severity} | ${cell(f.credentialId ?? f.identityId ?? '-')} | ${cell(f.message)} | ${f.nist.join(', ')} | ${f.attack.join(', ')} | ${cell(f.remediation)} |`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}
