/** Rules about an identity itself: NHI1 offboarding, NHI3 third parties, NHI5 admin reach, NHI8 isolation, NHI10 shared accounts. */
import { ageDays, finding, type RuleContext } from './common.js';

export function identityRules({ input, byId, credsOf, out }: RuleContext): void {
  for (const i of input.identities) {
    if (i.kind === 'human' || i.status !== 'active') continue;
    const agent = i.kind === 'ai_agent';
    // ---- NHI1 improper offboarding ----
    const people = i.owners.filter((o) => !o.startsWith('team:'));
    if (i.owners.length === 0) {
      out.push(
        finding(
          'NHI1',
          'NHI1-ownerless',
          i.id,
          {
            title: 'Non-human identity without an owner',
            severity: i.kind === 'break_glass' ? 'critical' : 'high',
            identityId: i.id,
            message: `${i.id} (${i.kind}) has no owner: nobody will rotate, review or offboard it.`,
            remediation: 'Assign a human or team owner; disable it if nobody claims it.',
            evidence: { kind: i.kind },
          },
          agent,
        ),
      );
    } else if (people.length > 0 && people.every((o) => byId.get(o)?.status !== 'active')) {
      out.push(
        finding(
          'NHI1',
          'NHI1-owner-left',
          i.id,
          {
            title: 'Every owner of the NHI has left',
            severity: 'high',
            identityId: i.id,
            message: `All human owners of ${i.id} (${people.join(', ')}) are disabled or gone.`,
            remediation: 'Re-assign ownership or decommission the identity and revoke its credentials.',
            evidence: { owners: people },
          },
          agent,
        ),
      );
    }
    const seen = ageDays(input.now, i.lastSeenAt ?? i.createdAt);
    if (
      seen !== null &&
      seen > input.staleDays &&
      (credsOf.get(i.id) ?? []).some((c) => c.status === 'active')
    ) {
      out.push(
        finding(
          'NHI1',
          'NHI1-stale',
          i.id,
          {
            title: 'Unused NHI still holds active credentials',
            severity: 'medium',
            identityId: i.id,
            message: `${i.id} has not been seen for ${seen} days but still has active credentials.`,
            remediation: 'Disable the identity and revoke its credentials; delete after a grace period.',
            evidence: { daysSinceSeen: seen },
          },
          agent,
        ),
      );
    }
    // ---- NHI3 third-party NHIs with broad reach ----
    const thirdParty = i.kind === 'third_party_integration' || i.labels['aws.third-party-trust'] === 'true';
    if (thirdParty && input.graph) {
      const r = input.graph.reach(i.id);
      if (r.admin > 0 || r.regulated > 0 || r.confidential > 0) {
        const severity = r.admin > 0 ? 'critical' : r.regulated > 0 ? 'high' : 'medium';
        out.push(
          finding(
            'NHI3',
            'NHI3-broad-third-party',
            i.id,
            {
              title: 'Third-party NHI reaches sensitive data or admin',
              severity,
              identityId: i.id,
              message:
                `${i.id} is operated by a third party and reaches ${r.regulated} regulated and ${r.confidential} ` +
                `confidential resources${r.admin > 0 ? ' and admin-equivalent access' : ''}.`,
              remediation:
                'Scope the vendor access to the resources it needs, require an external id / short-lived tokens, review the vendor.',
              evidence: { regulated: r.regulated, confidential: r.confidential, admin: r.admin },
            },
            agent,
          ),
        );
      }
    }
    // ---- NHI5 over-privileged: admin-equivalent ----
    const admin = input.graph?.adminPath(i.id) ?? null;
    if (admin) {
      out.push(
        finding(
          'NHI5',
          admin.method === 'direct' ? 'NHI5-admin' : 'NHI5-escalation',
          i.id,
          {
            title: admin.method === 'direct' ? 'NHI is admin-equivalent' : 'NHI can escalate to admin',
            severity: i.kind === 'break_glass' ? 'medium' : 'high',
            identityId: i.id,
            message:
              admin.method === 'direct'
                ? `${i.id} holds admin-equivalent access (${admin.target}).`
                : `${i.id} can reach admin-equivalent access (${admin.target}) using ${admin.method}.`,
            remediation:
              'Replace the broad grant with the specific actions the workload uses; remove the escalation permission.',
            evidence: admin,
          },
          agent,
        ),
      );
    }
    // ---- NHI8 environment isolation ----
    if (
      input.graph &&
      i.environment !== 'prod' &&
      i.environment !== 'production' &&
      i.environment !== 'unknown'
    ) {
      const r = input.graph.reach(i.id);
      if (r.prodResources.length > 0) {
        out.push(
          finding(
            'NHI8',
            'NHI8-nonprod-reaches-prod',
            i.id,
            {
              title: `A ${i.environment} identity reaches production`,
              severity: 'high',
              identityId: i.id,
              message: `${i.id} (${i.environment}) can reach ${r.prodResources.length} production resources, e.g. ${r.prodResources.slice(0, 3).join(', ')}.`,
              remediation:
                'Give non-production workloads their own credentials and accounts; remove the path into production.',
              evidence: { prodResources: r.prodResources.slice(0, 20) },
            },
            agent,
          ),
        );
      }
    }
    // ---- NHI6 insecure cloud configuration: role trust policies ----
    const anyone = i.labels['aws.trust-anyone'];
    if (anyone) {
      out.push(
        finding(
          'NHI6',
          'NHI6-trust-anyone',
          i.id,
          {
            title: 'Role can be assumed by any AWS principal',
            severity: anyone === 'true' ? 'critical' : 'high',
            identityId: i.id,
            message: `The trust policy of ${i.labels['aws.name'] ?? i.id} allows Principal "*"${anyone === 'true' ? ' without a condition' : ' (only a condition restricts it)'}.`,
            remediation: 'Name the accounts or roles that may assume it; never trust "*".',
            evidence: { trust: anyone },
          },
          agent,
        ),
      );
    }
    const unconditioned = i.labels['aws.trust-external-unconditioned'];
    if (unconditioned) {
      out.push(
        finding(
          'NHI6',
          'NHI6-cross-account-without-external-id',
          i.id,
          {
            title: 'Cross-account trust without an ExternalId or other condition',
            severity: 'medium',
            identityId: i.id,
            message: `${i.labels['aws.name'] ?? i.id} trusts account(s) ${unconditioned} with no condition: a confused-deputy risk for third-party access.`,
            remediation: 'Require sts:ExternalId (vendors) or aws:PrincipalOrgID / a specific role ARN.',
            evidence: { accounts: unconditioned.split(',') },
          },
          agent,
        ),
      );
    }
    // ---- NHI10 human use of NHI ----
    if (i.kind === 'shared_account') {
      out.push(
        finding('NHI10', 'NHI10-shared-account', i.id, {
          title: 'Shared account used by people',
          severity: 'medium',
          identityId: i.id,
          message: `${i.id} is a shared login: actions cannot be attributed to a person.`,
          remediation:
            'Give each person their own identity; keep the shared account break-glass only and monitored.',
          evidence: { users: i.labels.users ?? null },
        }),
      );
    }
  }
}
