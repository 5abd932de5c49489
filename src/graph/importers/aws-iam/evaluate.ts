/**
 * Identity-policy evaluation, as far as it can be done offline and still be safe to act on
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html):
 * an explicit Deny wins, then an Allow, else implicit deny; `Action`/`NotAction` and `Resource`/`NotResource`
 * with `*` and `?` wildcards (actions case-insensitive, ARNs case-sensitive); a permissions boundary must
 * also allow. Conditions are not evaluated: an Allow with a condition counts (the result is flagged
 * `conditional`), a Deny with a condition does not — both err towards reporting the risk.
 */
import type { Statement } from './policy-document.js';

const patternCache = new Map<string, RegExp>();

/** IAM wildcard match: `*` any run of characters, `?` exactly one. */
export function globMatch(pattern: string, value: string, caseInsensitive = false): boolean {
  if (pattern === '*') return true;
  if (!pattern.includes('*') && !pattern.includes('?')) {
    return caseInsensitive ? pattern.toLowerCase() === value.toLowerCase() : pattern === value;
  }
  const key = `${caseInsensitive ? 'i' : 's'}${pattern}`;
  let re = patternCache.get(key);
  if (!re) {
    const body = pattern
      .split('')
      .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
      .join('');
    re = new RegExp(`^${body}$`, caseInsensitive ? 'is' : 's');
    if (patternCache.size > 50_000) patternCache.clear();
    patternCache.set(key, re);
  }
  return re.test(value);
}

export interface PolicyVariables {
  /** `${aws:username}` for users. */
  username?: string;
}

/**
 * Substitutes policy variables in a resource pattern. Known ones are replaced; any other variable becomes
 * `*` (it could be anything at request time), which widens the match — the conservative direction for Allow.
 */
export function substituteVariables(pattern: string, vars: PolicyVariables): string {
  if (!pattern.includes('${')) return pattern;
  return pattern.replace(/\$\{([^}]*)\}/g, (_m, name: string) => {
    if (name === '*') return '\uE000';
    if (name === '?') return '\uE001';
    if (name === '$') return '$';
    if (name.toLowerCase() === 'aws:username' && vars.username) return vars.username;
    return '*';
  });
}

function actionMatches(s: Statement, action: string): boolean {
  if (s.action) return s.action.some((p) => globMatch(p, action, true));
  return !(s.notAction ?? []).some((p) => globMatch(p, action, true));
}

function resourceMatches(s: Statement, resource: string, vars: PolicyVariables): boolean {
  const match = (p: string) => {
    const sub = substituteVariables(p, vars);
    // Escaped literal `*`/`?` must match literally.
    if (/[\uE000\uE001]/.test(sub)) return sub.replace(/\uE000/g, '*').replace(/\uE001/g, '?') === resource;
    return globMatch(sub, resource);
  };
  if (s.resource) return s.resource.some(match);
  if (s.notResource) return !s.notResource.some(match);
  return true;
}

/**
 * Whether a statement's resources cover "some resource of this service": `*`, or an ARN pattern whose
 * service segment is the service or a wildcard. Used for actions that create new resources (RunInstances,
 * CreateFunction), where no concrete ARN exists yet.
 */
function serviceResourceMatches(s: Statement, service: string): boolean {
  const covers = (p: string) => {
    if (p === '*') return true;
    const parts = p.split(':');
    return parts[0] === 'arn' && (parts[2] === service || parts[2] === '*' || (parts[2] ?? '').includes('*'));
  };
  if (s.resource) return s.resource.some(covers);
  if (s.notResource) return !s.notResource.includes('*');
  return true;
}

export interface Decision {
  allowed: boolean;
  /** Rests on an unevaluated condition (an Allow with a condition, or a Deny with a condition ignored). */
  conditional: boolean;
  /** The statement that allowed it (for `via` texts). */
  source: string | null;
}

const DENIED: Decision = { allowed: false, conditional: false, source: null };

export class PolicyEvaluator {
  private readonly allows: Statement[];
  private readonly denies: Statement[];

  constructor(
    statements: readonly Statement[],
    private readonly vars: PolicyVariables = {},
    private readonly boundary: PolicyEvaluator | null = null,
  ) {
    this.allows = statements.filter((s) => s.effect === 'Allow');
    this.denies = statements.filter((s) => s.effect === 'Deny');
  }

  /** Could any Allow statement apply to this action (on some resource)? A cheap pre-filter. */
  mayAllow(action: string): boolean {
    return this.allows.some((s) => actionMatches(s, action)) && (this.boundary?.mayAllow(action) ?? true);
  }

  /** An unconditional Deny applies (a trust policy naming the principal cannot override it). */
  explicitlyDenies(action: string, resource: string): boolean {
    return this.denies.some(
      (s) => !s.hasCondition && actionMatches(s, action) && resourceMatches(s, resource, this.vars),
    );
  }

  /** Decision for an action on one resource ARN (`*` asks "on every resource"). */
  evaluate(action: string, resource: string): Decision {
    return this.decide(
      action,
      (s) => resourceMatches(s, resource, this.vars),
      (b) => b.evaluate(action, resource),
    );
  }

  /** Decision for an action that creates a new resource of `service` (no ARN yet). */
  evaluateOnService(action: string, service: string): Decision {
    return this.decide(
      action,
      (s) => serviceResourceMatches(s, service),
      (b) => b.evaluateOnService(action, service),
    );
  }

  private decide(
    action: string,
    resourceOk: (s: Statement) => boolean,
    boundaryCheck: (b: PolicyEvaluator) => Decision,
  ): Decision {
    let conditional = false;
    for (const s of this.denies) {
      if (actionMatches(s, action) && resourceOk(s)) {
        if (!s.hasCondition) return DENIED;
        conditional = true;
      }
    }
    let allow: Statement | null = null;
    for (const s of this.allows) {
      if (actionMatches(s, action) && resourceOk(s)) {
        if (!s.hasCondition) {
          allow = s;
          break;
        }
        allow ??= s;
      }
    }
    if (!allow) return DENIED;
    conditional ||= allow.hasCondition;
    if (this.boundary) {
      const b = boundaryCheck(this.boundary);
      if (!b.allowed) return DENIED;
      conditional ||= b.conditional;
    }
    return { allowed: true, conditional, source: allow.sid ? `${allow.source}#${allow.sid}` : allow.source };
  }
}

/** An action no policy names explicitly: allowed on `*` only by a full wildcard grant. */
export const ANY_ACTION_PROBE = 'bulkheadprobe:AnyAction';
/** Any IAM action: `iam:*` on `*` lets a principal grant itself anything. */
export const ANY_IAM_PROBE = 'iam:BulkheadProbeAnyAction';

/**
 * Admin-equivalent: every IAM action on every resource — with that a principal can grant itself anything.
 * `*:*` (AdministratorAccess) implies it; broad grants that exclude IAM (PowerUserAccess's
 * `NotAction: iam:*`) do not, and are judged by the escalation methods instead.
 */
export function adminDecision(e: PolicyEvaluator): Decision & { grant: string } {
  const iam = e.evaluate(ANY_IAM_PROBE, '*');
  if (!iam.allowed) return { ...DENIED, grant: '' };
  const all = e.evaluate(ANY_ACTION_PROBE, '*');
  return all.allowed
    ? { ...all, conditional: all.conditional || iam.conditional, grant: '*:* on *' }
    : { ...iam, grant: 'iam:* on *' };
}
