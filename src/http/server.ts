/**
 * Builds the Fastify app: request ids, API-key authentication before the body is read, body limits,
 * problem+json errors, health/readiness, metrics, OpenAPI, and every module's routes.
 */
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { hasScope } from '../admin/api-keys.js';
import type { AppContext } from '../app-context.js';
import { BulkheadError, coreError } from '../errors.js';
import type { BulkheadModule } from '../modules/types.js';
import { createMetrics, type Metrics } from './metrics.js';
import { buildOpenApi } from './openapi.js';
import { clientErrorResponse, sendProblem } from './problem.js';
import { addRoute, type RouteScope } from './route.js';
import { landingPage } from './landing.js';
import { illFormedPath } from '../well-formed.js';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export interface ServerOptions {
  version: string;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    scope?: RouteScope;
  }
}

export function buildServer(
  ctx: AppContext,
  modules: BulkheadModule[],
  options: ServerOptions,
): FastifyInstance & { metrics: Metrics } {
  const app = Fastify({
    // The cast keeps FastifyInstance's default logger type, so modules see one app type everywhere.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion
    loggerInstance: ctx.log as FastifyBaseLogger,
    bodyLimit: ctx.config.bodyLimitBytes,
    // Accept a caller's X-Request-ID when it is sane (so traces join up), otherwise mint one.
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    // Router-level failures (malformed URL, over-long path parameter) get the same problem+json as the rest.
    frameworkErrors: (error, request, reply) => {
      void sendProblem(error, request, reply);
    },
    // Requests Node's HTTP parser rejects never reach Fastify: answer them in problem+json too.
    clientErrorHandler: (err, socket) => {
      if ((err as { code?: string }).code === 'ECONNRESET' || socket.destroyed) return;
      if (socket.writable) socket.write(clientErrorResponse(err));
      socket.destroy(err);
    },
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 256 },
  });
  const metrics = createMetrics();
  // Fastify's own JSON parser (prototype poisoning refused), then the well-formed text check.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const raw = typeof body === 'string' ? body : body.toString('utf8');
    void parseJson(request, raw, (err, parsed: unknown) => {
      if (err) return done(err, undefined);
      const field = illFormedPath(raw, parsed);
      if (field === undefined) return done(null, parsed);
      done(
        coreError('VALIDATION_FAILED', 'strings must be well-formed Unicode: no unpaired UTF-16 surrogate', {
          field,
        }),
        undefined,
      );
    });
  });

  app.addHook('onRequest', async (request, reply) => {
    void reply.header('x-request-id', request.id);
    const auth = request.headers.authorization;
    if (typeof auth === 'string' && /^bearer /i.test(auth)) {
      const actor = await ctx.apiKeys.authenticate(auth.slice(7).trim()).catch((err: unknown) => {
        // A valid key refused (its person is no longer active) is an authentication failure too.
        if (err instanceof BulkheadError && err.status === 401) metrics.authFailures.inc();
        throw err;
      });
      if (actor) request.actor = actor;
    }
    // Authorise before the body is read: an unauthenticated caller cannot make us parse 1 MB of JSON.
    const scope = request.routeOptions.config.scope;
    if (scope === undefined || scope === 'public') return;
    if (!request.actor) {
      metrics.authFailures.inc();
      throw coreError('UNAUTHENTICATED', 'a valid API key is required (Authorization: Bearer <token>)');
    }
    if (!hasScope(request.actor.scopes, scope)) {
      throw coreError('FORBIDDEN', `this operation needs the '${scope}' scope`, {
        extra: { required_scope: scope },
      });
    }
  });
  app.addHook('onResponse', async (request, reply) => {
    metrics.observeHttp(
      request.method,
      request.routeOptions.url ?? 'unmatched',
      reply.statusCode,
      reply.elapsedTime / 1000,
    );
  });
  app.setErrorHandler((error, request, reply) => sendProblem(error, request, reply));
  app.setNotFoundHandler((request, reply) =>
    sendProblem(
      coreError('ROUTE_NOT_FOUND', `no route for ${request.method} ${request.url.split('?')[0] ?? ''}`),
      request,
      reply,
    ),
  );

  addRoute(app, {
    method: 'GET',
    url: '/healthz',
    summary: 'Liveness: the process is up',
    tags: ['health'],
    scope: 'public',
    handler: async () => ({ status: 'ok' }),
  });
  addRoute(app, {
    method: 'GET',
    url: '/readyz',
    summary: 'Readiness: the store answers',
    tags: ['health'],
    scope: 'public',
    handler: async () => {
      try {
        await ctx.store.ping();
      } catch (err) {
        throw coreError('STORE_UNAVAILABLE', 'the store does not answer', { cause: err });
      }
      return { status: 'ready', store: ctx.dialect };
    },
  });
  addRoute(app, {
    method: 'GET',
    url: '/metrics',
    summary: 'Prometheus metrics',
    tags: ['health'],
    scope: 'read',
    handler: async ({ reply }) => {
      const text = await metrics.registry.metrics();
      return reply.type(metrics.registry.contentType).send(text);
    },
  });
  addRoute(app, {
    method: 'GET',
    url: '/openapi.json',
    summary: 'This API as OpenAPI 3.1',
    tags: ['meta'],
    scope: 'public',
    handler: async () => buildOpenApi(app, options.version),
  });
  addRoute(app, {
    method: 'GET',
    url: '/',
    summary: 'Landing page with links to the API',
    tags: ['meta'],
    scope: 'public',
    handler: async ({ reply }) => reply.type('text/html; charset=utf-8').send(landingPage(options.version)),
  });

  for (const m of modules) m.registerRoutes?.(app, ctx);
  return Object.assign(app, { metrics });
}
