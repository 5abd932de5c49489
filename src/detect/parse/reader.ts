/**
 * Reads events from a byte stream in any supported format and hands each normalized event to a sink, with
 * one issue per bad line. Never throws for bad input: a malformed, mistyped or oversized line is reported
 * and the next line is read.
 */
import type { NormalizedEvent } from '../event.js';
import { isRecord } from '../event.js';
import { isCloudTrailRecord, normalizeCloudTrail } from './cloudtrail.js';
import { normalizeBulkheadEvent } from './bulkhead-ndjson.js';
import { LineFramer, looksLikeRecordsFile, RecordsArrayFramer, type FrameSink } from './framing.js';
import { InvalidEventError, type ParseIssue } from './issues.js';
import { isK8sAuditEvent, normalizeK8sAudit } from './k8s-audit.js';
import { illFormedPath } from '../../well-formed.js';

export const INPUT_FORMATS = ['auto', 'cloudtrail', 'k8s-audit', 'ndjson'] as const;
export type InputFormat = (typeof INPUT_FORMATS)[number];

/** 1 MiB: a CloudTrail record is at most ~100 KB; anything much larger is garbage or an attack. */
export const DEFAULT_MAX_LINE_BYTES = 1024 * 1024;

export interface EventSink {
  event(event: NormalizedEvent): void;
  issue(issue: ParseIssue): void;
}

export interface ReadStats {
  lines: number;
  events: number;
  skipped: number;
  issues: number;
  bytes: number;
}

/**
 * Normalizes one parsed JSON value. `auto` picks the parser from the record's own shape. Returns an empty
 * array for records that are not actions (e.g. a Kubernetes audit `RequestReceived` stage).
 */
export function normalizeValue(value: unknown, format: InputFormat): NormalizedEvent[] {
  if (format !== 'ndjson' && isRecord(value) && Array.isArray(value.Records)) {
    return value.Records.map((r) => normalizeCloudTrail(r));
  }
  switch (format) {
    case 'cloudtrail':
      return [normalizeCloudTrail(value)];
    case 'k8s-audit': {
      const e = normalizeK8sAudit(value);
      return e ? [e] : [];
    }
    case 'ndjson':
      return [normalizeBulkheadEvent(value)];
    case 'auto': {
      if (isCloudTrailRecord(value)) return [normalizeCloudTrail(value)];
      if (isK8sAuditEvent(value)) {
        const e = normalizeK8sAudit(value);
        return e ? [e] : [];
      }
      if (isRecord(value) && typeof value.id === 'string' && typeof value.time === 'string') {
        return [normalizeBulkheadEvent(value)];
      }
      throw new InvalidEventError(
        'not a CloudTrail record, Kubernetes audit event or Bulkhead event',
        'BULKHEAD_DETECT_UNKNOWN_FORMAT',
      );
    }
  }
}

/** Parses and normalizes one line of text, reporting a problem instead of throwing. */
export function normalizeLine(
  text: string,
  index: number,
  unit: 'line' | 'record',
  format: InputFormat,
  sink: EventSink,
  stats: ReadStats,
): void {
  stats.lines += 1;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    stats.issues += 1;
    sink.issue({
      index,
      unit,
      code: 'BULKHEAD_DETECT_MALFORMED_JSON',
      message: err instanceof Error ? err.message : 'malformed JSON',
    });
    return;
  }
  const illFormed = illFormedPath(text, value, unit);
  if (illFormed !== undefined) {
    stats.issues += 1;
    sink.issue({
      index,
      unit,
      code: 'BULKHEAD_DETECT_INVALID_EVENT',
      message: `${illFormed}: strings must be well-formed Unicode (no unpaired UTF-16 surrogate)`,
    });
    return;
  }
  let events: NormalizedEvent[];
  try {
    events = normalizeValue(value, format);
  } catch (err) {
    stats.issues += 1;
    if (err instanceof InvalidEventError) sink.issue({ index, unit, code: err.code, message: err.message });
    else sink.issue({ index, unit, code: 'BULKHEAD_DETECT_INVALID_EVENT', message: String(err) });
    return;
  }
  if (events.length === 0) stats.skipped += 1;
  for (const e of events) {
    stats.events += 1;
    sink.event(e);
  }
}

export interface ReadOptions {
  format: InputFormat;
  maxLineBytes?: number | undefined;
  /** Called with the byte count of each chunk read (progress bars). */
  onBytes?: ((n: number) => void) | undefined;
}

/** Reads a whole stream (a file, a request body). Resolves with counts once the input ends. */
export async function readEvents(
  input: AsyncIterable<Buffer | string> | Iterable<Buffer | string>,
  options: ReadOptions,
  sink: EventSink,
): Promise<ReadStats> {
  const stats: ReadStats = { lines: 0, events: 0, skipped: 0, issues: 0, bytes: 0 };
  const max = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  let framer: LineFramer | RecordsArrayFramer | undefined;
  let head: Buffer[] = [];
  let headSize = 0;
  const frameSink = (unit: 'line' | 'record'): FrameSink => ({
    frame: (text, index) => normalizeLine(text, index, unit, options.format, sink, stats),
    tooLong: (index, bytes) => {
      stats.lines += 1;
      stats.issues += 1;
      sink.issue({
        index,
        unit,
        code: 'BULKHEAD_DETECT_LINE_TOO_LONG',
        message: `${unit} of ${bytes} bytes exceeds the ${max}-byte limit`,
      });
    },
    truncated: (index) => {
      stats.issues += 1;
      sink.issue({
        index,
        unit,
        code: 'BULKHEAD_DETECT_MALFORMED_JSON',
        message: 'input ends inside a record',
      });
    },
  });
  const choose = (bytes: Buffer): LineFramer | RecordsArrayFramer =>
    options.format !== 'ndjson' && options.format !== 'k8s-audit' && looksLikeRecordsFile(bytes)
      ? new RecordsArrayFramer(max, frameSink('record'))
      : new LineFramer(max, frameSink('line'));
  for await (const raw of input) {
    const chunk = typeof raw === 'string' ? Buffer.from(raw) : raw;
    stats.bytes += chunk.length;
    options.onBytes?.(chunk.length);
    if (!framer) {
      head.push(chunk);
      headSize += chunk.length;
      if (headSize < 64) continue;
      const all = Buffer.concat(head, headSize);
      head = [];
      framer = choose(all);
      framer.push(all);
      continue;
    }
    framer.push(chunk);
  }
  if (!framer) {
    framer = choose(Buffer.concat(head, headSize));
    framer.push(Buffer.concat(head, headSize));
  }
  framer.end();
  return stats;
}
