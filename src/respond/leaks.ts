/**
 * Leaked-secret intake: gitleaks (`--report-format json`: an array of findings) and trufflehog v3 (`--json`:
 * one finding per line, or an array). The secret in a finding is hashed at once and dropped; only its
 * SHA-256 (and an AWS access key id, which is an identifier, not a secret) is used to find the inventory
 * credential. Nothing here stores or returns the secret.
 */
import { createHash } from 'node:crypto';
import { respondError } from './errors.js';

export const LEAK_FORMATS = ['auto', 'gitleaks', 'trufflehog'] as const;
export type LeakFormat = (typeof LEAK_FORMATS)[number];

export interface LeakFinding {
  /** 0-based position in the report. */
  index: number;
  scanner: 'gitleaks' | 'trufflehog';
  rule: string;
  /** Where it was found (file, commit, URL), for the timeline. */
  location: string;
  /** When the secret was committed / seen (time of the first malicious exposure), if the report says. */
  exposedAt: string | null;
  verified: boolean | null;
  /** Values to look up as inventory fingerprints, most specific first. */
  fingerprints: string[];
  /** First 12 hex characters of the secret's SHA-256: enough to correlate, useless to an attacker. */
  secretHashPrefix: string;
}

const AWS_KEY_ID = /\b((?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16})\b/;
const MAX_FINDINGS = 10_000;

function candidates(secret: string, extra: string[] = []): { fingerprints: string[]; prefix: string } {
  const hex = createHash('sha256').update(secret, 'utf8').digest('hex');
  const keyIds = [secret, ...extra].map((s) => AWS_KEY_ID.exec(s)?.[1]).filter((s): s is string => !!s);
  return {
    // Inventories store `sha256:<hex>`, sometimes truncated (32 or 16 hex characters).
    fingerprints: [
      ...new Set([`sha256:${hex}`, `sha256:${hex.slice(0, 32)}`, `sha256:${hex.slice(0, 16)}`, ...keyIds]),
    ],
    prefix: hex.slice(0, 12),
  };
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

function isoOrNull(v: unknown): string | null {
  const s = str(v);
  if (!s) return null;
  const t = Date.parse(s);
  return Number.isNaN(t) ? null : new Date(t).toISOString();
}

function bad(message: string, field: string): never {
  throw respondError('RESPOND_LEAK_REPORT_INVALID', message, { field });
}

/** Reads a gitleaks JSON report. */
function gitleaksFinding(f: Record<string, unknown>, index: number, field: string): LeakFinding {
  const secret = str(f.Secret) ?? str(f.Match);
  if (!secret) bad(`finding ${index} has no Secret`, `${field}[${index}].Secret`);
  const c = candidates(secret, [str(f.Match) ?? '']);
  const file = str(f.File) ?? '?';
  const line = typeof f.StartLine === 'number' ? `:${f.StartLine}` : '';
  const commit = str(f.Commit);
  return {
    index,
    scanner: 'gitleaks',
    rule: str(f.RuleID) ?? 'unknown',
    location: `${file}${line}${commit ? ` @ ${commit.slice(0, 12)}` : ''}`,
    exposedAt: isoOrNull(f.Date),
    verified: null,
    fingerprints: c.fingerprints,
    secretHashPrefix: c.prefix,
  };
}

/** Reads one trufflehog v3 finding. */
function trufflehogFinding(f: Record<string, unknown>, index: number, field: string): LeakFinding {
  const raw = str(f.Raw);
  if (!raw) bad(`finding ${index} has no Raw`, `${field}[${index}].Raw`);
  const c = candidates(raw, [str(f.Redacted) ?? '']);
  const meta =
    (f.SourceMetadata as { Data?: Record<string, Record<string, unknown>> } | undefined)?.Data ?? {};
  const source = Object.values(meta)[0] ?? {};
  const location =
    [str(source.file), str(source.link), str(source.commit)?.slice(0, 12)].filter(Boolean).join(' @ ') ||
    str(f.SourceName) ||
    '?';
  return {
    index,
    scanner: 'trufflehog',
    rule:
      str(f.DetectorName) ??
      (typeof f.DetectorType === 'number' || typeof f.DetectorType === 'string'
        ? String(f.DetectorType)
        : 'unknown'),
    location,
    exposedAt: isoOrNull(source.timestamp),
    verified: typeof f.Verified === 'boolean' ? f.Verified : null,
    fingerprints: c.fingerprints,
    secretHashPrefix: c.prefix,
  };
}

/**
 * Parses a report (already JSON-decoded, or NDJSON text for trufflehog).
 * @example parseLeakReport(JSON.parse(readFileSync('gitleaks.json', 'utf8')), 'auto')
 */
export function parseLeakReport(input: unknown, format: LeakFormat, field = 'body'): LeakFinding[] {
  let items: unknown[];
  if (typeof input === 'string') {
    items = [];
    input.split('\n').forEach((line, n) => {
      if (line.trim() === '') return;
      try {
        items.push(JSON.parse(line));
      } catch {
        bad(`line ${n + 1} is not JSON`, `${field}[${n}]`);
      }
    });
  } else if (Array.isArray(input)) items = input;
  else if (input !== null && typeof input === 'object') items = [input];
  else bad('a leak report is a JSON array of findings (gitleaks) or JSON lines (trufflehog)', field);
  if (items.length > MAX_FINDINGS) bad(`more than ${MAX_FINDINGS} findings`, field);
  return items.map((item, i) => {
    if (item === null || typeof item !== 'object' || Array.isArray(item))
      bad(`finding ${i} is not an object`, `${field}[${i}]`);
    const f = item as Record<string, unknown>;
    const kind =
      format === 'auto'
        ? 'RuleID' in f || 'Secret' in f
          ? 'gitleaks'
          : 'Raw' in f || 'DetectorName' in f
            ? 'trufflehog'
            : undefined
        : format;
    if (kind === 'gitleaks') return gitleaksFinding(f, i, field);
    if (kind === 'trufflehog') return trufflehogFinding(f, i, field);
    return bad(`finding ${i} is neither a gitleaks nor a trufflehog finding`, `${field}[${i}]`);
  });
}
