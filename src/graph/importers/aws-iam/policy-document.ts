/**
 * IAM policy documents as they appear in `get-account-authorization-details`: a URL-encoded JSON string
 * (what the raw API returns), a JSON string, or an already-decoded object (what the AWS CLI prints).
 * Parsing never throws for content problems: unknown elements and malformed statements become warnings
 * (the statement is skipped), so one odd policy cannot block an import — but nothing is silently ignored.
 */

export type Effect = 'Allow' | 'Deny';

export interface Statement {
  sid: string | null;
  effect: Effect;
  action: string[] | null;
  notAction: string[] | null;
  resource: string[] | null;
  notResource: string[] | null;
  /** Trust policies: principal values by type (`AWS`, `Service`, `Federated`, `*`). */
  principal: Record<string, string[]> | null;
  notPrincipal: Record<string, string[]> | null;
  hasCondition: boolean;
  /** Where it came from, for `via` texts: `managed:ReadOnly`, `inline:deploy`, `group:devs/inline:x`. */
  source: string;
}

export interface PolicyWarning {
  /** Dotted path into the export, e.g. `UserDetailList[3].UserPolicyList[0].PolicyDocument.Statement[1]`. */
  field: string;
  code:
    | 'UNKNOWN_ELEMENT'
    | 'MALFORMED_STATEMENT'
    | 'MALFORMED_DOCUMENT'
    | 'CONDITION_NOT_EVALUATED'
    | 'UNSUPPORTED_VARIABLE';
  message: string;
}

const KNOWN = new Set([
  'Sid',
  'Effect',
  'Action',
  'NotAction',
  'Resource',
  'NotResource',
  'Principal',
  'NotPrincipal',
  'Condition',
]);

/** Decodes a policy document in any of its three spellings; null (plus a warning) when it is not one. */
export function decodeDocument(
  raw: unknown,
  field: string,
  warnings: PolicyWarning[],
): Record<string, unknown> | null {
  let value: unknown = raw;
  if (typeof value === 'string') {
    let text = value.trim();
    if (!text.startsWith('{')) {
      try {
        text = decodeURIComponent(text.replace(/\+/g, ' '));
      } catch {
        warnings.push({
          field,
          code: 'MALFORMED_DOCUMENT',
          message: 'policy document is neither JSON nor URL-encoded JSON',
        });
        return null;
      }
    }
    try {
      value = JSON.parse(text);
    } catch {
      warnings.push({ field, code: 'MALFORMED_DOCUMENT', message: 'policy document is not valid JSON' });
      return null;
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    warnings.push({ field, code: 'MALFORMED_DOCUMENT', message: 'policy document is not a JSON object' });
    return null;
  }
  return value as Record<string, unknown>;
}

function stringList(v: unknown): string[] | null | 'bad' {
  if (v === undefined) return null;
  if (typeof v === 'string') return [v];
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v;
  return 'bad';
}

function principalMap(v: unknown): Record<string, string[]> | null | 'bad' {
  if (v === undefined) return null;
  if (v === '*') return { '*': ['*'] };
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'bad';
  const out: Record<string, string[]> = {};
  for (const [k, val] of Object.entries(v)) {
    const list = stringList(val);
    if (list === 'bad' || list === null) return 'bad';
    out[k] = list;
  }
  return out;
}

/** Parses the statements of a decoded document. */
export function parseStatements(
  raw: unknown,
  source: string,
  field: string,
  warnings: PolicyWarning[],
): Statement[] {
  const doc = decodeDocument(raw, field, warnings);
  if (!doc) return [];
  for (const k of Object.keys(doc)) {
    if (k !== 'Version' && k !== 'Statement' && k !== 'Id') {
      warnings.push({
        field: `${field}.${k}`,
        code: 'UNKNOWN_ELEMENT',
        message: `unknown policy element '${k}' ignored`,
      });
    }
  }
  const rawStatements =
    doc.Statement === undefined ? [] : Array.isArray(doc.Statement) ? doc.Statement : [doc.Statement];
  const out: Statement[] = [];
  rawStatements.forEach((s: unknown, i) => {
    const f = `${field}.Statement[${i}]`;
    if (typeof s !== 'object' || s === null || Array.isArray(s)) {
      warnings.push({
        field: f,
        code: 'MALFORMED_STATEMENT',
        message: 'statement is not an object; skipped',
      });
      return;
    }
    const st = s as Record<string, unknown>;
    for (const k of Object.keys(st)) {
      if (!KNOWN.has(k)) {
        warnings.push({
          field: `${f}.${k}`,
          code: 'UNKNOWN_ELEMENT',
          message: `unknown statement element '${k}' ignored`,
        });
      }
    }
    const effect = st.Effect;
    const action = stringList(st.Action);
    const notAction = stringList(st.NotAction);
    const resource = stringList(st.Resource);
    const notResource = stringList(st.NotResource);
    const principal = principalMap(st.Principal);
    const notPrincipal = principalMap(st.NotPrincipal);
    const bad =
      (effect !== 'Allow' && effect !== 'Deny') ||
      [action, notAction, resource, notResource, principal, notPrincipal].includes('bad') ||
      (action === null) === (notAction === null);
    if (bad) {
      warnings.push({
        field: f,
        code: 'MALFORMED_STATEMENT',
        message:
          'statement needs Effect Allow|Deny and exactly one of Action/NotAction with string values; skipped',
      });
      return;
    }
    const hasCondition = st.Condition !== undefined;
    if (hasCondition) {
      warnings.push({
        field: `${f}.Condition`,
        code: 'CONDITION_NOT_EVALUATED',
        message:
          effect === 'Allow'
            ? 'condition not evaluated: the Allow is assumed to apply (edges are flagged conditional)'
            : 'condition not evaluated: the Deny is assumed NOT to apply (conservative)',
      });
    }
    out.push({
      sid: typeof st.Sid === 'string' ? st.Sid : null,
      effect: effect,
      action: action as string[] | null,
      notAction: notAction as string[] | null,
      resource: resource as string[] | null,
      notResource: notResource as string[] | null,
      principal: principal as Record<string, string[]> | null,
      notPrincipal: notPrincipal as Record<string, string[]> | null,
      hasCondition,
      source,
    });
  });
  return out;
}
