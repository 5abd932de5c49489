/** Audit routes: page through the hash-chained log and verify it. */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { AppContext } from '../app-context.js';
import { addRoute } from '../http/route.js';
import { verifyAuditChain } from './verify.js';

const auditQuerySchema = z.strictObject({
  after_seq: z.coerce.number().int().min(0).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  target_type: z
    .string()
    .regex(/^[a-z_]{1,40}$/)
    .optional(),
  target_id: z.string().min(1).max(200).optional(),
});

const verifyBodySchema = z.strictObject({
  /** Earlier (seq, hash) pairs recorded outside the database; a rewritten chain no longer matches them. */
  anchors: z
    .array(
      z.strictObject({
        seq: z.number().int().min(1),
        hash: z.string().regex(/^[0-9a-f]{64}$/, '64 hex characters'),
      }),
    )
    .max(100)
    .default([]),
});

export function registerAuditRoutes(app: FastifyInstance, ctx: AppContext): void {
  const tags = ['audit'];
  addRoute(app, {
    method: 'GET',
    url: '/v1/audit',
    summary: 'List audit entries in order (after_seq pages forward)',
    tags,
    scope: 'admin',
    query: auditQuerySchema,
    handler: async ({ query }) => {
      const items = await ctx.audit.list(ctx.db, {
        limit: query.limit,
        ...(query.after_seq !== undefined ? { afterSeq: query.after_seq } : {}),
        ...(query.target_type ? { targetType: query.target_type } : {}),
        ...(query.target_id ? { targetId: query.target_id } : {}),
      });
      const last = items[items.length - 1];
      return { items, next_after_seq: items.length === query.limit && last ? last.seq : null };
    },
  });
  addRoute(app, {
    method: 'POST',
    url: '/v1/audit/verify',
    summary: 'Recompute the audit hash chain and report any edited, deleted or truncated entry',
    tags,
    scope: 'admin',
    body: verifyBodySchema,
    handler: async ({ body }) => verifyAuditChain(ctx.db, { anchors: body.anchors }),
  });
}
