/**
 * Detection inside the server: one engine fed by `POST /v1/events` and by the bus (`decision`, `token.*`),
 * with the inventory as actor directory, baselines and alerts persisted in the store, new alerts published as
 * `alert.raised` and pushed as Shared Signals. Batches run one after another so the engine's state never sees
 * two writers.
 */
import type { AppContext } from '../app-context.js';
import { writeInRelaxedChunks } from '../store/durability.js';
import type { BulkheadEvent } from '../events/bus.js';
import type { Credential, Identity } from '../inventory/types.js';
import { DEFAULT_DEDUP_WINDOW_MS, type Alert } from './alert.js';
import { BaselineStore, DEFAULT_BASELINE_CAPS } from './baseline.js';
import { DEFAULT_DETECT_CONFIG, type DetectConfig } from './detector.js';
import { DetectionEngine, type AlertUpdate } from './engine.js';
import type { NormalizedEvent } from './event.js';
import { normalizeBulkheadEvent } from './parse/bulkhead-ndjson.js';
import type { ParseIssue } from './parse/issues.js';
import { readEvents, type InputFormat, type ReadStats } from './parse/reader.js';
import { ActorResolver, actorKey, discoveredIdentityFor } from './resolve.js';
import {
  audienceOf,
  pushSet,
  SetSigner,
  type DeliveryResult,
  type SecuritySignal,
  type SsfOptions,
  type SsfReceiver,
} from './ssf.js';
import {
  alertsOfIncidentsResolvedSince,
  detectDb,
  findBaselines,
  incidentsReadable,
  listAlerts,
  loadBaselines,
  baselineUpserts,
  upsertAlert,
  type BaselineRow,
} from './store.js';

export interface DetectServiceOptions {
  config?: Partial<DetectConfig> | undefined;
  ssf?: Omit<SsfOptions, 'issuer'> & { issuer?: string | undefined };
  maxLineBytes?: number | undefined;
  /** Baselines are written at most this often (and on stop); alerts are written with every batch. */
  baselineFlushMs?: number | undefined;
  limits?: Partial<DetectLimits> | undefined;
}

/**
 * Bounds on what attacker-chosen names can make detection hold or write. Every actor in a log is a key, so
 * a stream of made-up actors must cost neither unbounded memory nor an unbounded inventory.
 */
export interface DetectLimits {
  /** Identity / credential baselines in memory; the least recently seen beyond are evicted to the store. */
  maxIdentityBaselines: number;
  maxCredentialBaselines: number;
  /** Discovered actors remembered so they are not looked up again. */
  maxRememberedDiscoveries: number;
  /** New `discovered` identities created per minute at most; actors beyond still raise alerts, unrecorded. */
  discoveriesPerMinute: number;
}

export const DEFAULT_DETECT_LIMITS: DetectLimits = {
  maxIdentityBaselines: DEFAULT_BASELINE_CAPS.identities,
  maxCredentialBaselines: DEFAULT_BASELINE_CAPS.credentials,
  maxRememberedDiscoveries: 100_000,
  discoveriesPerMinute: 100,
};

export interface IngestReport {
  accepted: number;
  skipped: number;
  rejected: number;
  errors: ParseIssue[];
  alerts: { id: string; rule_id: string; created: boolean }[];
}

const MAX_REPORTED_ERRORS = 100;
/** Bus events handled in one batch at most (a burst larger than this is split). */
const MAX_BUS_BATCH = 1000;
const PAGE = 500;
/** Evicted baselines held for writing at most; beyond this they are written before the batch goes on. */
const MAX_EVICTED_PENDING = 10_000;

export class DetectService {
  readonly engine: DetectionEngine;
  signer: SetSigner | undefined;
  readonly deliveries: DeliveryResult[] = [];
  private queue: Promise<unknown> = Promise.resolve();
  private busBuffer: BulkheadEvent[] = [];
  private busDrain: NodeJS.Immediate | undefined;
  /**
   * Counts inventory changes; the resolver is rebuilt when it differs from the count its snapshot was read
   * at. A counter, not a flag: a flag cleared after detection's own write would also swallow an operator's
   * change that landed meanwhile.
   */
  private inventoryGeneration = 0;
  private resolverGeneration = -1;
  private readonly unsubscribe: (() => void)[] = [];
  private readonly discovered = new Set<string>();
  private readonly pushes = new Set<Promise<void>>();
  private lastBaselineFlush = 0;
  readonly limits: DetectLimits;
  /** Fixed one-minute window of discoveries. */
  private discoveryWindow = { start: 0, created: 0, warned: false };
  /** Unknown actors not inventoried because of `discoveriesPerMinute` (a counter since start). */
  discoveriesDeferred = 0;
  /** Incidents resolved from this time on end their alerts' patterns (undefined: respond is not running). */
  private resolvedSince: string | undefined;

  constructor(
    private readonly ctx: AppContext,
    private options: DetectServiceOptions = {},
  ) {
    const config = { ...DEFAULT_DETECT_CONFIG, ...(options.config ?? {}) };
    this.limits = { ...DEFAULT_DETECT_LIMITS, ...(options.limits ?? {}) };
    this.engine = new DetectionEngine({
      config,
      baselines: new BaselineStore(config.learningPeriodMs, {
        identities: this.limits.maxIdentityBaselines,
        credentials: this.limits.maxCredentialBaselines,
      }),
      retainAlerts: false,
      onDetectorError: (err, rules, event) =>
        this.ctx.log.error(
          { err, rules, eventId: event.id },
          'detector failed on an event; its result skipped',
        ),
    });
  }

  /** Replaces the Shared Signals receivers (e.g. after configuration changes). */
  setReceivers(receivers: SsfReceiver[]): void {
    this.options.ssf = { ...(this.options.ssf ?? {}), receivers };
  }

  ctxDb(): AppContext['db'] {
    return this.ctx.db;
  }

  get config(): DetectConfig {
    return this.engine.config;
  }

  async start(): Promise<void> {
    this.loadBaselineRows(await loadBaselines(detectDb(this.ctx.db), this.engine.baselines.caps));
    this.engine.baselines.takeDirty();
    // Patterns still open when the server stopped keep growing the same alert after a restart.
    const since = new Date(this.ctx.now().getTime() - DEFAULT_DEDUP_WINDOW_MS).toISOString();
    for (const a of await listAlerts(detectDb(this.ctx.db), { since, limit: 10_000 }))
      this.engine.collector.adopt(a);
    if (await incidentsReadable(this.ctx.db)) this.resolvedSince = since;
    this.signer = await SetSigner.create();
    this.unsubscribe.push(this.ctx.inventory.onChange(() => (this.inventoryGeneration += 1)));
    // Bus events are buffered and handled together once the current I/O turn is over: the decision or
    // token request that published them gets its response first, and a burst costs one batch, not one each.
    const fromBus = (event: BulkheadEvent) => {
      if (event.source === 'detect') return;
      this.busBuffer.push(event);
      if (this.busBuffer.length >= MAX_BUS_BATCH) void this.drainBus();
      else this.busDrain ??= setImmediate(() => void this.drainBus());
    };
    this.unsubscribe.push(this.ctx.events.subscribe('decision', fromBus));
    this.unsubscribe.push(this.ctx.events.subscribe('token.*', fromBus));
  }

  async stop(): Promise<void> {
    for (const u of this.unsubscribe) u();
    await this.idle();
    await this.flush();
  }

  /** Writes every baseline changed since the last write. */
  async flush(): Promise<void> {
    await this.enqueue(() => this.persist(true));
  }

  private drainBus(): Promise<void> {
    if (this.busDrain) clearImmediate(this.busDrain);
    this.busDrain = undefined;
    const events = this.busBuffer;
    if (events.length === 0) return Promise.resolve();
    this.busBuffer = [];
    return this.enqueue(() => this.ingestBusEvents(events));
  }

  /** Resolves once every queued batch (HTTP or bus) has been processed. */
  async idle(): Promise<void> {
    let current: Promise<unknown>;
    do {
      if (this.busBuffer.length > 0) void this.drainBus();
      current = this.queue;
      await current;
      await Promise.all([...this.pushes]);
    } while (current !== this.queue);
  }

  /** Ingests an NDJSON / CloudTrail / audit-log body; bad lines are reported, good ones processed. */
  async ingest(body: AsyncIterable<Buffer> | Buffer, format: InputFormat): Promise<IngestReport> {
    return this.enqueue(async () => {
      const events: NormalizedEvent[] = [];
      const errors: ParseIssue[] = [];
      const stats: ReadStats = await readEvents(
        Buffer.isBuffer(body) ? [body] : body,
        { format, maxLineBytes: this.options.maxLineBytes },
        {
          event: (e) => events.push(e),
          issue: (i) => {
            if (errors.length < MAX_REPORTED_ERRORS) errors.push(i);
          },
        },
      );
      const updates = await this.runBatch(events);
      return {
        accepted: stats.events,
        skipped: stats.skipped,
        rejected: stats.issues,
        errors,
        alerts: updates.map((u) => ({ id: u.alert.id, rule_id: u.alert.rule_id, created: u.created })),
      };
    });
  }

  private enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task, task);
    this.queue = run.catch((err: unknown) => this.ctx.log.error({ err }, 'detection batch failed'));
    return run;
  }

  private async ingestBusEvents(events: BulkheadEvent[]): Promise<void> {
    const normalized: NormalizedEvent[] = [];
    for (const event of events) {
      try {
        normalized.push(normalizeBulkheadEvent(event));
      } catch (err) {
        this.ctx.log.warn({ err, eventId: event.id, type: event.type }, 'unusable bus event skipped');
      }
    }
    await this.runBatch(normalized);
  }

  private async runBatch(events: NormalizedEvent[]): Promise<AlertUpdate[]> {
    if (events.length === 0) return [];
    await this.closeResolvedAlerts();
    for (const e of events) {
      if (this.resolverGeneration !== this.inventoryGeneration) await this.reloadInventory();
      if (!this.engine.resolver.resolve(e)) await this.discover(e);
    }
    const collector = this.engine.collector;
    collector.begin();
    let updates: AlertUpdate[];
    try {
      const byId = new Map<string, AlertUpdate>();
      // In chunks of at most half the cap, so a baseline read back for a chunk is not evicted before its turn.
      const caps = this.engine.baselines.caps;
      const chunk = Math.max(1, Math.min(1000, Math.floor(Math.min(caps.identities, caps.credentials) / 2)));
      for (let i = 0; i < events.length; i += chunk) {
        const part = events.slice(i, i + chunk);
        await this.restoreBaselines(part);
        for (const e of part) {
          for (const u of this.engine.process(e)) {
            const prev = byId.get(u.alert.id);
            byId.set(u.alert.id, {
              alert: u.alert,
              created: u.created || (prev?.created ?? false),
              escalated: u.escalated || (prev?.escalated ?? false),
            });
          }
        }
        if (this.engine.baselines.evictedPending >= MAX_EVICTED_PENDING) await this.persist(true);
      }
      updates = [...byId.values()];
      await this.storeAlerts(updates);
      collector.commit();
    } catch (err) {
      collector.rollback();
      throw err;
    }
    await this.persist();
    for (const u of updates) if (u.created || u.escalated) this.announce(u.alert);
    return updates;
  }

  /** Reads back the stored baselines of actors seen again after the cap evicted them from memory. */
  private async restoreBaselines(events: NormalizedEvent[]): Promise<void> {
    const baselines = this.engine.baselines;
    const identities = new Set<string>();
    const credentials = new Set<string>();
    for (const e of events) {
      const key = actorKey(e);
      if (!baselines.holds('identity', key)) identities.add(key);
      if (e.credential && !baselines.holds('credential', e.credential.id)) credentials.add(e.credential.id);
    }
    const db = detectDb(this.ctx.db);
    if (identities.size > 0) this.loadBaselineRows(await findBaselines(db, 'identity', [...identities]));
    if (credentials.size > 0) this.loadBaselineRows(await findBaselines(db, 'credential', [...credentials]));
  }

  private loadBaselineRows(rows: BaselineRow[]): void {
    for (const row of rows) {
      try {
        if (row.kind === 'identity') this.engine.baselines.loadIdentity(row.key, row.state);
        else this.engine.baselines.loadCredential(row.key, row.state);
      } catch (err) {
        this.ctx.log.warn({ err, key: row.key }, 'skipping unreadable detection baseline');
      }
    }
  }

  /**
   * Once an alert's incident is resolved, the same activity must open a new incident and page again rather than
   * only bump the count of an alert nobody is looking at: its pattern is closed before the next batch.
   */
  private async closeResolvedAlerts(): Promise<void> {
    if (this.resolvedSince === undefined) return;
    try {
      const { alertIds, latest } = await alertsOfIncidentsResolvedSince(this.ctx.db, this.resolvedSince);
      if (alertIds.size > 0) this.engine.collector.close(alertIds);
      if (latest !== undefined) this.resolvedSince = latest;
    } catch (err) {
      this.ctx.log.warn({ err }, 'could not read resolved incidents; alerts keep merging for now');
    }
  }

  private async reloadInventory(): Promise<void> {
    const generation = this.inventoryGeneration;
    const identities: Identity[] = [];
    const credentials: Credential[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.ctx.inventory.listIdentities({ limit: PAGE, cursor });
      identities.push(...page.items);
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
    do {
      const page = await this.ctx.inventory.listCredentials({ limit: PAGE, cursor });
      credentials.push(...page.items);
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
    this.engine.resolver = new ActorResolver({ identities, credentials });
    this.resolverGeneration = generation;
  }

  /** Records an actor nobody inventoried as a `discovered` identity labelled `unmanaged=true`. */
  private async discover(event: NormalizedEvent): Promise<void> {
    const proposal = discoveredIdentityFor(event);
    if (this.discovered.has(proposal.id)) {
      this.discovered.delete(proposal.id);
      this.discovered.add(proposal.id);
      this.engine.resolver.resolve(event);
      return;
    }
    if (!this.mayDiscover(event)) return;
    this.discovered.add(proposal.id);
    if (this.discovered.size > this.limits.maxRememberedDiscoveries)
      this.discovered.delete(this.discovered.values().next().value!);
    const before = this.inventoryGeneration;
    try {
      const existing = await this.ctx.inventory.findIdentity(proposal.id);
      const identity =
        existing ??
        (await this.ctx.inventory.createIdentity(
          {
            ...proposal,
            spiffeId: null,
            owners: [],
            groups: [],
            environment: 'unknown',
            source: 'discovered',
            labels: { unmanaged: 'true', 'discovered-from': event.source },
            status: 'active',
            lastSeenAt: event.time,
          },
          { actor: 'detect' },
        ));
      this.engine.resolver.addIdentity(identity);
      // Our own write is already in the resolver: skip the reload only if it was the one change meanwhile.
      if (!existing && this.resolverGeneration === before && this.inventoryGeneration === before + 1)
        this.resolverGeneration = this.inventoryGeneration;
    } catch (err) {
      this.ctx.log.warn({ err, actor: event.actor.name }, 'could not record discovered identity');
    }
    this.engine.resolver.resolve(event);
    event.actor.unmanaged = true;
  }

  /**
   * Spends one of this minute's discoveries. Beyond the budget the actor stays unmanaged and uninventoried
   * (its events still go through every detector), with one warning per minute.
   */
  private mayDiscover(event: NormalizedEvent): boolean {
    const now = this.ctx.now().getTime();
    if (now - this.discoveryWindow.start >= 60_000 || now < this.discoveryWindow.start)
      this.discoveryWindow = { start: now, created: 0, warned: false };
    const w = this.discoveryWindow;
    if (w.created < this.limits.discoveriesPerMinute) {
      w.created += 1;
      return true;
    }
    if (!w.warned) {
      w.warned = true;
      this.ctx.log.warn(
        { actor: event.actor.name, limit: this.limits.discoveriesPerMinute },
        'discovery limit reached: further unknown actors this minute are not inventoried',
      );
    }
    this.discoveriesDeferred += 1;
    return false;
  }

  /** Alerts are fsynced like every change, all of a batch in one transaction. */
  private async storeAlerts(updates: AlertUpdate[]): Promise<void> {
    if (updates.length === 0) return;
    const now = this.ctx.now().toISOString();
    await this.ctx.db.transaction().execute(async (trx) => {
      for (const u of updates) await upsertAlert(detectDb(trx), u.alert, now);
    });
  }

  private async persist(forceBaselines = false): Promise<void> {
    const flushBaselines =
      forceBaselines || Date.now() - this.lastBaselineFlush >= (this.options.baselineFlushMs ?? 2000);
    if (flushBaselines) this.lastBaselineFlush = Date.now();
    const dirty = flushBaselines ? this.engine.baselines.takeDirty() : { identities: [], credentials: [] };
    const keys = [
      ...dirty.identities.map((key) => ({ kind: 'identity' as const, key })),
      ...dirty.credentials.map((key) => ({ kind: 'credential' as const, key })),
    ];
    if (keys.length === 0) return;
    const now = this.ctx.now().toISOString();
    // Baselines are rebuilt from events, so they are serialised and written a few at a time in relaxed
    // commits that never hold up requests for long (src/store/durability.ts).
    await writeInRelaxedChunks(this.ctx.db, keys, 25, (chunk) => {
      const rows: BaselineRow[] = [];
      for (const { kind, key } of chunk) {
        const state =
          kind === 'identity'
            ? this.engine.baselines.serializeIdentity(key)
            : this.engine.baselines.serializeCredential(key);
        if (state) rows.push({ kind, key, state });
      }
      return baselineUpserts(detectDb(this.ctx.db), rows, now).map((q) => q.compile());
    });
  }

  private announce(alert: Alert): void {
    this.ctx.events.publish({
      id: alert.id,
      time: alert.last_seen,
      type: 'alert.raised',
      source: 'detect',
      identityId: alert.identity_id ?? undefined,
      action: alert.rule_id,
      data: {
        rule_id: alert.rule_id,
        severity: alert.severity,
        techniques: alert.techniques,
        identity: alert.identity,
        credential: alert.credential,
        event_ids: alert.event_ids,
        title: alert.title,
      },
    });
    const push = this.pushSignals(alert).finally(() => this.pushes.delete(push));
    this.pushes.add(push);
  }

  /**
   * Signs a signal and pushes it to every configured receiver (used by containment's `notify`); one result per
   * receiver, none when no receiver is configured.
   */
  async pushSignal(signal: SecuritySignal): Promise<DeliveryResult[]> {
    const ssf = this.options.ssf;
    const signer = this.signer;
    if (!ssf || ssf.receivers.length === 0 || !signer) return [];
    const issuer = ssf.issuer ?? 'urn:bulkhead:detect';
    const out: DeliveryResult[] = [];
    for (const receiver of ssf.receivers) {
      const set = await signer.signSignal(signal, issuer, audienceOf(receiver), this.ctx.now());
      const result = await pushSet(set, receiver, { ...ssf, issuer });
      this.deliveries.push(result);
      if (this.deliveries.length > 1000) this.deliveries.shift();
      out.push(result);
    }
    return out;
  }

  private async pushSignals(alert: Alert): Promise<void> {
    const ssf = this.options.ssf;
    if (!ssf || ssf.receivers.length === 0 || !this.signer) return;
    const issuer = ssf.issuer ?? 'urn:bulkhead:detect';
    for (const receiver of ssf.receivers) {
      try {
        const set = await this.signer.sign(alert, issuer, audienceOf(receiver), this.ctx.now());
        if (!set) return;
        const result = await pushSet(set, receiver, { ...ssf, issuer });
        this.deliveries.push(result);
        if (this.deliveries.length > 1000) this.deliveries.shift();
        if (!result.ok) {
          this.ctx.log.warn(
            { receiver: receiver.url, status: result.status, err: result.err },
            'SET push failed',
          );
        }
      } catch (err) {
        this.ctx.log.error({ err, receiver: receiver.url }, 'SET push failed');
      }
    }
  }
}
