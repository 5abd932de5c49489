import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  jsonIsClean,
  jsonProblem,
  MAX_NESTING_DEPTH,
  policyTextShape,
  unpairedSurrogateAt,
} from './input-limits.js';

const depthOf = (condition: string) =>
  policyTextShape(`permit (principal, action, resource) when { ${condition} };`).depth;

void describe('policyTextShape', () => {
  void it('counts brackets as levels and chained operators as quarter levels', () => {
    assert.equal(depthOf('true'), 1);
    assert.equal(depthOf('((true))'), 3);
    assert.equal(depthOf('[[1]] == [[1]]'), 3.25);
    assert.equal(depthOf('context.a.b.c == 1 && true'), 2.25);
    assert.equal(depthOf(`${'if true then '.repeat(8)}1${' else 2'.repeat(8)} == 1`), 3.25);
  });

  void it('skips string literals (with escapes) and // comments', () => {
    assert.equal(depthOf('"(((\\"((((" like "((\\\\"'), 1.25);
    assert.equal(depthOf('true // ((((((((((\n'), 1);
    assert.equal(depthOf('true // ((((((((((\n && ((true))'), 3.25);
  });

  void it('counts policies by their top-level semicolons', () => {
    const text =
      '@id("a;") permit (principal, action, resource) when { "x;" == "y" }; // ;\nforbid (principal, action, resource);';
    assert.equal(policyTextShape(text).policies, 2);
  });

  void it('points at the deepest spot and starts each policy afresh', () => {
    const text = `permit (principal, action, resource) when { ${'.'.repeat(8)} };\npermit (principal, action, resource) when { (((x))) };`;
    const shape = policyTextShape(text);
    assert.equal(shape.depth, 4);
    assert.equal(text[shape.offset], '(');
  });
});

void describe('jsonProblem', () => {
  void it('names the path where a value nests deeper than the limit', () => {
    const deep = (n: number): unknown => (n === 0 ? 1 : { a: [deep(n - 1)] });
    assert.equal(jsonProblem({ p: deep(MAX_NESTING_DEPTH / 2 - 1) }, 'body'), undefined);
    const problem = jsonProblem({ 'x y': deep(40) }, 'body');
    assert.match(problem?.path ?? '', /^body\["x y"\]\.a\[0\]\.a/);
    assert.match(problem?.message ?? '', /deeper than 64 levels/);
  });

  void it('names the string or key with an unpaired surrogate; paired ones are fine', () => {
    assert.equal(jsonProblem({ a: ['😀', { b: 'ok' }] }, 'body'), undefined);
    assert.deepEqual(jsonProblem({ a: ['x', { b: 'a\ud800' }] }, 'body'), {
      path: 'body.a[1].b',
      message: 'contains an unpaired UTF-16 surrogate',
    });
    assert.equal(jsonProblem({ a: { '\udc00': 1 } }, 'body')?.path, 'body.a');
  });
});

void describe('jsonIsClean', () => {
  void it('agrees with jsonProblem on every case, at the depth limit and one past it', () => {
    const nest = (n: number): unknown => (n === 0 ? 'leaf' : [nest(n - 1)]);
    const cases: unknown[] = [
      undefined,
      null,
      7,
      'ok 😀',
      'a\ud800',
      { a: ['x', { b: 'a\udc00' }] },
      { '\ud800': 1 },
      { a: [1, 2, { c: true }] },
      nest(MAX_NESTING_DEPTH),
      nest(MAX_NESTING_DEPTH + 1),
    ];
    for (const c of cases) {
      assert.equal(jsonIsClean(c), jsonProblem(c, 'v') === undefined, JSON.stringify(c)?.slice(0, 80));
    }
    assert.equal(jsonIsClean(nest(MAX_NESTING_DEPTH)), true);
    assert.equal(jsonIsClean(nest(MAX_NESTING_DEPTH + 1)), false);
  });
});

void describe('unpairedSurrogateAt', () => {
  void it('finds a lone high or low surrogate, not a pair', () => {
    assert.equal(unpairedSurrogateAt('a😀b'), -1);
    assert.equal(unpairedSurrogateAt('ab\ud800c'), 2);
    assert.equal(unpairedSurrogateAt('😀\udc00'), 2);
    assert.equal(unpairedSurrogateAt('😀\ud83d'), 2);
  });
});
