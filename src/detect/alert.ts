/**
 * Alerts and their deduplication. An ongoing pattern (same rule, same identity, same credential, same
 * detector-specific discriminator, new evidence within the dedup window) stays one alert whose count, evidence
 * and last_seen grow, so an attacker looping over 500 secrets is one alert, not 500.
 */
import { createHash } from 'node:crypto';
import type { EventSource, NormalizedEvent } from './event.js';

export const SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** What a detector returns for one event. */
export interface AlertDraft {
  rule_id: string;
  title: string;
  severity: Severity;
  /** MITRE ATT&CK technique ids, e.g. `T1078.004`. */
  techniques: string[];
  explanation: string;
  suggested_response: string;
  /** Evidence, oldest first; the current event is usually last. */
  evidence: NormalizedEvent[];
  /** Separates patterns of one rule on one identity (e.g. the network for new-source-network). */
  discriminator?: string | undefined;
  /** Shared Signals event this alert maps to. */
  signal?: 'credential-compromise' | 'session-revoked' | undefined;
  /** Groups occurrences across identities into one alert (e.g. every hop of one role chain). */
  groupKey?: string | undefined;
}

/** The alert shape printed offline and returned by `GET /v1/alerts`. */
export interface Alert {
  id: string;
  rule_id: string;
  title: string;
  severity: Severity;
  techniques: string[];
  /** As named in the source: ARN, user name, SA username, Bulkhead identity id. */
  identity: string;
  identity_id: string | null;
  unmanaged: boolean;
  credential: string | null;
  event_ids: string[];
  first_seen: string;
  last_seen: string;
  count: number;
  source: EventSource;
  explanation: string;
  suggested_response: string;
  signal: string | null;
  dedup_key: string;
}

const MAX_EVIDENCE_IDS = 100;
export const DEFAULT_DEDUP_WINDOW_MS = 60 * 60 * 1000;

export function dedupKey(draft: AlertDraft, key: string): string {
  if (draft.groupKey !== undefined) return `${draft.rule_id}|group:${draft.groupKey}`;
  const last = draft.evidence[draft.evidence.length - 1];
  return [draft.rule_id, key, last?.credential?.id ?? '', draft.discriminator ?? ''].join('|');
}

export function alertFromDraft(draft: AlertDraft, key: string): Alert {
  const first = draft.evidence[0];
  const last = draft.evidence[draft.evidence.length - 1];
  if (!first || !last) throw new Error(`detector ${draft.rule_id} produced an alert without evidence`);
  assertCompleteDraft(draft);
  const dk = dedupKey(draft, key);
  return {
    id: `alert-${createHash('sha256').update(`${dk}|${first.id}|${first.time}`).digest('hex').slice(0, 16)}`,
    rule_id: draft.rule_id,
    title: draft.title,
    severity: draft.severity,
    techniques: draft.techniques,
    identity: last.actor.name,
    identity_id: last.actor.identityId ?? null,
    unmanaged: last.actor.unmanaged === true,
    credential: last.credential?.id ?? null,
    event_ids: unique(draft.evidence.map((e) => e.id)).slice(0, MAX_EVIDENCE_IDS),
    first_seen: first.time,
    last_seen: last.time,
    count: 1,
    source: last.source,
    explanation: draft.explanation,
    suggested_response: draft.suggested_response,
    signal: draft.signal ?? null,
    dedup_key: dk,
  };
}

/**
 * A detector's draft must carry every field an alert is stored with: a draft with, say, no severity would
 * fail the whole batch's insert and take the other events' alerts down with it.
 */
function assertCompleteDraft(draft: AlertDraft): void {
  const text = { rule_id: draft.rule_id, title: draft.title, explanation: draft.explanation };
  for (const [field, value] of Object.entries(text)) {
    if (typeof value !== 'string' || value === '')
      throw new Error(`detector ${String(draft.rule_id)} produced an alert without ${field}`);
  }
  if (!(SEVERITIES as readonly unknown[]).includes(draft.severity))
    throw new Error(`detector ${draft.rule_id} produced an alert with severity ${String(draft.severity)}`);
  if (typeof draft.suggested_response !== 'string')
    throw new Error(`detector ${draft.rule_id} produced an alert without suggested_response`);
  if (!Array.isArray(draft.techniques) || !draft.techniques.every((t) => typeof t === 'string'))
    throw new Error(`detector ${draft.rule_id} produced an alert with malformed techniques`);
}

/** Folds a newer occurrence into an existing alert (in place). */
export function mergeAlert(existing: Alert, next: Alert): void {
  existing.count += next.count;
  if (next.last_seen > existing.last_seen) existing.last_seen = next.last_seen;
  if (next.first_seen < existing.first_seen) existing.first_seen = next.first_seen;
  if (existing.event_ids.length < MAX_EVIDENCE_IDS) {
    existing.event_ids = unique([...existing.event_ids, ...next.event_ids]).slice(0, MAX_EVIDENCE_IDS);
  }
  if (SEVERITIES.indexOf(next.severity) > SEVERITIES.indexOf(existing.severity))
    existing.severity = next.severity;
  existing.explanation = next.explanation;
}

/** In-memory deduplicating collector (offline mode; the server keeps the same logic over its table). */
export class AlertCollector {
  private readonly open = new Map<string, Alert>();
  private readonly all: Alert[] = [];
  /** Undo steps since `begin()`, newest last; undefined when no batch is being recorded. */
  private journal: (() => void)[] | undefined;

  /**
   * @param retainAll keep every alert for `list()` (offline); a server keeps only the open patterns, bounded
   *   by `maxOpen`, because its alerts live in the store.
   */
  constructor(
    private readonly windowMs = DEFAULT_DEDUP_WINDOW_MS,
    private readonly retainAll = true,
    private readonly maxOpen = 100_000,
  ) {}

  /** Re-opens a stored alert so that new evidence after a restart extends it instead of starting another. */
  adopt(alert: Alert): void {
    const existing = this.open.get(alert.dedup_key);
    if (!existing || existing.last_seen < alert.last_seen) this.open.set(alert.dedup_key, alert);
  }

  /**
   * Adds an alert; returns the alert it was merged into (same object) or the new one, whether it is new, and
   * whether merging raised its severity (worth announcing again: what was handled as medium is now critical).
   */
  add(alert: Alert): { alert: Alert; created: boolean; escalated: boolean } {
    const existing = this.open.get(alert.dedup_key);
    if (existing && Date.parse(alert.first_seen) - Date.parse(existing.last_seen) <= this.windowMs) {
      const before = SEVERITIES.indexOf(existing.severity);
      if (this.journal) {
        const saved = structuredClone(existing);
        this.journal.push(() => Object.assign(existing, saved));
      }
      mergeAlert(existing, alert);
      return { alert: existing, created: false, escalated: SEVERITIES.indexOf(existing.severity) > before };
    }
    const replaced = existing;
    this.open.delete(alert.dedup_key);
    let evicted: Alert | undefined;
    if (this.open.size >= this.maxOpen) {
      const oldest = this.open.keys().next().value;
      if (oldest !== undefined) {
        evicted = this.open.get(oldest);
        this.open.delete(oldest);
      }
    }
    this.open.set(alert.dedup_key, alert);
    if (this.retainAll) this.all.push(alert);
    this.journal?.push(() => {
      this.open.delete(alert.dedup_key);
      if (replaced) this.open.set(replaced.dedup_key, replaced);
      if (evicted) this.open.set(evicted.dedup_key, evicted);
      if (this.retainAll) this.all.pop();
    });
    return { alert, created: true, escalated: false };
  }

  /**
   * Records every change from now on so that `rollback()` can undo it. The server calls this before a batch:
   * an alert whose row failed to be stored must still be new (and announced) when the event is sent again.
   */
  begin(): void {
    this.journal = [];
  }

  /** The batch's alerts are stored: forget how to undo them. */
  commit(): void {
    this.journal = undefined;
  }

  /** Undoes every change since `begin()`, newest first. */
  rollback(): void {
    const journal = this.journal ?? [];
    this.journal = undefined;
    for (const undo of journal.reverse()) undo();
  }

  /**
   * Ends the patterns of these alerts (their incident was resolved): the same activity seen again is a new
   * alert, announced and handled again, not a count bump on one somebody already closed.
   */
  close(alertIds: ReadonlySet<string>): void {
    for (const [key, alert] of this.open) if (alertIds.has(alert.id)) this.open.delete(key);
  }

  list(): Alert[] {
    return [...this.all].sort((a, b) =>
      a.first_seen < b.first_seen ? -1 : a.first_seen > b.first_seen ? 1 : 0,
    );
  }
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}
