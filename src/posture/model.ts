/**
 * Posture findings, each mapped to the OWASP Non-Human Identities Top 10 (2025) and, where they apply, NIST CSF
 * 2.0 subcategories, MITRE ATT&CK techniques and the OWASP Top 10 for Agentic Applications.
 */
export const NHI_RISKS = {
  NHI1: 'Improper Offboarding',
  NHI2: 'Secret Leakage',
  NHI3: 'Vulnerable Third-Party NHI',
  NHI4: 'Insecure Authentication',
  NHI5: 'Overprivileged NHI',
  NHI6: 'Insecure Cloud Deployment Configurations',
  NHI7: 'Long-Lived Secrets',
  NHI8: 'Environment Isolation',
  NHI9: 'NHI Reuse',
  NHI10: 'Human Use of NHI',
} as const;
export type NhiId = keyof typeof NHI_RISKS;

export const SEVERITIES = ['critical', 'high', 'medium', 'low'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** Points taken off a 100-point identity score per finding. */
export const SEVERITY_WEIGHT: Record<Severity, number> = { critical: 40, high: 20, medium: 10, low: 3 };

export interface Finding {
  /** Stable across runs: `<rule>:<subject>`, so a trend can follow one finding. */
  id: string;
  rule: string;
  nhi: NhiId;
  title: string;
  severity: Severity;
  identityId: string | null;
  credentialId: string | null;
  resourceId: string | null;
  message: string;
  remediation: string;
  evidence: Record<string, unknown>;
  nist: string[];
  attack: string[];
  /** OWASP Top 10 for Agentic Applications (2026) ids, for AI agents. */
  agentic: string[];
}

export interface IdentityScore {
  identityId: string;
  kind: string;
  score: number;
  findings: number;
  worst: Severity | null;
}

export interface PostureReport {
  generatedAt: string;
  org: {
    score: number;
    identities: number;
    findings: number;
    bySeverity: Record<Severity, number>;
    byNhi: Record<NhiId, number>;
  };
  identities: IdentityScore[];
  findings: Finding[];
}
