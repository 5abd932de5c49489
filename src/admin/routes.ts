/** Admin API-key routes: create (token shown once), list (never the token), revoke. All need the `admin` scope. */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { AppContext } from '../app-context.js';
import { coreError } from '../errors.js';
import { addRoute } from '../http/route.js';
import { API_KEY_SCOPES } from './api-keys.js';

export const apiKeyCreateSchema = z.strictObject({
  name: z.string().min(1).max(200),
  scopes: z.array(z.enum(API_KEY_SCOPES)).min(1).max(3),
  expires_at: z.iso.datetime({ offset: true }).nullable().optional(),
  /** Convenience for scripts: lifetime in seconds instead of `expires_at`. */
  ttl_seconds: z
    .number()
    .int()
    .min(60)
    .max(10 * 365 * 86_400)
    .optional(),
  /** Bind the key to a person (a `human` identity): needed to approve requests as that person. */
  identity_id: z.string().min(1).max(200).optional(),
});

const keyIdParams = z.strictObject({ id: z.string().regex(/^[A-Za-z0-9-]{1,64}$/, 'not an API key id') });

export function registerAdminRoutes(app: FastifyInstance, ctx: AppContext): void {
  const tags = ['admin'];
  addRoute(app, {
    method: 'POST',
    url: '/v1/admin/keys',
    summary: 'Create an admin API key; the token is returned once and never again',
    tags,
    scope: 'admin',
    body: apiKeyCreateSchema,
    successStatus: 201,
    handler: async ({ body, actor, requestId }) => {
      if (body.expires_at && body.ttl_seconds !== undefined) {
        throw coreError('VALIDATION_FAILED', 'give expires_at or ttl_seconds, not both', {
          field: 'body.ttl_seconds',
        });
      }
      const now = ctx.now().getTime();
      const expiresAt =
        body.ttl_seconds !== undefined
          ? new Date(now + body.ttl_seconds * 1000).toISOString()
          : (body.expires_at ?? null);
      if (expiresAt !== null && Date.parse(expiresAt) <= now) {
        throw coreError('VALIDATION_FAILED', 'expires_at is in the past', { field: 'body.expires_at' });
      }
      if (body.identity_id !== undefined) {
        const person = await ctx.inventory.findIdentity(body.identity_id);
        if (!person || person.kind !== 'human') {
          throw coreError('VALIDATION_FAILED', `${body.identity_id} is not a human identity`, {
            field: 'body.identity_id',
          });
        }
        if (person.status !== 'active') {
          throw coreError('VALIDATION_FAILED', `${body.identity_id} is ${person.status}`, {
            field: 'body.identity_id',
          });
        }
      }
      const { key, token } = await ctx.apiKeys.create(
        { name: body.name, scopes: body.scopes, expiresAt, identityId: body.identity_id ?? null },
        actor?.name ?? 'system',
        requestId,
      );
      return { ...key, token };
    },
  });
  addRoute(app, {
    method: 'GET',
    url: '/v1/admin/keys',
    summary: 'List admin API keys (metadata only)',
    tags,
    scope: 'admin',
    handler: async () => ({ items: await ctx.apiKeys.list() }),
  });
  addRoute(app, {
    method: 'POST',
    url: '/v1/admin/keys/:id/revoke',
    summary: 'Revoke an admin API key (takes effect on the next request)',
    tags,
    scope: 'admin',
    params: keyIdParams,
    handler: async ({ params, actor, requestId }) =>
      ctx.apiKeys.revoke(params.id, actor?.name ?? 'system', requestId),
  });
}
