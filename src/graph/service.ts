/**
 * Keeps the in-memory identity graph in step with the store: a full load at start, then per-record updates
 * on every inventory change (only that record's origin is replaced; records whose edges depend on it are
 * re-derived too) and per-origin updates after an import. Queries run against the graph, never the database.
 */
import type { Kysely } from 'kysely';
import type { InventoryChange, InventoryService } from '../inventory/service.js';
import type { Credential, Identity, Resource, Sensitivity } from '../inventory/types.js';
import type { Database } from '../store/database.js';
import { CompactGraph } from './compact-graph.js';
import {
  deriveCredential,
  deriveIdentity,
  deriveResource,
  locationResolver,
  originOf,
  type DeriveLookup,
  type DerivedRecord,
} from './derive.js';
import { graphError } from './errors.js';
import {
  EDGE_KINDS,
  type EdgeKind,
  type GraphEdgeInput,
  type GraphNodeInput,
  type NodeType,
} from './model.js';
import type { GraphTables } from './tables.js';

const PAGE = 500;

export class GraphService {
  /** Replaced wholesale by a full reload; updated in place otherwise. */
  graph = new CompactGraph();
  private readonly identities = new Map<string, Identity>();
  private readonly credentials = new Map<string, Credential>();
  private readonly resources = new Map<string, Resource>();
  private resolveLocation: (location: string) => string | null = () => null;
  private queue: Promise<void> = Promise.resolve();
  private unsubscribe: (() => void) | undefined;
  private lastError: unknown;
  /** Incremented on every applied change; lets callers and tests see that an update landed. */
  version = 0;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly inventory: InventoryService,
    private readonly onError: (err: unknown) => void = () => undefined,
  ) {}

  private get tdb() {
    return this.db.withTables<GraphTables>();
  }

  private paused = false;

  /**
   * Starts following inventory changes, then loads everything. Subscribing first means a change committed
   * while the load runs is queued behind it instead of lost.
   */
  async start(): Promise<void> {
    this.unsubscribe = this.inventory.onChange((change) => {
      if (!this.paused) this.enqueue(() => this.applyChange(change));
    });
    this.enqueue(() => this.loadAll());
    await this.settled();
    const failed = this.lastError;
    if (failed !== undefined) {
      throw failed instanceof Error ? failed : new Error('identity graph failed to load', { cause: failed });
    }
  }

  /** Runs `fn` with change notifications ignored (an import applies its own changes in one batch). */
  withUpdatesPaused(fn: () => void): void {
    this.paused = true;
    try {
      fn();
    } finally {
      this.paused = false;
    }
  }

  stop(): void {
    this.unsubscribe?.();
    if (this.resyncTimer) clearInterval(this.resyncTimer);
  }

  private resyncTimer: NodeJS.Timeout | undefined;
  private signature = '';

  /**
   * Several replicas share one PostgreSQL store, but each keeps its own graph and hears only its own inventory
   * changes. Every `intervalMs` this compares a cheap signature of the store (row counts, newest update,
   * newest import) with the one it last applied; a difference means another replica wrote: reload.
   */
  startResync(intervalMs: number): void {
    this.resyncTimer = setInterval(() => {
      this.enqueue(async () => {
        const now = await this.storeSignature();
        if (now !== this.signature) await this.loadAll();
      });
    }, intervalMs);
    this.resyncTimer.unref();
  }

  private async storeSignature(): Promise<string> {
    const parts: string[] = [];
    for (const table of ['identities', 'credentials', 'resources'] as const) {
      const row = await this.db
        .selectFrom(table)
        .select((eb) => [eb.fn.countAll<string>().as('n'), eb.fn.max<string>('updated_at').as('m')])
        .executeTakeFirst();
      parts.push(`${String(row?.n ?? 0)}@${String(row?.m ?? '')}`);
    }
    const imp = await this.tdb
      .selectFrom('graph_imports')
      .select((eb) => [eb.fn.countAll<string>().as('n'), eb.fn.max<string>('started_at').as('m')])
      .executeTakeFirst();
    parts.push(`${String(imp?.n ?? 0)}@${String(imp?.m ?? '')}`);
    return parts.join('|');
  }

  /** Records the store state the graph now reflects (only needed when resync is on). */
  private async markApplied(): Promise<void> {
    if (this.resyncTimer) this.signature = await this.storeSignature();
  }

  /** Resolves once every queued update has been applied. */
  async settled(): Promise<void> {
    await this.queue;
  }

  private enqueue(task: () => Promise<void>): void {
    this.queue = this.queue.then(task).catch((err: unknown) => {
      // An update that failed leaves the previous edges in place; the next full reload repairs it.
      this.lastError = err;
      this.onError(err);
    });
  }

  get lastUpdateError(): unknown {
    return this.lastError;
  }

  private lookup(): DeriveLookup {
    return {
      identityExists: (id) => this.identities.has(id),
      resourceExists: (id) => this.resources.has(id),
      resourcesWithPrefix: (prefix) => [...this.resources.keys()].filter((r) => r.startsWith(`${prefix}-`)),
      resourceForLocation: (l) => this.resolveLocation(l),
    };
  }

  async loadAll(): Promise<void> {
    this.identities.clear();
    this.credentials.clear();
    this.resources.clear();
    for await (const i of paged((cursor) => this.inventory.listIdentities({ limit: PAGE, cursor })))
      this.identities.set(i.id, i);
    for await (const r of paged((cursor) => this.inventory.listResources({ limit: PAGE, cursor })))
      this.resources.set(r.id, r);
    for await (const c of paged((cursor) => this.inventory.listCredentials({ limit: PAGE, cursor })))
      this.credentials.set(c.id, c);
    this.resolveLocation = locationResolver([...this.resources.values()]);
    const graph = new CompactGraph();
    const origins: [string, GraphEdgeInput[]][] = [];
    const add = (d: DerivedRecord) => {
      for (const n of d.nodes) graph.upsertNode(n);
      origins.push([d.origin, d.edges]);
    };
    const lookup = this.lookup();
    for (const r of this.resources.values()) add(deriveResource(r));
    for (const i of this.identities.values()) add(deriveIdentity(i, lookup));
    for (const c of this.credentials.values()) add(deriveCredential(c, this.envOf(c.identityId), lookup));
    for (const n of await this.tdb.selectFrom('graph_nodes').selectAll().execute()) {
      graph.upsertNode(nodeFromRow(n));
    }
    const rows = await this.tdb
      .selectFrom('graph_edges')
      .selectAll()
      .orderBy('origin')
      .orderBy('seq')
      .execute();
    const imported = new Map<string, GraphEdgeInput[]>();
    for (const row of rows) {
      let list = imported.get(row.origin);
      if (!list) imported.set(row.origin, (list = []));
      list.push(edgeFromRow(row));
    }
    graph.load([...origins, ...imported.entries()]);
    this.graph = graph;
    this.version++;
    this.signature = await this.storeSignature();
  }

  private envOf(identityId: string): string | null {
    return this.identities.get(identityId)?.environment ?? null;
  }

  private async applyChange(change: InventoryChange): Promise<void> {
    const lookup = this.lookup();
    if (change.entity === 'identity') {
      const identity = await this.inventory.findIdentity(change.id);
      const existed = this.identities.has(change.id);
      if (!identity) {
        this.identities.delete(change.id);
        this.graph.replaceOrigin(originOf.identity(change.id), []);
        this.graph.markDeleted(`identity:${change.id}`);
      } else {
        this.identities.set(identity.id, identity);
        this.apply(deriveIdentity(identity, lookup));
      }
      if (!existed || !identity) {
        // Edges that name this identity (as owner, consumer, laptop owner) depend on whether it exists.
        for (const i of this.identities.values())
          if (i.owners.includes(change.id)) this.apply(deriveIdentity(i, lookup));
        for (const c of this.credentials.values()) {
          if (
            c.identityId === change.id ||
            c.consumers.includes(change.id) ||
            c.storedIn.some((s) => s.includes(change.id))
          )
            this.apply(deriveCredential(c, this.envOf(c.identityId), lookup));
        }
      }
    } else if (change.entity === 'credential') {
      const credential = await this.inventory.findCredential(change.id);
      if (!credential) {
        this.credentials.delete(change.id);
        this.graph.replaceOrigin(originOf.credential(change.id), []);
        this.graph.markDeleted(`credential:${change.id}`);
      } else {
        this.credentials.set(credential.id, credential);
        this.apply(deriveCredential(credential, this.envOf(credential.identityId), lookup));
      }
    } else {
      const resource = await this.inventory.findResource(change.id);
      const before = this.resources.get(change.id);
      if (!resource) {
        this.resources.delete(change.id);
        this.graph.replaceOrigin(originOf.resource(change.id), []);
        this.graph.markDeleted(`resource:${change.id}`);
      } else {
        this.resources.set(resource.id, resource);
        this.apply(deriveResource(resource));
      }
      const relocated =
        before?.displayName !== resource?.displayName ||
        before?.labels.location !== resource?.labels.location;
      if (!before || !resource || relocated) {
        // Scopes and storage locations resolve against resource ids: re-derive credentials.
        this.resolveLocation = locationResolver([...this.resources.values()]);
        const l2 = this.lookup();
        for (const c of this.credentials.values())
          this.apply(deriveCredential(c, this.envOf(c.identityId), l2));
      }
    }
    this.version++;
    await this.markApplied();
  }

  private apply(d: DerivedRecord): void {
    for (const n of d.nodes) this.graph.upsertNode(n);
    this.graph.replaceOrigin(d.origin, d.edges);
  }

  /** After an import committed: reload the given inventory records and imported origins. */
  async refreshAfterImport(changes: InventoryChange[], origins: string[]): Promise<void> {
    const done = new Promise<void>((resolve, reject) => {
      this.enqueue(async () => {
        try {
          if (changes.length > 200) {
            // A large import: one full reload is cheaper than thousands of single-record updates.
            await this.loadAll();
            resolve();
            return;
          }
          for (const c of changes) await this.applyChange(c);
          const nodeRows = await this.tdb.selectFrom('graph_nodes').selectAll().execute();
          for (const n of nodeRows) this.graph.upsertNode(nodeFromRow(n));
          for (let k = 0; k < origins.length; k += 500) {
            const chunk = origins.slice(k, k + 500);
            const rows = await this.tdb
              .selectFrom('graph_edges')
              .selectAll()
              .where('origin', 'in', chunk)
              .orderBy('origin')
              .orderBy('seq')
              .execute();
            const byOrigin = new Map<string, GraphEdgeInput[]>(chunk.map((o) => [o, []]));
            for (const row of rows) byOrigin.get(row.origin)?.push(edgeFromRow(row));
            for (const [o, edges] of byOrigin) this.graph.replaceOrigin(o, edges);
          }
          this.version++;
          await this.markApplied();
          resolve();
        } catch (err) {
          reject(err instanceof Error ? err : new Error(String(err)));
          throw err;
        }
      });
    });
    await done;
  }

  /** Node index for an identity/credential/resource id, node key, ARN, `namespace/sa`, SPIFFE ID or key id; 404 when unknown. */
  resolveNode(ref: string, field: string): number {
    const g = this.graph;
    const direct =
      g.find(ref) ?? g.find(`identity:${ref}`) ?? g.find(`credential:${ref}`) ?? g.find(`resource:${ref}`);
    if (direct !== undefined && !g.isDeleted(direct)) return direct;
    const byName: string[] = [];
    for (const i of this.identities.values()) {
      if (i.cloudArn === ref || i.k8sServiceAccount === ref || i.spiffeId === ref) {
        const n = g.find(`identity:${i.id}`);
        if (n !== undefined) return n;
      }
      if (i.labels['source.name'] === ref) byName.push(i.id);
    }
    // A leaked key is often known only by its id (an AWS access key id is the credential's fingerprint).
    for (const c of this.credentials.values()) {
      if (c.fingerprint === ref) {
        const n = g.find(`credential:${c.id}`);
        if (n !== undefined) return n;
      }
    }
    // The name as in the source (IAM user name, `namespace/sa`) when it names exactly one identity.
    if (byName.length === 1) {
      const n = g.find(`identity:${byName[0] ?? ''}`);
      if (n !== undefined) return n;
    }
    throw graphError('GRAPH_NODE_NOT_FOUND', `no identity, credential or resource '${ref}' in the graph`, {
      field,
    });
  }
}

async function* paged<T>(
  fetch: (cursor: string | undefined) => Promise<{ items: T[]; next_cursor: string | null }>,
): AsyncGenerator<T> {
  let cursor: string | undefined;
  do {
    const page = await fetch(cursor);
    yield* page.items;
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
}

function nodeFromRow(n: GraphTables['graph_nodes']): GraphNodeInput {
  return {
    key: n.key,
    type: n.type as NodeType,
    name: n.name,
    externalId: n.external_id,
    sensitivity: n.sensitivity as Sensitivity | null,
    admin: Number(n.admin) === 1,
    environment: n.environment,
  };
}

function edgeFromRow(row: GraphTables['graph_edges']): GraphEdgeInput {
  return {
    from: row.from_key,
    to: row.to_key,
    kind: (EDGE_KINDS as readonly string[]).includes(row.kind) ? (row.kind as EdgeKind) : 'has_permission',
    via: row.via,
    method: row.method,
    conditional: Number(row.conditional) === 1,
  };
}
