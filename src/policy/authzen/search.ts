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
/**
 * Candidates one search request evaluates at most (about 0.5 s of Cedar). Past it the page comes back short,
 * with a `next_token` that resumes where the scan stopped and `page.properties.truncated: true`: a `read`
 * key must not be able to make one request evaluate the whole inventory.
 */
export const MAX_SEARCH_CANDIDATES = 5000;
/** Evaluations between two yields to the event loop, so decisions are not held up behind a search. */
const YIELD_EVERY = 256;

interface Page {
  /** Candidates sort by key; the scan starts after this one (a page token carries the last one returned). */
  after: string | undefined;
  limit: number;
  digest: string;
}

export interface SearchOptions {
  maxCandidates?: number;
}

/** Parses `page` and binds its token to the rest of the request, so a changed query cannot reuse it. */
function parsePage(body: Obj): Page {
  const { page, ...rest } = body;
  const digest = createHash('sha256').update(JSON.stringify(rest)).digest('base64url').slice(0, 16);
  if (page === undefined) return { after: undefined, limit: DEFAULT_SEARCH_LIMIT, digest };
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
  let after: string | undefined;
  if (page.token !== undefined && page.token !== '') {
    if (typeof page.token !== 'string') throw new AuthzenParseError('body.page.token', 'must be a string');
    const text = Buffer.from(page.token, 'base64url').toString('utf8');
    const sep = text.indexOf(':');
    if (sep < 0 || text.slice(0, sep) !== `${digest}.${limit}`) {
      throw new AuthzenParseError('body.page.token', 'is not a token for this query');
    }
    after = text.slice(sep + 1);
  }
  return { after, limit, digest };
}

const tokenFor = (page: Page, after: string) =>
  Buffer.from(`${page.digest}.${page.limit}:${after}`, 'utf8').toString('base64url');

/**
 * Evaluates candidates in key order after the page's token until the page is full and one more match shows
 * there is a next page, or `maxCandidates` have been evaluated. `count` is this page's (AuthZEN 1.0); there
 * is no `total`, which would take evaluating every candidate.
 */
async function searchPage<C, R>(
  candidates: C[],
  keyOf: (c: C) => string,
  permits: (c: C) => Promise<R | undefined>,
  page: Page,
  maxCandidates: number,
) {
  const sorted = candidates
    .map((c) => ({ c, key: keyOf(c) }))
    .filter((x) => page.after === undefined || x.key > page.after)
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const results: R[] = [];
  let lastKey: string | undefined;
  let more = false;
  let truncated = false;
  let scanned = 0;
  for (const { c, key } of sorted) {
    if (scanned === maxCandidates) {
      truncated = true;
      break;
    }
    if (scanned > 0 && scanned % YIELD_EVERY === 0) {
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    scanned++;
    const r = await permits(c);
    if (r === undefined) continue;
    if (results.length === page.limit) {
      more = true;
      break;
    }
    results.push(r);
    lastKey = key;
  }
  // A truncated scan resumes after the last candidate it evaluated, matched or not.
  const resumeAfter = truncated ? sorted[scanned - 1]?.key : more ? lastKey : undefined;
  return {
    page: {
      next_token: resumeAfter === undefined ? '' : tokenFor(page, resumeAfter),
      count: results.length,
      ...(truncated ? { properties: { truncated: true, evaluated: scanned } } : {}),
    },
    results,
  };
}

export async function searchSubjects(pdp: PolicyDecisionPoint, raw: unknown, opts: SearchOptions = {}) {
  const b = requireBody(raw);
  const subject = parseEntity(b.subject, 'body.subject', false);
  const action = parseAction(b.action, 'body.action');
  const resource = parseEntity(b.resource, 'body.resource');
  const context = parseContext(b.context, 'body.context');
  const page = parsePage(b);
  const kinds = subjectTypeKinds(subject.type);
  const candidates = kinds
    ? [...pdp.index.allIdentities()].filter((i) => kinds === 'any' || kinds.includes(i.kind))
    : [];
  return searchPage(
    candidates,
    (i) => i.id,
    async (i) => {
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
      return d.decision ? { type: subject.type, id: i.id } : undefined;
    },
    page,
    opts.maxCandidates ?? MAX_SEARCH_CANDIDATES,
  );
}

export async function searchResources(pdp: PolicyDecisionPoint, raw: unknown, opts: SearchOptions = {}) {
  const b = requireBody(raw);
  const subject = parseEntity(b.subject, 'body.subject');
  const action = parseAction(b.action, 'body.action');
  const resource = parseEntity(b.resource, 'body.resource', false);
  const context = parseContext(b.context, 'body.context');
  const page = parsePage(b);
  return searchPage(
    [...pdp.index.allResources()].filter((r) => r.type === resource.type),
    (r) => r.id,
    async (r) => {
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
      return d.decision ? { type: r.type, id: r.id } : undefined;
    },
    page,
    opts.maxCandidates ?? MAX_SEARCH_CANDIDATES,
  );
}

export async function searchActions(pdp: PolicyDecisionPoint, raw: unknown, opts: SearchOptions = {}) {
  const b = requireBody(raw);
  const subject = parseEntity(b.subject, 'body.subject');
  const resource = parseEntity(b.resource, 'body.resource');
  const context = parseContext(b.context, 'body.context');
  const page = parsePage(b);
  return searchPage(
    [...(pdp.activeSet?.compiled.actions ?? [])],
    (name) => name,
    async (name) => {
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
      return d.decision ? { name } : undefined;
    },
    page,
    opts.maxCandidates ?? MAX_SEARCH_CANDIDATES,
  );
}
