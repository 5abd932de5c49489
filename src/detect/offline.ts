/**
 * Offline mode for investigators: run every detector over log files without a server. Files are streamed
 * (constant memory whatever their size); bad lines are counted and reported, never fatal.
 */
import { createReadStream, statSync } from 'node:fs';
import type { Alert } from './alert.js';
import { BaselineStore } from './baseline.js';
import { DEFAULT_DETECT_CONFIG, type DetectConfig } from './detector.js';
import { DetectionEngine } from './engine.js';
import type { ParseIssue } from './parse/issues.js';
import { readEvents, type InputFormat, type ReadStats } from './parse/reader.js';

/** Issues kept for the report; a file of garbage must not turn into a gigabyte of issue objects. */
export const MAX_REPORTED_ISSUES = 1000;

export interface OfflineOptions {
  format: InputFormat;
  /** Parsed contents of a `--baseline` file. */
  baseline?: unknown;
  config?: Partial<DetectConfig> | undefined;
  maxLineBytes?: number | undefined;
  onBytes?: ((n: number) => void) | undefined;
}

export interface OfflineResult {
  alerts: Alert[];
  issues: ParseIssue[];
  issueCount: number;
  stats: ReadStats;
  engine: DetectionEngine;
}

export function totalSize(paths: string[]): number {
  return paths.reduce((sum, p) => sum + statSync(p).size, 0);
}

export async function detectFiles(paths: string[], options: OfflineOptions): Promise<OfflineResult> {
  const config = { ...DEFAULT_DETECT_CONFIG, ...(options.config ?? {}) };
  const baselines = new BaselineStore(config.learningPeriodMs);
  if (options.baseline !== undefined) baselines.loadFile(options.baseline);
  const engine = new DetectionEngine({ config, baselines });
  const issues: ParseIssue[] = [];
  let issueCount = 0;
  const total: ReadStats = { lines: 0, events: 0, skipped: 0, issues: 0, bytes: 0 };
  for (const file of paths) {
    const stats = await readEvents(
      createReadStream(file, { highWaterMark: 256 * 1024 }),
      { format: options.format, maxLineBytes: options.maxLineBytes, onBytes: options.onBytes },
      {
        event: (e) => void engine.process(e),
        issue: (i) => {
          issueCount += 1;
          if (issues.length < MAX_REPORTED_ISSUES) issues.push({ ...i, file });
        },
      },
    );
    for (const k of Object.keys(total) as (keyof ReadStats)[]) total[k] += stats[k];
  }
  return { alerts: engine.alerts(), issues, issueCount, stats: total, engine };
}

/** The alert as printed offline and returned by the API (internal dedup key left out). */
export function publicAlert(alert: Alert): Omit<Alert, 'dedup_key'> {
  const { dedup_key: _omit, ...rest } = alert;
  return rest;
}
