/** Rules about credentials: NHI2 leaks, NHI4 static secrets, NHI6 CI keys, NHI7 age, NHI8/NHI9 sharing, NHI10 human use. */
import { ageDays, finding, type RuleContext } from './common.js';

const STATIC_TYPES = new Set(['access_key', 'api_key', 'password', 'ssh_key', 'oauth_client_secret']);
const FEDERATED_TYPES = new Set(['token', 'certificate']);
const PUBLIC_LOCATION = /\(public\)|^github\.com\/|^gist\.|pastebin|^public:/i;

export function credentialRules({ input, byId, credsOf, out }: RuleContext): void {
  for (const c of input.credentials) {
    const owner = byId.get(c.identityId);
    if (!owner || owner.kind === 'human' || c.status !== 'active') continue;
    const agent = owner.kind === 'ai_agent';
    // NHI2 secret leakage.
    const leakedAt = c.storedIn.filter((s) => PUBLIC_LOCATION.test(s));
    const leakLabel = c.labels.leak ?? c.labels.finding ?? owner.labels.finding;
    if (leakedAt.length > 0 || (leakLabel && /leak/i.test(leakLabel))) {
      out.push(
        finding(
          'NHI2',
          'NHI2-leaked',
          c.id,
          {
            title: 'Secret found in a public or leaked location',
            severity: 'critical',
            identityId: owner.id,
            credentialId: c.id,
            message: `Credential ${c.id} of ${owner.id} was found at ${leakedAt.join(', ') || leakLabel}.`,
            remediation: 'Revoke and rotate it now; check the event log for use since the leak.',
            evidence: { locations: leakedAt, report: leakLabel ?? null },
          },
          agent,
        ),
      );
    }
    const onLaptop = c.storedIn.filter((s) => s.startsWith('laptop:'));
    if (onLaptop.length > 0) {
      out.push(
        finding(
          'NHI10',
          'NHI10-secret-on-laptop',
          c.id,
          {
            title: 'NHI secret held on a person’s machine',
            severity: 'medium',
            identityId: owner.id,
            credentialId: c.id,
            message: `Credential ${c.id} of ${owner.id} is stored on ${onLaptop.join(', ')}: a person uses the machine identity.`,
            remediation:
              'Move the secret to a vault; let people use their own identities (or short-lived, brokered access).',
            evidence: { locations: onLaptop },
          },
          agent,
        ),
      );
    }
    const humanConsumers = c.consumers.filter((x) => byId.get(x)?.kind === 'human');
    if (humanConsumers.length > 0) {
      out.push(
        finding(
          'NHI10',
          'NHI10-human-consumer',
          c.id,
          {
            title: 'People use a machine credential',
            severity: 'medium',
            identityId: owner.id,
            credentialId: c.id,
            message: `${humanConsumers.join(', ')} consume credential ${c.id} of ${owner.id}.`,
            remediation: 'Issue personal credentials; keep the NHI credential for the workload only.',
            evidence: { humans: humanConsumers },
          },
          agent,
        ),
      );
    }
    // NHI4 insecure authentication: static secret where federation exists.
    const federated =
      owner.spiffeId !== null ||
      (credsOf.get(owner.id) ?? []).some((x) => x.status === 'active' && FEDERATED_TYPES.has(x.type)) ||
      owner.labels['aws.federated'] !== undefined;
    if (STATIC_TYPES.has(c.type) && federated) {
      out.push(
        finding(
          'NHI4',
          'NHI4-static-secret-with-federation',
          c.id,
          {
            title: 'Static secret where federation is available',
            severity: 'medium',
            identityId: owner.id,
            credentialId: c.id,
            message: `${owner.id} authenticates with a long-lived ${c.type} (${c.id}) although it can use federated or short-lived credentials.`,
            remediation:
              'Use workload identity federation (OIDC, SPIFFE) or brokered short-lived tokens; revoke the static secret.',
            evidence: { type: c.type },
          },
          agent,
        ),
      );
    } else if (c.type === 'access_key' && owner.labels['aws.type'] === 'user') {
      out.push(
        finding(
          'NHI4',
          'NHI4-iam-user-access-key',
          c.id,
          {
            title: 'IAM user with a long-lived access key',
            severity: 'medium',
            identityId: owner.id,
            credentialId: c.id,
            message: `IAM user ${owner.labels['aws.name'] ?? owner.id} uses access key ${c.fingerprint}.`,
            remediation: 'Replace the IAM user with a role assumed through federation.',
            evidence: { accessKeyId: c.fingerprint },
          },
          agent,
        ),
      );
    }
    // NHI6 insecure cloud deployment configuration: a pipeline holding static cloud keys.
    if (owner.kind === 'ci_pipeline' && c.type === 'access_key') {
      out.push(
        finding('NHI6', 'NHI6-ci-static-cloud-key', c.id, {
          title: 'CI/CD pipeline uses a static cloud key',
          severity: 'high',
          identityId: owner.id,
          credentialId: c.id,
          message: `Pipeline ${owner.id} holds cloud access key ${c.id} (stored in ${c.storedIn.join(', ') || 'unknown'}).`,
          remediation:
            'Use the CI provider’s OIDC federation to assume a narrowly scoped role; delete the key.',
          evidence: { storedIn: c.storedIn },
        }),
      );
    }
    // NHI7 long-lived secrets.
    const age = ageDays(input.now, c.lastRotatedAt ?? c.createdAt);
    if (c.expiresAt === null && age !== null && age > input.rotationDays) {
      out.push(
        finding(
          'NHI7',
          'NHI7-long-lived',
          c.id,
          {
            title: 'Secret older than the rotation policy and never expires',
            severity: age > input.rotationDays * 4 ? 'high' : 'medium',
            identityId: owner.id,
            credentialId: c.id,
            message: `Credential ${c.id} of ${owner.id} was last rotated ${age} days ago (policy ${input.rotationDays}) and has no expiry.`,
            remediation:
              'Rotate it (check its consumers first) and set an expiry; prefer short-lived credentials.',
            evidence: { ageDays: age, rotationDays: input.rotationDays },
          },
          agent,
        ),
      );
    }
    // NHI9 reuse: several workloads share one credential.
    const workloads = [
      ...new Set(c.consumers.filter((x) => x !== owner.id && byId.get(x)?.kind !== 'human')),
    ];
    if (workloads.length > 0) {
      out.push(
        finding(
          'NHI9',
          'NHI9-shared-credential',
          c.id,
          {
            title: 'One credential used by several workloads',
            severity: 'medium',
            identityId: owner.id,
            credentialId: c.id,
            message: `Credential ${c.id} of ${owner.id} is also used by ${workloads.join(', ')}.`,
            remediation:
              'Give each workload its own identity and credential so one compromise or rotation does not affect the others.',
            evidence: { consumers: c.consumers },
          },
          agent,
        ),
      );
    }
    const envs = new Set([
      owner.environment,
      ...c.consumers.map((x) => byId.get(x)?.environment).filter((e): e is string => !!e),
    ]);
    if (envs.size > 1) {
      out.push(
        finding(
          'NHI8',
          'NHI8-credential-across-environments',
          c.id,
          {
            title: 'Credential shared across environments',
            severity: 'high',
            identityId: owner.id,
            credentialId: c.id,
            message: `Credential ${c.id} is used in ${[...envs].join(', ')}.`,
            remediation: 'Issue one credential per environment.',
            evidence: { environments: [...envs] },
          },
          agent,
        ),
      );
    }
  }
}
