/**
 * Per-identity and per-credential behaviour baselines. Each is a handful of bounded sets (actions, action
 * transitions, source networks, user-agent families, edges), so 100k identities fit in a few hundred MB and
 * the state serializes to JSON for the store or an offline `--baseline` file. An identity is "learning" until
 * its first event is older than the learning period; anomaly detectors stay silent while it learns.
 */
import type { NormalizedEvent } from './event.js';

const CAPS = { actions: 512, transitions: 2048, networks: 64, agents: 32, edges: 1024 } as const;

/**
 * How many baselines stay in memory. Actor names and credential ids come from the logs, i.e. from whoever
 * writes them: without a cap, a stream of made-up actors grows the heap without end. The least recently seen
 * are evicted beyond the cap; a changed one is kept serialized until it is written, so nothing is lost.
 */
export interface BaselineCaps {
  identities: number;
  credentials: number;
}

export const DEFAULT_BASELINE_CAPS: BaselineCaps = { identities: 100_000, credentials: 200_000 };

export interface IdentityBaseline {
  firstSeen: number;
  lastSeen: number;
  events: number;
  lastAction: string | undefined;
  actions: Set<string>;
  transitions: Set<string>;
  networks: Set<string>;
  agents: Set<string>;
  edges: Set<string>;
}

export interface CredentialBaseline {
  firstSeen: number;
  lastSeen: number;
  networks: Set<string>;
  agents: Set<string>;
  /** Workflow / task a task token was first seen in. */
  workflow: string | undefined;
}

export interface BaselineFile {
  version: 1;
  identities: Record<string, SerializedIdentityBaseline>;
  credentials: Record<string, SerializedCredentialBaseline>;
}

interface SerializedIdentityBaseline {
  firstSeen: string;
  lastSeen: string;
  events: number;
  lastAction?: string | undefined;
  actions: string[];
  transitions: string[];
  networks: string[];
  agents: string[];
  edges: string[];
}

interface SerializedCredentialBaseline {
  firstSeen: string;
  lastSeen: string;
  networks: string[];
  agents: string[];
  workflow?: string | undefined;
}

/** `Mozilla/5.0 (…)` → `Mozilla`; `aws-cli/2.15 Python/3.11` → `aws-cli`; `[Boto3/1.34]` → `Boto3`. */
export function agentFamily(userAgent: string | undefined): string | undefined {
  if (!userAgent) return undefined;
  const m = /^[[\s]*([A-Za-z][\w.-]*)/.exec(userAgent);
  return m?.[1] ?? userAgent.slice(0, 32);
}

/** A network worth remembering: an IP-derived prefix, not an AWS service name acting for the caller. */
export function isIpNetwork(network: string | undefined): network is string {
  return network !== undefined && network.includes('/');
}

function addCapped(set: Set<string>, value: string | undefined, cap: number): void {
  if (value === undefined || set.has(value)) return;
  if (set.size >= cap) return;
  set.add(value);
}

export class BaselineStore {
  /** In least-recently-seen order (a baseline moves to the end when its actor is seen). */
  readonly identities = new Map<string, IdentityBaseline>();
  readonly credentials = new Map<string, CredentialBaseline>();
  readonly caps: BaselineCaps;
  /** Keys changed since the last `takeDirty()`, for incremental persistence. */
  private dirty = new Set<string>();
  /** Changed baselines evicted before they were written (`i:`/`c:` key → serialized state). */
  private readonly evicted = new Map<string, string>();

  constructor(
    readonly learningPeriodMs: number,
    caps: Partial<BaselineCaps> = {},
  ) {
    this.caps = { ...DEFAULT_BASELINE_CAPS, ...caps };
  }

  identity(key: string): IdentityBaseline | undefined {
    const b = this.identities.get(key);
    if (b) return b;
    const state = this.takeEvicted(`i:${key}`);
    if (state === undefined) return undefined;
    const restored = parseIdentity(JSON.parse(state) as SerializedIdentityBaseline);
    this.putIdentity(key, restored);
    return restored;
  }

  credential(id: string): CredentialBaseline | undefined {
    const c = this.credentials.get(id);
    if (c) return c;
    const state = this.takeEvicted(`c:${id}`);
    if (state === undefined) return undefined;
    const restored = parseCredential(JSON.parse(state) as SerializedCredentialBaseline);
    this.putCredential(id, restored);
    return restored;
  }

  /** Whether the baseline is in memory (else it may be in the store, evicted by the cap). */
  holds(kind: 'identity' | 'credential', key: string): boolean {
    return kind === 'identity'
      ? this.identities.has(key) || this.evicted.has(`i:${key}`)
      : this.credentials.has(key) || this.evicted.has(`c:${key}`);
  }

  /** Evicted baselines waiting to be written. */
  get evictedPending(): number {
    return this.evicted.size;
  }

  /** Stores as most recently seen, evicting the least recently seen beyond the cap. */
  private putIdentity(key: string, b: IdentityBaseline): void {
    this.identities.delete(key);
    this.identities.set(key, b);
    while (this.identities.size > this.caps.identities) {
      const [k, old] = this.identities.entries().next().value!;
      this.identities.delete(k);
      if (this.dirty.has(`i:${k}`)) this.evicted.set(`i:${k}`, JSON.stringify(serializeIdentity(old)));
    }
  }

  private putCredential(id: string, c: CredentialBaseline): void {
    this.credentials.delete(id);
    this.credentials.set(id, c);
    while (this.credentials.size > this.caps.credentials) {
      const [k, old] = this.credentials.entries().next().value!;
      this.credentials.delete(k);
      if (this.dirty.has(`c:${k}`)) this.evicted.set(`c:${k}`, JSON.stringify(serializeCredential(old)));
    }
  }

  private takeEvicted(dirtyKey: string): string | undefined {
    const state = this.evicted.get(dirtyKey);
    if (state !== undefined) this.evicted.delete(dirtyKey);
    return state;
  }

  /** True once the identity has been watched for the whole learning period before `atMs`. */
  isLearned(baseline: IdentityBaseline | undefined, atMs: number): boolean {
    return baseline !== undefined && atMs - baseline.firstSeen >= this.learningPeriodMs;
  }

  /** Learns from an event after the detectors have looked at it. */
  learn(key: string, event: NormalizedEvent): void {
    let b = this.identity(key);
    if (!b) {
      b = {
        firstSeen: event.timeMs,
        lastSeen: event.timeMs,
        events: 0,
        lastAction: undefined,
        actions: new Set(),
        transitions: new Set(),
        networks: new Set(),
        agents: new Set(),
        edges: new Set(),
      };
    }
    this.putIdentity(key, b);
    b.events += 1;
    if (event.timeMs < b.firstSeen) b.firstSeen = event.timeMs;
    if (event.timeMs > b.lastSeen) b.lastSeen = event.timeMs;
    addCapped(b.actions, event.action, CAPS.actions);
    if (b.lastAction !== undefined)
      addCapped(b.transitions, `${b.lastAction}>${event.action}`, CAPS.transitions);
    b.lastAction = event.action;
    if (isIpNetwork(event.src.network)) addCapped(b.networks, event.src.network, CAPS.networks);
    addCapped(b.agents, agentFamily(event.src.userAgent), CAPS.agents);
    for (const t of event.targets) addCapped(b.edges, t, CAPS.edges);
    this.dirty.add(`i:${key}`);

    if (event.credential) {
      const id = event.credential.id;
      let c = this.credential(id);
      if (!c) {
        c = {
          firstSeen: event.timeMs,
          lastSeen: event.timeMs,
          networks: new Set(),
          agents: new Set(),
          workflow: event.token?.workflow,
        };
      }
      this.putCredential(id, c);
      if (event.timeMs > c.lastSeen) c.lastSeen = event.timeMs;
      if (isIpNetwork(event.src.network)) addCapped(c.networks, event.src.network, CAPS.networks);
      addCapped(c.agents, agentFamily(event.src.userAgent), CAPS.agents);
      c.workflow ??= event.token?.workflow;
      this.dirty.add(`c:${id}`);
    }
  }

  takeDirty(): { identities: string[]; credentials: string[] } {
    const out = { identities: [] as string[], credentials: [] as string[] };
    for (const k of this.dirty) {
      if (k.startsWith('i:')) out.identities.push(k.slice(2));
      else out.credentials.push(k.slice(2));
    }
    this.dirty = new Set();
    return out;
  }

  /** The state to write; an evicted one is handed over (and forgotten) here. */
  serializeIdentity(key: string): string | undefined {
    const b = this.identities.get(key);
    return b ? JSON.stringify(serializeIdentity(b)) : this.takeEvicted(`i:${key}`);
  }

  serializeCredential(id: string): string | undefined {
    const c = this.credentials.get(id);
    return c ? JSON.stringify(serializeCredential(c)) : this.takeEvicted(`c:${id}`);
  }

  loadIdentity(key: string, json: string): void {
    this.putIdentity(key, parseIdentity(JSON.parse(json) as SerializedIdentityBaseline));
  }

  loadCredential(id: string, json: string): void {
    this.putCredential(id, parseCredential(JSON.parse(json) as SerializedCredentialBaseline));
  }

  toFile(): BaselineFile {
    const file: BaselineFile = { version: 1, identities: {}, credentials: {} };
    for (const [k, state] of this.evicted) {
      if (k.startsWith('i:')) file.identities[k.slice(2)] = JSON.parse(state) as SerializedIdentityBaseline;
      else file.credentials[k.slice(2)] = JSON.parse(state) as SerializedCredentialBaseline;
    }
    for (const [k, b] of this.identities) file.identities[k] = serializeIdentity(b);
    for (const [k, c] of this.credentials) file.credentials[k] = serializeCredential(c);
    return file;
  }

  /** Loads a baseline file written by `toFile()`; throws on a file of another shape. */
  loadFile(value: unknown): void {
    const file = value as Partial<BaselineFile>;
    if (
      typeof file !== 'object' ||
      file === null ||
      file.version !== 1 ||
      typeof file.identities !== 'object' ||
      typeof file.credentials !== 'object'
    ) {
      throw new Error(
        'not a Bulkhead baseline file (expected {"version":1,"identities":{},"credentials":{}})',
      );
    }
    for (const [k, b] of Object.entries(file.identities ?? {})) this.putIdentity(k, parseIdentity(b));
    for (const [k, c] of Object.entries(file.credentials ?? {})) this.putCredential(k, parseCredential(c));
  }
}

function serializeIdentity(b: IdentityBaseline): SerializedIdentityBaseline {
  return {
    firstSeen: new Date(b.firstSeen).toISOString(),
    lastSeen: new Date(b.lastSeen).toISOString(),
    events: b.events,
    lastAction: b.lastAction,
    actions: [...b.actions],
    transitions: [...b.transitions],
    networks: [...b.networks],
    agents: [...b.agents],
    edges: [...b.edges],
  };
}

function serializeCredential(c: CredentialBaseline): SerializedCredentialBaseline {
  return {
    firstSeen: new Date(c.firstSeen).toISOString(),
    lastSeen: new Date(c.lastSeen).toISOString(),
    networks: [...c.networks],
    agents: [...c.agents],
    workflow: c.workflow,
  };
}

function strings(v: unknown): Set<string> {
  return new Set(Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
}

function time(v: unknown): number {
  const t = typeof v === 'string' ? Date.parse(v) : Number.NaN;
  if (Number.isNaN(t)) throw new Error('baseline timestamps must be ISO-8601 strings');
  return t;
}

function parseIdentity(s: SerializedIdentityBaseline): IdentityBaseline {
  return {
    firstSeen: time(s.firstSeen),
    lastSeen: time(s.lastSeen),
    events: typeof s.events === 'number' ? s.events : 0,
    lastAction: typeof s.lastAction === 'string' ? s.lastAction : undefined,
    actions: strings(s.actions),
    transitions: strings(s.transitions),
    networks: strings(s.networks),
    agents: strings(s.agents),
    edges: strings(s.edges),
  };
}

function parseCredential(s: SerializedCredentialBaseline): CredentialBaseline {
  return {
    firstSeen: time(s.firstSeen),
    lastSeen: time(s.lastSeen),
    networks: strings(s.networks),
    agents: strings(s.agents),
    workflow: typeof s.workflow === 'string' ? s.workflow : undefined,
  };
}
