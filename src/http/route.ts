/**
 * One way to declare a route: zod schemas for params/query/body, a required scope, and a handler that
 * returns the JSON body. Validation errors become 400 problem+json naming the offending field, and every
 * route lands in `/openapi.json` from the same schemas, so docs and behaviour cannot drift apart.
 */
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z, type ZodType } from 'zod';
import { hasScope, type Actor, type ApiKeyScope } from '../admin/api-keys.js';
import { coreError } from '../errors.js';

export type RouteScope = 'public' | ApiKeyScope;
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RouteContext<B, Q, P> {
  body: B;
  query: Q;
  params: P;
  request: FastifyRequest;
  reply: FastifyReply;
  /** The authenticated API key; undefined only on `public` routes. */
  actor: Actor | undefined;
  requestId: string;
}

export interface RouteSpec<B, Q, P> {
  method: HttpMethod;
  url: string;
  summary: string;
  tags?: string[];
  scope: RouteScope;
  body?: ZodType<B>;
  query?: ZodType<Q>;
  params?: ZodType<P>;
  /** Documented response schema (not enforced at run time). */
  response?: ZodType;
  /** Status code documented for success; the handler may still set another. */
  successStatus?: number;
  /**
   * No access-log line per request (`incoming request` / `request completed`) unless the server logs at
   * debug or trace; warnings and errors still are. For the decision endpoints: each decision is already in
   * the decision log with its request id, and two log lines per decision would cost more than the decision.
   */
  quiet?: boolean;
  handler: (ctx: RouteContext<B, Q, P>) => Promise<unknown>;
}

type Bindings = Parameters<FastifyBaseLogger['child']>[0];

/** Levels quieter than `warn`: a server logging only at these keeps its own level on quiet routes too. */
const QUIETER_THAN_WARN = new Set(['error', 'fatal', 'silent']);

/**
 * The request logger of a quiet route: `info` and below go nowhere (Fastify's `incoming request` and `request
 * completed` lines included); `warn` and above go to an ordinary child logger with the request id, made only
 * when something is logged at that level. A child logger per request with its own level, as Fastify's route
 * `logLevel` makes, costs pino a rebuild of its log methods on every request; this costs one small object.
 */
class QuietRequestLogger implements FastifyBaseLogger {
  readonly level: string;
  private child_: FastifyBaseLogger | undefined;

  constructor(
    private readonly parent: FastifyBaseLogger,
    private readonly bindings: Bindings,
  ) {
    this.level = QUIETER_THAN_WARN.has(parent.level) ? parent.level : 'warn';
  }

  private get target(): FastifyBaseLogger {
    return (this.child_ ??= this.parent.child(this.bindings));
  }

  trace(): void {}
  debug(): void {}
  info(): void {}
  silent(): void {}
  warn(...args: unknown[]): void {
    Reflect.apply(this.target.warn, this.target, args);
  }
  error(...args: unknown[]): void {
    Reflect.apply(this.target.error, this.target, args);
  }
  fatal(...args: unknown[]): void {
    Reflect.apply(this.target.fatal, this.target, args);
  }
  /** A child stays as quiet as its parent unless given a level of its own. */
  child(bindings: Bindings, options?: Parameters<FastifyBaseLogger['child']>[1]): FastifyBaseLogger {
    return this.target.child(bindings, { ...options, level: options?.level ?? this.level });
  }
}

export const quietChildLogger = (logger: FastifyBaseLogger, bindings: Bindings): FastifyBaseLogger =>
  new QuietRequestLogger(logger, bindings);

export interface RegisteredRoute {
  method: HttpMethod;
  url: string;
  summary: string;
  tags: string[];
  scope: RouteScope;
  body?: ZodType | undefined;
  query?: ZodType | undefined;
  params?: ZodType | undefined;
  response?: ZodType | undefined;
  successStatus: number;
}

const registries = new WeakMap<FastifyInstance, RegisteredRoute[]>();

export function routeRegistry(app: FastifyInstance): RegisteredRoute[] {
  let list = registries.get(app);
  if (!list) {
    list = [];
    registries.set(app, list);
  }
  return list;
}

declare module 'fastify' {
  interface FastifyRequest {
    actor?: Actor;
  }
}

/**
 * Registers a route.
 * @example
 * addRoute(app, { method: 'GET', url: '/v1/identities/:id', summary: 'Get an identity', scope: 'read',
 *   params: idParamsSchema, handler: async ({ params }) => inventory.getIdentity(params.id) });
 */
export function addRoute<B = undefined, Q = undefined, P = undefined>(
  app: FastifyInstance,
  spec: RouteSpec<B, Q, P>,
): void {
  routeRegistry(app).push({
    method: spec.method,
    url: spec.url,
    summary: spec.summary,
    tags: spec.tags ?? [],
    scope: spec.scope,
    body: spec.body,
    query: spec.query,
    params: spec.params,
    response: spec.response,
    successStatus: spec.successStatus ?? 200,
  });
  const verbose = app.log.level === 'debug' || app.log.level === 'trace';
  app.route({
    method: spec.method,
    url: spec.url,
    config: { scope: spec.scope },
    ...(spec.quiet && !verbose ? { childLoggerFactory: quietChildLogger } : {}),
    handler: async (request, reply) => {
      const actor = request.actor;
      if (spec.scope !== 'public') {
        if (!actor)
          throw coreError('UNAUTHENTICATED', 'an API key is required (Authorization: Bearer <token>)');
        if (!hasScope(actor.scopes, spec.scope)) {
          throw coreError('FORBIDDEN', `this operation needs the '${spec.scope}' scope`, {
            extra: { required_scope: spec.scope },
          });
        }
      }
      const params = parsePart(spec.params, request.params, 'params');
      const rawQuery = (request.query ?? {}) as Record<string, unknown>;
      if (!spec.query) {
        const unknown = Object.keys(rawQuery)[0];
        if (unknown !== undefined) {
          throw coreError('VALIDATION_FAILED', `unknown query parameter '${unknown}'`, {
            field: `query.${unknown}`,
          });
        }
      }
      const query = parsePart(spec.query, rawQuery, 'query');
      if (!spec.body && request.body !== undefined && request.body !== null && spec.method !== 'GET') {
        const empty = typeof request.body === 'object' && Object.keys(request.body).length === 0;
        if (!empty)
          throw coreError('VALIDATION_FAILED', 'this operation takes no request body', { field: 'body' });
      }
      const body = parsePart(spec.body, request.body, 'body');
      const result = await spec.handler({
        body,
        query,
        params,
        request,
        reply,
        actor,
        requestId: request.id,
      });
      if (reply.sent) return reply;
      if (spec.successStatus && reply.statusCode === 200) reply.code(spec.successStatus);
      if (result === undefined) return reply.code(reply.statusCode === 200 ? 204 : reply.statusCode).send();
      return result;
    },
  });
}

function parsePart<T>(schema: ZodType<T> | undefined, value: unknown, part: 'params' | 'query' | 'body'): T {
  if (!schema) return undefined as T;
  if (part === 'body' && (value === undefined || value === null)) {
    // A body whose fields are all optional may be left out entirely (e.g. POST /v1/audit/verify).
    const empty = schema.safeParse({});
    if (empty.success) return empty.data;
    throw coreError('VALIDATION_FAILED', 'a JSON request body is required', { field: 'body' });
  }
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues.slice(0, 20).map((i) => ({
    field: formatPath(part, i.path),
    message: i.message,
  }));
  const first = issues[0] ?? { field: part, message: 'invalid' };
  throw coreError('VALIDATION_FAILED', `${first.field}: ${first.message}`, {
    field: first.field,
    extra: { errors: issues },
  });
}

export function formatPath(root: string, path: readonly PropertyKey[]): string {
  let out = root;
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `.${String(p)}`;
  return out;
}

/** JSON Schema (draft 2020-12, as OpenAPI 3.1 uses) for a zod schema; never throws. */
export function toJsonSchema(schema: ZodType, io: 'input' | 'output'): Record<string, unknown> {
  try {
    return z.toJSONSchema(schema, { io, unrepresentable: 'any' });
  } catch {
    return {};
  }
}
