/**
 * AWS CloudTrail record → normalized event. Field names follow the CloudTrail record contents reference
 * (userIdentity, eventSource, eventName, sourceIPAddress, requestParameters, resources, eventID).
 */
import { field, isRecord, networkOf, parseTime, str, type NormalizedEvent } from '../event.js';
import { InvalidEventError } from './issues.js';

/** Request parameters detectors look at; everything else stays out of memory. */
const KEPT_PARAMS = [
  'userName',
  'roleName',
  'roleArn',
  'roleSessionName',
  'policyArn',
  'policyName',
  'policyDocument',
  'groupName',
  'secretId',
  'secretIdList',
  'name',
  'names',
  'withDecryption',
  'bucketName',
  'key',
  'eventSelectors',
  'advancedEventSelectors',
  'detectorId',
  'flowLogIds',
  'logGroupName',
  'configurationRecorderName',
];
const MAX_PARAM_CHARS = 4096;

const DENY_CODES = /AccessDenied|Unauthorized|Forbidden|NotAuthorized/i;

export function isCloudTrailRecord(value: unknown): boolean {
  return str(value, 'eventSource') !== undefined && field(value, 'eventVersion') !== undefined;
}

export function normalizeCloudTrail(record: unknown): NormalizedEvent {
  if (!isRecord(record)) throw new InvalidEventError('a CloudTrail record must be a JSON object');
  const eventTime = requireString(record, 'eventTime');
  const eventName = requireString(record, 'eventName');
  const eventSource = requireString(record, 'eventSource');
  const timeMs = parseTime(eventTime);
  if (Number.isNaN(timeMs)) throw new InvalidEventError(`eventTime is not a timestamp: ${eventTime}`);
  const ui = record.userIdentity;
  if (ui !== undefined && !isRecord(ui)) throw new InvalidEventError('userIdentity must be an object');
  const type = str(ui, 'type') ?? 'Unknown';
  const arn = str(ui, 'arn');
  const issuer = field(field(ui, 'sessionContext'), 'sessionIssuer');
  const issuerArn = str(issuer, 'arn');
  const userName = str(ui, 'userName') ?? str(record.additionalEventData, 'UserName');
  const name = arn ?? (userName ? userName : undefined) ?? str(ui, 'principalId') ?? str(ui, 'invokedBy');
  if (!name) throw new InvalidEventError('userIdentity names no principal (arn, userName or principalId)');
  const accessKeyId = str(ui, 'accessKeyId');
  const service = eventSource.replace(/\.amazonaws\.com$/, '');
  const params = pickParams(record.requestParameters);
  // The key id of the session an AssumeRole created: lets role-assumption chains be followed hop by hop.
  const issuedKey = str(field(record.responseElements, 'credentials'), 'accessKeyId');
  if (issuedKey) params.issuedAccessKeyId = issuedKey;
  const ip = str(record, 'sourceIPAddress');
  const userAgent = str(record, 'userAgent');
  const errorCode = str(record, 'errorCode');
  const consoleLogin = eventName === 'ConsoleLogin';
  const loginFailed = consoleLogin && str(record.responseElements, 'ConsoleLogin') === 'Failure';
  const readOnly = field(record, 'readOnly');
  return {
    id: str(record, 'eventID') ?? `${eventSource}:${eventName}:${eventTime}:${name}`,
    time: new Date(timeMs).toISOString(),
    timeMs,
    source: 'cloudtrail',
    actor: {
      name,
      type,
      principal: issuerArn ?? (type === 'IAMUser' || type === 'Root' ? arn : undefined),
      sessionName: type === 'AssumedRole' && arn ? arn.split('/').slice(2).join('/') || undefined : undefined,
    },
    credential: accessKeyId ? { id: accessKeyId, temporary: accessKeyId.startsWith('ASIA') } : undefined,
    src: { ip, userAgent, network: networkOf(ip) },
    session: type === 'AssumedRole' ? str(ui, 'principalId') : undefined,
    action: `${service}:${eventName}`,
    operation: eventName,
    service,
    resource: primaryResource(record, params),
    targets: targetsOf(eventName, params),
    outcome: errorCode
      ? DENY_CODES.test(errorCode)
        ? 'deny'
        : 'failure'
      : loginFailed
        ? 'failure'
        : 'success',
    errorCode,
    readOnly: typeof readOnly === 'boolean' ? readOnly : undefined,
    console: consoleLogin || str(record, 'eventType') === 'AwsConsoleSignIn' || undefined,
    params,
  };
}

function requireString(record: Record<string, unknown>, key: string): string {
  const v = record[key];
  if (typeof v !== 'string' || v.length === 0) {
    throw new InvalidEventError(
      v === undefined ? `missing ${key}` : `${key} must be a non-empty string, got ${typeof v}`,
    );
  }
  return v;
}

function pickParams(rp: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!isRecord(rp)) return out;
  for (const key of KEPT_PARAMS) {
    const v = rp[key];
    if (v === undefined || v === null) continue;
    if (typeof v === 'string') out[key] = v.length > MAX_PARAM_CHARS ? v.slice(0, MAX_PARAM_CHARS) : v;
    else if (typeof v === 'boolean' || typeof v === 'number') out[key] = v;
    else {
      const text = JSON.stringify(v);
      out[key] = text.length > MAX_PARAM_CHARS ? text.slice(0, MAX_PARAM_CHARS) : text;
    }
  }
  return out;
}

function primaryResource(
  record: Record<string, unknown>,
  params: Record<string, unknown>,
): string | undefined {
  const resources = record.resources;
  if (Array.isArray(resources)) {
    for (const r of resources) {
      const a = str(r, 'ARN') ?? str(r, 'arn');
      if (a) return a;
    }
  }
  for (const key of ['secretId', 'roleArn', 'name', 'bucketName', 'roleName', 'userName', 'policyArn']) {
    const v = params[key];
    if (typeof v === 'string') return v;
  }
  return undefined;
}

function targetsOf(eventName: string, params: Record<string, unknown>): string[] {
  if (eventName.startsWith('AssumeRole')) return typeof params.roleArn === 'string' ? [params.roleArn] : [];
  const out: string[] = [];
  if (typeof params.userName === 'string') out.push(params.userName);
  if (typeof params.roleName === 'string') out.push(params.roleName);
  return out;
}
