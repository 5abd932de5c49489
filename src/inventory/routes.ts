/**
 * Inventory HTTP routes: identities, credentials and resources. The router validates (zod) and calls the
 * service; the service owns references, audit and change notification.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { AppContext } from '../app-context.js';
import { addRoute, type RouteContext } from '../http/route.js';
import {
  credentialCreateSchema,
  credentialListQuerySchema,
  credentialPatchSchema,
  identityCreateSchema,
  identityListQuerySchema,
  identityPatchSchema,
  idParamsSchema,
  resourceCreateSchema,
  resourceListQuerySchema,
  resourcePatchSchema,
} from './schemas.js';
import type { WriteMeta } from './service.js';

const statusChangeSchema = z.strictObject({ reason: z.string().min(1).max(500).optional() });

function metaOf(c: RouteContext<unknown, unknown, unknown>): WriteMeta {
  return { actor: c.actor?.name ?? 'anonymous', requestId: c.requestId };
}

export function registerInventoryRoutes(app: FastifyInstance, ctx: AppContext): void {
  const inv = ctx.inventory;
  const tags = ['inventory'];

  // ---- identities ----
  addRoute(app, {
    method: 'GET',
    url: '/v1/identities',
    summary:
      'List identities (filters: kind, owner, environment, status, source, stale_days, no_owner; cursor pagination)',
    tags,
    scope: 'read',
    query: identityListQuerySchema,
    handler: async ({ query }) => inv.listIdentities(query),
  });
  addRoute(app, {
    method: 'POST',
    url: '/v1/identities',
    summary: 'Create an identity (human or non-human)',
    tags,
    scope: 'write',
    body: identityCreateSchema,
    successStatus: 201,
    handler: async (c) => inv.createIdentity(c.body, metaOf(c)),
  });
  addRoute(app, {
    method: 'GET',
    url: '/v1/identities/:id',
    summary: 'Get an identity',
    tags,
    scope: 'read',
    params: idParamsSchema,
    handler: async ({ params }) => inv.getIdentity(params.id),
  });
  addRoute(app, {
    method: 'PATCH',
    url: '/v1/identities/:id',
    summary: 'Change an identity',
    tags,
    scope: 'write',
    params: idParamsSchema,
    body: identityPatchSchema,
    handler: async (c) => inv.updateIdentity(c.params.id, c.body, metaOf(c)),
  });
  addRoute(app, {
    method: 'DELETE',
    url: '/v1/identities/:id',
    summary: 'Delete an identity (refused while credentials belong to it or it owns anything)',
    tags,
    scope: 'write',
    params: idParamsSchema,
    successStatus: 204,
    handler: async (c) => inv.deleteIdentity(c.params.id, metaOf(c)),
  });
  for (const [verb, status] of [
    ['disable', 'disabled'],
    ['enable', 'active'],
    ['quarantine', 'quarantined'],
  ] as const) {
    addRoute(app, {
      method: 'POST',
      url: `/v1/identities/:id/${verb}`,
      summary: `Set an identity's status to ${status}`,
      tags,
      scope: 'write',
      params: idParamsSchema,
      body: statusChangeSchema,
      handler: async (c) => inv.setIdentityStatus(c.params.id, status, metaOf(c), c.body.reason),
    });
  }

  // ---- credentials ----
  addRoute(app, {
    method: 'GET',
    url: '/v1/credentials',
    summary: 'List credential metadata (filters: identity_id, type, status, consumer, fingerprint, expired)',
    tags,
    scope: 'read',
    query: credentialListQuerySchema,
    handler: async ({ query }) => inv.listCredentials(query),
  });
  addRoute(app, {
    method: 'POST',
    url: '/v1/credentials',
    summary: 'Register a credential (metadata and fingerprint only, never the secret)',
    tags,
    scope: 'write',
    body: credentialCreateSchema,
    successStatus: 201,
    handler: async (c) => inv.createCredential(c.body, metaOf(c)),
  });
  addRoute(app, {
    method: 'GET',
    url: '/v1/credentials/:id',
    summary: 'Get a credential',
    tags,
    scope: 'read',
    params: idParamsSchema,
    handler: async ({ params }) => inv.getCredential(params.id),
  });
  addRoute(app, {
    method: 'PATCH',
    url: '/v1/credentials/:id',
    summary: 'Change a credential',
    tags,
    scope: 'write',
    params: idParamsSchema,
    body: credentialPatchSchema,
    handler: async (c) => inv.updateCredential(c.params.id, c.body, metaOf(c)),
  });
  addRoute(app, {
    method: 'POST',
    url: '/v1/credentials/:id/revoke',
    summary: 'Mark a credential revoked (cannot be re-activated)',
    tags,
    scope: 'write',
    params: idParamsSchema,
    body: statusChangeSchema,
    handler: async (c) => inv.revokeCredential(c.params.id, metaOf(c), c.body.reason),
  });
  addRoute(app, {
    method: 'DELETE',
    url: '/v1/credentials/:id',
    summary: 'Delete a credential record',
    tags,
    scope: 'write',
    params: idParamsSchema,
    successStatus: 204,
    handler: async (c) => inv.deleteCredential(c.params.id, metaOf(c)),
  });

  // ---- resources ----
  addRoute(app, {
    method: 'GET',
    url: '/v1/resources',
    summary: 'List resources (filters: type, sensitivity, environment, parent_id)',
    tags,
    scope: 'read',
    query: resourceListQuerySchema,
    handler: async ({ query }) => inv.listResources(query),
  });
  addRoute(app, {
    method: 'POST',
    url: '/v1/resources',
    summary: 'Create a resource with a data-sensitivity label',
    tags,
    scope: 'write',
    body: resourceCreateSchema,
    successStatus: 201,
    handler: async (c) => inv.createResource(c.body, metaOf(c)),
  });
  addRoute(app, {
    method: 'GET',
    url: '/v1/resources/:id',
    summary: 'Get a resource',
    tags,
    scope: 'read',
    params: idParamsSchema,
    handler: async ({ params }) => inv.getResource(params.id),
  });
  addRoute(app, {
    method: 'PATCH',
    url: '/v1/resources/:id',
    summary: 'Change a resource',
    tags,
    scope: 'write',
    params: idParamsSchema,
    body: resourcePatchSchema,
    handler: async (c) => inv.updateResource(c.params.id, c.body, metaOf(c)),
  });
  addRoute(app, {
    method: 'DELETE',
    url: '/v1/resources/:id',
    summary: 'Delete a resource (refused while child resources exist)',
    tags,
    scope: 'write',
    params: idParamsSchema,
    successStatus: 204,
    handler: async (c) => inv.deleteResource(c.params.id, metaOf(c)),
  });
}
