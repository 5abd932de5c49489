/**
 * OpenID AuthZEN Authorization API 1.0 endpoints: evaluation, evaluations (boxcarring with the three
 * evaluation semantics), the three searches and the PDP metadata document. The core HTTP layer echoes
 * `X-Request-ID` on every response.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { isBulkheadError } from '../../errors.js';
import { addRoute } from '../../http/route.js';
import type { DecisionResult, PolicyDecisionPoint } from '../service.js';
import { isKnownSubjectType } from '../subject-types.js';
import { policyError } from '../errors.js';
import {
  AuthzenParseError,
  isBadItem,
  parseEvaluation,
  parseEvaluations,
  type AuthzenEvaluation,
} from './parse.js';
import { searchActions, searchResources, searchSubjects } from './search.js';

const tags = ['authzen'];
const RESOURCE_TYPE = /^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,99}$/;

export interface AuthzenDecision {
  decision: boolean;
  context?: Record<string, unknown>;
}

function toAuthzen(d: DecisionResult, extra: Record<string, unknown> = {}): AuthzenDecision {
  return {
    decision: d.decision,
    context: {
      ...extra,
      policy_version: d.policyVersion,
      reasons: d.reasons,
      ...(d.obligations.length > 0 ? { obligations: d.obligations } : {}),
    },
  };
}

/** Checks the entity types; an unknown subject type or an unusable resource type is bad input. */
function checkTypes(e: AuthzenEvaluation, prefix: string): void {
  if (!isKnownSubjectType(e.subject.type)) {
    throw new AuthzenParseError(
      `${prefix}subject.type`,
      `unknown subject type "${e.subject.type}" (use identity, user, machine or an identity kind)`,
    );
  }
  if (!RESOURCE_TYPE.test(e.resource.type)) {
    throw new AuthzenParseError(`${prefix}resource.type`, 'is not a valid resource type');
  }
}

/** `prefix` locates the evaluation in the request body, for a context attribute the PDP refuses. */
async function evaluate(pdp: PolicyDecisionPoint, e: AuthzenEvaluation, requestId: string, prefix: string) {
  try {
    return await pdp.decide(
      {
        principal: { id: e.subject.id, type: e.subject.type, properties: e.subject.properties },
        action: e.action.name,
        actionProperties: e.action.properties,
        resource: { id: e.resource.id, type: e.resource.type, properties: e.resource.properties },
        context: e.context,
      },
      requestId,
    );
  } catch (err) {
    // The PDP names the attribute within the context; an AuthZEN caller gets the path in its own request.
    if (
      isBulkheadError(err) &&
      err.code === 'BULKHEAD_VALIDATION_FAILED' &&
      err.field?.startsWith('context.')
    ) {
      throw policyError('AUTHZEN_BAD_REQUEST', err.message, { field: `${prefix}${err.field}` });
    }
    throw err;
  }
}

function badRequest(err: unknown): never {
  if (err instanceof AuthzenParseError) {
    throw policyError('AUTHZEN_BAD_REQUEST', err.message, { field: err.field });
  }
  throw err;
}

/**
 * The metadata's URLs sit under the configured public URL (BULKHEAD_PUBLIC_URL, else the listening URL), not
 * under whatever the Host header names: a cache in front must never store another host's endpoints for ours.
 */
function baseUrl(request: FastifyRequest, publicUrl: () => string | undefined): string {
  return publicUrl() ?? `${request.protocol}://${request.host}`;
}

const anyJson = z.unknown();

export function registerAuthzenRoutes(
  app: FastifyInstance,
  pdp: PolicyDecisionPoint,
  publicUrl: () => string | undefined = () => undefined,
): void {
  // AuthZEN 1.0 certification: a non-JSON Content-Type is a 400 on the decision API (not the generic 415).
  app.addHook('onRequest', async (request) => {
    if (request.method !== 'POST' || !request.url.startsWith('/access/v1/')) return;
    const type = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
    if (type !== 'application/json') {
      throw policyError('AUTHZEN_BAD_REQUEST', 'Content-Type must be application/json', {
        field: 'headers.content-type',
      });
    }
  });
  addRoute(app, {
    method: 'GET',
    url: '/.well-known/authzen-configuration',
    summary: 'AuthZEN PDP metadata',
    tags,
    scope: 'public',
    handler: async ({ request }) => {
      const base = baseUrl(request, publicUrl);
      return {
        policy_decision_point: base,
        access_evaluation_endpoint: `${base}/access/v1/evaluation`,
        access_evaluations_endpoint: `${base}/access/v1/evaluations`,
        search_subject_endpoint: `${base}/access/v1/search/subject`,
        search_resource_endpoint: `${base}/access/v1/search/resource`,
        search_action_endpoint: `${base}/access/v1/search/action`,
      };
    },
  });

  addRoute(app, {
    method: 'POST',
    url: '/access/v1/evaluation',
    summary: 'AuthZEN Access Evaluation: one decision',
    tags,
    scope: 'read',
    quiet: true,
    body: anyJson,
    handler: async ({ body, requestId }) => {
      let e: AuthzenEvaluation;
      try {
        e = parseEvaluation(body);
        checkTypes(e, 'body.');
      } catch (err) {
        badRequest(err);
      }
      return toAuthzen(await evaluate(pdp, e, requestId, 'body.'));
    },
  });

  addRoute(app, {
    method: 'POST',
    url: '/access/v1/evaluations',
    summary: 'AuthZEN Access Evaluations: a batch with defaults and evaluations_semantic',
    tags,
    scope: 'read',
    quiet: true,
    body: anyJson,
    handler: async ({ body, requestId }) => {
      let batch: ReturnType<typeof parseEvaluations>;
      try {
        batch = parseEvaluations(body);
        if (batch.single) {
          const only = batch.items[0];
          if (only && !isBadItem(only)) checkTypes(only, 'body.');
        }
      } catch (err) {
        badRequest(err);
      }
      if (batch.single) {
        const only = batch.items[0];
        if (!only || isBadItem(only)) throw policyError('AUTHZEN_BAD_REQUEST', 'no evaluation');
        return toAuthzen(await evaluate(pdp, only, requestId, 'body.'));
      }
      const out: AuthzenDecision[] = [];
      for (const [i, item] of batch.items.entries()) {
        let d: AuthzenDecision;
        if (isBadItem(item)) {
          d = { decision: false, context: { reason: 'bad_request', error: item.error } };
        } else {
          try {
            checkTypes(item, `body.evaluations[${i}].`);
            d = toAuthzen(await evaluate(pdp, item, requestId, `body.evaluations[${i}].`));
          } catch (err) {
            // Inside a valid batch a bad item is a deny for that item, never a failed batch.
            const message = err instanceof Error ? err.message : String(err);
            if (!(err instanceof AuthzenParseError) && !(isBulkheadError(err) && err.status < 500)) throw err;
            d = { decision: false, context: { reason: 'bad_request', error: message } };
          }
        }
        if (batch.semantic === 'deny_on_first_deny' && !d.decision) {
          out.push({ ...d, context: { ...d.context, reason: 'deny_on_first_deny' } });
          break;
        }
        out.push(d);
        if (batch.semantic === 'permit_on_first_permit' && d.decision) break;
      }
      return { evaluations: out };
    },
  });

  const searches = [
    ['subject', searchSubjects],
    ['resource', searchResources],
    ['action', searchActions],
  ] as const;
  for (const [kind, search] of searches) {
    addRoute(app, {
      method: 'POST',
      url: `/access/v1/search/${kind}`,
      summary: `AuthZEN ${kind} search`,
      tags,
      scope: 'read',
      body: anyJson,
      handler: async ({ body }) => {
        try {
          return await search(pdp, body);
        } catch (err) {
          badRequest(err);
        }
      },
    });
  }
}
