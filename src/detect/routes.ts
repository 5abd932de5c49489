/**
 * HTTP: `POST /v1/events` (NDJSON batches, gzip accepted, bounded), `GET /v1/alerts`, and the JWKS that
 * verifies the Security Event Tokens this server pushes.
 */
import { promisify } from 'node:util';
import { gunzip as gunzipCb } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { coreError, defineErrorCodes } from '../errors.js';
import { addRoute } from '../http/route.js';
import { SEVERITIES } from './alert.js';
import { publicAlert } from './offline.js';
import { INPUT_FORMATS } from './parse/reader.js';
import type { DetectService } from './service.js';
import { detectDb, listAlerts } from './store.js';

const gunzip = promisify(gunzipCb);

export const detectError = defineErrorCodes({
  DETECT_BAD_ENCODING: { status: 400, title: 'Request body could not be decoded' },
});

export interface DetectRouteOptions {
  /** Largest accepted (compressed) request body. */
  bodyLimitBytes: number;
  /** Largest body after gunzip: a small gzip bomb must not become gigabytes in memory. */
  maxDecodedBytes: number;
}

const NDJSON_TYPES = ['application/x-ndjson', 'application/jsonl', 'application/ndjson'];

const eventsQuery = z.strictObject({ format: z.enum(INPUT_FORMATS).default('auto') });
const alertsQuery = z.strictObject({
  severity: z.enum(SEVERITIES).optional(),
  rule_id: z.string().min(1).max(100).optional(),
  identity_id: z.string().min(1).max(200).optional(),
  since: z.iso.datetime({ offset: true }).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

export function registerDetectRoutes(
  app: FastifyInstance,
  service: () => DetectService,
  options: DetectRouteOptions,
): void {
  app.addContentTypeParser(
    NDJSON_TYPES,
    { parseAs: 'buffer', bodyLimit: options.bodyLimitBytes },
    (_req, body, done) => done(null, body),
  );

  addRoute(app, {
    method: 'POST',
    url: '/v1/events',
    summary:
      'Ingest events (NDJSON: Bulkhead events, CloudTrail records or Kubernetes audit events; gzip accepted)',
    tags: ['detect'],
    scope: 'write',
    query: eventsQuery,
    body: z.unknown(),
    handler: async ({ body, query, request }) => {
      if (!Buffer.isBuffer(body)) {
        throw coreError(
          'UNSUPPORTED_MEDIA_TYPE',
          `send events as ${NDJSON_TYPES[0]} (one JSON event per line)`,
          {
            field: 'headers.content-type',
          },
        );
      }
      const encoding = String(request.headers['content-encoding'] ?? 'identity').toLowerCase();
      let data: Buffer;
      if (encoding === 'gzip' || encoding === 'x-gzip') {
        try {
          data = await gunzip(body, { maxOutputLength: options.maxDecodedBytes });
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError) {
            throw coreError(
              'BODY_TOO_LARGE',
              `the decompressed body exceeds ${options.maxDecodedBytes} bytes`,
              {
                field: 'body',
              },
            );
          }
          throw detectError('DETECT_BAD_ENCODING', 'the body is not valid gzip', {
            field: 'headers.content-encoding',
          });
        }
      } else if (encoding === 'identity') {
        data = body;
      } else {
        throw coreError(
          'UNSUPPORTED_MEDIA_TYPE',
          `content-encoding ${encoding} is not supported (use gzip)`,
          {
            field: 'headers.content-encoding',
          },
        );
      }
      return service().ingest(data, query.format);
    },
  });

  addRoute(app, {
    method: 'GET',
    url: '/v1/alerts',
    summary: 'Detection alerts, most recently active first',
    tags: ['detect'],
    scope: 'read',
    query: alertsQuery,
    handler: async ({ query }) => {
      const alerts = await listAlerts(detectDb(service().ctxDb()), {
        minSeverity: query.severity,
        ruleId: query.rule_id,
        identityId: query.identity_id,
        // Stored times are UTC ISO and compared as text: an offset is turned into the same instant in UTC.
        since: query.since === undefined ? undefined : new Date(query.since).toISOString(),
        limit: query.limit,
      });
      return { items: alerts.map(publicAlert) };
    },
  });

  addRoute(app, {
    method: 'GET',
    url: '/v1/ssf/jwks.json',
    summary: 'Keys that verify the Security Event Tokens (RFC 8417) this server pushes',
    tags: ['detect'],
    scope: 'public',
    handler: async () => service().signer?.jwks() ?? { keys: [] },
  });
}
