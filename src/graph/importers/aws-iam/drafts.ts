/** IAM principals and access keys as inventory records. */
import type { IdentityKind } from '../../../inventory/types.js';
import { IDENTITY_KINDS } from '../../../inventory/types.js';
import { safeId, SCOPE_LABEL, type CredentialDraft, type IdentityDraft } from '../plan.js';
import type { IamPrincipal } from './export.js';
import type { RoleTrust } from './trust.js';

export function identityDraft(
  p: IamPrincipal,
  id: string,
  account: string,
  scope: string,
  admin: boolean,
  trusts: RoleTrust[],
): IdentityDraft {
  const tagKind = p.tags['bulkhead:kind'];
  const trust = trusts.find((t) => t.role === p);
  const kind: IdentityKind =
    tagKind && (IDENTITY_KINDS as readonly string[]).includes(tagKind)
      ? (tagKind as IdentityKind)
      : p.type === 'role'
        ? trust && trust.services.size > 0
          ? 'workload'
          : 'service_account'
        : p.lastUsed
          ? 'human'
          : 'service_account';
  const env = p.tags.Environment ?? p.tags.environment ?? p.tags.env ?? 'unknown';
  const owner = p.tags.Owner ?? p.tags.owner;
  const labels: Record<string, string> = {
    'aws.type': p.type,
    'aws.name': p.name,
    'aws.id': p.id,
    'aws.account': account,
    'aws.path': p.path,
    'source.name': p.name,
    [SCOPE_LABEL]: scope,
  };
  if (admin) labels['bulkhead.admin'] = 'true';
  if (p.createDate) labels['aws.created'] = p.createDate;
  if (trust && trust.services.size > 0) labels['aws.trusted-services'] = [...trust.services.keys()].join(',');
  if (trust && (trust.externalAccounts.size > 0 || trust.anyone !== null))
    labels['aws.third-party-trust'] = 'true';
  if (trust && trust.federated.size > 0) labels['aws.federated'] = [...trust.federated.keys()].join(',');
  // Trust configuration problems posture reports as NHI6 (condition = e.g. sts:ExternalId, source org).
  if (trust && trust.anyone !== null) labels['aws.trust-anyone'] = trust.anyone ? 'conditional' : 'true';
  const open = trust ? [...trust.externalAccounts.entries()].filter(([, conditional]) => !conditional) : [];
  if (open.length > 0)
    labels['aws.trust-external-unconditioned'] = open
      .map(([a]) => a)
      .join(',')
      .slice(0, 500);
  // Label keys follow the inventory's rule (short identifiers), so the record stays editable through the API.
  for (const [k, v] of Object.entries(p.tags).slice(0, 40)) {
    labels[`aws.tag.${k.replace(/[^A-Za-z0-9._/-]/g, '_')}`.slice(0, 63)] = v.slice(0, 500);
  }
  return {
    id,
    kind,
    displayName: `${p.type === 'user' ? 'IAM user' : 'IAM role'} ${p.name}`,
    spiffeId: null,
    cloudArn: p.arn,
    k8sServiceAccount: null,
    owners: owner ? [`team:${owner.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 60)}`] : [],
    groups: p.groups.map((g) => `aws:${account}:${g}`),
    environment:
      env
        .toLowerCase()
        .replace(/[^a-z0-9_-]+/g, '-')
        .replace(/^[^a-z0-9]+/, '')
        .slice(0, 40) || 'unknown',
    source: 'aws-iam',
    labels,
    status: 'active',
    lastSeenAt: p.lastUsed,
  };
}

export function accessKeyCredentialId(accessKeyId: string): string {
  return safeId(`aws-key-${accessKeyId}`);
}

export function credentialDrafts(p: IamPrincipal, identityId: string, scope: string): CredentialDraft[] {
  return p.accessKeys.map((k) => ({
    id: accessKeyCredentialId(k.id),
    identityId,
    type: 'access_key',
    fingerprint: k.id,
    status: k.status === 'Active' ? 'active' : 'expired',
    scopes: [],
    storedIn: [],
    consumers: [],
    source: 'aws-iam',
    labels: { 'aws.key-status': k.status, [SCOPE_LABEL]: scope },
    lastUsedAt: k.lastUsedDate,
    expiresAt: null,
    lastRotatedAt: k.createDate,
  }));
}
