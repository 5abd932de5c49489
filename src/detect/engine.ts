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
  processed = 0;

  constructor(options: EngineOptions = {}) {
    this.config = { ...DEFAULT_DETECT_CONFIG, ...(options.config ?? {}) };
    this.resolver = options.resolver ?? new ActorResolver();
    this.baselines = options.baselines ?? new BaselineStore(this.config.learningPeriodMs);
    this.detectors = options.detectors ?? allDetectors();
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
      const drafts = d.inspect(input);
      if (!drafts || drafts.length === 0) continue;
      updates ??= [];
      for (const draft of drafts) updates.push(this.collector.add(alertFromDraft(draft, key)));
    }
    this.baselines.learn(key, event);
    return updates ?? [];
  }

  alerts(): Alert[] {
    return this.collector.list();
  }
}
