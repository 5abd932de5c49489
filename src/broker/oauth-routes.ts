/**
 * The OAuth-facing endpoints: token (RFC 6749 / 7523 / 8693 / 9449), introspection (RFC 7662), revocation
 * (RFC 7009), JWKS and authorization server metadata (RFC 8414). They take form-encoded bodies and answer
 * errors the OAuth way (`{error, error_description}`, RFC 6749 §5.2) with our stable code alongside.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { BulkheadError, isBulkheadError } from '../errors.js';
import { addRoute } from '../http/route.js';
import { DPOP_ALGORITHMS } from './dpop/proof.js';
import { brokerError, oauthErrorFor } from './errors.js';
import {
  ASSERTION_TYPE_JWT_BEARER,
  GRANT_CLIENT_CREDENTIALS,
  GRANT_JWT_BEARER,
  GRANT_TOKEN_EXCHANGE,
  type Broker,
} from './service.js';
import { TASK_DETAIL_TYPE } from './tokens/claims.js';

const FORM = 'application/x-www-form-urlencoded';
const DUPLICATE = Symbol('duplicate-parameter');

/** Registers the form parser once; a parameter given twice is invalid (RFC 6749 §3.2). */
export function registerFormParser(app: FastifyInstance): void {
  if (app.hasContentTypeParser(FORM)) return;
  app.addContentTypeParser(FORM, { parseAs: 'string' }, (_req, body, done) => {
    const out: Record<string, string> = {};
    for (const [k, v] of new URLSearchParams(body as string)) {
      if (Object.hasOwn(out, k)) {
        // Answered as an OAuth invalid_request by the route, not as a parser failure.
        Object.defineProperty(out, DUPLICATE, { value: k, enumerable: false });
        continue;
      }
      out[k] = v;
    }
    done(null, out);
  });
}

/**
 * The URL of the endpoint a request reached, under the configured public URL (DPoP `htu`, client assertion
 * `aud`). Never built from the Host header: a client could name another server there and get an assertion or
 * proof meant for that server accepted here.
 */
export function requestUrl(broker: Broker, request: FastifyRequest): string {
  const path = request.url.split('?')[0] ?? '/';
  return `${broker.deps.publicUrl()}${path}`;
}

function formParams(request: FastifyRequest): Record<string, string> {
  const type = String(request.headers['content-type'] ?? '');
  if (!type.startsWith(FORM) || request.body === null || typeof request.body !== 'object') {
    throw brokerError('OAUTH_INVALID_REQUEST', `the body must be ${FORM}`, { field: 'body' });
  }
  const params = request.body as Record<string, string> & { [DUPLICATE]?: string };
  const dup = params[DUPLICATE];
  if (dup !== undefined) {
    throw brokerError('OAUTH_INVALID_REQUEST', `parameter ${dup} appears more than once`, { field: dup });
  }
  return params;
}

/**
 * OAuth errors as RFC 9457 problem documents that also carry the RFC 6749 §5.2 members (`error`,
 * `error_description`), so OAuth clients and the rest of the API read the same body. The status follows
 * OAuth (400 for grant problems, 401 for client authentication).
 */
function oauthError(reply: FastifyReply, err: unknown): never {
  if (!isBulkheadError(err)) throw err;
  const { status, error } = oauthErrorFor(err);
  void reply.header('cache-control', 'no-store');
  if (status === 401) void reply.header('www-authenticate', 'Bearer error="invalid_client"');
  throw new BulkheadError(err.code, status, err.title, err.message, {
    ...(err.field ? { field: err.field } : {}),
    extra: { ...err.extra, error, error_description: err.message },
  });
}

const formBody = z.unknown();

export function registerOAuthRoutes(app: FastifyInstance, broker: () => Broker): void {
  registerFormParser(app);

  addRoute(app, {
    method: 'GET',
    url: '/.well-known/jwks.json',
    summary: 'The broker signing keys (RFC 7517 JWK Set), including keys still in their rotation overlap',
    tags: ['broker'],
    scope: 'public',
    handler: async ({ reply }) => {
      void reply.header('cache-control', 'public, max-age=60');
      return broker().keys.jwks();
    },
  });

  addRoute(app, {
    method: 'GET',
    url: '/.well-known/oauth-authorization-server',
    summary: 'OAuth 2.0 authorization server metadata (RFC 8414)',
    tags: ['broker'],
    scope: 'public',
    handler: async () => {
      const base = broker().deps.publicUrl();
      return {
        issuer: broker().deps.config.issuer,
        token_endpoint: `${base}/oauth2/token`,
        jwks_uri: `${base}/.well-known/jwks.json`,
        introspection_endpoint: `${base}/oauth2/introspect`,
        revocation_endpoint: `${base}/oauth2/revoke`,
        grant_types_supported: [GRANT_CLIENT_CREDENTIALS, GRANT_JWT_BEARER, GRANT_TOKEN_EXCHANGE],
        token_endpoint_auth_methods_supported: ['private_key_jwt'],
        token_endpoint_auth_signing_alg_values_supported: ['EdDSA', 'ES256', 'ES384', 'RS256', 'PS256'],
        client_assertion_types_supported: [ASSERTION_TYPE_JWT_BEARER],
        dpop_signing_alg_values_supported: [...DPOP_ALGORITHMS],
        authorization_details_types_supported: [TASK_DETAIL_TYPE],
        response_types_supported: [],
        introspection_endpoint_auth_methods_supported: ['bearer'],
        revocation_endpoint_auth_methods_supported: ['none'],
      };
    },
  });

  addRoute(app, {
    method: 'POST',
    url: '/oauth2/token',
    summary:
      'Mint a task token (client_credentials or jwt-bearer with a workload proof) or exchange one (RFC 8693)',
    tags: ['broker'],
    scope: 'public',
    body: formBody,
    handler: async ({ request, reply, requestId }) => {
      try {
        const params = formParams(request);
        const dpop = request.headers.dpop;
        if (Array.isArray(dpop))
          throw brokerError('DPOP_INVALID', 'exactly one DPoP header is allowed', { field: 'headers.dpop' });
        const b = broker();
        const res = await b.tokenRequest(params, {
          endpointUrl: requestUrl(b, request),
          dpop,
          requestId,
        });
        void reply.header('cache-control', 'no-store');
        return res;
      } catch (err) {
        return oauthError(reply, err);
      }
    },
  });

  addRoute(app, {
    method: 'POST',
    url: '/oauth2/introspect',
    summary: 'Token introspection (RFC 7662); needs an API key with the read scope',
    tags: ['broker'],
    scope: 'read',
    body: formBody,
    handler: async ({ request, reply }) => {
      try {
        const params = formParams(request);
        if (!params.token)
          throw brokerError('OAUTH_INVALID_REQUEST', 'token is required', { field: 'token' });
        void reply.header('cache-control', 'no-store');
        return await broker().introspect(params.token);
      } catch (err) {
        return oauthError(reply, err);
      }
    },
  });

  addRoute(app, {
    method: 'POST',
    url: '/oauth2/revoke',
    summary: 'Token revocation (RFC 7009): whoever holds a token may revoke it; durable before the 200',
    tags: ['broker'],
    scope: 'public',
    body: formBody,
    handler: async ({ request, reply, requestId, actor }) => {
      try {
        const params = formParams(request);
        if (!params.token)
          throw brokerError('OAUTH_INVALID_REQUEST', 'token is required', { field: 'token' });
        await broker().revokeToken(params.token, actor?.name ?? 'token-holder', requestId);
        return reply.code(200).send();
      } catch (err) {
        return oauthError(reply, err);
      }
    },
  });
}
