/** Policy administration and approval routes. The AuthZEN decision API is in `authzen/routes.ts`. */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { coreError } from '../errors.js';
import { addRoute } from '../http/route.js';
import type { ApprovalStore } from './approvals.js';
import type { DecisionLog } from './decision-log.js';
import type { PolicyBundle } from './policy-bundle.js';
import type { PolicyDecisionPoint } from './service.js';

const tags = ['policy'];

export const bundleSchema = z.strictObject({
  policies: z.string().max(1_000_000),
  actions: z.array(z.string().min(1).max(100)).max(1000).default([]),
  requiredContext: z.record(z.string(), z.array(z.string()).max(50)).default({}),
});

const pushSchema = bundleSchema.extend({
  comment: z.string().max(500).optional(),
  activate: z.boolean().default(true),
});

const versionParams = z.strictObject({ version: z.coerce.number().int().min(1) });
const idParams = z.strictObject({ id: z.string().min(1).max(100) });
/** The approver is the person the API key is bound to; `approver`, if given, must name that same person. */
const verdictSchema = z.strictObject({ approver: z.string().min(1).max(200).optional() });
const approvalQuery = z.strictObject({
  status: z.enum(['pending', 'approved', 'denied', 'used', 'expired']).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

function toBundle(b: z.infer<typeof bundleSchema>): PolicyBundle {
  return { policies: b.policies, actions: b.actions, requiredContext: b.requiredContext };
}

const decisionQuery = z.strictObject({
  principal: z.string().max(200).optional(),
  decision: z.enum(['allow', 'deny']).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

export function registerPolicyRoutes(
  app: FastifyInstance,
  pdp: PolicyDecisionPoint,
  approvals: ApprovalStore,
  decisionLog: DecisionLog,
): void {
  const meta = (c: { actor?: { name: string } | undefined; requestId: string }) => ({
    actor: c.actor?.name ?? 'anonymous',
    requestId: c.requestId,
  });
  addRoute(app, {
    method: 'POST',
    url: '/v1/policies/validate',
    summary: 'Validate a policy bundle against the inventory schema without storing it',
    tags,
    scope: 'read',
    body: bundleSchema,
    handler: async ({ body }) => {
      const r = pdp.validate(toBundle(body));
      return r.ok
        ? { valid: true, errors: [], policyIds: [...r.compiled.policies.keys()] }
        : { valid: false, errors: r.errors };
    },
  });
  addRoute(app, {
    method: 'POST',
    url: '/v1/policies',
    summary: 'Store a new policy version (validated; activated unless activate=false)',
    tags,
    scope: 'admin',
    body: pushSchema,
    successStatus: 201,
    handler: async (c) =>
      pdp.push(toBundle(c.body), { comment: c.body.comment, activate: c.body.activate }, meta(c)),
  });
  addRoute(app, {
    method: 'GET',
    url: '/v1/policies',
    summary: 'List policy versions, newest first',
    tags,
    scope: 'read',
    handler: async () => ({ items: await pdp.listVersions(), active: pdp.activeVersion }),
  });
  addRoute(app, {
    method: 'GET',
    url: '/v1/policies/:version',
    summary: 'One policy version with its bundle',
    tags,
    scope: 'read',
    params: versionParams,
    handler: async ({ params }) => pdp.describe(params.version, true),
  });
  addRoute(app, {
    method: 'POST',
    url: '/v1/policies/:version/activate',
    summary: 'Make a stored policy version the active one (atomic; audited)',
    tags,
    scope: 'admin',
    params: versionParams,
    handler: async (c) => pdp.activate(c.params.version, meta(c)),
  });
  addRoute(app, {
    method: 'GET',
    url: '/v1/approvals',
    summary: 'List approval requests',
    tags,
    scope: 'read',
    query: approvalQuery,
    handler: async ({ query }) => ({ items: await approvals.list(query.status, query.limit) }),
  });
  addRoute(app, {
    method: 'GET',
    url: '/v1/approvals/:id',
    summary: 'One approval request',
    tags,
    scope: 'read',
    params: idParams,
    handler: async ({ params }) => approvals.get(params.id),
  });
  addRoute(app, {
    method: 'GET',
    url: '/v1/decisions',
    summary: 'Recent persisted decisions (decision log), newest first',
    tags,
    scope: 'read',
    query: decisionQuery,
    handler: async ({ query }) => {
      await decisionLog.flush();
      return { items: await decisionLog.list(query) };
    },
  });
  for (const verdict of ['approve', 'deny'] as const) {
    addRoute(app, {
      method: 'POST',
      url: `/v1/approvals/:id/${verdict}`,
      summary: `${verdict === 'approve' ? 'Approve' : 'Deny'} a pending request (approver must own the resource)`,
      tags,
      scope: 'write',
      params: idParams,
      body: verdictSchema,
      handler: async (c) => {
        // An approval is only worth something if the approver is who they say: never trust a name in the body.
        const person = c.actor?.identityId;
        if (!person) {
          throw coreError(
            'FORBIDDEN',
            'approvals need an API key bound to a person (bulkhead admin token create --identity <id>)',
            { field: 'authorization' },
          );
        }
        if (c.body.approver !== undefined && c.body.approver !== person) {
          throw coreError('FORBIDDEN', `this API key acts for ${person}, not ${c.body.approver}`, {
            field: 'body.approver',
          });
        }
        return approvals.decide(c.params.id, person, verdict, meta(c));
      },
    });
  }
}
