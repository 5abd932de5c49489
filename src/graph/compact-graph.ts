/**
 * The identity graph in memory: interned node ids and typed-array adjacency. Edges live in one set of
 * parallel typed arrays; a CSR index (offsets + edge ids sorted by source, and the same by target) covers the
 * edges present at the last compaction, and edges added since hang off per-node linked lists (also typed
 * arrays). Base edge ids are in CSR order, so out-edges need no index array. Every edge belongs to an *origin* (an inventory record, an imported principal); changing a record
 * replaces its origin's edges — tombstones plus appends, never a full rebuild. When the overlay grows past a
 * fraction of the graph, `compact()` folds it into a fresh CSR in O(V + E).
 *
 * Queries are synchronous and reuse scratch buffers, so one graph must not be walked re-entrantly.
 */
import {
  EDGE_KINDS,
  NODE_FLAG_ADMIN,
  NODE_FLAG_DELETED,
  NODE_FLAG_DISABLED,
  NODE_TYPES,
  SENSITIVITY_RANK,
  VIA_FROM_ID,
  VIA_TEMPLATE_MARK,
  VIA_TO_ID,
  type EdgeKind,
  type GraphEdgeInput,
  type GraphNodeInput,
  type NodeType,
} from './model.js';

const EDGE_ALIVE = 1;
const EDGE_CONDITIONAL = 2;
const NONE = -1;

/**
 * Origin ids at or above this stand for a node (`NODE_ORIGIN + node`): the origin `inventory:<node key>`,
 * the edges derived from the inventory record that node is. There is one per identity and credential, so
 * keeping them as node indices instead of interned strings saves a string and a map entry per record.
 */
const NODE_ORIGIN = 0x80000000;
const NODE_ORIGIN_PREFIX = 'inventory:';

/**
 * In a stored via text, the id part of the edge's target / source key (`credential:<id>`). Texts such as
 * `holds credential cred-1` are unique per edge; with the endpoint ids cut out they are shared by every edge
 * of that shape, and the table holds a few templates instead of one string per edge. A template starts with
 * `VIA_TEMPLATE`; a text that itself contains these control characters is stored as is (escaped when it
 * starts with `VIA_TEMPLATE`), so every text reads back exactly.
 */
const VIA_TEMPLATE = VIA_TEMPLATE_MARK;
const VIA_TO = VIA_TO_ID;
const VIA_FROM = VIA_FROM_ID;
/**
 * Head-room left after a compaction for edges added later (the overlay); compaction runs again once the
 * overlay outgrows an eighth of the graph, so the slack stays small in memory.
 */
const HEADROOM_MIN = 4096;

/** Shorter ids are left in the text (templating them would only fragment the table). */
const VIA_MIN_ID = 3;

function keyId(key: string): string {
  return key.slice(key.indexOf(':') + 1);
}

/** Whether `name` is the id part of `key` (checked without slicing: this runs once per node on a load). */
function isKeyId(name: string, key: string): boolean {
  return key.length - name.length === key.indexOf(':') + 1 && key.endsWith(name);
}

const KIND_INDEX = new Map<EdgeKind, number>(EDGE_KINDS.map((k, i) => [k, i]));
const TYPE_INDEX = new Map<NodeType, number>(NODE_TYPES.map((t, i) => [t, i]));

function grow<T extends Int32Array | Uint32Array | Uint8Array | Uint16Array>(
  a: T,
  size: number,
  fill?: number,
): T {
  if (a.length >= size) return a;
  let cap = Math.max(16, a.length);
  while (cap < size) cap *= 2;
  const Ctor = a.constructor as new (n: number) => T;
  const b = new Ctor(cap);
  b.set(a);
  if (fill !== undefined) b.fill(fill, a.length);
  return b;
}

/** Interns strings to dense integers (via texts, method names, origins). */
class StringTable {
  readonly values: string[] = [''];
  private readonly index = new Map<string, number>([['', 0]]);
  intern(s: string): number {
    let i = this.index.get(s);
    if (i === undefined) {
      i = this.values.length;
      this.values.push(s);
      this.index.set(s, i);
    }
    return i;
  }
  find(s: string): number | undefined {
    return this.index.get(s);
  }
  get(i: number): string {
    return this.values[i] ?? '';
  }
}

export interface GraphStats {
  nodes: number;
  edges: number;
  overlayEdges: number;
  deadEdges: number;
  compactions: number;
  bytes: number;
}

export class CompactGraph {
  // ---- nodes ----
  private readonly keys: string[] = [];
  private readonly keyIndex = new Map<string, number>();
  /** null when the name is the key's id part (most nodes): computed on read instead of stored twice. */
  private readonly names: (string | null)[] = [];
  private readonly externalIds: (string | null)[] = [];
  private readonly environments: (string | null)[] = [];
  private nodeType = new Uint8Array(0);
  private nodeSensitivity = new Uint8Array(0);
  private nodeFlags = new Uint8Array(0);
  private overlayOutHead = new Int32Array(0);
  private overlayInHead = new Int32Array(0);

  // ---- edges (one slot per edge ever added since the last compaction) ----
  private edgeCount = 0;
  private eFrom = new Uint32Array(0);
  private eTo = new Uint32Array(0);
  private eKind = new Uint8Array(0);
  private eFlags = new Uint8Array(0);
  private eVia = new Uint32Array(0);
  /** Empty until some edge has a method (most graphs: none); reads past its end mean "no method". */
  private eMethod = new Uint32Array(0);
  private eOrigin = new Uint32Array(0);
  private eOriginNext = new Int32Array(0);
  /** Overlay adjacency lists, indexed by `edge - baseEdges` (base edges never need them). */
  private eOverlayOutNext = new Int32Array(0);
  private eOverlayInNext = new Int32Array(0);

  // ---- CSR over edges [0, baseEdges) ----
  private baseEdges = 0;
  private outOffsets = new Uint32Array(1);
  private inOffsets = new Uint32Array(1);
  private inEdges = new Uint32Array(0);

  private readonly via = new StringTable();
  private readonly methods = new StringTable();
  private readonly origins = new StringTable();
  private originHead = new Int32Array(0);
  /** First edge of each node-bound origin (see `NODE_ORIGIN`). */
  private nodeOriginHead = new Int32Array(0);
  private deadEdges = 0;
  private compactions = 0;

  /** Deleted or disabled nodes; when empty, walks skip the per-node flag check. */
  private readonly blockedNodes = new Set<number>();

  // ---- scratch for walks ----
  private stamp = new Uint32Array(0);
  private generation = 0;
  /** Edge id that first reached each node in the current walk. */
  parentEdge = new Int32Array(0);
  private queue = new Uint32Array(0);

  get nodeCount(): number {
    return this.keys.length;
  }

  /** Adds a node or updates its attributes; returns its dense index. */
  upsertNode(input: GraphNodeInput): number {
    let i = this.keyIndex.get(input.key);
    if (i === undefined) i = this.addNode(input.key, input.type, input.name);
    this.remember(input.key, i);
    this.nodeType[i] = TYPE_INDEX.get(input.type) ?? 0;
    this.names[i] = isKeyId(input.name, input.key) ? null : input.name;
    this.externalIds[i] = input.externalId ?? null;
    this.environments[i] = input.environment ?? null;
    this.nodeSensitivity[i] = input.sensitivity ? SENSITIVITY_RANK[input.sensitivity] : 0;
    this.nodeFlags[i] = (input.admin ? NODE_FLAG_ADMIN : 0) | (input.disabled ? NODE_FLAG_DISABLED : 0);
    this.repack(i);
    if (input.disabled) this.blockedNodes.add(i);
    else this.blockedNodes.delete(i);
    return i;
  }

  /** Marks a node deleted: walks no longer enter it. Its index stays reserved (ids are never reused). */
  markDeleted(key: string): void {
    const i = this.keyIndex.get(key);
    if (i !== undefined) {
      this.nodeFlags[i] = (this.nodeFlags[i] ?? 0) | NODE_FLAG_DELETED;
      this.repack(i);
      this.blockedNodes.add(i);
    }
  }

  private addNode(key: string, type: NodeType, name: string): number {
    const i = this.keys.length;
    this.keys.push(key);
    this.keyIndex.set(key, i);
    this.names.push(isKeyId(name, key) ? null : name);
    this.externalIds.push(null);
    this.environments.push(null);
    if (this.nodeType.length <= i) {
      const n = i + 1;
      this.nodeType = grow(this.nodeType, n);
      this.nodeInfo = grow(this.nodeInfo, n);
      this.nodeSensitivity = grow(this.nodeSensitivity, n);
      this.nodeFlags = grow(this.nodeFlags, n);
    }
    if (this.overlayOutHead.length <= i) this.overlayOutHead = grow(this.overlayOutHead, i + 1, NONE);
    if (this.overlayInHead.length <= i) this.overlayInHead = grow(this.overlayInHead, i + 1, NONE);
    if (this.nodeOriginHead.length <= i) this.nodeOriginHead = grow(this.nodeOriginHead, i + 1, NONE);
    this.nodeType[i] = TYPE_INDEX.get(type) ?? 0;
    this.overlayOutHead[i] = NONE;
    this.overlayInHead[i] = NONE;
    this.nodeOriginHead[i] = NONE;
    this.repack(i);
    return i;
  }

  /**
   * The last few keys looked up and their nodes. A derived record names its own node in nearly every edge
   * (`credential:c` → holder, holder → `credential:c`, ...), so most lookups hit here instead of hashing
   * into a map of every node. Node indices never change, so entries never go stale.
   */
  private readonly recentKeys: string[] = ['', '', '', ''];
  private readonly recentNodes = new Int32Array(4).fill(NONE);
  private recentNext = 0;

  private remember(key: string, node: number): void {
    const slot = this.recentNext;
    this.recentKeys[slot] = key;
    this.recentNodes[slot] = node;
    this.recentNext = (slot + 1) & 3;
  }

  /** Node index for `key`, creating a placeholder typed by the key's prefix when unknown. */
  private nodeFor(key: string): number {
    const recent = this.recentKeys;
    for (let k = 0; k < 4; k++)
      if (recent[k] === key && this.recentNodes[k] !== NONE) return this.recentNodes[k]!;
    const known = this.keyIndex.get(key);
    if (known !== undefined) {
      this.remember(key, known);
      return known;
    }
    const colon = key.indexOf(':');
    const prefix = colon > 0 ? key.slice(0, colon) : '';
    const type: NodeType =
      prefix === 'location'
        ? 'secret_location'
        : ((TYPE_INDEX.has(prefix as NodeType) ? prefix : 'external') as NodeType);
    const i = this.addNode(key, type, colon > 0 ? key.slice(colon + 1) : key);
    if (type === 'admin') {
      this.nodeFlags[i] = NODE_FLAG_ADMIN;
      this.nodeSensitivity[i] = SENSITIVITY_RANK.regulated;
      this.repack(i);
    }
    return i;
  }

  /**
   * type (4 bits) | sensitivity rank << 4 (3 bits) | flags << 7, one read per node in hot loops that classify
   * every reached node (see `INFO_*`).
   */
  private nodeInfo = new Uint16Array(0);

  private repack(i: number): void {
    this.nodeInfo[i] =
      (this.nodeType[i] ?? 0) | ((this.nodeSensitivity[i] ?? 0) << 4) | ((this.nodeFlags[i] ?? 0) << 7);
  }

  get rawNodeInfo(): Uint16Array {
    return this.nodeInfo;
  }

  find(key: string): number | undefined {
    return this.keyIndex.get(key);
  }

  key(i: number): string {
    return this.keys[i] ?? '';
  }
  name(i: number): string {
    return this.names[i] ?? keyId(this.keys[i] ?? '');
  }
  externalId(i: number): string | null {
    return this.externalIds[i] ?? null;
  }
  environment(i: number): string | null {
    return this.environments[i] ?? null;
  }
  type(i: number): NodeType {
    return NODE_TYPES[this.nodeType[i] ?? 0] ?? 'identity';
  }
  sensitivityRank(i: number): number {
    return this.nodeSensitivity[i] ?? 0;
  }
  isAdmin(i: number): boolean {
    return ((this.nodeFlags[i] ?? 0) & NODE_FLAG_ADMIN) !== 0;
  }
  /** Deleted or disabled nodes are not walked through. */
  isBlocked(i: number): boolean {
    return ((this.nodeFlags[i] ?? 0) & (NODE_FLAG_DELETED | NODE_FLAG_DISABLED)) !== 0;
  }
  isDeleted(i: number): boolean {
    return ((this.nodeFlags[i] ?? 0) & NODE_FLAG_DELETED) !== 0;
  }

  // ---- edges ----

  edgeFrom(e: number): number {
    return this.eFrom[e] ?? 0;
  }
  edgeTo(e: number): number {
    return this.eTo[e] ?? 0;
  }
  edgeKind(e: number): EdgeKind {
    return EDGE_KINDS[this.eKind[e] ?? 0] ?? 'has_permission';
  }
  edgeVia(e: number): string {
    const text = this.via.get(this.eVia[e] ?? 0);
    if (text[0] !== VIA_TEMPLATE) return text;
    if (text[1] === VIA_TEMPLATE) return text.slice(2);
    return text
      .slice(1)
      .replaceAll(VIA_FROM, () => keyId(this.keys[this.eFrom[e] ?? 0] ?? ''))
      .replaceAll(VIA_TO, () => keyId(this.keys[this.eTo[e] ?? 0] ?? ''));
  }

  private viaTemplate(via: string, from: number, to: number): string {
    if (via.includes(VIA_TEMPLATE) || via.includes(VIA_TO) || via.includes(VIA_FROM))
      return via[0] === VIA_TEMPLATE ? VIA_TEMPLATE + VIA_TEMPLATE + via : via;
    const toId = keyId(this.keys[to] ?? '');
    const fromId = keyId(this.keys[from] ?? '');
    let t = via;
    if (toId.length >= VIA_MIN_ID && t.includes(toId)) t = t.replaceAll(toId, VIA_TO);
    if (fromId.length >= VIA_MIN_ID && t.includes(fromId)) t = t.replaceAll(fromId, VIA_FROM);
    return t === via ? via : VIA_TEMPLATE + t;
  }

  edgeMethod(e: number): string | null {
    const m = this.eMethod[e] ?? 0;
    return m === 0 ? null : this.methods.get(m);
  }
  edgeConditional(e: number): boolean {
    return ((this.eFlags[e] ?? 0) & EDGE_CONDITIONAL) !== 0;
  }
  edgeAlive(e: number): boolean {
    return ((this.eFlags[e] ?? 0) & EDGE_ALIVE) !== 0;
  }
  edgeKindIndex(e: number): number {
    return this.eKind[e] ?? 0;
  }

  /** Replaces every edge of `origin` with `edges` (an empty list removes the origin). */
  replaceOrigin(origin: string, edges: readonly GraphEdgeInput[]): void {
    this.loadOrigin(origin, edges);
    if (this.needsCompaction()) this.compact();
  }

  /** Loads many origins at once and compacts once at the end (used for the initial build). */
  load(byOrigin: Iterable<[string, readonly GraphEdgeInput[]]>): void {
    this.beginBulkLoad();
    for (const [origin, edges] of byOrigin) this.loadOrigin(origin, edges);
    this.compact();
  }

  /**
   * Until the next `compact()`, added edges are not linked into the overlay lists (compaction rebuilds the
   * index from the edge arrays anyway): a bulk build saves the work and the memory. Walks before that
   * `compact()` would miss those edges, so a graph being bulk-loaded must not be queried.
   */
  beginBulkLoad(): void {
    this.bulkLoading = true;
  }

  private bulkLoading = false;

  /**
   * Like `replaceOrigin` without the compaction check: for a bulk build that streams origins in and calls
   * `compact()` once at the end.
   */
  loadOrigin(origin: string, edges: readonly GraphEdgeInput[]): void {
    const o = this.originId(origin, edges.length > 0);
    if (o === undefined) return;
    for (let e = this.originHeadOf(o); e !== NONE; e = this.eOriginNext[e] ?? NONE) {
      if ((this.eFlags[e] ?? 0) & EDGE_ALIVE) {
        this.eFlags[e] = (this.eFlags[e] ?? 0) & ~EDGE_ALIVE;
        this.deadEdges++;
      }
    }
    this.setOriginHead(o, NONE);
    for (const edge of edges) this.appendEdge(o, edge);
  }

  /** The id of an origin; undefined when it has never had edges and `create` is false. */
  private originId(origin: string, create: boolean): number | undefined {
    if (origin.startsWith(NODE_ORIGIN_PREFIX)) {
      const key = origin.slice(NODE_ORIGIN_PREFIX.length);
      const node = create ? this.nodeFor(key) : this.keyIndex.get(key);
      return node === undefined ? undefined : NODE_ORIGIN + node;
    }
    if (!create) return this.origins.find(origin);
    const o = this.origins.intern(origin);
    this.originHead = grow(this.originHead, o + 1, NONE);
    return o;
  }

  private originHeadOf(o: number): number {
    return (o >= NODE_ORIGIN ? this.nodeOriginHead[o - NODE_ORIGIN] : this.originHead[o]) ?? NONE;
  }

  private setOriginHead(o: number, e: number): void {
    if (o >= NODE_ORIGIN) this.nodeOriginHead[o - NODE_ORIGIN] = e;
    else this.originHead[o] = e;
  }

  private appendEdge(origin: number, edge: GraphEdgeInput): void {
    const from = this.nodeFor(edge.from);
    const to = this.nodeFor(edge.to);
    if (from === to) return;
    const e = this.edgeCount++;
    const n = e + 1;
    if (this.eFrom.length < n) {
      this.eFrom = grow(this.eFrom, n);
      this.eTo = grow(this.eTo, n);
      this.eKind = grow(this.eKind, n);
      this.eFlags = grow(this.eFlags, n);
      this.eVia = grow(this.eVia, n);
      this.eOrigin = grow(this.eOrigin, n);
      this.eOriginNext = grow(this.eOriginNext, n);
    }
    this.eFrom[e] = from;
    this.eTo[e] = to;
    this.eKind[e] = KIND_INDEX.get(edge.kind) ?? 0;
    this.eFlags[e] = EDGE_ALIVE | (edge.conditional ? EDGE_CONDITIONAL : 0);
    this.eVia[e] = this.via.intern(edge.viaTemplate ? edge.via : this.viaTemplate(edge.via, from, to));
    if (edge.method) {
      if (this.eMethod.length < this.eFrom.length) {
        const methods = new Uint32Array(this.eFrom.length);
        methods.set(this.eMethod);
        this.eMethod = methods;
      }
      this.eMethod[e] = this.methods.intern(edge.method);
    } else if (e < this.eMethod.length) this.eMethod[e] = 0;
    this.eOrigin[e] = origin;
    this.eOriginNext[e] = this.originHeadOf(origin);
    this.setOriginHead(origin, e);
    if (this.bulkLoading) return;
    const k = e - this.baseEdges;
    if (this.eOverlayOutNext.length <= k) {
      this.eOverlayOutNext = grow(this.eOverlayOutNext, k + 1);
      this.eOverlayInNext = grow(this.eOverlayInNext, k + 1);
    }
    this.eOverlayOutNext[k] = this.overlayOutHead[from] ?? NONE;
    this.overlayOutHead[from] = e;
    this.eOverlayInNext[k] = this.overlayInHead[to] ?? NONE;
    this.overlayInHead[to] = e;
  }

  private needsCompaction(): boolean {
    const overlay = this.edgeCount - this.baseEdges;
    return (
      overlay > Math.max(HEADROOM_MIN, this.baseEdges / 8) ||
      this.deadEdges > Math.max(4096, this.edgeCount / 2)
    );
  }

  /** Folds the overlay into a new CSR and drops dead edges. O(V + E). */
  compact(): void {
    const n = this.keys.length;
    // Live edges are renumbered in CSR order (grouped by source, insertion order within a source), so a
    // node's base out-edges are the contiguous ids [outOffsets[u], outOffsets[u+1]) and a walk reads the
    // edge arrays sequentially.
    const outOffsets = new Uint32Array(n + 1);
    const inOffsets = new Uint32Array(n + 1);
    let m = 0;
    for (let e = 0; e < this.edgeCount; e++) {
      if ((this.eFlags[e]! & EDGE_ALIVE) === 0) continue;
      outOffsets[this.eFrom[e]! + 1]!++;
      inOffsets[this.eTo[e]! + 1]!++;
      m++;
    }
    for (let i = 0; i < n; i++) {
      outOffsets[i + 1]! += outOffsets[i]!;
      inOffsets[i + 1]! += inOffsets[i]!;
    }
    // Head-room for the overlay, so single updates never pay for growing the arrays.
    const cap = m + Math.max(HEADROOM_MIN, m >> 3) + 256;
    const withMethods = this.eMethod.length > 0;
    const nFrom = new Uint32Array(cap);
    const nTo = new Uint32Array(cap);
    const nKind = new Uint8Array(cap);
    const nFlags = new Uint8Array(cap);
    const nVia = new Uint32Array(cap);
    const nMethod = new Uint32Array(withMethods ? cap : 0);
    let methods = 0;
    const nOrigin = new Uint32Array(cap);
    const outFill = outOffsets.slice(0, n);
    for (let e = 0; e < this.edgeCount; e++) {
      if ((this.eFlags[e]! & EDGE_ALIVE) === 0) continue;
      const j = outFill[this.eFrom[e]!]!++;
      nFrom[j] = this.eFrom[e]!;
      nTo[j] = this.eTo[e]!;
      nKind[j] = this.eKind[e]!;
      nFlags[j] = this.eFlags[e]!;
      nVia[j] = this.eVia[e]!;
      if (withMethods && (nMethod[j] = this.eMethod[e] ?? 0) !== 0) methods++;
      nOrigin[j] = this.eOrigin[e]!;
    }
    this.eFrom = nFrom;
    this.eTo = nTo;
    this.eKind = nKind;
    this.eFlags = nFlags;
    this.eVia = nVia;
    this.eMethod = methods > 0 ? nMethod : new Uint32Array(0);
    this.eOrigin = nOrigin;
    this.originHead = new Int32Array(Math.max(this.originHead.length, this.origins.values.length)).fill(NONE);
    this.nodeOriginHead = new Int32Array(Math.max(n, this.nodeOriginHead.length)).fill(NONE);
    this.eOriginNext = new Int32Array(cap);
    for (let j = m - 1; j >= 0; j--) {
      const o = nOrigin[j]!;
      this.eOriginNext[j] = this.originHeadOf(o);
      this.setOriginHead(o, j);
    }
    this.outOffsets = outOffsets;
    this.inOffsets = inOffsets;
    this.inEdges = new Uint32Array(m);
    const inFill = inOffsets.slice(0, n);
    for (let j = 0; j < m; j++) this.inEdges[inFill[nTo[j]!]!++] = j;
    this.overlayOutHead = new Int32Array(Math.max(n, this.overlayOutHead.length)).fill(NONE);
    this.overlayInHead = new Int32Array(Math.max(n, this.overlayInHead.length)).fill(NONE);
    this.eOverlayOutNext = new Int32Array(cap - m);
    this.eOverlayInNext = new Int32Array(cap - m);
    this.edgeCount = m;
    this.baseEdges = m;
    this.bulkLoading = false;
    this.deadEdges = 0;
    this.compactions++;
  }

  /** Calls `fn(edgeId, to)` for every live out-edge of `node`. */
  forEachOut(node: number, fn: (edge: number, to: number) => void): void {
    if (node + 1 < this.outOffsets.length) {
      const end = this.outOffsets[node + 1] ?? 0;
      for (let e = this.outOffsets[node] ?? 0; e < end; e++) {
        if ((this.eFlags[e] ?? 0) & EDGE_ALIVE) fn(e, this.eTo[e] ?? 0);
      }
    }
    for (
      let e = this.overlayOutHead[node] ?? NONE;
      e !== NONE;
      e = this.eOverlayOutNext[e - this.baseEdges] ?? NONE
    ) {
      if ((this.eFlags[e] ?? 0) & EDGE_ALIVE) fn(e, this.eTo[e] ?? 0);
    }
  }

  /** Calls `fn(edgeId, from)` for every live in-edge of `node`. */
  forEachIn(node: number, fn: (edge: number, from: number) => void): void {
    if (node + 1 < this.inOffsets.length) {
      const end = this.inOffsets[node + 1] ?? 0;
      for (let k = this.inOffsets[node] ?? 0; k < end; k++) {
        const e = this.inEdges[k] ?? 0;
        if ((this.eFlags[e] ?? 0) & EDGE_ALIVE) fn(e, this.eFrom[e] ?? 0);
      }
    }
    for (
      let e = this.overlayInHead[node] ?? NONE;
      e !== NONE;
      e = this.eOverlayInNext[e - this.baseEdges] ?? NONE
    ) {
      if ((this.eFlags[e] ?? 0) & EDGE_ALIVE) fn(e, this.eFrom[e] ?? 0);
    }
  }

  /** Live edges of an origin (for tests and diffs). */
  originEdges(origin: string): number[] {
    const o = this.originId(origin, false);
    const out: number[] = [];
    if (o === undefined) return out;
    for (let e = this.originHeadOf(o); e !== NONE; e = this.eOriginNext[e] ?? NONE) {
      if ((this.eFlags[e] ?? 0) & EDGE_ALIVE) out.push(e);
    }
    return out;
  }

  /**
   * Breadth-first walk from `start` along live edges, not entering blocked nodes. Fills `parentEdge` for every
   * reached node (NONE for the start) and returns the reached nodes in BFS order (the start first).
   * `skipEdge` / `skipNode` let choke-point analysis ask "what if this edge / identity were gone" (a skipped node
   * then reads as visited: check reachability through the returned list, not `visited`).
   */
  reach(start: number, maxNodes = Number.MAX_SAFE_INTEGER, skipEdge = NONE, skipNode = NONE): Uint32Array {
    const n = this.keys.length;
    this.prepareScratch(n);
    const gen = this.nextGeneration();
    const stamp = this.stamp;
    const queue = this.queue;
    const parent = this.parentEdge;
    const outOffsets = this.outOffsets;
    const baseNodes = outOffsets.length - 1;
    const eFlags = this.eFlags;
    const eTo = this.eTo;
    const flags = this.nodeFlags;
    const blocked = NODE_FLAG_DELETED | NODE_FLAG_DISABLED;
    const checkBlocked = this.blockedNodes.size > 0;
    let head = 0;
    let tail = 0;
    // A skipped node is pre-marked, so the walk never enters it (what-if analysis for choke points).
    if (skipNode !== NONE && skipNode !== start) stamp[skipNode] = gen;
    stamp[start] = gen;
    parent[start] = NONE;
    queue[tail++] = start;
    while (head < tail && tail < maxNodes) {
      const u = queue[head++]!;
      if (u < baseNodes) {
        const end = outOffsets[u + 1]!;
        for (let e = outOffsets[u]!; e < end; e++) {
          if ((eFlags[e]! & EDGE_ALIVE) === 0 || e === skipEdge) continue;
          const v = eTo[e]!;
          if (stamp[v] === gen || (checkBlocked && (flags[v]! & blocked) !== 0)) continue;
          stamp[v] = gen;
          parent[v] = e;
          queue[tail++] = v;
        }
      }
      for (let e = this.overlayOutHead[u]!; e !== NONE; e = this.eOverlayOutNext[e - this.baseEdges]!) {
        if ((eFlags[e]! & EDGE_ALIVE) === 0 || e === skipEdge) continue;
        const v = eTo[e]!;
        if (stamp[v] === gen || (checkBlocked && (flags[v]! & blocked) !== 0)) continue;
        stamp[v] = gen;
        parent[v] = e;
        queue[tail++] = v;
      }
    }
    return queue.subarray(0, tail);
  }

  /**
   * Multi-source walk against edge direction: every node that can reach one of `targets`. `parentEdge[u]` is
   * then the first edge of a fewest-hop path from `u` towards the nearest target (see `pathForward`).
   */
  reachBackward(targets: readonly number[]): Uint32Array {
    const n = this.keys.length;
    this.prepareScratch(n);
    const gen = this.nextGeneration();
    const { stamp, queue, parentEdge: parent, inOffsets, inEdges, eFlags, eFrom } = this;
    const baseNodes = inOffsets.length - 1;
    let head = 0;
    let tail = 0;
    for (const t of targets) {
      if (stamp[t] === gen) continue;
      stamp[t] = gen;
      parent[t] = NONE;
      queue[tail++] = t;
    }
    while (head < tail) {
      const v = queue[head++]!;
      // A blocked node cannot be walked through, so nothing reaches a target by way of it.
      if (this.isBlocked(v)) continue;
      const visit = (e: number) => {
        if ((eFlags[e]! & EDGE_ALIVE) === 0) return;
        const u = eFrom[e]!;
        if (stamp[u] === gen) return;
        stamp[u] = gen;
        parent[u] = e;
        queue[tail++] = u;
      };
      if (v < baseNodes) {
        const end = inOffsets[v + 1]!;
        for (let k = inOffsets[v]!; k < end; k++) visit(inEdges[k]!);
      }
      for (let e = this.overlayInHead[v]!; e !== NONE; e = this.eOverlayInNext[e - this.baseEdges]!) visit(e);
    }
    return queue.subarray(0, tail);
  }

  /** Whether the last walk reached `node`. */
  visited(node: number): boolean {
    return this.stamp[node] === this.generation;
  }

  /** After `reachBackward`: the edge ids from `node` to its nearest target. */
  pathForward(node: number): number[] {
    const path: number[] = [];
    for (let e = this.parentEdge[node] ?? NONE; e !== NONE; e = this.parentEdge[this.eTo[e] ?? 0] ?? NONE) {
      path.push(e);
      if (path.length > this.keys.length) break;
    }
    return path;
  }

  /** Edge ids from the walk's start to `node`, in order (valid until the next walk). */
  pathTo(node: number): number[] {
    const path: number[] = [];
    for (let e = this.parentEdge[node] ?? NONE; e !== NONE; e = this.parentEdge[this.eFrom[e] ?? 0] ?? NONE) {
      path.push(e);
      if (path.length > this.keys.length) break;
    }
    return path.reverse();
  }

  private prepareScratch(n: number): void {
    if (this.stamp.length < n) {
      this.stamp = grow(this.stamp, n);
      this.parentEdge = grow(this.parentEdge, n);
      this.queue = grow(this.queue, n);
    }
  }

  private nextGeneration(): number {
    this.generation++;
    if (this.generation === 0xffffffff) {
      this.stamp.fill(0);
      this.generation = 1;
    }
    return this.generation;
  }

  stats(): GraphStats {
    const typed = [
      this.nodeType,
      this.nodeSensitivity,
      this.nodeFlags,
      this.nodeInfo,
      this.overlayOutHead,
      this.overlayInHead,
      this.eFrom,
      this.eTo,
      this.eKind,
      this.eFlags,
      this.eVia,
      this.eMethod,
      this.eOrigin,
      this.eOriginNext,
      this.eOverlayOutNext,
      this.eOverlayInNext,
      this.outOffsets,
      this.inOffsets,
      this.inEdges,
      this.originHead,
      this.nodeOriginHead,
      this.stamp,
      this.parentEdge,
      this.queue,
    ];
    return {
      nodes: this.keys.length,
      edges: this.edgeCount - this.deadEdges,
      overlayEdges: this.edgeCount - this.baseEdges,
      deadEdges: this.deadEdges,
      compactions: this.compactions,
      bytes: typed.reduce((sum, a) => sum + a.byteLength, 0),
    };
  }

  /** Every live node index matching a predicate (small helper for queries over all principals). */
  nodesWhere(pred: (i: number) => boolean): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.keys.length; i++) if (!this.isDeleted(i) && pred(i)) out.push(i);
    return out;
  }
}
