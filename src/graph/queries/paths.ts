/**
 * Attack paths: the k cheapest loop-free paths from a foothold to a target set (a sensitivity level, one
 * node, or any admin-equivalent node). Dijkstra with a binary heap over the typed-array graph, and Yen's
 * algorithm for the 2nd..kth path. Cost per step comes from EDGE_COST (a membership is free, stealing a secret
 * or rewriting a policy costs more) plus a small per-hop term so that, between equal costs, shorter wins.
 */
import type { CompactGraph } from '../compact-graph.js';
import { EDGE_COST, EDGE_KINDS, type PathStep } from '../model.js';
import { stepsOf } from './steps.js';

const HOP = 1;
const KIND_COST = EDGE_KINDS.map((k) => EDGE_COST[k] * 10 + HOP);

export interface AttackPath {
  cost: number;
  hops: number;
  target: string;
  steps: PathStep[];
}

class MinHeap {
  private nodes: number[] = [];
  private prios: number[] = [];
  get size(): number {
    return this.nodes.length;
  }
  push(node: number, prio: number): void {
    const a = this.nodes;
    const p = this.prios;
    let i = a.length;
    a.push(node);
    p.push(prio);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (p[parent]! <= prio) break;
      a[i] = a[parent]!;
      p[i] = p[parent]!;
      i = parent;
    }
    a[i] = node;
    p[i] = prio;
  }
  pop(): [number, number] {
    const a = this.nodes;
    const p = this.prios;
    const top: [number, number] = [a[0]!, p[0]!];
    const lastNode = a.pop()!;
    const lastPrio = p.pop()!;
    const n = a.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && p[r]! < p[l]! ? r : l;
        if (p[c]! >= lastPrio) break;
        a[i] = a[c]!;
        p[i] = p[c]!;
        i = c;
      }
      a[i] = lastNode;
      p[i] = lastPrio;
    }
    return top;
  }
}

interface Exclusions {
  nodes: Set<number>;
  edges: Set<number>;
}

interface Scratch {
  dist: Float64Array;
  via: Int32Array;
  seen: Uint32Array;
  done: Uint32Array;
  gen: number;
}
const scratchByGraph = new WeakMap<CompactGraph, Scratch>();

/** Per-graph typed-array scratch with generation stamps: no per-query allocation proportional to the graph. */
function scratchFor(graph: CompactGraph): Scratch {
  const n = graph.nodeCount;
  let s = scratchByGraph.get(graph);
  if (!s || s.dist.length < n) {
    const cap = Math.max(16, n * 2);
    s = {
      dist: new Float64Array(cap),
      via: new Int32Array(cap),
      seen: new Uint32Array(cap),
      done: new Uint32Array(cap),
      gen: 0,
    };
    scratchByGraph.set(graph, s);
  }
  s.gen++;
  if (s.gen === 0xffffffff) {
    s.seen.fill(0);
    s.done.fill(0);
    s.gen = 1;
  }
  return s;
}

/** Cheapest path from `start` to any node with `isTarget`, as edge ids; null when unreachable. */
export function cheapestPath(
  graph: CompactGraph,
  start: number,
  isTarget: (node: number) => boolean,
  exclude?: Exclusions,
): { edges: number[]; cost: number } | null {
  const s = scratchFor(graph);
  const { dist, via, seen, done, gen } = s;
  const heap = new MinHeap();
  dist[start] = 0;
  seen[start] = gen;
  via[start] = -1;
  heap.push(start, 0);
  while (heap.size > 0) {
    const [u, d] = heap.pop();
    if (done[u] === gen) continue;
    done[u] = gen;
    if (u !== start && isTarget(u)) {
      const edges: number[] = [];
      for (let x = u; x !== start;) {
        const e = via[x]!;
        edges.push(e);
        x = graph.edgeFrom(e);
      }
      return { edges: edges.reverse(), cost: d };
    }
    graph.forEachOut(u, (e, v) => {
      if (done[v] === gen || graph.isBlocked(v)) return;
      if (exclude && (exclude.edges.has(e) || exclude.nodes.has(v))) return;
      const nd = d + KIND_COST[graph.edgeKindIndex(e)]!;
      if (seen[v] !== gen || nd < dist[v]!) {
        seen[v] = gen;
        dist[v] = nd;
        via[v] = e;
        heap.push(v, nd);
      }
    });
  }
  return null;
}

function costOf(graph: CompactGraph, edges: readonly number[]): number {
  let c = 0;
  for (const e of edges) c += KIND_COST[graph.edgeKindIndex(e)]!;
  return c;
}

/** Yen's k shortest loop-free paths to the target set. */
export function kShortestPaths(
  graph: CompactGraph,
  start: number,
  isTarget: (node: number) => boolean,
  k: number,
  /** Wall-clock budget for the 2nd..kth path on very large graphs; the cheapest path is always returned. */
  budgetMs = 2000,
): AttackPath[] {
  const deadline = performance.now() + budgetMs;
  const first = cheapestPath(graph, start, isTarget);
  if (!first) return [];
  const found: number[][] = [first.edges];
  const candidates: { edges: number[]; cost: number }[] = [];
  const seen = new Set<string>([first.edges.join(',')]);
  while (found.length < k) {
    const prev = found[found.length - 1]!;
    for (let i = 0; i < prev.length; i++) {
      if (performance.now() > deadline) break;
      const root = prev.slice(0, i);
      const spur = i === 0 ? start : graph.edgeTo(prev[i - 1]!);
      const exclude: Exclusions = { nodes: new Set([start]), edges: new Set() };
      for (const e of root) exclude.nodes.add(graph.edgeTo(e));
      exclude.nodes.delete(spur);
      for (const p of found) {
        if (p.length > i && root.every((e, j) => p[j] === e)) exclude.edges.add(p[i]!);
      }
      const tail = cheapestPath(graph, spur, isTarget, exclude);
      if (!tail) continue;
      const edges = [...root, ...tail.edges];
      const sig = edges.join(',');
      if (seen.has(sig)) continue;
      seen.add(sig);
      candidates.push({ edges, cost: costOf(graph, edges) });
    }
    if (candidates.length === 0) break;
    candidates.sort((a, b) => a.cost - b.cost || a.edges.length - b.edges.length);
    found.push(candidates.shift()!.edges);
  }
  return found.map((edges) => ({
    cost: costOf(graph, edges),
    hops: edges.length,
    target: graph.key(graph.edgeTo(edges[edges.length - 1]!)),
    steps: stepsOf(graph, edges),
  }));
}
