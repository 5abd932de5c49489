/**
 * `POST /v1/graph/imports/:kind` takes the export file as the JSON body. Exports are large (a 10k-principal
 * IAM export is tens of MB), so this one route raises Fastify's body limit; it is registered directly (auth
 * still runs in the server's onRequest hook from `config.scope`) and listed in the OpenAPI registry.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { AppContext } from '../../app-context.js';
import { addRoute, routeRegistry } from '../../http/route.js';
import { coreError } from '../../errors.js';
import { graphError } from '../errors.js';
import type { GraphService } from '../service.js';
import type { GraphTables } from '../tables.js';
import { IMPORT_KINDS, runImport, runLeakImport } from './run.js';

export const IMPORT_BODY_LIMIT = 256 * 1024 * 1024;

const importQuery = z.strictObject({
  file_name: z.string().min(1).max(500).optional(),
  /** k8s-rbac: the cluster's name (used in ids and the admin node). */
  cluster: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/)
    .optional(),
});

export function registerImportRoutes(app: FastifyInstance, ctx: AppContext, graph: GraphService): void {
  routeRegistry(app).push({
    method: 'POST',
    url: '/v1/graph/imports/:kind',
    summary: `Import an export file (${IMPORT_KINDS.join(', ')}) into the inventory and the graph, in one transaction`,
    tags: ['graph'],
    scope: 'write',
    params: z.strictObject({ kind: z.enum(IMPORT_KINDS) }),
    query: importQuery,
    successStatus: 200,
  });
  app.route({
    method: 'POST',
    url: '/v1/graph/imports/:kind',
    bodyLimit: IMPORT_BODY_LIMIT,
    config: { scope: 'write' },
    handler: async (request) => {
      const kind = (request.params as { kind: string }).kind;
      if (!(IMPORT_KINDS as readonly string[]).includes(kind)) {
        throw graphError(
          'IMPORT_UNKNOWN_KIND',
          `unknown import kind '${kind}' (known: ${IMPORT_KINDS.join(', ')})`,
          {
            field: 'params.kind',
          },
        );
      }
      const q = importQuery.safeParse(request.query ?? {});
      if (!q.success) {
        const field = `query.${String(q.error.issues[0]?.path[0] ?? 'file_name')}`;
        throw coreError('VALIDATION_FAILED', `${field} is invalid`, { field });
      }
      if (request.body === undefined || request.body === null) {
        throw graphError('IMPORT_INVALID', 'the export file is required as the JSON request body', {
          field: 'body',
        });
      }
      const meta = {
        actor: request.actor?.name ?? 'anonymous',
        requestId: request.id,
        fileName: q.data.file_name ?? `${kind}.json`,
      };
      if (kind === 'leaks') return runLeakImport(ctx, request.body, meta);
      return runImport(
        ctx,
        graph,
        kind,
        request.body,
        meta,
        q.data.cluster ? { cluster: q.data.cluster } : {},
      );
    },
  });
  addRoute(app, {
    method: 'GET',
    url: '/v1/graph/imports',
    summary: 'Past imports with their summaries, newest first',
    tags: ['graph'],
    scope: 'read',
    query: z.strictObject({ limit: z.coerce.number().int().min(1).max(500).default(50) }),
    handler: async ({ query }) => {
      const rows = await ctx.db
        .withTables<GraphTables>()
        .selectFrom('graph_imports')
        .selectAll()
        .orderBy('started_at', 'desc')
        .limit(query.limit)
        .execute();
      return { items: rows.map((r) => ({ ...r, summary: JSON.parse(r.summary) as unknown })) };
    },
  });
}
