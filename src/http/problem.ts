/**
 * The single mapping from errors to RFC 9457 problem+json. Typed BulkheadErrors keep their code and field;
 * Fastify's own errors (bad JSON, body too large, wrong media type) get stable codes; anything else is a
 * 500 whose detail never leaks internals (the log has the stack, keyed by request id).
 */
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { BulkheadError, coreError, type CoreErrorCode } from '../errors.js';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json; charset=utf-8';

export interface ProblemDocument {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  instance: string;
  request_id: string;
  field?: string;
  [key: string]: unknown;
}

const FASTIFY_CODES: Record<string, CoreErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'VALIDATION_FAILED',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'MALFORMED_JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'MALFORMED_JSON',
  FST_ERR_BAD_URL: 'VALIDATION_FAILED',
  FST_ERR_MAX_PARAM_LENGTH: 'VALIDATION_FAILED',
  FST_ERR_ASYNC_CONSTRAINT: 'VALIDATION_FAILED',
};

export function toBulkheadError(error: unknown): BulkheadError {
  if (error instanceof BulkheadError) return error;
  const fe = error as Partial<FastifyError> & { status?: number };
  const mapped = fe.code ? FASTIFY_CODES[fe.code] : undefined;
  if (mapped)
    return coreError(mapped, fe.message ?? mapped, {
      field: mapped === 'VALIDATION_FAILED' ? 'request' : 'body',
    });
  // Fastify's JSON parser throws a SyntaxError-derived error with statusCode 400.
  if (error instanceof SyntaxError || (fe.statusCode === 400 && /JSON/i.test(fe.message ?? ''))) {
    return coreError('MALFORMED_JSON', 'request body is not valid JSON', { field: 'body' });
  }
  const status = fe.statusCode ?? fe.status;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    if (status === 413) return coreError('BODY_TOO_LARGE', 'request body too large', { field: 'body' });
    if (status === 415) return coreError('UNSUPPORTED_MEDIA_TYPE', fe.message ?? 'unsupported media type');
    return coreError('VALIDATION_FAILED', fe.message ?? 'bad request', { field: 'request' });
  }
  return coreError('INTERNAL', 'internal error; see the server log for this request id');
}

export function problemFor(error: BulkheadError, request: FastifyRequest): ProblemDocument {
  const doc: ProblemDocument = {
    ...(error.extra ?? {}),
    type: problemType(error.code),
    title: error.title,
    status: error.status,
    detail: error.message,
    code: error.code,
    instance: request.url.split('?')[0] ?? request.url,
    request_id: request.id,
  };
  if (error.field !== undefined) doc.field = error.field;
  return doc;
}

export function sendProblem(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const be = toBulkheadError(error);
  if (be.status >= 500) request.log.error({ err: error }, 'request failed');
  if (be.status === 401) void reply.header('www-authenticate', 'Bearer realm="bulkhead"');
  return reply.code(be.status).type(PROBLEM_CONTENT_TYPE).send(problemFor(be, request));
}

/**
 * The raw HTTP response for a request Node's parser rejected before Fastify saw it (a non-ASCII byte in the
 * path, headers over the size limit, a request that timed out): the same problem+json as every other error,
 * under a fresh request id, and the connection closes.
 */
export function clientErrorResponse(err: { code?: string }): string {
  const be =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? coreError('HEADERS_TOO_LARGE', 'the request headers exceed the size limit', { field: 'headers' })
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? coreError('REQUEST_TIMEOUT', 'the request was not received in time')
        : coreError('VALIDATION_FAILED', 'the request is not well-formed HTTP', { field: 'request' });
  const doc = {
    type: problemType(be.code),
    title: be.title,
    status: be.status,
    detail: be.message,
    code: be.code,
    request_id: randomUUID(),
    ...(be.field === undefined ? {} : { field: be.field }),
  };
  const body = JSON.stringify(doc);
  return (
    `HTTP/1.1 ${be.status} ${STATUS_CODES[be.status] ?? ''}\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
  );
}

function problemType(code: string): string {
  return `urn:bulkhead:problem:${code
    .replace(/^BULKHEAD_/, '')
    .toLowerCase()
    .replace(/_/g, '-')}`;
}
