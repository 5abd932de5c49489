/**
 * Keeps the in-memory identity graph in step with the store: a full load at start, then per-record updates
 * on every inventory change (only that record's origin is replaced; records whose edges depend on it are
 * re-derived too) and per-origin updates after an import. Queries run against the graph, never the database.
 */
import type { Kysely } from 'kysely';
import type { InventoryChange, InventoryService } from '../inventory/service.js';
import type { Resource, Sensitivity } from '../inventory/types.js';
import type { Database } from '../store/database.js';
import { CompactGraph } from './compact-graph.js';
import {
  deriveCredential,
  deriveIdentity,
  deriveResource,
  laptopOwnerOf,
  locationResolver,
  originOf,
  type DeriveLookup,
  type DerivedRecord,
} from './derive.js';
import { graphError } from './errors.js';
import {
  graphCredentialPages,
  graphIdentityPages,
  type GraphCredential,
  type GraphIdentity,
} from './inventory-pages.js';
import {
  EDGE_KINDS,
  type EdgeKind,
  type GraphEdgeInput,
  type GraphNodeInput,
  type NodeType,
} from './model.js';
import type { GraphTables } from './tables.js';

/** Records per page when streaming the inventory. */
const PAGE = 1000;
const ID_PAGE = 10_000;
const EDGE_PAGE = 5000;

export class GraphService {
  /** Replaced wholesale by a full reload; updated in place otherwise. */
  graph = new CompactGraph();
  /**
   * All derivation needs to know about an identity: that it exists, and its environment (interned). The
   * records themselves stay in the store: 100k identities and 300k credentials held as objects cost several
   * hundred MB, far over the server's memory target (issue 3).
   */
  private identityEnv = new Map<string, string>();
  /** The `source.name` label of each identity that has one: the name as in the source, for `resolveNode`. */
  private sourceNames = new Map<string, string>();
  /** Credentials stored on a person's laptop, by person: the edge that lets them read it needs them to exist. */
  private laptopCredentials = new Map<string, Set<string>>();
  private credentialLaptops = new Map<string, string[]>();
  private readonly environments = new Map<string, string>();
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
    // The signature of what the graph reflects (a load before resync was on did not compute it: on one
    // SQLite file nothing else writes, and the scan costs start-up time).
    this.enqueue(async () => {
      if (this.signature === '') this.signature = await this.storeSignature();
    });
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
      identityExists: (id) => this.identityEnv.has(id),
      resourceExists: (id) => this.resources.has(id),
      resourcesWithPrefix: (prefix) => [...this.resources.keys()].filter((r) => r.startsWith(`${prefix}-`)),
      resourceForLocation: (l) => this.resolveLocation(l),
    };
  }

  /**
   * Rebuilds the graph from the store, one page of records at a time: each page is derived straight into
   * the new graph's edge arrays and dropped, so the load never holds the inventory (or its derived edge
   * objects) in memory at once.
   */
  async loadAll(): Promise<void> {
    this.identityEnv = new Map();
    this.sourceNames = new Map();
    this.laptopCredentials = new Map();
    this.credentialLaptops = new Map();
    this.resources.clear();
    for await (const r of paged((cursor) => this.inventory.listResources({ limit: PAGE, cursor }))) {
      this.resources.set(r.id, r);
    }
    this.resolveLocation = locationResolver([...this.resources.values()]);
    // Which identities exist (and where) must be known before any edge is derived: owner and consumer edges
    // are only drawn from identities that exist. Two columns, not whole records.
    for (let after: string | null = ''; after !== null;) {
      const rows: { id: string; environment: string }[] = await this.db
        .selectFrom('identities')
        .select(['id', 'environment'])
        .where('id', '>', after)
        .orderBy('id')
        .limit(ID_PAGE)
        .execute();
      for (const row of rows) this.identityEnv.set(row.id, this.internEnvironment(row.environment));
      after = rows.length === ID_PAGE ? (rows[rows.length - 1]?.id ?? null) : null;
    }
    const graph = new CompactGraph();
    graph.beginBulkLoad();
    const lookup = this.lookup();
    const add = (d: DerivedRecord) => {
      for (const n of d.nodes) graph.upsertNode(n);
      graph.loadOrigin(d.origin, d.edges);
    };
    for (const r of this.resources.values()) add(deriveResource(r));
    for await (const page of graphIdentityPages(this.db)) {
      for (const i of page) {
        this.indexIdentity(i);
        add(deriveIdentity(i, lookup));
      }
    }
    for await (const page of graphCredentialPages(this.db)) {
      for (const c of page) {
        this.indexCredential(c.id, c);
        add(deriveCredential(c, this.envOf(c.identityId), lookup));
      }
    }
    for (const n of await this.tdb.selectFrom('graph_nodes').selectAll().execute()) {
      graph.upsertNode(nodeFromRow(n));
    }
    // Imported edges in (origin, seq) order, a page at a time; an origin is handed over once complete.
    let origin: string | null = null;
    let edges: GraphEdgeInput[] = [];
    for (let after: { origin: string; seq: number } | null = null; ;) {
      const cursor: { origin: string; seq: number } | null = after;
      const rows: GraphTables['graph_edges'][] = await this.tdb
        .selectFrom('graph_edges')
        .selectAll()
        .$if(cursor !== null, (q) =>
          q.where((eb) =>
            eb.or([
              eb('origin', '>', cursor?.origin ?? ''),
              eb.and([eb('origin', '=', cursor?.origin ?? ''), eb('seq', '>', cursor?.seq ?? 0)]),
            ]),
          ),
        )
        .orderBy('origin')
        .orderBy('seq')
        .limit(EDGE_PAGE)
        .execute();
      for (const row of rows) {
        if (row.origin !== origin) {
          if (origin !== null) graph.loadOrigin(origin, edges);
          origin = row.origin;
          edges = [];
        }
        edges.push(edgeFromRow(row));
      }
      const last: GraphTables['graph_edges'] | undefined = rows[rows.length - 1];
      if (rows.length < EDGE_PAGE || !last) break;
      after = { origin: last.origin, seq: Number(last.seq) };
    }
    if (origin !== null) graph.loadOrigin(origin, edges);
    graph.compact();
    this.graph = graph;
    this.version++;
    await this.markApplied();
  }

  private internEnvironment(environment: string): string {
    let e = this.environments.get(environment);
    if (e === undefined) this.environments.set(environment, (e = environment));
    return e;
  }

  private indexIdentity(identity: GraphIdentity): void {
    this.identityEnv.set(identity.id, this.internEnvironment(identity.environment));
    const sourceName = identity.labels['source.name'];
    if (sourceName !== undefined) this.sourceNames.set(identity.id, sourceName);
    else this.sourceNames.delete(identity.id);
  }

  /** Keeps the laptop index in step with a credential (undefined: it was deleted). */
  private indexCredential(id: string, credential: GraphCredential | undefined): void {
    for (const person of this.credentialLaptops.get(id) ?? []) {
      const set = this.laptopCredentials.get(person);
      set?.delete(id);
      if (set?.size === 0) this.laptopCredentials.delete(person);
    }
    this.credentialLaptops.delete(id);
    const people: string[] = [];
    for (const location of credential?.storedIn ?? []) {
      const person = laptopOwnerOf(location);
      if (person === null || people.includes(person)) continue;
      people.push(person);
      let set = this.laptopCredentials.get(person);
      if (!set) this.laptopCredentials.set(person, (set = new Set()));
      set.add(id);
    }
    if (people.length > 0) this.credentialLaptops.set(id, people);
  }

  private envOf(identityId: string): string | null {
    return this.identityEnv.get(identityId) ?? null;
  }

  private async applyChange(change: InventoryChange): Promise<void> {
    const lookup = this.lookup();
    if (change.entity === 'identity') {
      const identity = await this.inventory.findIdentity(change.id);
      const envBefore = this.identityEnv.get(change.id);
      const existed = envBefore !== undefined;
      if (!identity) {
        this.identityEnv.delete(change.id);
        this.sourceNames.delete(change.id);
        this.graph.replaceOrigin(originOf.identity(change.id), []);
        this.graph.markDeleted(`identity:${change.id}`);
      } else {
        this.indexIdentity(identity);
        this.apply(deriveIdentity(identity, lookup));
      }
      const credentials = new Set<string>();
      if (!existed || !identity) {
        // Edges that name this identity (as owner, consumer, laptop owner) depend on whether it exists.
        const owner = change.id;
        for await (const i of paged((cursor) =>
          this.inventory.listIdentities({ owner, limit: PAGE, cursor }),
        ))
          this.apply(deriveIdentity(i, lookup));
        for await (const c of paged((cursor) =>
          this.inventory.listCredentials({ consumer: owner, limit: PAGE, cursor }),
        ))
          credentials.add(c.id);
        for (const id of this.laptopCredentials.get(change.id) ?? []) credentials.add(id);
      }
      if (!existed || !identity || envBefore !== identity.environment) {
        // A credential's scopes resolve in its holder's environment.
        const identityId = change.id;
        for await (const c of paged((cursor) =>
          this.inventory.listCredentials({ identity_id: identityId, limit: PAGE, cursor }),
        ))
          credentials.add(c.id);
      }
      for (const id of credentials) {
        const c = await this.inventory.findCredential(id);
        if (c) this.apply(deriveCredential(c, this.envOf(c.identityId), lookup));
      }
    } else if (change.entity === 'credential') {
      const credential = await this.inventory.findCredential(change.id);
      this.indexCredential(change.id, credential);
      if (!credential) {
        this.graph.replaceOrigin(originOf.credential(change.id), []);
        this.graph.markDeleted(`credential:${change.id}`);
      } else {
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
        for await (const page of graphCredentialPages(this.db))
          for (const c of page) this.apply(deriveCredential(c, this.envOf(c.identityId), l2));
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

  /**
   * Node index for an identity/credential/resource id, node key, ARN, `namespace/sa`, SPIFFE ID or key id;
   * 404 when unknown. Aliases are looked up in the store (indexed columns), not held in memory.
   */
  async resolveNode(ref: string, field: string): Promise<number> {
    const direct =
      this.graph.find(ref) ??
      this.graph.find(`identity:${ref}`) ??
      this.graph.find(`credential:${ref}`) ??
      this.graph.find(`resource:${ref}`);
    if (direct !== undefined && !this.graph.isDeleted(direct)) return direct;
    for (const alias of ['cloud_arn', 'k8s_service_account', 'spiffe_id'] as const) {
      const page = await this.inventory.listIdentities({ [alias]: ref, limit: 1 });
      const id = page.items[0]?.id;
      const n = id === undefined ? undefined : this.graph.find(`identity:${id}`);
      if (n !== undefined) return n;
    }
    // A leaked key is often known only by its id (an AWS access key id is the credential's fingerprint).
    const leaked = (await this.inventory.listCredentials({ fingerprint: ref, limit: 1 })).items[0];
    const byFingerprint = leaked ? this.graph.find(`credential:${leaked.id}`) : undefined;
    if (byFingerprint !== undefined) return byFingerprint;
    // The name as in the source (IAM user name, `namespace/sa`) when it names exactly one identity.
    const byName: string[] = [];
    for (const [id, name] of this.sourceNames) if (name === ref) byName.push(id);
    if (byName.length === 1) {
      const n = this.graph.find(`identity:${byName[0] ?? ''}`);
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
