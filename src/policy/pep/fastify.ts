/**
 * Fastify PEP hook: asks the PDP before the route handler runs and answers 403 problem+json on any deny,
 * including the PEP's own fail-closed denies. The decision (with obligations) is on `request.pdpDecision`.
 *
 * @example
 * app.get('/orders/:id', { preHandler: requireAuthorization(pdp, (req) => ({
 *   subject: { type: 'identity', id: callerOf(req) }, action: { name: 'read' },
 *   resource: { type: 'order', id: (req.params as { id: string }).id } })) }, handler);
 */
import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import type { AuthzenEvaluationRequest, PdpClient, PepDecision } from './client.js';

declare module 'fastify' {
  interface FastifyRequest {
    pdpDecision?: PepDecision;
  }
}

export function requireAuthorization(
  client: Pick<PdpClient, 'evaluate'>,
  describe: (request: FastifyRequest) => AuthzenEvaluationRequest | undefined,
): preHandlerAsyncHookHandler {
  return async function authorize(request: FastifyRequest, reply: FastifyReply) {
    let req: AuthzenEvaluationRequest | undefined;
    try {
      req = describe(request);
    } catch {
      req = undefined;
    }
    const decision: PepDecision = req
      ? await client.evaluate(req, request.id)
      : { decision: false, reason: 'pep_no_request', cached: false };
    request.pdpDecision = decision;
    if (decision.decision) return;
    await reply
      .code(403)
      .type('application/problem+json')
      .send({
        type: 'about:blank',
        title: 'Forbidden by policy',
        status: 403,
        code: 'BULKHEAD_POLICY_DENIED',
        detail: decision.reason ?? 'the policy decision point denied this request',
        ...(decision.context ? { context: decision.context } : {}),
      });
  };
}
