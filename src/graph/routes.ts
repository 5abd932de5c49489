/**
 * Graph HTTP routes: blast radius, attack paths, escalations, choke points, stats. All read the in-memory
 * graph; each first awaits `settled()` so a client that just changed the inventory sees its own write.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { AppContext } from '../app-context.js';
import { addRoute } from '../http/route.js';
import { SENSITIVITIES, type Sensitivity } from '../inventory/types.js';
import { graphError } from './errors.js';
import { RANKED_SENSITIVITIES, SENSITIVITY_RANK } from './model.js';
import { computeBlastRadius } from './queries/blast-radius.js';
import { computeChokePoints } from './queries/choke-points.js';
import { findEscalations } from './queries/escalations.js';
import { kShortestPaths } from './queries/paths.js';
import type { GraphService } from './service.js';

const sensitivity = z.enum(SENSITIVITIES);
const bool = z
  .enum(['true', 'false', '1', '0'])
  .transform((v) => v === 'true' || v === '1')
  .optional();

export const blastRadiusQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  min_sensitivity: sensitivity.optional(),
});
export const pathsQuery = z.strictObject({
  from: z.string().min(1).max(400),
  to: z.string().min(1).max(400),
  k: z.coerce.number().int().min(1).max(20).default(3),
});
export const escalationsQuery = z.strictObject({
  include_direct: bool,
  principal: z.string().max(400).optional(),
});
export const chokeQuery = z.strictObject({
  min_sensitivity: sensitivity.default('confidential'),
  limit: z.coerce.number().int().min(1).max(100).default(10),
});

/**
 * Turns a `--to` value into a target predicate: `admin`, a sensitivity (`regulated` = that level or above),
 * or a node (identity/resource id, node key, ARN).
 */
export async function pathTarget(service: GraphService, to: string): Promise<(node: number) => boolean> {
  const g = service.graph;
  if (to === 'admin') return (i) => g.isAdmin(i);
  if ((SENSITIVITIES as readonly string[]).includes(to)) {
    const min = SENSITIVITY_RANK[to as Sensitivity];
    return (i) => g.type(i) !== 'admin' && g.sensitivityRank(i) >= min;
  }
  let target: number;
  try {
    target = await service.resolveNode(to, 'query.to');
  } catch {
    throw graphError(
      'GRAPH_BAD_TARGET',
      `'${to}' is not admin, a sensitivity (${RANKED_SENSITIVITIES.join(', ')}) or a known node`,
      { field: 'query.to' },
    );
  }
  return (i) => i === target;
}

export function registerGraphRoutes(app: FastifyInstance, _ctx: AppContext, service: GraphService): void {
  const tags = ['graph'];
  addRoute(app, {
    method: 'GET',
    url: '/v1/graph/blast-radius/:id',
    summary:
      'Everything reachable from a compromised identity or credential, grouped by sensitivity, with paths',
    tags,
    scope: 'read',
    params: z.strictObject({ id: z.string().min(1).max(400) }),
    query: blastRadiusQuery,
    handler: async ({ params, query }) => {
      await service.settled();
      const start = await service.resolveNode(params.id, 'params.id');
      return computeBlastRadius(service.graph, start, {
        limit: query.limit,
        ...(query.min_sensitivity ? { minSensitivity: query.min_sensitivity } : {}),
      });
    },
  });
  addRoute(app, {
    method: 'GET',
    url: '/v1/graph/paths',
    summary: 'k cheapest attack paths from an identity to admin, a sensitivity level or a node',
    tags,
    scope: 'read',
    query: pathsQuery,
    handler: async ({ query }) => {
      await service.settled();
      const start = await service.resolveNode(query.from, 'query.from');
      const paths = kShortestPaths(service.graph, start, await pathTarget(service, query.to), query.k);
      return { from: service.graph.key(start), to: query.to, paths };
    },
  });
  addRoute(app, {
    method: 'GET',
    url: '/v1/graph/escalations',
    summary: 'Every principal that can reach an admin-equivalent principal or permission, with the path',
    tags,
    scope: 'read',
    query: escalationsQuery,
    handler: async ({ query }) => {
      await service.settled();
      const principals = query.principal
        ? [await service.resolveNode(query.principal, 'query.principal')]
        : undefined;
      return findEscalations(service.graph, {
        includeDirect: query.include_direct ?? false,
        ...(principals ? { principals } : {}),
      });
    },
  });
  addRoute(app, {
    method: 'GET',
    url: '/v1/graph/choke-points',
    summary: 'Edges and identities whose removal cuts the most paths to sensitive data (fix these first)',
    tags,
    scope: 'read',
    query: chokeQuery,
    handler: async ({ query }) => {
      await service.settled();
      return computeChokePoints(service.graph, { minSensitivity: query.min_sensitivity, limit: query.limit });
    },
  });
  addRoute(app, {
    method: 'GET',
    url: '/v1/graph/stats',
    summary: 'Size and memory of the in-memory identity graph',
    tags,
    scope: 'read',
    handler: async () => {
      await service.settled();
      return { ...service.graph.stats(), version: service.version };
    },
  });
}
