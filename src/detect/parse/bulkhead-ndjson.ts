/**
 * Bulkhead's own event (the `BulkheadEvent` published on the bus: decisions, token use) and the NDJSON
 * lines clients post to `/v1/events` in the same shape → normalized event. Optional `data` members carry
 * what the bus event has no field for: `sourceIp`, `userAgent`, `taskId`, `workflow`, `intentActions`,
 * `boundJkt`, `presentedJkt`, `presentedBy`, `credentialTemporary`, `targets`, `actorName`.
 */
import {
  field,
  isRecord,
  networkOf,
  parseTime,
  str,
  type EventOutcome,
  type NormalizedEvent,
} from '../event.js';
import { InvalidEventError } from './issues.js';

const OUTCOMES: readonly EventOutcome[] = ['success', 'failure', 'deny', 'allow'];

export function normalizeBulkheadEvent(event: unknown): NormalizedEvent {
  if (!isRecord(event)) throw new InvalidEventError('an event must be a JSON object');
  const id = requireString(event, 'id');
  const time = requireString(event, 'time');
  const timeMs = parseTime(time);
  if (Number.isNaN(timeMs)) throw new InvalidEventError(`time is not a timestamp: ${time}`);
  const type = optionalString(event, 'type') ?? 'activity';
  const identityId = optionalString(event, 'identityId');
  const data = event.data;
  if (data !== undefined && !isRecord(data)) throw new InvalidEventError('data must be an object');
  const actorName = str(data, 'actorName') ?? identityId;
  if (!actorName) throw new InvalidEventError('missing identityId');
  const action = optionalString(event, 'action') ?? type;
  const outcome = event.outcome;
  if (outcome !== undefined && !OUTCOMES.includes(outcome as EventOutcome)) {
    throw new InvalidEventError(`outcome must be one of ${OUTCOMES.join(', ')}`);
  }
  const credentialId = optionalString(event, 'credentialId');
  const ip = str(data, 'sourceIp');
  const intent = field(data, 'intentActions');
  const targets = field(data, 'targets');
  const dot = action.indexOf('.');
  return {
    id,
    time: new Date(timeMs).toISOString(),
    timeMs,
    source: 'bulkhead',
    actor: { name: actorName, type: str(data, 'actorType') ?? 'BulkheadIdentity', identityId },
    credential: credentialId
      ? {
          id: credentialId,
          temporary: field(data, 'credentialTemporary') === true || type.startsWith('token.'),
        }
      : undefined,
    src: { ip, userAgent: str(data, 'userAgent'), network: networkOf(ip), asn: str(data, 'asn') },
    session: str(data, 'sessionId') ?? str(data, 'taskId'),
    action,
    operation: dot > 0 ? action.slice(dot + 1) : action,
    service: dot > 0 ? action.slice(0, dot) : 'bulkhead',
    resource: optionalString(event, 'resource'),
    targets: Array.isArray(targets) ? targets.filter((t): t is string => typeof t === 'string') : [],
    outcome: (outcome as EventOutcome | undefined) ?? 'success',
    console: field(data, 'console') === true || undefined,
    token: {
      taskId: str(data, 'taskId'),
      workflow: str(data, 'workflow'),
      intentActions: Array.isArray(intent)
        ? intent.filter((a): a is string => typeof a === 'string')
        : undefined,
      boundJkt: str(data, 'boundJkt'),
      presentedJkt: str(data, 'presentedJkt'),
      presentedBy: str(data, 'presentedBy'),
    },
    params: { eventType: type },
  };
}

function requireString(record: Record<string, unknown>, key: string): string {
  const v = record[key];
  if (typeof v !== 'string' || v.length === 0) {
    throw new InvalidEventError(v === undefined ? `missing ${key}` : `${key} must be a non-empty string`);
  }
  return v;
}

function optionalString(record: Record<string, unknown>, key: string): string | undefined {
  const v = record[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new InvalidEventError(`${key} must be a string`);
  return v.length > 0 ? v : undefined;
}
