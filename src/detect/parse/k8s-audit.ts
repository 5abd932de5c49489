/**
 * Kubernetes audit event (audit.k8s.io/v1 `Event`) → normalized event. Only the `ResponseComplete` stage
 * is an action that happened; the other stages of the same request are skipped, not reported.
 */
import { field, isRecord, networkOf, parseTime, str, type NormalizedEvent } from '../event.js';
import { InvalidEventError } from './issues.js';

const SA_PREFIX = 'system:serviceaccount:';

export function isK8sAuditEvent(value: unknown): boolean {
  return str(value, 'kind') === 'Event' && (str(value, 'apiVersion') ?? '').startsWith('audit.k8s.io/');
}

/** Returns undefined for stages that are not the completed request. */
export function normalizeK8sAudit(event: unknown): NormalizedEvent | undefined {
  if (!isRecord(event)) throw new InvalidEventError('a Kubernetes audit event must be a JSON object');
  const stage = event.stage;
  if (stage !== undefined && typeof stage !== 'string') throw new InvalidEventError('stage must be a string');
  if (stage !== undefined && stage !== 'ResponseComplete' && stage !== 'Panic') return undefined;
  const auditID = requireString(event, 'auditID');
  const verb = requireString(event, 'verb');
  const when = str(event, 'stageTimestamp') ?? str(event, 'requestReceivedTimestamp');
  const timeMs = parseTime(when);
  if (Number.isNaN(timeMs)) throw new InvalidEventError('missing or invalid stageTimestamp');
  const user = event.user;
  if (!isRecord(user)) throw new InvalidEventError('user must be an object');
  const username = str(user, 'username');
  if (!username) throw new InvalidEventError('user.username must be a non-empty string');
  const extra = field(user, 'extra');
  const isSa = username.startsWith(SA_PREFIX);
  const saRef = isSa ? username.slice(SA_PREFIX.length).replace(':', '/') : undefined;
  const credentialId = firstString(field(extra, 'authentication.kubernetes.io/credential-id'));
  const podName = firstString(field(extra, 'authentication.kubernetes.io/pod-name'));
  const sourceIPs = event.sourceIPs;
  if (sourceIPs !== undefined && !Array.isArray(sourceIPs))
    throw new InvalidEventError('sourceIPs must be an array');
  const ip = firstString(sourceIPs);
  const obj = event.objectRef;
  const resourceType = str(obj, 'resource') ?? 'nonresource';
  const subresource = str(obj, 'subresource');
  const namespace = str(obj, 'namespace');
  const objName = str(obj, 'name');
  const code = field(event.responseStatus, 'code');
  const status = typeof code === 'number' ? code : 200;
  const resourceKind = subresource ? `${resourceType}/${subresource}` : resourceType;
  const resource = obj
    ? [namespace ?? '_cluster', resourceType, objName].filter((x) => x !== undefined).join('/')
    : str(event, 'requestURI');
  const targets: string[] = [];
  const impersonated = str(event.impersonatedUser, 'username');
  if (impersonated) targets.push(impersonated);
  const roleRef = str(field(event.requestObject, 'roleRef'), 'name');
  if (roleRef) targets.push(roleRef);
  // Exec / attach / port-forward reach into another workload: an edge for lateral-movement detection.
  if (
    resourceType === 'pods' &&
    (subresource === 'exec' || subresource === 'attach' || subresource === 'portforward')
  ) {
    targets.push(`${namespace ?? '_cluster'}/${objName ?? '?'}`);
  }
  if (resourceType === 'serviceaccounts' && subresource === 'token' && namespace && objName) {
    targets.push(`${SA_PREFIX}${namespace}:${objName}`);
  }
  return {
    id: auditID,
    time: new Date(timeMs).toISOString(),
    timeMs,
    source: 'k8s-audit',
    actor: {
      name: username,
      type: isSa ? 'ServiceAccount' : 'User',
      principal: saRef,
      sessionName: podName,
    },
    credential: credentialId ? { id: credentialId, temporary: true } : undefined,
    src: { ip, userAgent: str(event, 'userAgent'), network: networkOf(ip) },
    session: credentialId,
    action: `k8s:${verb}:${resourceKind}`,
    operation: verb,
    service: 'k8s',
    resource,
    targets,
    impersonating: impersonated,
    outcome: status === 401 || status === 403 ? 'deny' : status >= 400 ? 'failure' : 'success',
    errorCode: status >= 400 ? String(status) : undefined,
    readOnly: verb === 'get' || verb === 'list' || verb === 'watch',
    params: {
      ...(namespace ? { namespace } : {}),
      ...(roleRef ? { roleRef } : {}),
      ...(obj ? {} : { requestURI: str(event, 'requestURI') }),
    },
  };
}

function requireString(record: Record<string, unknown>, key: string): string {
  const v = record[key];
  if (typeof v !== 'string' || v.length === 0) {
    throw new InvalidEventError(v === undefined ? `missing ${key}` : `${key} must be a non-empty string`);
  }
  return v;
}

function firstString(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && typeof value[0] === 'string') return value[0];
  return undefined;
}
