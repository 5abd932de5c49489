/** NHI5 granted vs used: credential scopes and imported policy grants against what the event log shows. */
import { globMatch } from '../../graph/importers/aws-iam/evaluate.js';
import type { Credential, Identity } from '../../inventory/types.js';
import type { UsageRecord } from '../rules.js';
import { finding, type RuleContext } from './common.js';

export function usageRules({ input, credsOf, out }: RuleContext): void {
  if (input.usage && input.usage.length > 0) {
    const used = new Map<string, UsageRecord[]>();
    for (const u of input.usage) {
      let l = used.get(u.identityId);
      if (!l) used.set(u.identityId, (l = []));
      l.push(u);
    }
    for (const i of input.identities) {
      if (i.kind === 'human' || i.status !== 'active') continue;
      const mine = used.get(i.id);
      // Only identities whose activity is in the log: no events at all means "not collected", not "unused".
      if (!mine) continue;
      const gu = grantedVsUsed(i, credsOf.get(i.id) ?? [], input.graph?.grants?.(i.id) ?? [], mine);
      if (gu.granted.length === 0 || gu.unused.length === 0) continue;
      const { granted, unused, used: suggestion } = gu;
      const evidence: Record<string, unknown> = { ...gu, leastPrivilege: suggestion };
      out.push(
        finding(
          'NHI5',
          'NHI5-unused-grants',
          i.id,
          {
            title: 'Granted permissions never used',
            severity: unused.length === granted.length ? 'medium' : 'low',
            identityId: i.id,
            message: `${i.id} used ${granted.length - unused.length} of ${granted.length} granted permissions; unused: ${unused.slice(0, 5).join(', ')}${unused.length > 5 ? '…' : ''}.`,
            remediation:
              suggestion.length > 0
                ? `Reduce the grants to what was used: ${suggestion.slice(0, 10).join('; ')}.`
                : 'No use was recorded: remove the grants (or the identity).',
            evidence,
          },
          i.kind === 'ai_agent',
        ),
      );
    }
  }
}

export interface GrantedVsUsed {
  /** Credential scopes and policy grants (`<action> on <resource>`). */
  granted: string[];
  /** What the event log shows the identity doing (`<action> on <resource>`). */
  used: string[];
  unused: string[];
  /** For AWS principals: an identity policy allowing exactly what was used. */
  leastPrivilegePolicy?: Record<string, unknown>;
}

/**
 * Granted vs actually used for one identity (NHI5, and what a "narrow permissions" containment step needs):
 * grants come from active credential scopes and imported policy grants, use from recorded events.
 */
export function grantedVsUsed(
  identity: Identity,
  credentials: readonly Credential[],
  policyGrants: readonly { action: string; resource: string }[],
  usage: readonly UsageRecord[],
): GrantedVsUsed {
  const scopes = [...new Set(credentials.filter((c) => c.status === 'active').flatMap((c) => c.scopes))];
  const granted = [...scopes, ...policyGrants.map((g) => `${g.action} on ${g.resource}`)];
  const unused = [
    ...scopes.filter((g) => !usage.some((u) => grantCovers(g, u))),
    ...policyGrants
      .filter((g) => !usage.some((u) => policyGrantCovers(g, u)))
      .map((g) => `${g.action} on ${g.resource}`),
  ];
  const used = [...new Set(usage.map((u) => (u.resource ? `${u.action} on ${u.resource}` : u.action)))].slice(
    0,
    200,
  );
  const out: GrantedVsUsed = { granted, used, unused };
  if (identity.cloudArn?.startsWith('arn:aws') && usage.length > 0) {
    out.leastPrivilegePolicy = {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: [...new Set(usage.map((u) => u.action))].sort(),
          Resource: [...new Set(usage.map((u) => u.resource ?? '*'))].sort(),
        },
      ],
    };
  }
  return out;
}

/** A policy grant (`s3:Get*` on `arn:aws:s3:::bucket`) is used when an event's action and resource fall under it. */
export function policyGrantCovers(grant: { action: string; resource: string }, use: UsageRecord): boolean {
  if (!globMatch(grant.action, use.action, true)) return false;
  if (!use.resource || grant.resource === '*') return true;
  return (
    use.resource === grant.resource ||
    use.resource.startsWith(`${grant.resource}/`) ||
    globMatch(grant.resource, use.resource)
  );
}

/** A scope is used when an event's action or resource names it (or the resource it names). */
export function grantCovers(scope: string, use: UsageRecord): boolean {
  const s = scope.toLowerCase();
  const action = use.action.toLowerCase();
  const resource = (use.resource ?? '').toLowerCase();
  if (s === action || s === `${action}:${resource}`) return true;
  const parts = s.split(':').filter((p) => p !== '*' && p.length > 2);
  return parts.some(
    (p) =>
      resource === p ||
      resource.startsWith(`${p}/`) ||
      resource.startsWith(`${p}.`) ||
      action.startsWith(`${p}.`) ||
      action.startsWith(`${p}:`),
  );
}
