/**
 * CLI: `bulkhead detect FILE...` (offline, no server) and `bulkhead alerts list` (server).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { CliError } from '../cli/client.js';
import { intOption, table, type CliContext } from '../cli/context.js';
import type { Alert } from './alert.js';
import { detectFiles, publicAlert, totalSize } from './offline.js';
import { INPUT_FORMATS, type InputFormat } from './parse/reader.js';

/** Files above this size get a progress bar on stderr. */
const PROGRESS_THRESHOLD_BYTES = 8 * 1024 * 1024;
const DAY_MS = 86_400_000;

interface DetectOptions {
  format: string;
  baseline?: string;
  saveBaseline?: string;
  learningDays?: number;
  progress: boolean;
  json?: boolean;
}

export function registerDetectCommands(program: Command, cli: CliContext): void {
  program
    .command('detect')
    .description(
      'Run every detector over CloudTrail, Kubernetes audit or NDJSON files (offline, no server needed)',
    )
    .argument('<files...>', 'log files (CloudTrail {"Records":[...]} or JSON lines)')
    .option('--format <format>', `input format: ${INPUT_FORMATS.join(', ')}`, 'auto')
    .option('--baseline <file>', 'learned baselines to compare against (written by --save-baseline)')
    .option('--save-baseline <file>', 'write the baselines learned from these files')
    .option(
      '--learning-days <days>',
      'learning period per identity in days',
      intOption('--learning-days', 0, 3650),
    )
    .option('--no-progress', 'no progress bar on stderr')
    .option('--json', 'print alerts as a JSON array')
    .action(async (files: string[], opts: DetectOptions) => {
      if (!(INPUT_FORMATS as readonly string[]).includes(opts.format)) {
        throw new CliError(`--format must be one of ${INPUT_FORMATS.join(', ')}`, 'BULKHEAD_CLI_BAD_OPTION');
      }
      let size: number;
      try {
        size = totalSize(files);
      } catch (err) {
        throw new CliError(
          `cannot read ${(err as NodeJS.ErrnoException).path ?? files.join(', ')}`,
          'BULKHEAD_CLI_BAD_FILE',
        );
      }
      let baseline: unknown;
      if (opts.baseline) {
        try {
          baseline = JSON.parse(readFileSync(opts.baseline, 'utf8'));
        } catch (err) {
          throw new CliError(
            `cannot read baseline ${opts.baseline}: ${(err as Error).message}`,
            'BULKHEAD_CLI_BAD_FILE',
          );
        }
      }
      const bar =
        opts.progress && size >= PROGRESS_THRESHOLD_BYTES
          ? new cliProgress.SingleBar(
              {
                stream: process.stderr,
                format: 'detect [{bar}] {percentage}% | {value}/{total} MB | ETA {eta}s',
                hideCursor: true,
              },
              cliProgress.Presets.shades_classic,
            )
          : undefined;
      let done = 0;
      bar?.start(Math.ceil(size / 1e6), 0);
      let result;
      try {
        result = await detectFiles(files, {
          format: opts.format as InputFormat,
          baseline,
          config:
            opts.learningDays === undefined ? undefined : { learningPeriodMs: opts.learningDays * DAY_MS },
          onBytes: bar
            ? (n) => {
                done += n;
                bar.update(Math.floor(done / 1e6));
              }
            : undefined,
        });
        bar?.update(Math.ceil(size / 1e6));
      } catch (err) {
        throw new CliError(`detect failed: ${(err as Error).message}`, 'BULKHEAD_CLI_DETECT_FAILED');
      } finally {
        bar?.stop();
      }
      if (opts.saveBaseline)
        writeFileSync(opts.saveBaseline, JSON.stringify(result.engine.baselines.toFile()));
      for (const i of result.issues.slice(0, 20)) {
        cli.stderr(`bulkhead: ${i.file ?? ''}:${i.unit} ${i.index}: ${i.code}: ${i.message}\n`);
      }
      if (result.issueCount > 20)
        cli.stderr(`bulkhead: … ${result.issueCount - 20} more bad lines skipped\n`);
      cli.stderr(
        `bulkhead: ${result.stats.events} events, ${result.issueCount} bad lines skipped, ${result.alerts.length} alerts\n`,
      );
      const alerts = result.alerts.map(publicAlert);
      cli.print(alerts, opts.json, () => renderAlerts(alerts));
    });

  const alerts = program.command('alerts').description('Detection alerts stored by the server');
  alerts
    .command('list')
    .description('List alerts, newest first')
    .option('--severity <severity>', 'only this severity or higher (low, medium, high, critical)')
    .option('--rule <rule_id>', 'only this rule')
    .option('--identity <id>', 'only this inventory identity id')
    .option('--limit <n>', 'at most this many', intOption('--limit', 1, 1000), 100)
    .option('--json', 'print JSON')
    .action(
      async (opts: {
        severity?: string;
        rule?: string;
        identity?: string;
        limit: number;
        json?: boolean;
      }) => {
        const res = await cli.client().get<{ items: Omit<Alert, 'dedup_key'>[] }>('/v1/alerts', {
          severity: opts.severity,
          rule_id: opts.rule,
          identity_id: opts.identity,
          limit: opts.limit,
        });
        cli.print(res.items, opts.json, () => renderAlerts(res.items));
      },
    );
}

function renderAlerts(alerts: Omit<Alert, 'dedup_key'>[]): string {
  if (alerts.length === 0) return 'no alerts';
  return table(
    ['severity', 'rule', 'identity', 'count', 'last seen', 'techniques'],
    alerts.map((a) => [
      a.severity,
      a.rule_id,
      a.identity_id ?? a.identity,
      a.count,
      a.last_seen,
      a.techniques.join(','),
    ]),
  );
}
