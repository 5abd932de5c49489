/** Resources named by IAM policies: which ARNs a pattern covers, and their inventory records. */
import type { Sensitivity } from '../../../inventory/types.js';
import { nodeKey } from '../../model.js';
import { safeId, SCOPE_LABEL, type ResourceDraft } from '../plan.js';
import { globMatch } from './evaluate.js';

/** A Map: the service comes from a policy's ARN, and `constructor` must not find Object's. */
const DATA_SERVICES = new Map<string, Sensitivity>(
  ['s3', 'dynamodb', 'rds', 'rds-db', 'secretsmanager', 'ssm', 'kms', 'redshift', 'glacier'].map((s) => [
    s,
    'confidential',
  ]),
);

export function isConcrete(pattern: string): boolean {
  const base = stripObjects(pattern);
  return base.startsWith('arn:') && !base.includes('*') && !base.includes('?') && !base.includes('${');
}

/** `arn:aws:s3:::bucket/*` (the bucket's objects) is modelled as the bucket. */
export function stripObjects(pattern: string): string {
  return pattern.endsWith('/*') && pattern.startsWith('arn:aws:s3:::') ? pattern.slice(0, -2) : pattern;
}

function serviceOfAction(action: string): string {
  return action.split(':')[0]?.toLowerCase() ?? '*';
}

/** Concrete ARNs (or `service:<name>` for "every resource of a service") a resource pattern covers. */
export function targetsOf(pattern: string, known: Set<string>, actions: string[]): string[] {
  if (isConcrete(pattern)) return [stripObjects(pattern)];
  const out: string[] = [];
  for (const arn of known) if (globMatch(pattern, arn) || globMatch(pattern, `${arn}/x`)) out.push(arn);
  const parts = pattern.split(':');
  const whole = pattern === '*' || (parts[0] === 'arn' && (parts[5] ?? '') === '*');
  if (whole) {
    const services = new Set(actions.filter((a) => !a.startsWith('NotAction:')).map(serviceOfAction));
    const svc = pattern === '*' ? null : parts[2];
    for (const s of services) if (s !== '*' && (!svc || svc === s)) out.push(`service:${s}`);
  }
  return out;
}

export function resourceIdFor(arn: string, account: string): string {
  const parts = arn.split(':');
  const service = parts[2] ?? 'aws';
  const rest = parts.slice(5).join(':');
  const acct = parts[4] || account;
  return safeId(`aws.${acct}.${service}.${rest}`);
}

export function resourceDraft(id: string, arn: string, scope: string): ResourceDraft {
  const parts = arn.split(':');
  const service = parts[2] ?? 'aws';
  return {
    id,
    type: `aws_${service.replace(/[^a-z0-9]/gi, '_')}`,
    displayName: arn,
    sensitivity: DATA_SERVICES.get(service) ?? 'internal',
    environment: 'unknown',
    owners: [],
    parentId: null,
    source: 'aws-iam',
    labels: { 'aws.arn': arn, location: arn, [SCOPE_LABEL]: scope },
  };
}

export function serviceResource(
  service: string,
  account: string,
  drafts: Map<string, ResourceDraft>,
  scope: string,
): string {
  const id = safeId(`aws.${account}.${service}.all`);
  if (!drafts.has(id)) {
    drafts.set(id, {
      id,
      type: `aws_${service.replace(/[^a-z0-9]/gi, '_')}`,
      displayName: `every ${service} resource in AWS account ${account}`,
      sensitivity: DATA_SERVICES.get(service) ?? 'internal',
      environment: 'unknown',
      owners: [],
      parentId: null,
      source: 'aws-iam',
      labels: { 'aws.arn': `arn:aws:${service}:*:${account}:*`, [SCOPE_LABEL]: scope },
    });
  }
  return nodeKey.resource(id);
}
