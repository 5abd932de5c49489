/**
 * The policy decision point: the active policy set pre-parsed in memory, the built-in invariants that run
 * before Cedar, the decision cache, approvals and the decision log. Stored versions live in
 * `policy-versions.ts`, the Cedar call in `engine.ts`.
 */
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { AuditLog } from '../audit/audit-log.js';
import { coreError, isBulkheadError } from '../errors.js';
import type { EventBus } from '../events/bus.js';
import type { Database } from '../store/database.js';
import type { ApprovalStore } from './approvals.js';
import type { ChangeFeed } from '../store/change-feed.js';
import { LruCache } from './decision-cache.js';
import type { DecisionLog } from './decision-log.js';
import { EntityIndex, hasProperties, type ResourceRef } from './entity-index.js';
import { prunedContext } from './footprint.js';
import { isWellFormed } from '../well-formed.js';
import { jsonIsClean, jsonProblem } from './input-limits.js';
import {
  discardUnusedPolicySet,
  evaluateCedar,
  loadPolicySet,
  releasePolicySet,
  retainPolicySet,
  type LoadedPolicySet,
  type Obligation,
  type Reason,
  warmUp,
} from './engine.js';
import { policyError } from './errors.js';
import { compileBundle, refusedTextIssue, type CompiledBundle, type PolicyBundle } from './policy-bundle.js';
import { buildCedarContext, contextKey, wallClock, type WallClock } from './request-context.js';
import { PolicyVersionStore, type PolicyVersionInfo, type WriteMeta } from './policy-versions.js';
import { subjectTypeMatches } from './subject-types.js';
import type { PolicyDatabase } from './tables.js';

export type { PolicyVersionInfo } from './policy-versions.js';

export interface DecisionRequest {
  /** `properties` are what the PEP asserts (AuthZEN); the inventory stays the source of principal attributes. */
  principal: { id: string; type?: string | undefined; properties?: Record<string, unknown> | undefined };
  action: string;
  actionProperties?: Record<string, unknown> | undefined;
  resource: ResourceRef;
  context?: Record<string, unknown> | undefined;
}

export interface DecideOptions {
  /**
   * false for what-if evaluations (AuthZEN search): no decision log entry, no approval request created,
   * no grant consumed, and nothing added to the decision cache (a search over thousands of candidates
   * would push out the entries real requests use).
   */
  sideEffects?: boolean;
}

export interface DecisionResult {
  decision: boolean;
  reasons: Reason[];
  obligations: Obligation[];
  policyVersion: number | null;
  cached: boolean;
}

export interface PdpDeps {
  db: Kysely<PolicyDatabase>;
  audit: AuditLog;
  log: Logger;
  events: EventBus;
  now: () => Date;
  index: EntityIndex;
  approvals: ApprovalStore;
  decisionLog: DecisionLog | undefined;
  /** Activations announced by other replicas (and resyncs after a lost connection); none by default. */
  feed?: ChangeFeed | undefined;
}

export interface PdpOptions {
  cacheSize: number;
  cacheTtlMs: number;
  /** A Cedar evaluation slower than this is answered deny (`engine_timeout`) rather than trusted. */
  decisionTimeoutMs?: number;
  /** IANA time zone of `context.hour` / `context.weekday` (default UTC). */
  timeZone?: string | undefined;
  /**
   * Cedar evaluations run in the background once the first policy set is loaded (see `warmUpEngine`); 0 (the
   * default here) runs none.
   */
  warmUpEvaluations?: number;
}

/** Up to `n` items of an iterator, without walking the rest (the inventory may hold 100k identities). */
function firstOf<T>(items: Iterator<T>, n: number): T[] {
  const out: T[] = [];
  for (let r = items.next(); !r.done && out.length < n; r = items.next()) out.push(r.value);
  return out;
}

/** Whether this process has started warming the Cedar engine: its compiled code is shared by every PDP. */
let engineWarmUpStarted = false;

const requiredCache = new WeakMap<LoadedPolicySet, Map<string, string[]>>();

/** Context attributes the bundle requires for an action (`*` entries apply to every action), memoised. */
function requiredContextFor(set: LoadedPolicySet, action: string): string[] {
  let byAction = requiredCache.get(set);
  if (!byAction) {
    byAction = new Map();
    requiredCache.set(set, byAction);
  }
  let list = byAction.get(action);
  if (!list) {
    const rc = set.compiled.bundle.requiredContext;
    // Own entries only: an action named `constructor` must not find Object.prototype.constructor.
    const own = (key: string) => (Object.hasOwn(rc, key) ? (rc[key] ?? []) : []);
    list = [...own('*'), ...own(action)];
    byAction.set(action, list);
  }
  return list;
}

/** What decideInner hands back (a plain function, not a closure made on every decision). */
const decided = (contextDigest: string, principalId: string | undefined, result: DecisionResult) => ({
  result,
  contextDigest,
  principalId,
});

/**
 * A string as a key field: its length, then itself ('-' for none). A reader always knows where a value ends,
 * so a caller's id or type containing the separator can never make two different requests share a key.
 */
function pushField(parts: (string | number)[], value: string | null): void {
  if (value === null) parts.push('-');
  else parts.push(value.length, value);
}

/**
 * The decision-cache key: the request's parts, then the context's (see `contextKey`), joined once into one
 * flat string. No policy or inventory version: the cache is emptied when either changes, and nothing in
 * `decideInner` awaits between deciding and caching, so a result always matches the versions it was
 * decided on.
 */
function cacheKeyOf(
  principalId: string,
  req: DecisionRequest,
  contextParts: readonly (string | number)[],
): string {
  const parts: (string | number)[] = [];
  pushField(parts, principalId);
  pushField(parts, req.action);
  pushField(parts, req.resource.id);
  pushField(parts, req.resource.type ?? null);
  pushField(parts, hasProperties(req.resource.properties) ? JSON.stringify(req.resource.properties) : null);
  pushField(parts, hasProperties(req.principal.properties) ? JSON.stringify(req.principal.properties) : null);
  pushField(parts, hasProperties(req.actionProperties) ? JSON.stringify(req.actionProperties) : null);
  for (const p of contextParts) parts.push(p);
  return parts.join('|');
}

/**
 * Why a request must not reach Cedar, if it must not: a string that is not well-formed UTF-16 or a value
 * nested too deep (`input-limits.ts`). The HTTP API refuses these with a 400; this guards in-process
 * callers (the broker decides directly).
 */
function malformedRequest(req: DecisionRequest): string | undefined {
  // Every decision passes here (cache hits too), so the common case is a walk that allocates nothing.
  const { principal, resource } = req;
  if (
    isWellFormed(principal.id) &&
    (principal.type === undefined || isWellFormed(principal.type)) &&
    isWellFormed(req.action) &&
    isWellFormed(resource.id) &&
    (resource.type === undefined || isWellFormed(resource.type)) &&
    jsonIsClean(principal.properties) &&
    jsonIsClean(req.actionProperties) &&
    jsonIsClean(resource.properties) &&
    jsonIsClean(req.context)
  )
    return undefined;
  return describeMalformed(req);
}

/** Where and why a request `malformedRequest` refused is malformed. */
function describeMalformed(req: DecisionRequest): string | undefined {
  const strings: [string | undefined, string][] = [
    [req.principal.id, 'principal.id'],
    [req.principal.type, 'principal.type'],
    [req.action, 'action'],
    [req.resource.id, 'resource.id'],
    [req.resource.type, 'resource.type'],
  ];
  for (const [value, field] of strings) {
    if (value !== undefined && !isWellFormed(value)) return `${field} contains an unpaired UTF-16 surrogate`;
  }
  const values: [Record<string, unknown> | undefined, string][] = [
    [req.principal.properties, 'principal.properties'],
    [req.actionProperties, 'actionProperties'],
    [req.resource.properties, 'resource.properties'],
    [req.context, 'context'],
  ];
  for (const [value, field] of values) {
    const problem = hasProperties(value) ? jsonProblem(value, field) : undefined;
    if (problem) return `${problem.path} ${problem.message}`;
  }
  return undefined;
}

const deny = (policyVersion: number | null, id: string, message: string): DecisionResult => ({
  decision: false,
  reasons: [{ id: `bulkhead.${id}`, message }],
  obligations: [],
  policyVersion,
  cached: false,
});

export class PolicyDecisionPoint {
  private active: LoadedPolicySet | undefined;
  private stopped = false;
  /** Cached results (each a frozen `cached: true` result) tagged with their context digest. */
  private readonly cache: LruCache<DecisionResult, string>;
  /**
   * Context digests for the decision log, memoised: hashing on every cached decision would dominate it. A
   * digest is a function of its key alone, so entries never go stale; the map is emptied when full.
   */
  private readonly digests = new Map<string, string>();
  /** Cacheable results by content, as returned and as served from the cache (see `shared`). */
  private readonly sharedResults = new Map<
    string,
    readonly [fresh: DecisionResult, cached: DecisionResult]
  >();
  private pollTimer: NodeJS.Timeout | undefined;
  private readonly unsubscribe: () => void;
  private readonly versions: PolicyVersionStore;
  private unsubscribeFeed: (() => void) | undefined;
  private readonly clock: WallClock;
  private readonly activationListeners = new Set<(version: number) => void>();
  /** The refresh under way and the one waiting behind it (see `refreshActive`). */
  private refreshRunning: Promise<void> | undefined;
  private refreshQueued: Promise<void> | undefined;
  /** Bumped by every install, so a refresh can tell that a local activation overtook it. */
  private installs = 0;

  constructor(
    private readonly deps: PdpDeps,
    readonly options: PdpOptions = { cacheSize: 50_000, cacheTtlMs: 60_000 },
  ) {
    this.cache = new LruCache(options.cacheSize, options.cacheTtlMs);
    this.clock = wallClock(options.timeZone ?? 'UTC');
    this.versions = new PolicyVersionStore(deps.db, deps.audit, deps.now);
    const clear = () => this.cache.clear();
    deps.index.listeners.add(clear);
    this.unsubscribe = () => deps.index.listeners.delete(clear);
  }

  private digestOf(keyParts: readonly (string | number)[]): string {
    const key = contextKey(keyParts);
    let d = this.digests.get(key);
    if (d === undefined) {
      d = createHash('sha256').update(key).digest('hex').slice(0, 32);
      if (this.digests.size >= 10_000) this.digests.clear();
      this.digests.set(key, d);
    }
    return d;
  }

  /**
   * One frozen object per distinct result. Cached results live as long as their entries, so under many
   * distinct requests the garbage collector would otherwise copy thousands of equal reason lists from the
   * young generation to the old one; and the decision log serialises each shared list once. Returns the
   * result as decided and its twin with `cached: true`, which is what the cache keeps and serves.
   */
  private shared(result: DecisionResult): readonly [DecisionResult, DecisionResult] {
    // JSON, not a joined string: policy ids may contain any separator, and two different reason lists must
    // never share a key.
    const key = JSON.stringify([result.decision, result.policyVersion, result.reasons, result.obligations]);
    let s = this.sharedResults.get(key);
    if (s === undefined) {
      // Bounded: a policy set whose reason combinations are unbounded only loses the sharing.
      if (this.sharedResults.size >= 1024) this.sharedResults.clear();
      for (const r of result.reasons) Object.freeze(r);
      for (const o of result.obligations) Object.freeze(o);
      Object.freeze(result.reasons);
      Object.freeze(result.obligations);
      s = [Object.freeze(result), Object.freeze({ ...result, cached: true })] as const;
      this.sharedResults.set(key, s);
    }
    return s;
  }

  /** A built-in invariant's deny (no Cedar evaluation), with the request's context digest. */
  private refused(
    keyParts: readonly (string | number)[],
    principalId: string | undefined,
    version: number | null,
    id: string,
    message: string,
  ) {
    return decided(this.digestOf(keyParts), principalId, deny(version, id, message));
  }

  /** Caches a cacheable result (when the cache is on) and hands back the shared object to return. */
  private cached(cacheKey: string | undefined, digest: string, result: DecisionResult): DecisionResult {
    if (!cacheKey) return result;
    const [fresh, cachedTwin] = this.shared(result);
    this.cache.set(cacheKey, cachedTwin, digest);
    return fresh;
  }

  get index(): EntityIndex {
    return this.deps.index;
  }

  get activeVersion(): number | null {
    return this.active?.version ?? null;
  }

  get activeSet(): LoadedPolicySet | undefined {
    return this.active;
  }

  get cacheSize(): number {
    return this.cache.size;
  }

  /**
   * Loads the active version. Other replicas' activations and inventory changes arrive through the change
   * feed (PostgreSQL LISTEN/NOTIFY) within milliseconds; the poll every `pollMs` is the safety net for a
   * notification lost while the listener reconnected, and runs at once after each reconnect.
   */
  async start(pollMs = 2000): Promise<void> {
    await this.refreshActive();
    let running = false;
    const pollOnce = () => {
      if (running) return;
      running = true;
      Promise.all([
        this.refreshActive(),
        this.deps.index.pollChanges(this.deps.db as unknown as Kysely<Database>),
      ])
        .catch((err: unknown) => this.deps.log.error({ err }, 'policy/inventory refresh failed'))
        .finally(() => {
          running = false;
        });
    };
    const feed = this.deps.feed;
    if (feed?.distributed) {
      this.unsubscribeFeed = feed.subscribe(
        'policy',
        () => {
          this.refreshActive().catch((err: unknown) =>
            this.deps.log.error({ err }, 'could not load a policy version activated by another replica'),
          );
        },
        pollOnce,
      );
    }
    if (pollMs > 0) {
      this.pollTimer = setInterval(pollOnce, pollMs);
      this.pollTimer.unref();
    }
  }

  stop(): void {
    // A stopped PDP decides nothing (`no_policy`), so its Cedar sets can go.
    if (this.active) releasePolicySet(this.active);
    this.active = undefined;
    this.stopped = true;
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.unsubscribeFeed?.();
    this.unsubscribe();
  }

  /**
   * Runs `evaluations` throwaway Cedar evaluations of the active set over inventory identities, resources and
   * the set's actions, a millisecond's worth per event-loop turn, and resolves with how many ran. V8 first
   * runs cedar-wasm's code unoptimised and compiles the hot parts in the background only once they have run
   * for a while: measured here, the first ~2,000 evaluations of a process took ~160 µs each against ~80 µs
   * after, unless a few hundred ran and the compiler was given a second or two. Doing those at start-up means
   * the first real requests after a deploy are not the ones that pay. Nothing is logged, cached or published.
   */
  async warmUpEngine(evaluations: number): Promise<number> {
    const set = this.active;
    if (!set || evaluations <= 0) return 0;
    const index = this.deps.index;
    const fp = set.compiled.footprint;
    const actions = [...set.compiled.actions];
    const identities = firstOf(index.allIdentities(), 64);
    const resources = firstOf(index.allResources(), 64);
    const context = buildCedarContext({}, this.deps.now(), false, 'context', this.clock);
    if (!context.ok || actions.length === 0) return 0;
    let done = 0;
    while (done < evaluations && !this.stopped && this.active === set) {
      const sliceEnd = performance.now() + 1;
      do {
        if (identities.length === 0 || resources.length === 0) {
          warmUp(set);
        } else {
          const identity = identities[done % identities.length]!;
          const slice = index.resourceSlice({ id: resources[done % resources.length]!.id }, fp);
          evaluateCedar(set, {
            principal: EntityIndex.principalUid(identity),
            action: actions[done % actions.length]!,
            resource: slice.uid,
            context: prunedContext(context.context, fp),
            entities: index.requestEntities(identity, slice, undefined, undefined, fp),
          });
        }
        done++;
      } while (done < evaluations && performance.now() < sliceEnd);
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    return done;
  }

  /**
   * Loads the version the database says is active, one refresh at a time: the change feed and the poll both
   * ask, and two overlapping refreshes could finish out of order and install an older version over a newer
   * one (an emergency lockdown undone). A refresh asked for while one runs runs again after it, once for all
   * who asked meanwhile.
   */
  refreshActive(): Promise<void> {
    if (this.refreshQueued) return this.refreshQueued;
    const running = this.refreshRunning;
    if (!running) return this.runRefresh();
    const queued = running
      .catch(() => undefined)
      .then(() => {
        this.refreshQueued = undefined;
        return this.runRefresh();
      });
    this.refreshQueued = queued;
    return queued;
  }

  private runRefresh(): Promise<void> {
    const run: Promise<void> = this.loadActive().finally(() => {
      if (this.refreshRunning === run) this.refreshRunning = undefined;
    });
    this.refreshRunning = run;
    return run;
  }

  /**
   * Installs what is active, checking again just before installing: an activation committed (here or on
   * another replica) while the row was read wins, and the read starts over.
   */
  private async loadActive(): Promise<void> {
    for (;;) {
      const installs = this.installs;
      const active = await this.versions.activeVersion();
      if (active === undefined || active === this.active?.version) return;
      const v = await this.versions.row(active);
      const result = compileBundle(JSON.parse(v.bundle) as PolicyBundle);
      if ((await this.versions.activeVersion()) !== active || this.installs !== installs) continue;
      if (!result.ok) {
        // A stored version always compiled when pushed; keep the old set rather than fail open or empty.
        this.deps.log.error(
          { version: v.version, errors: result.errors },
          'stored policy version no longer compiles',
        );
        return;
      }
      this.install(v.version, result.compiled);
      return;
    }
  }

  private install(version: number, compiled: CompiledBundle): void {
    // A stopped PDP holds no Cedar sets (see `stop`); a late change-feed refresh must not load one again.
    if (this.stopped) return;
    this.installs++;
    const set = loadPolicySet(version, compiled);
    warmUp(set);
    retainPolicySet(set);
    const previous = this.active;
    this.active = set;
    // A decision that took the old set before an await takes the active one again after it (`decideInner`).
    if (previous) releasePolicySet(previous);
    this.cache.clear();
    this.sharedResults.clear();
    const evaluations = this.options.warmUpEvaluations ?? 0;
    if (evaluations > 0 && !engineWarmUpStarted) {
      engineWarmUpStarted = true;
      const started = performance.now();
      this.warmUpEngine(evaluations).then(
        (n) =>
          this.deps.log.debug(
            { evaluations: n, ms: Math.round(performance.now() - started) },
            'policy engine warmed up',
          ),
        (err: unknown) => this.deps.log.warn({ err }, 'policy engine warm-up failed'),
      );
    }
    for (const l of this.activationListeners) l(version);
  }

  /** Calls `listener` with each version this PDP starts deciding with; returns an unsubscribe function. */
  onActivated(listener: (version: number) => void): () => void {
    this.activationListeners.add(listener);
    return () => this.activationListeners.delete(listener);
  }

  /**
   * Checks a bundle without storing it: Cedar's findings come back as a result, text that must not reach
   * Cedar at all (too deep, an unpaired surrogate, too many policies) is a 400, as on push.
   */
  validate(bundle: PolicyBundle) {
    const refused = refusedTextIssue(bundle.policies);
    if (refused) {
      throw policyError(
        'POLICY_INVALID',
        refused.line
          ? `${refused.message} at line ${refused.line}, column ${refused.column}`
          : refused.message,
        { field: 'body.policies', extra: { errors: [refused] } },
      );
    }
    return compileBundle(bundle);
  }

  /** Stores a new version after validation; with `activate`, makes it the active one in the same transaction. */
  async push(
    bundle: PolicyBundle,
    opts: { comment?: string | undefined; activate: boolean },
    meta: WriteMeta,
  ): Promise<PolicyVersionInfo> {
    const result = compileBundle(bundle);
    if (!result.ok) {
      const first = result.errors[0];
      const where = first?.line ? ` at line ${first.line}, column ${first.column}` : '';
      throw policyError('POLICY_INVALID', `${first?.message ?? 'invalid policy'}${where}`, {
        field: 'body.policies',
        extra: { errors: result.errors },
      });
    }
    // Pre-parse before committing: a set Cedar refuses must never become the stored active version.
    discardUnusedPolicySet(loadPolicySet(0, result.compiled, false));
    const version = await this.versions.insert(bundle, result.compiled, opts, meta);
    if (opts.activate) {
      this.install(version, result.compiled);
      this.deps.feed?.publish('policy', { version });
    }
    return this.versions.describe(version);
  }

  async activate(version: number, meta: WriteMeta): Promise<PolicyVersionInfo> {
    const v = await this.versions.row(version);
    const result = compileBundle(JSON.parse(v.bundle) as PolicyBundle);
    if (!result.ok) {
      throw policyError(
        'POLICY_INVALID',
        `version ${version} no longer validates: ${result.errors[0]?.message ?? ''}`,
        {
          extra: { errors: result.errors },
        },
      );
    }
    discardUnusedPolicySet(loadPolicySet(version, result.compiled, false));
    await this.versions.activate(version, meta);
    this.install(version, result.compiled);
    this.deps.feed?.publish('policy', { version });
    return this.versions.describe(version);
  }

  describe(version: number, withBundle = false): Promise<PolicyVersionInfo> {
    return this.versions.describe(version, withBundle);
  }

  listVersions(): Promise<PolicyVersionInfo[]> {
    return this.versions.list();
  }

  /**
   * One decision. Throws a BulkheadError (400) only for malformed input such as a wrongly typed context
   * attribute; everything else, including internal failures, is a deny with a reason.
   */
  async decide(req: DecisionRequest, requestId?: string, opts: DecideOptions = {}): Promise<DecisionResult> {
    const t0 = performance.now();
    const now = this.deps.now();
    const sideEffects = opts.sideEffects ?? true;
    let result: DecisionResult;
    let contextDigest = '';
    let principalId = req.principal.id;
    try {
      const r = await this.decideInner(req, sideEffects, now);
      result = r.result;
      contextDigest = r.contextDigest;
      principalId = r.principalId ?? principalId;
    } catch (err) {
      if (isBulkheadError(err) && err.status < 500) throw err;
      this.deps.log.error({ err }, 'decision failed; denying');
      result = deny(this.active?.version ?? null, 'engine_error', 'internal error while deciding');
    }
    if (!sideEffects) return result;
    this.deps.decisionLog?.record({
      principal: principalId,
      action: req.action,
      resource: req.resource.id,
      contextDigest,
      decision: result.decision,
      reasons: result.reasons,
      obligations: result.obligations,
      policyVersion: result.policyVersion,
      latencyUs: (performance.now() - t0) * 1000,
      cached: result.cached,
      requestId,
      at: now,
    });
    return result;
  }

  private async decideInner(
    req: DecisionRequest,
    sideEffects: boolean,
    now: Date,
  ): Promise<{ result: DecisionResult; contextDigest: string; principalId: string | undefined }> {
    const raw = req.context ?? {};
    const approvalId = sideEffects && typeof raw.approval_id === 'string' ? raw.approval_id : undefined;
    const index = this.deps.index;
    if (index.hasPending()) await index.settle();
    // Taken after the await: a version switched meanwhile has had its Cedar sets emptied (see `install`).
    const set = this.active;
    const version = set?.version ?? null;
    const identity = index.resolveIdentity(req.principal.id);
    // Context is checked first so malformed input is a 400 whatever the principal.
    const provisional = buildCedarContext(raw, now, false, 'context', this.clock);
    if (!provisional.ok) {
      throw coreError('VALIDATION_FAILED', `${provisional.field}: ${provisional.message}`, {
        field: provisional.field,
      });
    }
    // The log names the inventory id even when the PEP used an alias (email, SPIFFE ID).
    const principalId = identity?.id;
    // A method, not a closure: this runs on every decision, and only the refusals below need it.
    const keyParts = provisional.keyParts;
    const malformed = malformedRequest(req);
    if (malformed) return this.refused(keyParts, principalId, version, 'malformed_request', malformed);
    if (!set) return this.refused(keyParts, principalId, version, 'no_policy', 'no policy version is active');
    const hole = index.unavailable();
    if (hole) return this.refused(keyParts, principalId, version, 'index_unavailable', hole);
    if (!identity)
      return this.refused(
        keyParts,
        principalId,
        version,
        'unknown_principal',
        `principal ${req.principal.id} is not in the inventory`,
      );
    if (!subjectTypeMatches(req.principal.type, identity)) {
      return this.refused(
        keyParts,
        principalId,
        version,
        'principal_type_mismatch',
        `principal ${identity.id} is a ${identity.kind}, not a ${req.principal.type}`,
      );
    }
    if (identity.status !== 'active') {
      return this.refused(
        keyParts,
        principalId,
        version,
        `principal_${identity.status}`,
        `principal ${identity.id} is ${identity.status}`,
      );
    }
    if (!set.compiled.actions.has(req.action)) {
      return this.refused(
        keyParts,
        principalId,
        version,
        'unknown_action',
        `action ${req.action} is not declared in policy version ${version}`,
      );
    }
    const missing: string[] = [];
    for (const a of requiredContextFor(set, req.action)) if (!provisional.supplied.has(a)) missing.push(a);
    if (missing.length > 0) {
      return this.refused(
        keyParts,
        principalId,
        version,
        'missing_attribute',
        `context is missing ${missing.map((m) => `context.${m}`).join(', ')}`,
      );
    }
    // A request naming an approval is never cached: its grant is consumed by the decision.
    const cacheKey =
      approvalId || !this.cache.enabled ? undefined : cacheKeyOf(identity.id, req, provisional.keyParts);
    if (cacheKey) {
      const hit = this.cache.entry(cacheKey);
      if (hit) return decided(hit.tag, principalId, hit.value);
    }
    const digest = this.digestOf(provisional.keyParts);
    const storeKey = sideEffects ? cacheKey : undefined;
    let approved = false;
    if (approvalId) {
      approved = await this.deps.approvals.isUsableGrant(
        approvalId,
        identity.id,
        req.action,
        req.resource.id,
      );
      // The only other await before Cedar: if the active version changed meanwhile, the old one's Cedar sets
      // are gone, so decide again under the new one (nothing was cached or consumed yet).
      if (this.active !== set) return this.decideInner(req, sideEffects, now);
    }
    const ctx = approved ? buildCedarContext(raw, this.deps.now(), true, 'context', this.clock) : provisional;
    if (!ctx.ok) throw new Error('unreachable: context validated above');
    const fp = set.compiled.footprint;
    const slice = index.resourceSlice(req.resource, fp);
    const started = performance.now();
    const outcome = evaluateCedar(set, {
      principal: EntityIndex.principalUid(identity),
      action: req.action,
      resource: slice.uid,
      context: prunedContext(ctx.context, fp),
      entities: index.requestEntities(identity, slice, req.principal.properties, req.actionProperties, fp),
    });
    if (outcome.kind === 'deny' && outcome.engineFailure !== undefined) {
      this.deps.log.error({ err: outcome.engineFailure, action: req.action }, 'Cedar failed; denying');
    }
    const budget = this.options.decisionTimeoutMs ?? 1000;
    if (performance.now() - started > budget) {
      return this.refused(
        keyParts,
        principalId,
        version,
        'engine_timeout',
        `policy evaluation took longer than ${budget} ms`,
      );
    }
    if (outcome.kind === 'allow') {
      if (approved && approvalId && !(await this.deps.approvals.consume(approvalId))) {
        return this.refused(
          keyParts,
          principalId,
          version,
          'approval_used',
          `approval ${approvalId} was already used or expired`,
        );
      }
      const result: DecisionResult = {
        decision: true,
        reasons: outcome.reasons,
        obligations: [],
        policyVersion: version,
        cached: false,
      };
      return decided(digest, principalId, this.cached(storeKey, digest, result));
    }
    const obligations: Obligation[] = [];
    // A Cedar failure is not an answer about this request: the next one asks again rather than reading a
    // cached deny until the entry expires.
    let cacheable = outcome.engineFailure === undefined;
    for (const ob of outcome.obligations) {
      if (ob.type !== 'approval_required') {
        obligations.push(ob);
        continue;
      }
      cacheable = false;
      if (!sideEffects) {
        obligations.push(ob);
        continue;
      }
      const approvers = (slice.known?.owners ?? []).filter((o) => !o.startsWith('team:'));
      const spec = set.compiled.obligations.get(ob.policy);
      const approval = await this.deps.approvals.requestFor({
        principalId: identity.id,
        action: req.action,
        resourceId: req.resource.id,
        approvers,
        policyIds: [ob.policy],
        justification: ctx.supplied.has('justification') ? (ctx.context.justification as string) : null,
        grantTtlMs: spec?.approvalTtlMinutes ? spec.approvalTtlMinutes * 60_000 : undefined,
      });
      obligations.push({ ...ob, approval_id: approval.id, approvers, expires_at: approval.expiresAt });
    }
    const result: DecisionResult = {
      decision: false,
      reasons: outcome.reasons,
      obligations,
      policyVersion: version,
      cached: false,
    };
    return decided(digest, principalId, this.cached(cacheable ? storeKey : undefined, digest, result));
  }
}
