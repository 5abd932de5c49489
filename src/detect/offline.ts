/**
 * Offline mode for investigators: run every detector over log files without a server. Files are streamed
 * (constant memory whatever their size); bad lines are counted and reported, never fatal.
 */
import { closeSync, createReadStream, openSync, readSync, statSync } from 'node:fs';
import { createGunzip } from 'node:zlib';
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
  // No store to evict to: an offline run keeps every baseline so `--save-baseline` writes them all.
  const baselines = new BaselineStore(config.learningPeriodMs, {
    identities: Number.POSITIVE_INFINITY,
    credentials: Number.POSITIVE_INFINITY,
  });
  if (options.baseline !== undefined) baselines.loadFile(options.baseline);
  const engine = new DetectionEngine({ config, baselines });
  const issues: ParseIssue[] = [];
  let issueCount = 0;
  const total: ReadStats = { lines: 0, events: 0, skipped: 0, issues: 0, bytes: 0 };
  for (const file of paths) {
    const raw = createReadStream(file, { highWaterMark: 256 * 1024 });
    // CloudTrail delivers `*.json.gz`; decompress on the fly (progress still counts bytes read from disk).
    let input: NodeJS.ReadableStream & AsyncIterable<Buffer | string> = raw;
    if (isGzipFile(file)) {
      const gunzip = createGunzip();
      raw.on('error', (err) => gunzip.destroy(err));
      input = raw.pipe(gunzip);
    }
    if (options.onBytes) raw.on('data', (c: Buffer | string) => options.onBytes?.(c.length));
    let stats: ReadStats;
    try {
      stats = await readEvents(
        input,
        { format: options.format, maxLineBytes: options.maxLineBytes },
        {
          event: (e) => void engine.process(e),
          issue: (i) => {
            issueCount += 1;
            if (issues.length < MAX_REPORTED_ISSUES) issues.push({ ...i, file });
          },
        },
      );
    } catch (err) {
      // A corrupt .gz or an I/O error ends this file; what was read so far counts, the next file is read.
      issueCount += 1;
      if (issues.length < MAX_REPORTED_ISSUES) {
        issues.push({
          index: 0,
          unit: 'line',
          code: 'BULKHEAD_DETECT_UNREADABLE_INPUT',
          message: err instanceof Error ? err.message : String(err),
          file,
        });
      }
      raw.destroy();
      continue;
    }
    for (const k of Object.keys(total) as (keyof ReadStats)[]) total[k] += stats[k];
  }
  return { alerts: engine.alerts(), issues, issueCount, stats: total, engine };
}

/** The alert as printed offline and returned by the API (internal dedup key left out). */
export function publicAlert(alert: Alert): Omit<Alert, 'dedup_key'> {
  const { dedup_key: _omit, ...rest } = alert;
  return rest;
}

/** True when the file starts with the gzip magic bytes (RFC 1952 §2.3.1). */
export function isGzipFile(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(2);
    return readSync(fd, head, 0, 2, 0) === 2 && head[0] === 0x1f && head[1] === 0x8b;
  } finally {
    closeSync(fd);
  }
}
