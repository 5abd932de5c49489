/**
 * The dependency map and reach answered by the identity graph when the graph module runs, with the inventory
 * map underneath: graph answers are added to the inventory ones, never replace them, and without a graph (or
 * for an identity the graph does not hold yet) every question falls back to the inventory.
 */
import type { CompactGraph } from '../graph/compact-graph.js';
import { findEscalations } from '../graph/queries/escalations.js';
import type { GraphService } from '../graph/service.js';
import type { Credential, Resource } from '../inventory/types.js';
import type { DependencyMap, Dependent } from './dependency-map.js';
import { isWriteScope, reachFromScopes, type GraphTierFacts, type Reach } from './tiers.js';

/** Resources listed per identity at most (reasons are per resource; the tier needs only the worst). */
const MAX_REACH = 500;
/** A cloud action that changes state (`s3:PutObject`, `iam:AttachRolePolicy`, `rds:*`). */
const WRITE_ACTION =
  /:(\*|put|create|delete|update|write|modify|attach|detach|add|remove|set|pass|run|invoke)/i;

export class GraphDependencyMap implements DependencyMap {
  constructor(
    private readonly base: DependencyMap,
    private readonly graph: () => GraphService | undefined,
    private readonly settleMs = 250,
  ) {}

  /**
   * The graph once the inventory changes queued so far are applied — waiting at most `settleMs`, so a long
   * graph reload never holds up containment (the answer is then the graph as it stands).
   */
  private async ready(): Promise<GraphService | undefined> {
    const service = this.graph();
    if (!service) return undefined;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      service.settled(),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.settleMs);
        timer.unref();
      }),
    ]);
    clearTimeout(timer);
    return service;
  }

  credentialsOf(identityId: string): Promise<Credential[]> {
    return this.base.credentialsOf(identityId);
  }

  resources(): Promise<Map<string, Resource>> {
    return this.base.resources();
  }

  async consumersOf(credentialId: string): Promise<Dependent[]> {
    const out = await this.base.consumersOf(credentialId);
    const service = await this.ready();
    if (service) merge(out, secretReaders(service.graph, credentialId));
    return out;
  }

  async dependentsOf(identityId: string): Promise<Dependent[]> {
    const out = await this.base.dependentsOf(identityId);
    const service = await this.ready();
    if (!service) return out;
    const g = service.graph;
    for (const c of await this.base.credentialsOf(identityId)) {
      if (c.status !== 'active') continue;
      merge(
        out,
        secretReaders(g, c.id).filter((d) => d.identityId !== identityId),
      );
    }
    // Workloads that run code as this identity (a function or pod with its role) stop working with it.
    const node = g.find(`identity:${identityId}`);
    if (node !== undefined) {
      const runners: Dependent[] = [];
      g.forEachIn(node, (e, from) => {
        const id = identityIdOf(g, from);
        if (g.edgeKind(e) === 'runs_as' && id && id !== identityId)
          runners.push({
            identityId: id,
            credentialId: null,
            via: `graph: runs as ${identityId} (${g.edgeVia(e)})`,
          });
      });
      merge(out, runners);
    }
    return out;
  }

  /** Inventory scope reach plus every resource the graph reaches from the identity, with the path. */
  async reachOf(identityId: string, known?: Map<string, Resource>): Promise<Reach[] | undefined> {
    const service = await this.ready();
    const resources = known ?? (await this.base.resources());
    const fromScopes = reachFromScopes(await this.base.credentialsOf(identityId), resources);
    if (!service) return fromScopes;
    const g = service.graph;
    const start = g.find(`identity:${identityId}`);
    if (start === undefined || g.isDeleted(start)) return fromScopes;
    const out = [...fromScopes];
    const seen = new Set(fromScopes.map((r) => `${r.resource.id}|${r.access}`));
    const reached = Array.from(g.reach(start));
    for (const node of reached.slice(1)) {
      if (out.length >= MAX_REACH) break;
      const key = g.key(node);
      if (!key.startsWith('resource:')) continue;
      const resource = resources.get(key.slice('resource:'.length));
      if (!resource) continue;
      const path = g.pathTo(node);
      const write = path.some((e) => g.edgeKind(e) === 'has_permission' && isWriteVia(g.edgeVia(e)));
      const access: Reach['access'] = write ? 'write' : 'read';
      if (seen.has(`${resource.id}|${access}`) || seen.has(`${resource.id}|write`)) continue;
      seen.add(`${resource.id}|${access}`);
      out.push({ resource, access, via: `graph: ${pathText(g, path)}` });
    }
    return out;
  }

  /** Admin-equivalent reach and privilege-escalation methods of the identity, from the graph. */
  async graphFactsOf(identityId: string): Promise<GraphTierFacts | undefined> {
    const service = await this.ready();
    if (!service) return undefined;
    const g = service.graph;
    const start = g.find(`identity:${identityId}`);
    if (start === undefined || g.isDeleted(start)) return undefined;
    return factsByIdentity(g, [start]).get(identityId) ?? { escalations: [], admin: [] };
  }

  /** The same for a page of identities (one walk from all of them; for listing tiers). */
  async graphFactsOfMany(identityIds: string[]): Promise<Map<string, GraphTierFacts> | undefined> {
    const service = await this.ready();
    if (!service) return undefined;
    const g = service.graph;
    const starts = identityIds
      .map((id) => g.find(`identity:${id}`))
      .filter((n): n is number => n !== undefined && !g.isDeleted(n));
    return starts.length > 0 ? factsByIdentity(g, starts) : new Map();
  }
}

function factsByIdentity(g: CompactGraph, principals?: number[]): Map<string, GraphTierFacts> {
  const out = new Map<string, GraphTierFacts>();
  for (const e of findEscalations(g, { includeDirect: true, ...(principals ? { principals } : {}) })) {
    if (!e.node.startsWith('identity:')) continue;
    const id = e.node.slice('identity:'.length);
    let facts = out.get(id);
    if (!facts) out.set(id, (facts = { escalations: [], admin: [] }));
    const path = e.path.map((s) => `${s.from} -[${s.method ?? s.via}]-> ${s.to}`).join(' ');
    if (e.methods.length > 0) facts.escalations.push({ method: e.method, target: e.target, path });
    else facts.admin.push({ target: e.target, path });
  }
  return out;
}

function isWriteVia(via: string): boolean {
  return via.split(/[ ,()]+/).some((a) => a.length > 0 && (isWriteScope(a) || WRITE_ACTION.test(a)));
}

function pathText(g: CompactGraph, path: number[]): string {
  if (path.length === 0) return '';
  const first = g.edgeFrom(path[0]!);
  return [
    g.name(first),
    ...path.map((e) => `-[${g.edgeKind(e)}: ${g.edgeVia(e)}]-> ${g.name(g.edgeTo(e))}`),
  ].join(' ');
}

function identityIdOf(g: CompactGraph, node: number): string | undefined {
  const key = g.key(node);
  return key.startsWith('identity:') && !g.isDeleted(node) ? key.slice('identity:'.length) : undefined;
}

/**
 * Identities the graph says read the credential's secret: consumers, and who reads the place it is stored in
 * (a person's laptop, a secret store) — one hop further back along `can_read_secret_of`.
 */
function secretReaders(g: CompactGraph, credentialId: string): Dependent[] {
  const node = g.find(`credential:${credentialId}`);
  if (node === undefined) return [];
  const out: Dependent[] = [];
  g.forEachIn(node, (e, from) => {
    if (g.edgeKind(e) !== 'can_read_secret_of') return;
    const id = identityIdOf(g, from);
    if (id) {
      out.push({ identityId: id, credentialId, via: `graph: ${g.edgeVia(e)}` });
      return;
    }
    g.forEachIn(from, (e2, reader) => {
      const rid = identityIdOf(g, reader);
      if (rid && g.edgeKind(e2) === 'can_read_secret_of') {
        out.push({ identityId: rid, credentialId, via: `graph: ${g.edgeVia(e2)}; ${g.edgeVia(e)}` });
      }
    });
  });
  return out;
}

/** Adds dependents not already listed (same identity and credential). */
function merge(into: Dependent[], more: Dependent[]): void {
  const seen = new Set(into.map((d) => `${d.identityId}|${d.credentialId ?? ''}`));
  for (const d of more) {
    const k = `${d.identityId}|${d.credentialId ?? ''}`;
    if (seen.has(k)) continue;
    seen.add(k);
    into.push(d);
  }
}
