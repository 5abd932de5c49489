/**
 * Secret-scanner reports (gitleaks JSON report, trufflehog JSON lines) matched against inventory credentials.
 * Bulkhead never stores a secret, so matching is by what the inventory keeps: an AWS access key id equal to
 * the credential's fingerprint, or `sha256:<hex>` of the leaked value. A matched credential gets the labels
 * `leak` (tool:rule) and `leak.location` (file/repository and line, never the secret) in one audited
 * transaction; posture reports it as NHI2. Nothing is revoked here — containment is the respond module's job.
 */
import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { AuditLog } from '../../audit/audit-log.js';
import type { InventoryChange } from '../../inventory/service.js';
import * as inv from '../../inventory/store.js';
import type { Credential } from '../../inventory/types.js';
import type { Database } from '../../store/database.js';
import { graphError } from '../errors.js';
import type { ImportMeta } from './apply.js';

export interface LeakFinding {
  tool: 'gitleaks' | 'trufflehog';
  rule: string;
  location: string;
  /** Candidate secret values: used for matching in memory only, never stored or returned. */
  values: string[];
}

export interface LeakReport {
  source: 'leaks';
  findings: number;
  matched: { credentialId: string; identityId: string; rule: string; location: string }[];
  unmatched: { rule: string; location: string }[];
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown) => (typeof v === 'string' ? v : '');
const num = (v: unknown) => (typeof v === 'number' ? String(v) : typeof v === 'string' ? v : '');

/** Parses either report format (an array of gitleaks findings, or trufflehog results). */
export function parseLeakReport(doc: unknown): LeakFinding[] {
  const items = Array.isArray(doc) ? doc : isObj(doc) && Array.isArray(doc.findings) ? doc.findings : null;
  if (!items) {
    throw graphError(
      'IMPORT_INVALID',
      'expected a gitleaks JSON report (an array) or trufflehog JSON lines',
      {
        field: 'body',
      },
    );
  }
  return items.map((it: unknown, i): LeakFinding => {
    if (!isObj(it)) throw graphError('IMPORT_INVALID', 'finding must be an object', { field: `body[${i}]` });
    if ('DetectorName' in it || 'SourceMetadata' in it) {
      const git = isObj(it.SourceMetadata) && isObj(it.SourceMetadata.Data) ? it.SourceMetadata.Data : {};
      const src = Object.values(git).find(isObj) ?? {};
      const where = [str(src.repository), str(src.file), num(src.line) ? `:${num(src.line)}` : ''].filter(
        Boolean,
      );
      return {
        tool: 'trufflehog',
        rule: str(it.DetectorName) || 'unknown',
        location: where.join(' ') || 'unknown',
        values: [str(it.Raw), str(it.RawV2)].filter(Boolean),
      };
    }
    if ('RuleID' in it) {
      return {
        tool: 'gitleaks',
        rule: str(it.RuleID),
        location: `${str(it.File)}${num(it.StartLine) ? `:${num(it.StartLine)}` : ''}${it.Commit ? ` @${str(it.Commit).slice(0, 12)}` : ''}`,
        values: [str(it.Secret), str(it.Match)].filter(Boolean),
      };
    }
    throw graphError('IMPORT_INVALID', 'finding is neither gitleaks (RuleID) nor trufflehog (DetectorName)', {
      field: `body[${i}]`,
    });
  });
}

const AWS_KEY_ID = /\b((?:AKIA|ASIA)[A-Z0-9]{16})\b/g;

function matchKeys(values: string[]): Set<string> {
  const keys = new Set<string>();
  for (const v of values) {
    for (const m of v.matchAll(AWS_KEY_ID)) if (m[1]) keys.add(m[1]);
    keys.add(`sha256:${createHash('sha256').update(v).digest('hex')}`);
  }
  return keys;
}

export async function applyLeakReport(
  db: Kysely<Database>,
  audit: AuditLog,
  now: () => Date,
  doc: unknown,
  meta: ImportMeta,
): Promise<{ report: LeakReport; changes: InventoryChange[] }> {
  const findings = parseLeakReport(doc);
  const report: LeakReport = { source: 'leaks', findings: findings.length, matched: [], unmatched: [] };
  const changes: InventoryChange[] = [];
  await db.transaction().execute(async (trx) => {
    // Fingerprints may be stored as a prefix of the sha256 hex digest: compare by prefix as well.
    const hashed = await trx
      .selectFrom('credentials')
      .select(['id', 'fingerprint'])
      .where('fingerprint', 'like', 'sha256:%')
      .execute();
    for (const f of findings) {
      const keys = [...matchKeys(f.values)];
      const ids = new Set(
        (await trx.selectFrom('credentials').select('id').where('fingerprint', 'in', keys).execute()).map(
          (r) => r.id,
        ),
      );
      for (const r of hashed) {
        if (r.fingerprint.length >= 23 && keys.some((k) => k.startsWith(r.fingerprint))) ids.add(r.id);
      }
      const hits: Credential[] = [];
      for (const id of ids) {
        const c = await inv.findCredential(trx, id);
        if (c) hits.push(c);
      }
      if (hits.length === 0) {
        report.unmatched.push({ rule: f.rule, location: f.location });
        continue;
      }
      for (const before of hits) {
        const after: Credential = {
          ...before,
          labels: {
            ...before.labels,
            leak: `${f.tool}:${f.rule}`.slice(0, 500),
            'leak.location': f.location.slice(0, 500),
          },
          updatedAt: now().toISOString(),
        };
        await inv.updateCredential(trx, after);
        await audit.record(trx, {
          actor: meta.actor,
          requestId: meta.requestId,
          action: 'credential.leak-reported',
          targetType: 'credential',
          targetId: before.id,
          before: { labels: before.labels },
          after: { labels: after.labels, report: meta.fileName },
        });
        report.matched.push({
          credentialId: before.id,
          identityId: before.identityId,
          rule: f.rule,
          location: f.location,
        });
        changes.push({ entity: 'credential', op: 'update', id: before.id });
      }
    }
  });
  return { report, changes };
}
