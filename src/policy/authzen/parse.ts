/**
 * Parsing AuthZEN Authorization API 1.0 request bodies (spec sections 6-8) into PDP requests. Hand-written
 * rather than zod so that a malformed item inside a batch can become `decision: false` (as the 1.0
 * certification scenario expects) while a malformed top level is a 400 naming the field.
 *
 * Subject and resource members other than `type`, `id`, `properties` are read as properties: the first
 * implementers' draft put them there (e.g. `resource.ownerID`), and interop data still uses it.
 */
import { policyError } from '../errors.js';
import { jsonProblem } from '../input-limits.js';

export interface AuthzenEntity {
  type: string;
  id: string;
  properties: Record<string, unknown>;
}

export interface AuthzenAction {
  name: string;
  properties: Record<string, unknown>;
}

export interface AuthzenEvaluation {
  subject: AuthzenEntity;
  action: AuthzenAction;
  resource: AuthzenEntity;
  context: Record<string, unknown>;
}

export const EVALUATION_SEMANTICS = ['execute_all', 'deny_on_first_deny', 'permit_on_first_permit'] as const;
export type EvaluationSemantic = (typeof EVALUATION_SEMANTICS)[number];

/** A batch item that could not be parsed: answered `decision: false` with this reason. */
export interface BadItem {
  error: string;
}

export interface AuthzenBatch {
  items: (AuthzenEvaluation | BadItem)[];
  semantic: EvaluationSemantic;
  /** The request had no `evaluations` (or an empty one) and is answered as a single evaluation. */
  single: boolean;
}

export const MAX_EVALUATIONS = 200;
const MAX_TEXT = 1024;

export class AuthzenParseError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function text(v: unknown, field: string): string {
  if (typeof v !== 'string')
    throw new AuthzenParseError(field, v === undefined ? 'is required' : 'must be a string');
  if (v.length === 0) throw new AuthzenParseError(field, 'must not be empty');
  if (v.length > MAX_TEXT) throw new AuthzenParseError(field, `must be at most ${MAX_TEXT} characters`);
  return v;
}

function properties(v: unknown, field: string): Obj {
  if (v === undefined) return {};
  if (!isObj(v)) throw new AuthzenParseError(field, 'must be an object');
  return v;
}

export function parseEntity(v: unknown, field: string, idRequired = true): AuthzenEntity {
  if (!isObj(v)) throw new AuthzenParseError(field, v === undefined ? 'is required' : 'must be an object');
  const type = text(v.type, `${field}.type`);
  const id = idRequired || v.id !== undefined ? text(v.id, `${field}.id`) : '';
  const props: Obj = {};
  for (const [k, val] of Object.entries(v)) {
    if (k !== 'type' && k !== 'id' && k !== 'properties' && !k.startsWith('_')) props[k] = val;
  }
  return { type, id, properties: { ...props, ...properties(v.properties, `${field}.properties`) } };
}

export function parseAction(v: unknown, field: string): AuthzenAction {
  if (!isObj(v)) throw new AuthzenParseError(field, v === undefined ? 'is required' : 'must be an object');
  return { name: text(v.name, `${field}.name`), properties: properties(v.properties, `${field}.properties`) };
}

export function parseContext(v: unknown, field: string): Obj {
  if (v === undefined || v === null) return {};
  if (!isObj(v)) throw new AuthzenParseError(field, 'must be an object');
  return v;
}

/**
 * The request body as an object, refused whole when any value in it nests too deep (`input-limits.ts`):
 * properties and context reach Cedar and the decision-cache key, and are hashed for search pages.
 */
export function requireBody(body: unknown): Obj {
  if (!isObj(body)) throw new AuthzenParseError('body', 'must be a JSON object');
  const problem = jsonProblem(body, 'body');
  if (problem) throw new AuthzenParseError(problem.path, problem.message);
  return body;
}

export function parseEvaluation(body: unknown): AuthzenEvaluation {
  const b = requireBody(body);
  return {
    subject: parseEntity(b.subject, 'body.subject'),
    action: parseAction(b.action, 'body.action'),
    resource: parseEntity(b.resource, 'body.resource'),
    context: parseContext(b.context, 'body.context'),
  };
}

export function parseEvaluations(body: unknown): AuthzenBatch {
  const b = requireBody(body);
  let semantic: EvaluationSemantic = 'execute_all';
  if (b.options !== undefined) {
    if (!isObj(b.options)) throw new AuthzenParseError('body.options', 'must be an object');
    const s = b.options.evaluations_semantic;
    if (s !== undefined) {
      if (typeof s !== 'string' || !(EVALUATION_SEMANTICS as readonly string[]).includes(s)) {
        throw new AuthzenParseError(
          'body.options.evaluations_semantic',
          `must be one of ${EVALUATION_SEMANTICS.join(', ')}`,
        );
      }
      semantic = s as EvaluationSemantic;
    }
  }
  if (b.evaluations !== undefined && !Array.isArray(b.evaluations)) {
    throw new AuthzenParseError('body.evaluations', 'must be an array');
  }
  const list = (b.evaluations ?? []) as unknown[];
  if (list.length === 0) return { items: [parseEvaluation(b)], semantic, single: true };
  if (list.length > MAX_EVALUATIONS) {
    throw policyError('AUTHZEN_BATCH_TOO_LARGE', `at most ${MAX_EVALUATIONS} evaluations per request`, {
      field: 'body.evaluations',
    });
  }
  // Defaults are checked only when given, so an invalid default is a whole-request error.
  const dSubject = b.subject === undefined ? undefined : parseEntity(b.subject, 'body.subject');
  const dAction = b.action === undefined ? undefined : parseAction(b.action, 'body.action');
  const dResource = b.resource === undefined ? undefined : parseEntity(b.resource, 'body.resource');
  const dContext = parseContext(b.context, 'body.context');
  const items = list.map((item, i): AuthzenEvaluation | BadItem => {
    const f = `body.evaluations[${i}]`;
    try {
      if (!isObj(item)) throw new AuthzenParseError(f, 'must be an object');
      return {
        subject:
          item.subject === undefined && dSubject ? dSubject : parseEntity(item.subject, `${f}.subject`),
        action: item.action === undefined && dAction ? dAction : parseAction(item.action, `${f}.action`),
        resource:
          item.resource === undefined && dResource ? dResource : parseEntity(item.resource, `${f}.resource`),
        context: item.context === undefined ? dContext : parseContext(item.context, `${f}.context`),
      };
    } catch (err) {
      if (err instanceof AuthzenParseError) return { error: err.message };
      throw err;
    }
  });
  return { items, semantic, single: false };
}

export function isBadItem(v: AuthzenEvaluation | BadItem): v is BadItem {
  return 'error' in v;
}
