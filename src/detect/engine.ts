/**
 * The detection engine: resolve the actor, run every detector over the event with the actor's baseline,
 * fold the drafts into deduplicated alerts, then learn from the event. Synchronous and in-memory, so the
 * same engine runs offline over a file and inside the server over the event stream.
 */
import { AlertCollector, alertFromDraft, DEFAULT_DEDUP_WINDOW_MS, type Alert } from './alert.js';
import { BaselineStore } from './baseline.js';
import { DEFAULT_DETECT_CONFIG, type DetectConfig, type Detector } from './detector.js';
import { allDetectors } from './detectors/index.js';
import type { NormalizedEvent } from './event.js';
import { ActorResolver, actorKey } from './resolve.js';

export interface EngineOptions {
  config?: Partial<DetectConfig> | undefined;
  resolver?: ActorResolver | undefined;
  baselines?: BaselineStore | undefined;
  detectors?: Detector[] | undefined;
  dedupWindowMs?: number | undefined;
  /** Keep every alert in memory for `alerts()` (offline mode); the server sets false. */
  retainAlerts?: boolean | undefined;
  /** Told when a detector throws on an event; that detector's result for that event is dropped. */
  onDetectorError?: ((err: unknown, rules: readonly string[], event: NormalizedEvent) => void) | undefined;
}

export interface AlertUpdate {
  alert: Alert;
  created: boolean;
  /** Merged into an existing alert and raised its severity. */
  escalated: boolean;
}

export class DetectionEngine {
  readonly config: DetectConfig;
  /** Replaced wholesale when the inventory changes. */
  resolver: ActorResolver;
  readonly baselines: BaselineStore;
  readonly collector: AlertCollector;
  private readonly detectors: Detector[];
  private readonly onDetectorError: EngineOptions['onDetectorError'];
  processed = 0;
  /** Detector runs that threw and were skipped (a counter since start). */
  detectorFailures = 0;

  constructor(options: EngineOptions = {}) {
    this.config = { ...DEFAULT_DETECT_CONFIG, ...(options.config ?? {}) };
    this.resolver = options.resolver ?? new ActorResolver();
    this.baselines = options.baselines ?? new BaselineStore(this.config.learningPeriodMs);
    this.detectors = options.detectors ?? allDetectors();
    this.onDetectorError = options.onDetectorError;
    this.collector = new AlertCollector(
      options.dedupWindowMs ?? DEFAULT_DEDUP_WINDOW_MS,
      options.retainAlerts ?? true,
    );
  }

  /** Runs one event through every detector; returns the alerts it created or extended. */
  process(event: NormalizedEvent): AlertUpdate[] {
    this.processed += 1;
    if (event.actor.identityId === undefined || event.actor.kind === undefined) this.resolver.resolve(event);
    const key = actorKey(event);
    const baseline = this.baselines.identity(key);
    const input = {
      event,
      key,
      baseline,
      credentialBaseline: event.credential ? this.baselines.credential(event.credential.id) : undefined,
      learned: this.baselines.isLearned(baseline, event.timeMs),
      baselines: this.baselines,
      config: this.config,
    };
    let updates: AlertUpdate[] | undefined;
    for (const d of this.detectors) {
      // One detector failing on one event (a bug, an input nobody foresaw) costs that result only: the
      // other detectors, and the other events of the batch, still raise their alerts.
      let alerts: Alert[];
      try {
        alerts = (d.inspect(input) ?? []).map((draft) => alertFromDraft(draft, key));
      } catch (err) {
        this.detectorFailures += 1;
        this.onDetectorError?.(err, d.rules, event);
        continue;
      }
      if (alerts.length === 0) continue;
      updates ??= [];
      for (const alert of alerts) updates.push(this.collector.add(alert));
    }
    this.baselines.learn(key, event);
    return updates ?? [];
  }

  alerts(): Alert[] {
    return this.collector.list();
  }
}
