/**
 * Typed errors with stable codes. Every error a client can see is a BulkheadError; the HTTP layer maps it
 * once to RFC 9457 problem+json and the CLI prints it as one line. Tests assert `code`, never the message.
 */
export const ErrorCodes = {
  VALIDATION_FAILED: { status: 400, title: 'Request validation failed' },
  MALFORMED_JSON: { status: 400, title: 'Malformed JSON body' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported media type' },
  BODY_TOO_LARGE: { status: 413, title: 'Request body too large' },
  HEADERS_TOO_LARGE: { status: 431, title: 'Request headers too large' },
  REQUEST_TIMEOUT: { status: 408, title: 'Request timed out' },
  BAD_CURSOR: { status: 400, title: 'Invalid pagination cursor' },
  UNAUTHENTICATED: { status: 401, title: 'Missing or invalid credentials' },
  FORBIDDEN: { status: 403, title: 'Insufficient scope' },
  NOT_FOUND: { status: 404, title: 'Not found' },
  ROUTE_NOT_FOUND: { status: 404, title: 'No such route' },
  METHOD_NOT_ALLOWED: { status: 405, title: 'Method not allowed' },
  CONFLICT: { status: 409, title: 'Conflict' },
  RATE_LIMITED: { status: 429, title: 'Too many requests' },
  STORE_UNAVAILABLE: { status: 503, title: 'Store unavailable' },
  INTERNAL: { status: 500, title: 'Internal error' },
} as const satisfies Record<string, { status: number; title: string }>;

export type CoreErrorCode = keyof typeof ErrorCodes;

export interface BulkheadErrorOptions {
  /** Dotted path of the offending input field, e.g. `body.owners[0]`. */
  field?: string;
  cause?: unknown;
  /** Extra members for the problem document (must be JSON-safe and contain no secrets). */
  extra?: Record<string, unknown>;
}

export class BulkheadError extends Error {
  /** Stable machine-readable code, prefixed `BULKHEAD_`. */
  readonly code: string;
  readonly status: number;
  readonly title: string;
  readonly field: string | undefined;
  readonly extra: Record<string, unknown> | undefined;

  constructor(
    code: string,
    status: number,
    title: string,
    detail: string,
    options: BulkheadErrorOptions = {},
  ) {
    super(detail, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BulkheadError';
    this.code = code.startsWith('BULKHEAD_') ? code : `BULKHEAD_${code}`;
    this.status = status;
    this.title = title;
    this.field = options.field;
    this.extra = options.extra;
  }
}

/**
 * Builds an error from the core code table.
 * @example throw coreError('NOT_FOUND', `identity ${id} does not exist`, { field: 'params.id' })
 */
export function coreError(
  code: CoreErrorCode,
  detail: string,
  options: BulkheadErrorOptions = {},
): BulkheadError {
  const def = ErrorCodes[code];
  return new BulkheadError(code, def.status, def.title, detail, options);
}

/**
 * Lets a module declare its own code table once (UPPER_SNAKE, status, title) and get a typed constructor.
 * @example
 * const policyError = defineErrorCodes({ POLICY_INVALID: { status: 400, title: 'Policy failed validation' } });
 * throw policyError('POLICY_INVALID', cedarMessage, { field: 'body.policies' });
 */
export function defineErrorCodes<T extends Record<string, { status: number; title: string }>>(table: T) {
  return (code: keyof T & string, detail: string, options: BulkheadErrorOptions = {}): BulkheadError => {
    const def = table[code];
    if (!def) throw new Error(`unknown error code ${code}`);
    return new BulkheadError(code, def.status, def.title, detail, options);
  };
}

export function isBulkheadError(value: unknown): value is BulkheadError {
  return value instanceof BulkheadError;
}
