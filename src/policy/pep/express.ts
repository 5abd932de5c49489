/**
 * Express-style PEP middleware (`(req, res, next)`), typed structurally so no Express dependency is
 * needed. Same contract as the Fastify hook: any deny, including the client's fail-closed denies, is a
 * 403 problem+json; the decision is left on `req.pdpDecision`.
 *
 * @example
 * app.use('/orders', expressAuthorization(pdp, (req) => ({ subject: { type: 'identity', id: req.user.id },
 *   action: { name: req.method === 'GET' ? 'read' : 'write' }, resource: { type: 'api', id: 'orders' } })));
 */
import type { AuthzenEvaluationRequest, PdpClient, PepDecision } from './client.js';

export interface ExpressLikeRequest {
  headers: Record<string, string | string[] | undefined>;
  pdpDecision?: PepDecision;
}

export interface ExpressLikeResponse {
  statusCode: number;
  setHeader(name: string, value: string): unknown;
  end(body: string): unknown;
}

export function expressAuthorization<Req extends ExpressLikeRequest>(
  client: Pick<PdpClient, 'evaluate'>,
  describe: (req: Req) => AuthzenEvaluationRequest | undefined,
): (req: Req, res: ExpressLikeResponse, next: (err?: unknown) => void) => void {
  return (req, res, next) => {
    let evaluation: AuthzenEvaluationRequest | undefined;
    try {
      evaluation = describe(req);
    } catch {
      evaluation = undefined;
    }
    const header = req.headers['x-request-id'];
    const requestId = typeof header === 'string' ? header : undefined;
    const pending: Promise<PepDecision> = evaluation
      ? client.evaluate(evaluation, requestId)
      : Promise.resolve({ decision: false, reason: 'pep_no_request', cached: false });
    pending
      .then((decision) => {
        req.pdpDecision = decision;
        if (decision.decision) {
          next();
          return;
        }
        res.statusCode = 403;
        res.setHeader('content-type', 'application/problem+json');
        res.end(
          JSON.stringify({
            type: 'about:blank',
            title: 'Forbidden by policy',
            status: 403,
            code: 'BULKHEAD_POLICY_DENIED',
            detail: decision.reason ?? 'the policy decision point denied this request',
            ...(decision.context ? { context: decision.context } : {}),
          }),
        );
      })
      .catch((err: unknown) => next(err));
  };
}
