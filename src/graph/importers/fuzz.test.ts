/**
 * Robustness: importers fed mutated exports (values swapped for wrong types, keys dropped, lists truncated)
 * either produce a plan or throw a BulkheadError with a field — never a TypeError or a hang.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { isBulkheadError } from '../../errors.js';
import { buildAwsIamPlan } from './aws-iam/analyze.js';
import { buildK8sRbacPlan } from './k8s-rbac/analyze.js';
import { buildYamlPlan } from './yaml/plan.js';
import { parse as parseYaml } from 'yaml';

const load = (rel: string) => readFileSync(new URL(rel, import.meta.url), 'utf8');
const iam = load('../../../test/fixtures/aws-iam/escalation-account.json');
const k8s = load('../../../test/fixtures/k8s-rbac/rbac-list.json');
const yml = JSON.stringify(parseYaml(load('../../../test/fixtures/yaml/acme-inventory.yaml')));

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 0x100000000;
}

const WEIRD: unknown[] = [
  null,
  0,
  -1,
  '',
  'x',
  true,
  [],
  {},
  [null],
  { Statement: 'x' },
  '%7B',
  Number.POSITIVE_INFINITY,
];

/** Replaces one random value somewhere in the document, or deletes a key, or truncates an array. */
function mutate(doc: unknown, rand: () => number): unknown {
  const clone = JSON.parse(JSON.stringify(doc)) as unknown;
  const containers: { parent: Record<string, unknown> | unknown[]; key: string | number }[] = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach((x, i) => (containers.push({ parent: v, key: i }), walk(x)));
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        containers.push({ parent: v as Record<string, unknown>, key: k });
        walk(x);
      }
    }
  };
  walk(clone);
  for (let n = 0; n < 3; n++) {
    const c = containers[Math.floor(rand() * containers.length)];
    if (!c) break;
    const roll = rand();
    if (roll < 0.6)
      (c.parent as Record<string | number, unknown>)[c.key] = WEIRD[Math.floor(rand() * WEIRD.length)];
    else if (roll < 0.8 && !Array.isArray(c.parent)) delete c.parent[c.key as string];
    else if (Array.isArray(c.parent)) c.parent.length = Math.floor(rand() * c.parent.length);
  }
  return clone;
}

function check(name: string, text: string, build: (doc: unknown) => unknown, runs: number): void {
  void it(`${name}: ${runs} mutated exports never crash`, () => {
    const rand = rng(42);
    let planned = 0;
    let rejected = 0;
    for (let i = 0; i < runs; i++) {
      const doc = mutate(JSON.parse(text), rand);
      try {
        build(doc);
        planned++;
      } catch (err) {
        assert.ok(isBulkheadError(err), `run ${i}: ${err instanceof Error ? err.stack : String(err)}`);
        assert.ok(err.field, `run ${i}: error without field: ${err.message}`);
        rejected++;
      }
    }
    assert.equal(planned + rejected, runs);
  });
}

void describe('importers under mutated input', () => {
  check('aws-iam', iam, (d) => buildAwsIamPlan(d), 150);
  check('k8s-rbac', k8s, (d) => buildK8sRbacPlan(d), 150);
  check('yaml', yml, (d) => buildYamlPlan(d), 150);
});
