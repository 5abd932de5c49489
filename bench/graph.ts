/**
 * Identity-graph benchmarks: blast-radius and attack-path latency (p50/p99) on generated identity graphs of
 * 10k, 100k and 1M edges; memory of the 1M-edge graph; one incremental update (one principal's policy changed)
 * versus a full rebuild; and import of a generated 10k-principal IAM export. Baselines are measured in the same
 * run: a BFS over a plain array-of-objects adjacency, a full rebuild, and JSON.parse of the export.
 *
 * Run alone: `node --expose-gc --import tsx bench/graph.ts`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadConfig } from '../src/config.js';
import { CompactGraph } from '../src/graph/compact-graph.js';
import { createGraphModule } from '../src/graph/index.js';
import { buildAwsIamPlan } from '../src/graph/importers/aws-iam/analyze.js';
import { applyImportPlan } from '../src/graph/importers/apply.js';
import type { GraphEdgeInput } from '../src/graph/model.js';
import { computeBlastRadius } from '../src/graph/queries/blast-radius.js';
import { kShortestPaths } from '../src/graph/queries/paths.js';
import { coreModule } from '../src/modules/index.js';
import { openAppContext } from '../src/server/context.js';

export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  baseline?: { name: string; value: number };
  target?: string;
}

/** Deterministic PRNG so every run measures the same graphs. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 0x100000000;
  };
}

interface Generated {
  origins: [string, GraphEdgeInput[]][];
  principals: number;
}

const SENS = ['public', 'internal', 'confidential', 'regulated'] as const;

/**
 * An identity graph shaped like a real estate: principals are members of groups and hold permissions on
 * resources; some can assume roles or read other principals' secrets; a few are admins. About 10 edges per
 * principal.
 */
export function generate(edges: number, seed = 7): Generated & { graph: CompactGraph } {
  const rand = rng(seed);
  const principals = Math.max(100, Math.floor(edges / 10));
  const resources = Math.max(50, Math.floor(edges / 20));
  const groups = Math.max(10, Math.floor(edges / 2000));
  const pick = (n: number) => Math.floor(rand() * n);
  const graph = new CompactGraph();
  for (let r = 0; r < resources; r++) {
    graph.upsertNode({ key: `resource:r${r}`, type: 'resource', name: `r${r}`, sensitivity: SENS[pick(4)]! });
  }
  for (let p = 0; p < principals; p++) {
    graph.upsertNode({ key: `identity:p${p}`, type: 'identity', name: `p${p}`, admin: p % 997 === 0 });
  }
  const origins: [string, GraphEdgeInput[]][] = [];
  let count = 0;
  for (let g = 0; g < groups && count < edges; g++) {
    const list: GraphEdgeInput[] = [];
    for (let k = 0; k < 8; k++)
      list.push({
        from: `group:g${g}`,
        to: `resource:r${pick(resources)}`,
        kind: 'has_permission',
        via: 's3:GetObject',
      });
    count += list.length;
    origins.push([`group:${g}`, list]);
  }
  for (let p = 0; count < edges; p = (p + 1) % principals) {
    const list: GraphEdgeInput[] = [];
    const from = `identity:p${p}`;
    list.push({ from, to: `group:g${pick(groups)}`, kind: 'member_of', via: 'member' });
    for (let k = 0; k < 7; k++)
      list.push({
        from,
        to: `resource:r${pick(resources)}`,
        kind: 'has_permission',
        via: 'dynamodb:GetItem',
      });
    if (rand() < 0.6)
      list.push({
        from,
        to: `identity:p${pick(principals)}`,
        kind: 'can_assume',
        via: 'sts:AssumeRole',
        method: 'sts:AssumeRole',
      });
    if (rand() < 0.4)
      list.push({
        from,
        to: `identity:p${pick(principals)}`,
        kind: 'can_read_secret_of',
        via: 'reads secret',
      });
    count += list.length;
    origins.push([`p:${p}:${count}`, list]);
  }
  graph.load(origins);
  return { graph, origins, principals };
}

/** A fresh graph with the same nodes and edges (for measuring what one graph costs in memory). */
function rebuildFrom(source: CompactGraph, origins: [string, GraphEdgeInput[]][]): CompactGraph {
  const g = new CompactGraph();
  for (let i = 0; i < source.nodeCount; i++) {
    g.upsertNode({
      key: source.key(i),
      type: source.type(i),
      name: source.name(i),
      admin: source.isAdmin(i),
      sensitivity:
        (['public', 'internal', 'confidential', 'regulated'] as const)[source.sensitivityRank(i) - 1] ?? null,
    });
  }
  g.load(origins);
  return g;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

function timeMany(n: number, fn: (i: number) => void): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    fn(i);
    out.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return out.sort((a, b) => a - b);
}

/** Baseline: the obvious representation — a Map of arrays of edge objects — and a BFS over it. */
function naiveAdjacency(origins: [string, GraphEdgeInput[]][]): Map<string, GraphEdgeInput[]> {
  const adj = new Map<string, GraphEdgeInput[]>();
  for (const [, list] of origins) {
    for (const e of list) {
      let l = adj.get(e.from);
      if (!l) adj.set(e.from, (l = []));
      l.push({ ...e });
    }
  }
  return adj;
}

function naiveBfs(adj: Map<string, GraphEdgeInput[]>, start: string): number {
  const seen = new Set([start]);
  const queue = [start];
  for (let h = 0; h < queue.length; h++) {
    for (const e of adj.get(queue[h]!) ?? []) {
      if (!seen.has(e.to)) {
        seen.add(e.to);
        queue.push(e.to);
      }
    }
  }
  return seen.size;
}

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

function heapBytes(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/**
 * End to end through the service: a credential's scopes change through the inventory API on a server whose
 * graph holds 1M edges; measured until the graph has applied it (store write + notify + re-derive + replace).
 */
async function benchInventoryChange(
  results: BenchResult[],
  origins: [string, GraphEdgeInput[]][],
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bulkhead-bench-graph-'));
  try {
    const config = loadConfig(
      { host: '127.0.0.1', port: 0, dataDir: dir, demo: false },
      { BULKHEAD_LOG_LEVEL: 'silent' },
    );
    const graphModule = createGraphModule();
    const ctx = await openAppContext(config, [coreModule, graphModule], pino({ level: 'silent' }));
    try {
      const meta = { actor: 'bench' };
      await ctx.inventory.createResource(
        {
          id: 'r-bench',
          type: 'database',
          displayName: 'db',
          sensitivity: 'regulated',
          environment: 'prod',
          owners: [],
          source: 'bench',
          labels: {},
        },
        meta,
      );
      await ctx.inventory.createIdentity(
        {
          id: 'svc-bench',
          kind: 'service_account',
          displayName: 'svc',
          environment: 'prod',
          owners: [],
          groups: [],
          source: 'bench',
          labels: {},
          status: 'active',
        },
        meta,
      );
      await ctx.inventory.createCredential(
        {
          id: 'cred-bench',
          identityId: 'svc-bench',
          type: 'token',
          fingerprint: 'fp-bench',
          status: 'active',
          scopes: [],
          storedIn: [],
          consumers: [],
          source: 'bench',
          labels: {},
        },
        meta,
      );
      await graphModule.start?.(ctx);
      const service = graphModule.service()!;
      service.graph.load(origins);
      const times: number[] = [];
      for (let i = 0; i < 20; i++) {
        const t = performance.now();
        await ctx.inventory.updateCredential(
          'cred-bench',
          { scopes: i % 2 === 0 ? ['db:r-bench:rw'] : ['db:r-bench:ro'] },
          meta,
        );
        await service.settled();
        times.push(performance.now() - t);
      }
      times.sort((a, b) => a - b);
      const g = service.graph;
      const reached = g.reach(g.find('identity:svc-bench')!).length;
      results.push({
        name: `incremental update via the inventory API (credential scopes changed) p99, 1M edges (reach ${reached})`,
        value: +percentile(times, 99).toFixed(3),
        unit: 'ms',
        target: '<= 100 ms',
      });
      await graphModule.stop?.();
    } finally {
      await ctx.store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function benchImport(results: BenchResult[]): Promise<void> {
  const doc = generateIamExport(10_000);
  const text = JSON.stringify(doc);
  const parseMs = timeMany(3, () => JSON.parse(text))[1]!;
  const dir = mkdtempSync(join(tmpdir(), 'bulkhead-bench-graph-'));
  try {
    const config = loadConfig(
      { host: '127.0.0.1', port: 0, dataDir: dir, demo: false },
      { BULKHEAD_LOG_LEVEL: 'silent' },
    );
    const ctx = await openAppContext(config, [coreModule, createGraphModule()], pino({ level: 'silent' }));
    try {
      const t0 = performance.now();
      const plan = buildAwsIamPlan(JSON.parse(text));
      const t1 = performance.now();
      await applyImportPlan(ctx.db, ctx.audit, ctx.now, plan, { actor: 'bench', fileName: 'bench.json' });
      const t2 = performance.now();
      results.push({
        name: 'import aws-iam 10k principals: analyse (policy evaluation + escalation edges)',
        value: Math.round(t1 - t0),
        unit: 'ms',
        baseline: { name: 'JSON.parse of the export', value: Math.round(parseMs) },
      });
      results.push({
        name: 'import aws-iam 10k principals: total (analyse + one SQLite transaction)',
        value: Math.round(t2 - t0),
        unit: 'ms',
      });
      const t3 = performance.now();
      await applyImportPlan(ctx.db, ctx.audit, ctx.now, buildAwsIamPlan(JSON.parse(text)), {
        actor: 'bench',
        fileName: 'bench.json',
      });
      results.push({
        name: 'import aws-iam 10k principals: idempotent re-import',
        value: Math.round(performance.now() - t3),
        unit: 'ms',
      });
    } finally {
      await ctx.store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A 10k-principal account: 70% users, 30% roles, 50 groups, 200 customer managed policies, a few escalations. */
export function generateIamExport(principals: number): Record<string, unknown> {
  const rand = rng(11);
  const A = '111122223333';
  const pick = (n: number) => Math.floor(rand() * n);
  const doc = (...Statement: unknown[]) => ({ Version: '2012-10-17', Statement });
  const policies = Array.from({ length: 200 }, (_, i) => ({
    PolicyName: `team-policy-${i}`,
    Arn: `arn:aws:iam::${A}:policy/team-policy-${i}`,
    DefaultVersionId: 'v1',
    IsAttachable: true,
    PolicyVersionList: [
      {
        VersionId: 'v1',
        IsDefaultVersion: true,
        Document: doc(
          {
            Effect: 'Allow',
            Action: ['s3:GetObject', 's3:PutObject'],
            Resource: `arn:aws:s3:::bucket-${i}/*`,
          },
          {
            Effect: 'Allow',
            Action: 'dynamodb:Query',
            Resource: `arn:aws:dynamodb:us-east-1:${A}:table/t${i}`,
          },
        ),
      },
    ],
  }));
  const groups = Array.from({ length: 50 }, (_, i) => ({
    GroupName: `group-${i}`,
    Arn: `arn:aws:iam::${A}:group/group-${i}`,
    GroupPolicyList: [],
    AttachedManagedPolicies: [
      { PolicyName: `team-policy-${i}`, PolicyArn: `arn:aws:iam::${A}:policy/team-policy-${i}` },
    ],
  }));
  const users = Math.floor(principals * 0.7);
  const UserDetailList = Array.from({ length: users }, (_, i) => ({
    UserName: `user-${i}`,
    UserId: `AIDA${i}`,
    Arn: `arn:aws:iam::${A}:user/user-${i}`,
    Path: '/',
    GroupList: [`group-${pick(50)}`],
    AttachedManagedPolicies: [
      { PolicyName: 'p', PolicyArn: `arn:aws:iam::${A}:policy/team-policy-${pick(200)}` },
    ],
    UserPolicyList: [
      {
        PolicyName: 'inline',
        PolicyDocument:
          i % 500 === 0
            ? doc({ Effect: 'Allow', Action: 'iam:CreateAccessKey', Resource: `arn:aws:iam::${A}:user/*` })
            : doc({
                Effect: 'Allow',
                Action: 'sts:AssumeRole',
                Resource: `arn:aws:iam::${A}:role/role-${pick(principals - users)}`,
              }),
      },
    ],
    Tags: [],
  }));
  const RoleDetailList = Array.from({ length: principals - users }, (_, i) => ({
    RoleName: `role-${i}`,
    RoleId: `AROA${i}`,
    Arn: `arn:aws:iam::${A}:role/role-${i}`,
    Path: '/',
    AssumeRolePolicyDocument:
      i % 3 === 0
        ? doc({ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' })
        : doc({
            Effect: 'Allow',
            Principal: { AWS: `arn:aws:iam::${A}:user/user-${pick(users)}` },
            Action: 'sts:AssumeRole',
          }),
    InstanceProfileList: [],
    RolePolicyList: [],
    AttachedManagedPolicies:
      i % 1000 === 0
        ? [{ PolicyName: 'AdministratorAccess', PolicyArn: 'arn:aws:iam::aws:policy/AdministratorAccess' }]
        : [{ PolicyName: 'p', PolicyArn: `arn:aws:iam::${A}:policy/team-policy-${pick(200)}` }],
    Tags: [],
  }));
  return { UserDetailList, GroupDetailList: groups, RoleDetailList, Policies: policies, IsTruncated: false };
}

export async function run(): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  for (const size of [10_000, 100_000, 1_000_000]) {
    const label = size >= 1_000_000 ? '1M' : `${size / 1000}k`;
    const t0 = performance.now();
    const { graph, origins, principals } = generate(size);
    const buildMs = performance.now() - t0;
    // Memory of the graph alone: rebuild it from the same facts and measure the heap it adds.
    gc();
    const before = heapBytes();
    const probe = size >= 1_000_000 ? rebuildFrom(graph, origins) : null;
    gc();
    const graphBytes = heapBytes() - before;
    void probe?.nodeCount;
    const runs = size >= 1_000_000 ? 200 : 500;
    const starts = Array.from({ length: runs }, (_, i) =>
      graph.find(`identity:p${(i * 7919) % principals}`)!,
    );
    // Warm up the JIT on a few queries before measuring.
    for (let i = 0; i < 20; i++) computeBlastRadius(graph, starts[i % starts.length]!, { limit: 20 });
    const blast = timeMany(runs, (i) => computeBlastRadius(graph, starts[i]!, { limit: 20 }));
    const reachable = graph.reach(starts[0]!).length;
    const adj = naiveAdjacency(origins);
    const naive = timeMany(Math.min(runs, 100), (i) => naiveBfs(adj, graph.key(starts[i]!)));
    results.push({
      name: `blast radius p50, ${label} edges (${reachable} nodes reachable)`,
      value: +percentile(blast, 50).toFixed(3),
      unit: 'ms',
      baseline: { name: 'BFS over Map<string, edge[]> p50', value: +percentile(naive, 50).toFixed(3) },
    });
    results.push({
      name: `blast radius p99, ${label} edges`,
      value: +percentile(blast, 99).toFixed(3),
      unit: 'ms',
      ...(size >= 1_000_000 ? { target: '<= 10 ms' } : {}),
    });
    const pathRuns = size >= 1_000_000 ? 50 : 200;
    const isAdmin = (i: number) => graph.isAdmin(i);
    const paths = timeMany(pathRuns, (i) => kShortestPaths(graph, starts[i]!, isAdmin, 3));
    results.push({
      name: `paths to admin (k=3) p50, ${label} edges`,
      value: +percentile(paths, 50).toFixed(3),
      unit: 'ms',
      baseline: { name: 'blast radius p50 (one BFS)', value: +percentile(blast, 50).toFixed(3) },
    });
    results.push({
      name: `paths to admin (k=3) p99, ${label} edges`,
      value: +percentile(paths, 99).toFixed(3),
      unit: 'ms',
    });
    if (size >= 1_000_000) {
      results.push({
        name: 'memory of the 1M-edge graph (heap + array buffers)',
        value: +(graphBytes / 1024 / 1024).toFixed(1),
        unit: 'MB',
        baseline: { name: 'typed arrays alone', value: +(graph.stats().bytes / 1024 / 1024).toFixed(1) },
        target: '<= 200 MB',
      });
      // One principal's policy changed: replace its origin's edges.
      const [origin, edges] = origins[origins.length - 1]!;
      const changed = edges.map((e, k) => (k === 1 ? { ...e, to: 'resource:r1' } : e));
      const upd = timeMany(50, (i) => graph.replaceOrigin(origin, i % 2 === 0 ? changed : edges));
      const rebuild = timeMany(1, () => new CompactGraph().load(origins));
      results.push({
        name: 'incremental update after one changed policy p99, 1M edges',
        value: +percentile(upd, 99).toFixed(3),
        unit: 'ms',
        baseline: { name: 'full rebuild', value: Math.round(rebuild[0]!) },
        target: '<= 100 ms',
      });
      results.push({ name: 'build 1M-edge graph from facts', value: Math.round(buildMs), unit: 'ms' });
      await benchInventoryChange(results, origins);
    }
    adj.clear();
  }
  await benchImport(results);
  return results;
}

const isMain = process.argv[1] !== undefined && /bench[\\/]graph\.(ts|js)$/.test(process.argv[1]);
if (isMain) {
  const results = await run();
  for (const r of results) {
    const base = r.baseline ? `  (baseline ${r.baseline.name}: ${r.baseline.value})` : '';
    console.log(
      `${r.name.padEnd(80)} ${String(r.value).padStart(10)} ${r.unit}${r.target ? ` target ${r.target}` : ''}${base}`,
    );
  }
}
