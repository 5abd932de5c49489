/**
 * What the PDP refuses before it reaches cedar-wasm. Cedar's parser, validator and evaluator recurse once
 * per level of the expression tree, and an overflow inside the Wasm module does not stay in the call that
 * caused it: measured with cedar-wasm 4.13, ~115 nested brackets or ~360 chained operators overflow its stack
 * and leave the shared instance corrupted ("memory access out of bounds" on every later call, parsing and
 * decisions alike) until the process restarts. So input too deep for it is refused here, with room to spare.
 */

import { isWellFormed } from '../well-formed.js';

/** How deep Cedar text and JSON values may nest; the measured overflow is at ~115 brackets (see above). */
export const MAX_NESTING_DEPTH = 64;

/**
 * Chained operators deepen Cedar's tree as brackets do (`a.b.c` is `(a.b).c`, `x + y + z` is `(x + y) + z`,
 * `if … then if …` nests), at about a quarter of a bracket's stack each: a level counts four of them.
 */
export const OPERATORS_PER_LEVEL = 4;

/**
 * How many policies a bundle may hold. Validation is all Cedar's (parse, JSON form, strict validation) and
 * runs on the event loop: measured here, 5,000 one-line policies take ~0.45 s to validate and ~0.2 s more
 * to pre-parse on push; the 25,000 of a fuzzed bundle took 2-8 s, during which nothing else was answered.
 */
export const MAX_POLICIES = 5_000;

export interface PolicyTextShape {
  /** The deepest point: nesting in levels (a bracket is one, an operator a quarter), and where. */
  depth: number;
  offset: number;
  /** How many policies the text holds (`;` outside any bracket, string or comment). */
  policies: number;
}

const OPEN = new Set(['(', '[', '{']);
const CLOSE = new Set([')', ']', '}']);
/** Single-character operators; `==`, `!=`, `<=`, `>=`, `&&`, `||` count once (see `operatorLength`). */
const OPERATOR_CHARS = new Set(['.', '+', '-', '*', '!', '<', '>', '=', '&', '|']);
const KEYWORD_OPERATORS = new Set(['if', 'in', 'has', 'like', 'is']);

function operatorLength(text: string, i: number): number {
  const two = text.slice(i, i + 2);
  return two === '==' || two === '!=' || two === '<=' || two === '>=' || two === '&&' || two === '||' ? 2 : 1;
}

const isIdentStart = (c: string) => (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c === '_';
const isIdentPart = (c: string) => isIdentStart(c) || (c >= '0' && c <= '9');

/**
 * How deep Cedar text nests and how many policies it holds, from one pass over it: brackets and operators
 * outside string literals (with Cedar's `\` escapes) and `//` comments. An upper bound of the depth of
 * Cedar's expression tree: every operator inside a bracket counts, whether or not it chains.
 */
export function policyTextShape(text: string): PolicyTextShape {
  // Quarter levels: one per operator, OPERATORS_PER_LEVEL per bracket.
  const open: number[] = [0];
  let units = 0;
  let deepest = 0;
  let deepestAt = 0;
  let policies = 0;
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"') {
      i++;
      while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
      i++;
      continue;
    }
    if (c === '/' && text[i + 1] === '/') {
      const end = text.indexOf('\n', i);
      i = end === -1 ? text.length : end + 1;
      continue;
    }
    let added = 0;
    let length = 1;
    if (OPEN.has(c)) {
      open.push(0);
      added = OPERATORS_PER_LEVEL;
    } else if (CLOSE.has(c)) {
      if (open.length > 1) units -= open.pop()!;
    } else if (OPERATOR_CHARS.has(c)) {
      length = operatorLength(text, i);
      added = 1;
    } else if (isIdentStart(c)) {
      while (i + length < text.length && isIdentPart(text[i + length]!)) length++;
      if (KEYWORD_OPERATORS.has(text.slice(i, i + length))) added = 1;
    } else if (c === ';' && open.length === 1) {
      policies++;
      units -= open[0]!;
      open[0] = 0;
    }
    if (added > 0) {
      open[open.length - 1]! += added;
      units += added;
      if (units > deepest) {
        deepest = units;
        deepestAt = i;
      }
    }
    i += length;
  }
  return { depth: deepest / OPERATORS_PER_LEVEL, offset: deepestAt, policies };
}

/**
 * Where the first unpaired UTF-16 surrogate is, -1 if none. Cedar's JSON reader fails on one with an error
 * thrown through the Wasm frames, which leaks a little of cedar-wasm's stack each time: a few thousand such
 * calls corrupt the instance, as an overflow does. No such string may reach Cedar.
 */
export function unpairedSurrogateAt(text: string): number {
  return isWellFormed(text) ? -1 : text.search(/\p{Surrogate}/u);
}

/** Why a JSON value may not go further, and where (a path below the field it was given as). */
export interface JsonProblem {
  path: string;
  message: string;
}

const member = (path: string, key: string) =>
  /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;

/**
 * The first problem with a JSON value from a caller: nested deeper than MAX_NESTING_DEPTH, or a string (value
 * or key) with an unpaired surrogate (see `unpairedSurrogateAt`). Iterative, so the check itself cannot
 * overflow the stack.
 */
/**
 * Whether `jsonProblem` would find nothing, without building a path per node (the PDP runs it on every
 * decision). Recursion is bounded: it stops at MAX_NESTING_DEPTH.
 */
export function jsonIsClean(value: unknown, depth = 0): boolean {
  if (typeof value === 'string') return isWellFormed(value);
  if (typeof value !== 'object' || value === null) return true;
  if (depth >= MAX_NESTING_DEPTH) return false;
  if (Array.isArray(value)) {
    for (const x of value as unknown[]) if (!jsonIsClean(x, depth + 1)) return false;
    return true;
  }
  for (const k of Object.keys(value)) {
    if (!isWellFormed(k) || !jsonIsClean((value as Record<string, unknown>)[k], depth + 1)) return false;
  }
  return true;
}

export function jsonProblem(value: unknown, path: string): JsonProblem | undefined {
  const pending: [unknown, string, number][] = [[value, path, 0]];
  for (let item = pending.pop(); item !== undefined; item = pending.pop()) {
    const [v, at, depth] = item;
    if (typeof v === 'string') {
      if (!isWellFormed(v)) return { path: at, message: 'contains an unpaired UTF-16 surrogate' };
      continue;
    }
    if (typeof v !== 'object' || v === null) continue;
    if (depth >= MAX_NESTING_DEPTH) {
      return { path: at, message: `nests deeper than ${MAX_NESTING_DEPTH} levels` };
    }
    if (Array.isArray(v)) {
      v.forEach((x: unknown, n) => pending.push([x, `${at}[${n}]`, depth + 1]));
      continue;
    }
    for (const [k, x] of Object.entries(v)) {
      if (!isWellFormed(k)) return { path: at, message: 'has a key with an unpaired UTF-16 surrogate' };
      pending.push([x, member(at, k), depth + 1]);
    }
  }
  return undefined;
}
