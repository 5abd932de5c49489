/**
 * Role trust policies (AssumeRolePolicyDocument) reduced to who may call sts:AssumeRole*: principal ARNs in
 * this account, the account root (then the caller's own policy must allow too), anyone, other accounts
 * (third parties), federated identity providers and AWS services (for iam:PassRole).
 */
import { globMatch } from './evaluate.js';
import { accountOf, type IamPrincipal } from './export.js';
import type { Statement } from './policy-document.js';

export interface RoleTrust {
  role: IamPrincipal;
  arns: Map<string, boolean>; // principal ARN → conditional
  accountRoot: boolean | null; // null: not trusted; else conditional flag
  anyone: boolean | null;
  services: Map<string, boolean>;
  federated: Map<string, boolean>;
  externalAccounts: Map<string, boolean>;
  deniedArns: Set<string>;
}

export function trustOf(role: IamPrincipal, account: string): RoleTrust {
  const t: RoleTrust = {
    role,
    arns: new Map(),
    accountRoot: null,
    anyone: null,
    services: new Map(),
    federated: new Map(),
    externalAccounts: new Map(),
    deniedArns: new Set(),
  };
  const assumeAction = (s: Statement) =>
    (s.action ?? []).some((a) => /^sts:AssumeRole/i.test(a) || globMatch(a, 'sts:AssumeRole', true)) ||
    s.notAction !== null;
  for (const s of role.trust) {
    if (!assumeAction(s) || !s.principal) continue;
    const cond = s.hasCondition;
    const keep = <K>(m: Map<K, boolean>, k: K) => m.set(k, (m.get(k) ?? true) && cond);
    for (const [type, values] of Object.entries(s.principal)) {
      for (const v of values) {
        if (s.effect === 'Deny') {
          if (!cond) t.deniedArns.add(v);
          continue;
        }
        if (type === 'Service') keep(t.services, v);
        else if (type === 'Federated') keep(t.federated, v);
        else if (v === '*') t.anyone = (t.anyone ?? true) && cond;
        else {
          const acct = /^\d{12}$/.test(v) ? v : /^arn:aws[a-z-]*:iam::(\d{12}):root$/.exec(v)?.[1];
          if (acct === account) t.accountRoot = (t.accountRoot ?? true) && cond;
          else if (acct) keep(t.externalAccounts, acct);
          else if (accountOf(v) === account) keep(t.arns, sessionToRole(v));
          else keep(t.externalAccounts, accountOf(v) || v);
        }
      }
    }
  }
  return t;
}

/** `arn:aws:sts::<acct>:assumed-role/<role>/<session>` names the role's sessions: trust the role. */
function sessionToRole(arn: string): string {
  const m = /^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role\/([^/]+)\/.+$/.exec(arn);
  return m ? `arn:${m[1]}:iam::${m[2]}:role/${m[3]}` : arn;
}
