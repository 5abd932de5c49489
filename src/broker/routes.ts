/** `/v1/tasks`, the PEP validation endpoint, revocations and key management. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { hasScope, type Actor } from '../admin/api-keys.js';
import { coreError } from '../errors.js';
import { addRoute } from '../http/route.js';
import { ID_PATTERN } from '../inventory/types.js';
import { brokerError } from './errors.js';
import { requestUrl } from './oauth-routes.js';
import type { Broker } from './service.js';
import { TASK_STATUSES } from './tasks/task.js';
import type { WorkloadProof } from './workload-proof/verify.js';

const id = z.string().regex(ID_PATTERN, 'must be an inventory id');
const name = z.string().min(1).max(200);

export const createTaskBody = z.strictObject({
  purpose: z.string().min(1).max(500),
  actions: z.array(name).min(1).max(50),
  resources: z.array(id).min(1).max(50),
  /** Seconds. */
  ttl: z.number().int().min(1).optional(),
  max_uses: z.number().int().min(1).max(1_000_000),
  on_behalf_of: id.optional(),
  audience: z.string().min(1).max(500).optional(),
  /** Only with an API key (an operator creating a task for a workload); a workload proof names itself. */
  identity: id.optional(),
});

const taskParams = z.strictObject({ id: z.string().min(1).max(100) });
const listQuery = z.strictObject({
  status: z.enum(TASK_STATUSES).optional(),
  identity: id.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});
const revokeTaskBody = z.strictObject({ reason: z.string().max(500).optional() });

const validateBody = z.strictObject({
  token: z.string().min(1).max(16_384),
  action: name,
  resource: id,
  audience: z.string().min(1).max(500),
  dpop: z.string().min(1).max(16_384).optional(),
  method: z.string().min(1).max(16).optional(),
  url: z.string().min(1).max(4096).optional(),
});

const revocationBody = z.strictObject({
  kind: z.enum(['token', 'task', 'identity', 'credential']),
  target: z.string().min(1).max(200),
  reason: z.string().max(500).optional(),
  /** When the entry may be forgotten (ISO-8601); default never. */
  expires_at: z.iso.datetime().optional(),
});

/**
 * Who is calling: an API key (operator) or a workload presenting its identity proof as the bearer token.
 * A bearer that is not an API key is treated as a workload proof; anything else is refused.
 */
async function caller(
  broker: Broker,
  request: FastifyRequest,
  actor: Actor | undefined,
): Promise<{ kind: 'operator'; actor: Actor } | { kind: 'workload'; proof: WorkloadProof }> {
  if (actor) {
    if (!hasScope(actor.scopes, 'write')) {
      throw coreError('FORBIDDEN', "this operation needs the 'write' scope", {
        extra: { required_scope: 'write' },
      });
    }
    return { kind: 'operator', actor };
  }
  const auth = request.headers.authorization;
  const jwt = typeof auth === 'string' && /^bearer /i.test(auth) ? auth.slice(7).trim() : undefined;
  if (!jwt)
    throw brokerError('PROOF_MISSING', 'present an API key or a workload identity proof as Bearer', {
      field: 'headers.authorization',
    });
  return { kind: 'workload', proof: await broker.proveWorkload(jwt, requestUrl(broker, request)) };
}

export function registerBrokerRoutes(app: FastifyInstance, broker: () => Broker): void {
  addRoute(app, {
    method: 'POST',
    url: '/v1/tasks',
    summary:
      'Declare a task (purpose, actions, resources, ttl, max_uses); the PDP decides whether it may start',
    tags: ['broker'],
    scope: 'public',
    body: createTaskBody,
    successStatus: 201,
    handler: async ({ body, request, actor, requestId }) => {
      const b = broker();
      const who = await caller(b, request, actor);
      let identityId: string;
      let subject: string;
      let workflow: string | undefined;
      if (who.kind === 'workload') {
        if (body.identity !== undefined && body.identity !== who.proof.identity.id) {
          throw brokerError('TASK_IDENTITY_MISMATCH', 'a workload can only declare tasks for itself', {
            field: 'body.identity',
          });
        }
        identityId = who.proof.identity.id;
        subject = who.proof.subject;
        workflow = who.proof.workflow;
      } else {
        if (!body.identity)
          throw coreError('VALIDATION_FAILED', 'identity is required with an API key', {
            field: 'body.identity',
          });
        const identity = await b.deps.findIdentity(body.identity);
        if (!identity)
          throw coreError('NOT_FOUND', `identity ${body.identity} does not exist`, {
            field: 'body.identity',
          });
        identityId = identity.id;
        subject = identity.spiffeId ?? identity.id;
      }
      return b.tasks.create({
        identityId,
        subject,
        purpose: body.purpose,
        actions: [...new Set(body.actions)],
        resources: [...new Set(body.resources)],
        ttl: body.ttl,
        maxUses: body.max_uses,
        onBehalfOf: body.on_behalf_of,
        audience: body.audience,
        workflow,
        createdBy: who.kind === 'operator' ? who.actor.name : `workload:${identityId}`,
        requestId,
      });
    },
  });

  addRoute(app, {
    method: 'GET',
    url: '/v1/tasks',
    summary: 'List tasks (newest first)',
    tags: ['broker'],
    scope: 'read',
    query: listQuery,
    handler: async ({ query }) => ({ items: await broker().tasks.list(query) }),
  });

  addRoute(app, {
    method: 'GET',
    url: '/v1/tasks/:id',
    summary: 'Get a task',
    tags: ['broker'],
    scope: 'read',
    params: taskParams,
    handler: async ({ params }) => broker().tasks.get(params.id),
  });

  addRoute(app, {
    method: 'POST',
    url: '/v1/tasks/:id/activate',
    summary: 'Re-check the approvals a pending task waits for; it becomes active once all are granted',
    tags: ['broker'],
    scope: 'write',
    params: taskParams,
    handler: async ({ params, requestId }) => broker().tasks.refreshApprovals(params.id, requestId),
  });

  addRoute(app, {
    method: 'POST',
    url: '/v1/tasks/:id/complete',
    summary: 'Complete a task (its workload or an operator); every token minted for it is revoked',
    tags: ['broker'],
    scope: 'public',
    params: taskParams,
    handler: async ({ params, request, actor, requestId }) => {
      const b = broker();
      const who = await caller(b, request, actor);
      const task = await b.tasks.get(params.id);
      if (who.kind === 'workload' && who.proof.identity.id !== task.identity) {
        throw brokerError('TASK_IDENTITY_MISMATCH', 'only the task identity may complete it', {
          field: 'params.id',
        });
      }
      const by = who.kind === 'operator' ? who.actor.name : `workload:${who.proof.identity.id}`;
      return b.tasks.end(params.id, 'completed', by, requestId);
    },
  });

  addRoute(app, {
    method: 'POST',
    url: '/v1/tasks/:id/credentials',
    summary:
      "Issue the task's downstream credentials (e.g. a PostgreSQL role limited to the intent, dropped when the task ends); the task's workload only, once",
    tags: ['broker'],
    scope: 'public',
    params: taskParams,
    successStatus: 201,
    handler: async ({ params, request, requestId, reply }) => {
      const b = broker();
      const auth = request.headers.authorization;
      const jwt = typeof auth === 'string' && /^bearer /i.test(auth) ? auth.slice(7).trim() : undefined;
      const proof = await b.proveWorkload(jwt, requestUrl(b, request));
      void reply.header('cache-control', 'no-store');
      return { items: await b.issueDownstream(params.id, proof.identity.id, requestId) };
    },
  });

  addRoute(app, {
    method: 'POST',
    url: '/v1/tasks/:id/revoke',
    summary: 'Revoke a task and every token minted for it',
    tags: ['broker'],
    scope: 'write',
    params: taskParams,
    body: revokeTaskBody,
    handler: async ({ params, body, actor, requestId }) =>
      broker().tasks.end(params.id, 'revoked', actor?.name ?? 'unknown', requestId, body.reason ?? null),
  });

  addRoute(app, {
    method: 'POST',
    url: '/v1/broker/validate',
    summary:
      'Validate a task token for a PEP: signature, audience, revocation, DPoP binding, intent, and one use of the budget',
    tags: ['broker'],
    scope: 'read',
    body: validateBody,
    handler: async ({ body }) => {
      const r = await broker().validator.validate(body);
      return {
        valid: true,
        sub: r.claims.sub,
        client_id: r.claims.client_id,
        task: r.claims.task,
        aud: r.claims.aud,
        exp: r.claims.exp,
        jti: r.claims.jti,
        ...(r.claims.act ? { act: r.claims.act } : {}),
        uses_left: r.usesLeft,
      };
    },
  });

  addRoute(app, {
    method: 'POST',
    url: '/v1/broker/revocations',
    summary: 'Revoke by token id (jti), task, identity or credential; durable before it is acknowledged',
    tags: ['broker'],
    scope: 'write',
    body: revocationBody,
    successStatus: 201,
    handler: async ({ body, actor, requestId }) =>
      broker().revoke({
        kind: body.kind,
        target: body.target,
        expiresAt: body.expires_at ?? null,
        reason: body.reason ?? null,
        actor: actor?.name ?? 'unknown',
        requestId,
      }),
  });

  addRoute(app, {
    method: 'GET',
    url: '/v1/broker/keys',
    summary: 'Signing keys and their rotation state (public facts only)',
    tags: ['broker'],
    scope: 'read',
    handler: async () => ({ items: broker().keys.list() }),
  });

  addRoute(app, {
    method: 'POST',
    url: '/v1/broker/keys/rotate',
    summary: 'Rotate the signing key; the previous one keeps verifying for the overlap',
    tags: ['broker'],
    scope: 'admin',
    successStatus: 201,
    handler: async ({ actor, requestId }) => broker().keys.rotate(actor?.name ?? 'unknown', requestId),
  });
}
