import type { CompactGraph } from '../compact-graph.js';
import type { PathStep } from '../model.js';

/** One path step for output: node keys, the reason, and escalation metadata when present. */
export function stepOf(graph: CompactGraph, e: number): PathStep {
  const step: PathStep = {
    from: graph.key(graph.edgeFrom(e)),
    to: graph.key(graph.edgeTo(e)),
    via: graph.edgeVia(e),
    kind: graph.edgeKind(e),
  };
  const method = graph.edgeMethod(e);
  if (method) step.method = method;
  if (graph.edgeConditional(e)) step.conditional = true;
  return step;
}

export function stepsOf(graph: CompactGraph, edges: readonly number[]): PathStep[] {
  return edges.map((e) => stepOf(graph, e));
}
