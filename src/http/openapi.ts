import type { FastifyInstance } from 'fastify';
import { routeRegistry, toJsonSchema, type RegisteredRoute } from './route.js';

const problemSchema = {
  type: 'object',
  required: ['type', 'title', 'status', 'detail', 'code', 'request_id'],
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    code: { type: 'string', description: 'stable BULKHEAD_* error code' },
    field: { type: 'string', description: 'the offending input field, e.g. body.owners[0]' },
    instance: { type: 'string' },
    request_id: { type: 'string' },
  },
};

/** Builds the OpenAPI 3.1 document from the same zod schemas the routes validate with. */
export function buildOpenApi(app: FastifyInstance, version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routeRegistry(app)) {
    const path = route.url.replace(/:([A-Za-z_]+)/g, '{$1}');
    paths[path] ??= {};
    paths[path][route.method.toLowerCase()] = operationFor(route);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Bulkhead API',
      version,
      description: 'Assume-breach control plane for human and non-human identities.',
    },
    components: {
      securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'Bulkhead admin API key' } },
      schemas: { Problem: problemSchema },
    },
    paths,
  };
}

function operationFor(route: RegisteredRoute): Record<string, unknown> {
  const parameters: unknown[] = [];
  for (const [where, schema] of [
    ['path', route.params],
    ['query', route.query],
  ] as const) {
    if (!schema) continue;
    const json = toJsonSchema(schema, 'input');
    const props = (json.properties ?? {}) as Record<string, unknown>;
    const required = new Set((json.required as string[] | undefined) ?? []);
    for (const [name, s] of Object.entries(props)) {
      parameters.push({ name, in: where, required: where === 'path' || required.has(name), schema: s });
    }
  }
  const problem = { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } };
  const responses: Record<string, unknown> = {
    [String(route.successStatus)]: {
      description: 'success',
      ...(route.response
        ? { content: { 'application/json': { schema: toJsonSchema(route.response, 'output') } } }
        : {}),
    },
    '400': { description: 'invalid input', content: problem },
  };
  if (route.scope !== 'public') {
    responses['401'] = { description: 'missing or invalid API key', content: problem };
    responses['403'] = { description: 'insufficient scope', content: problem };
  }
  return {
    summary: route.summary,
    tags: route.tags,
    ...(route.scope === 'public' ? { security: [] } : { security: [{ apiKey: [] }] }),
    'x-bulkhead-scope': route.scope,
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(route.body
      ? {
          requestBody: {
            required: true,
            content: { 'application/json': { schema: toJsonSchema(route.body, 'input') } },
          },
        }
      : {}),
    responses,
  };
}
