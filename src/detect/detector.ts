/**
 * What a detector is: a named function over one normalized event plus the actor's baseline and the
 * detector's own bounded working state. Detectors are pure apart from that working state; the engine learns
 * the baseline after every detector has looked at the event, so "new" always means new before this event.
 */
import type { AlertDraft } from './alert.js';
import type { BaselineStore, CredentialBaseline, IdentityBaseline } from './baseline.js';
import type { NormalizedEvent } from './event.js';
import { NON_HUMAN_KINDS } from '../inventory/types.js';

export interface DetectConfig {
  learningPeriodMs: number;
  dormantAfterMs: number;
  secretsBurstThreshold: number;
  secretsBurstWindowMs: number;
  fanOutThreshold: number;
  fanOutWindowMs: number;
  chainWindowMs: number;
  novelStepsThreshold: number;
}

export const DEFAULT_DETECT_CONFIG: DetectConfig = {
  learningPeriodMs: 7 * 86_400_000,
  dormantAfterMs: 90 * 86_400_000,
  secretsBurstThreshold: 10,
  secretsBurstWindowMs: 10 * 60_000,
  fanOutThreshold: 4,
  fanOutWindowMs: 10 * 60_000,
  chainWindowMs: 60 * 60_000,
  novelStepsThreshold: 3,
};

export interface DetectorInput {
  event: NormalizedEvent;
  /** Baseline key of the actor (inventory id or stable principal). */
  key: string;
  baseline: IdentityBaseline | undefined;
  credentialBaseline: CredentialBaseline | undefined;
  /** The actor has been watched for the whole learning period. */
  learned: boolean;
  baselines: BaselineStore;
  config: DetectConfig;
}

export interface Detector {
  /** Rule ids this detector can raise. */
  readonly rules: readonly string[];
  inspect(input: DetectorInput): AlertDraft[] | undefined;
}

export type DetectorFactory = () => Detector;

/**
 * Whether the actor is a machine. The inventory kind decides when known; otherwise the source's actor type:
 * a Kubernetes service account or an assumed role that is not an SSO (human) permission set is a machine; an
 * IAM user with keys is `unknown` (a human's key and a service's key look the same in CloudTrail).
 */
export function machineness(event: NormalizedEvent): 'machine' | 'human' | 'unknown' {
  const kind = event.actor.kind;
  if (kind) {
    if (kind === 'human' || kind === 'break_glass' || kind === 'shared_account') return 'human';
    return NON_HUMAN_KINDS.includes(kind) ? 'machine' : 'unknown';
  }
  switch (event.actor.type) {
    case 'ServiceAccount':
      return 'machine';
    case 'AssumedRole': {
      const role = event.actor.principal ?? event.actor.name;
      if (/AWSReservedSSO_/.test(role) || (event.actor.sessionName ?? '').includes('@')) return 'human';
      return 'machine';
    }
    case 'User':
      // Kubernetes control-plane and node identities (system:node:…, system:kube-scheduler) are machines.
      return event.actor.name.startsWith('system:') ? 'machine' : 'human';
    case 'Root':
      return 'human';
    default:
      return 'unknown';
  }
}

/** A sliding window of timestamped values for one key, bounded in size. */
export class SlidingWindows<V> {
  private readonly windows = new Map<string, { t: number; v: V }[]>();

  constructor(
    private readonly maxKeys = 100_000,
    private readonly maxPerKey = 256,
  ) {}

  push(key: string, t: number, v: V, windowMs: number): { t: number; v: V }[] {
    let w = this.windows.get(key);
    if (!w) {
      if (this.windows.size >= this.maxKeys) {
        const oldest = this.windows.keys().next().value;
        if (oldest !== undefined) this.windows.delete(oldest);
      }
      w = [];
      this.windows.set(key, w);
    }
    w.push({ t, v });
    let drop = 0;
    while (drop < w.length && t - w[drop]!.t > windowMs) drop += 1;
    if (w.length - drop > this.maxPerKey) drop = w.length - this.maxPerKey;
    if (drop > 0) w.splice(0, drop);
    return w;
  }

  clear(key: string): void {
    this.windows.delete(key);
  }
}

export function describeActor(event: NormalizedEvent): string {
  const inv =
    event.actor.identityId && event.actor.identityId !== event.actor.name
      ? ` (${event.actor.identityId})`
      : '';
  return `${event.actor.name}${inv}`;
}

export function describeSource(event: NormalizedEvent): string {
  const parts = [
    event.src.ip ? `from ${event.src.ip}` : '',
    event.src.userAgent ? `with user agent "${truncate(event.src.userAgent, 80)}"` : '',
  ];
  return parts.filter(Boolean).join(' ');
}

export function truncate(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}
