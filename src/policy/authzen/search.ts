/**
 * AuthZEN Search API (spec section 8): which subjects / resources / actions the active policies permit.
 * Candidates come from the in-memory indexes and each is decided like a normal evaluation, without side
 * effects. An entity type the PDP does not know yields empty results (certification scenario).
 */
import { createHash } from 'node:crypto';
import type { PolicyDecisionPoint } from '../service.js';
import { subjectTypeKinds } from '../subject-types.js';
import { AuthzenParseError, parseAction, parseContext, parseEntity, requireBody } from './parse.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export const DEFAULT_SEARCH_LIMIT = 1000;

interface Page {
  offset: number;
  limit: number;
  digest: string;
}

/** Parses `page` and binds its token to the rest of the request, so a changed query cannot reuse it. */
function parsePage(body: Obj): Page {
  const { page, ...rest } = body;
  const digest = createHash('sha256').update(JSON.stringify(rest)).digest('base64url').slice(0, 16);
  if (page === undefined) return { offset: 0, limit: DEFAULT_SEARCH_LIMIT, digest };
  if (!isObj(page)) throw new AuthzenParseError('body.page', 'must be an object');
  let limit = DEFAULT_SEARCH_LIMIT;
  if (page.limit !== undefined) {
    if (
      typeof page.limit !== 'number' ||
      !Number.isInteger(page.limit) ||
      page.limit < 1 ||
      page.limit > 1000
    ) {
      throw new AuthzenParseError('body.page.limit', 'must be an integer between 1 and 1000');
    }
    limit = page.limit;
  }
  let offset = 0;
  if (page.token !== undefined && page.token !== '') {
    if (typeof page.token !== 'string') throw new AuthzenParseError('body.page.token', 'must be a string');
    const [d, o] = Buffer.from(page.token, 'base64url').toString('utf8').split(':');
    offset = Number(o);
    if (d !== `${digest}.${limit}` || !Number.isInteger(offset) || offset < 0) {
      throw new AuthzenParseError('body.page.token', 'is not a token for this query');
    }
  }
  return { offset, limit, digest };
}

function paginate<T>(all: T[], page: Page): { results: T[]; page: { next_token: string; count: number } } {
  const results = all.slice(page.offset, page.offset + page.limit);
  const next = page.offset + page.limit;
  const nextToken =
    next < all.length
      ? Buffer.from(`${page.digest}.${page.limit}:${next}`, 'utf8').toString('base64url')
      : '';
  return { page: { next_token: nextToken, count: all.length }, results };
}

export async function searchSubjects(pdp: PolicyDecisionPoint, raw: unknown) {
  const b = requireBody(raw);
  const subject = parseEntity(b.subject, 'body.subject', false);
  const action = parseAction(b.action, 'body.action');
  const resource = parseEntity(b.resource, 'body.resource');
  const context = parseContext(b.context, 'body.context');
  const page = parsePage(b);
  const kinds = subjectTypeKinds(subject.type);
  const found: { type: string; id: string }[] = [];
  if (kinds) {
    const candidates = [...pdp.index.allIdentities()]
      .filter((i) => kinds === 'any' || kinds.includes(i.kind))
      .sort((a, b) => (a.id < b.id ? -1 : 1));
    for (const i of candidates) {
      const d = await pdp.decide(
        {
          principal: { id: i.id, type: subject.type },
          action: action.name,
          actionProperties: action.properties,
          resource: { id: resource.id, type: resource.type, properties: resource.properties },
          context,
        },
        undefined,
        { sideEffects: false },
      );
      if (d.decision) found.push({ type: subject.type, id: i.id });
    }
  }
  return paginate(found, page);
}

export async function searchResources(pdp: PolicyDecisionPoint, raw: unknown) {
  const b = requireBody(raw);
  const subject = parseEntity(b.subject, 'body.subject');
  const action = parseAction(b.action, 'body.action');
  const resource = parseEntity(b.resource, 'body.resource', false);
  const context = parseContext(b.context, 'body.context');
  const page = parsePage(b);
  const candidates = [...pdp.index.allResources()]
    .filter((r) => r.type === resource.type)
    .sort((a, b) => (a.id < b.id ? -1 : 1));
  const found: { type: string; id: string }[] = [];
  for (const r of candidates) {
    const d = await pdp.decide(
      {
        principal: { id: subject.id, type: subject.type, properties: subject.properties },
        action: action.name,
        actionProperties: action.properties,
        resource: { id: r.id, type: r.type, properties: resource.properties },
        context,
      },
      undefined,
      { sideEffects: false },
    );
    if (d.decision) found.push({ type: r.type, id: r.id });
  }
  return paginate(found, page);
}

export async function searchActions(pdp: PolicyDecisionPoint, raw: unknown) {
  const b = requireBody(raw);
  const subject = parseEntity(b.subject, 'body.subject');
  const resource = parseEntity(b.resource, 'body.resource');
  const context = parseContext(b.context, 'body.context');
  const page = parsePage(b);
  const actions = [...(pdp.activeSet?.compiled.actions ?? [])].sort();
  const found: { name: string }[] = [];
  for (const name of actions) {
    const d = await pdp.decide(
      {
        principal: { id: subject.id, type: subject.type, properties: subject.properties },
        action: name,
        resource: { id: resource.id, type: resource.type, properties: resource.properties },
        context,
      },
      undefined,
      { sideEffects: false },
    );
    if (d.decision) found.push({ name });
  }
  return paginate(found, page);
}
