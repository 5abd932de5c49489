/**
 * Per-line problems found while reading events. A bad line is reported and skipped; it never stops the
 * good lines around it from being processed.
 */
export const PARSE_ISSUE_CODES = [
  'BULKHEAD_DETECT_LINE_TOO_LONG',
  'BULKHEAD_DETECT_MALFORMED_JSON',
  'BULKHEAD_DETECT_INVALID_EVENT',
  'BULKHEAD_DETECT_UNKNOWN_FORMAT',
  'BULKHEAD_DETECT_UNREADABLE_INPUT',
] as const;
export type ParseIssueCode = (typeof PARSE_ISSUE_CODES)[number];

export interface ParseIssue {
  /** 1-based line number (NDJSON / JSON lines) or record number inside a `{"Records":[...]}` file. */
  index: number;
  unit: 'line' | 'record';
  code: ParseIssueCode;
  message: string;
  /** The file the line came from (offline mode). */
  file?: string | undefined;
}

/** Thrown by a record normalizer for a record with missing or mistyped fields. */
export class InvalidEventError extends Error {
  override name = 'InvalidEventError';
  constructor(
    message: string,
    readonly code: ParseIssueCode = 'BULKHEAD_DETECT_INVALID_EVENT',
  ) {
    super(message);
  }
}
