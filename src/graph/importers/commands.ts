/**
 * `bulkhead import <kind> FILE [--json]`: reads and parses the file locally (a truncated or malformed file
 * fails here with the parser's position), then sends it to the server, which imports it in one transaction.
 * Progress goes to stderr (a cli-progress bar on a terminal, one line per stage otherwise); results to stdout.
 */
import { createReadStream, statSync } from 'node:fs';
import { basename } from 'node:path';
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { ApiClient, CliError } from '../../cli/client.js';
import { table, type CliContext } from '../../cli/context.js';
import type { ImportReport } from './apply.js';
import type { LeakReport } from './leaks.js';

export const CLI_IMPORT_KINDS = ['aws-iam', 'k8s-rbac', 'yaml', 'leaks'] as const;

interface Progress {
  stage(name: string, total: number): void;
  update(value: number): void;
  stop(): void;
}

function progressFor(cli: CliContext, enabled: boolean): Progress {
  if (!enabled) return { stage: () => undefined, update: () => undefined, stop: () => undefined };
  if (!process.stderr.isTTY) {
    return { stage: (name) => cli.stderr(`${name}…\n`), update: () => undefined, stop: () => undefined };
  }
  const bar = new cliProgress.SingleBar(
    { format: '{stage} [{bar}] {percentage}% | {value}/{total}', stream: process.stderr, hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    stage(name, total) {
      if (!started) bar.start(total, 0, { stage: name.padEnd(10) });
      else bar.setTotal(total);
      started = true;
      bar.update(0, { stage: name.padEnd(10) });
    },
    update: (v) => bar.update(v),
    stop: () => bar.stop(),
  };
}

async function readWithProgress(file: string, progress: Progress): Promise<string> {
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    throw new CliError(`cannot read ${file}`, 'BULKHEAD_CLI_FILE_NOT_FOUND');
  }
  progress.stage('reading', size);
  const chunks: Buffer[] = [];
  let read = 0;
  for await (const chunk of createReadStream(file)) {
    const b = chunk as Buffer;
    chunks.push(b);
    read += b.length;
    progress.update(read);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export function parseImportFile(kind: string, text: string, file: string): unknown {
  if (text.trim().length === 0) throw new CliError(`${file} is empty`, 'BULKHEAD_IMPORT_INVALID');
  try {
    if (kind === 'yaml') return parseYaml(text) as unknown;
    if (kind === 'leaks' && !text.trimStart().startsWith('[')) {
      // trufflehog prints one JSON object per line.
      return text
        .split('\n')
        .filter((l) => l.trim().length > 0)
        .map((l) => JSON.parse(l) as unknown);
    }
    return JSON.parse(text) as unknown;
  } catch (err) {
    const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new CliError(
      `${file} is not valid ${kind === 'yaml' ? 'YAML' : 'JSON'} (truncated?): ${reason}`,
      'BULKHEAD_IMPORT_INVALID',
    );
  }
}

/** Large exports take longer than the default 30 s request timeout: imports wait up to 30 minutes. */
function importClient(cli: CliContext): ApiClient {
  return new ApiClient({
    baseUrl: cli.env.BULKHEAD_URL ?? 'http://127.0.0.1:8080',
    token: cli.env.BULKHEAD_TOKEN,
    timeoutMs: 30 * 60_000,
  });
}

export function registerImportCommands(program: Command, cli: CliContext): void {
  program
    .command('import <kind> <file>')
    .description(
      `import an export into the inventory and identity graph (kinds: ${CLI_IMPORT_KINDS.join(', ')})`,
    )
    .option('--json', 'print the import report as JSON')
    .option('--cluster <name>', 'k8s-rbac: the cluster name (default "default")')
    .option('--no-progress', 'no progress output on stderr')
    .action(
      async (kind: string, file: string, opts: { json?: boolean; progress: boolean; cluster?: string }) => {
        if (!(CLI_IMPORT_KINDS as readonly string[]).includes(kind)) {
          throw new CliError(
            `unknown import kind '${kind}' (known: ${CLI_IMPORT_KINDS.join(', ')})`,
            'BULKHEAD_IMPORT_UNKNOWN_KIND',
          );
        }
        const progress = progressFor(cli, opts.progress);
        let report: ImportReport | LeakReport;
        try {
          const text = await readWithProgress(file, progress);
          progress.stage('parsing', 1);
          const doc = parseImportFile(kind, text, file);
          progress.update(1);
          progress.stage('importing', 1);
          report = await importClient(cli).request<ImportReport | LeakReport>(
            'POST',
            `/v1/graph/imports/${kind}`,
            doc,
            {
              file_name: basename(file),
              cluster: opts.cluster,
            },
          );
          progress.update(1);
        } finally {
          progress.stop();
        }
        if ('matched' in report) printLeakReport(cli, report, opts.json);
        else printImportReport(cli, report, opts.json);
      },
    );
}

function printLeakReport(cli: CliContext, report: LeakReport, json: boolean | undefined): void {
  cli.print(report, json, () =>
    [
      `${report.findings} findings: ${report.matched.length} matched inventory credentials, ${report.unmatched.length} did not.`,
      ...(report.matched.length > 0
        ? [
            '',
            table(
              ['credential', 'identity', 'rule', 'location'],
              report.matched.map((m) => [m.credentialId, m.identityId, m.rule, m.location]),
              80,
            ),
          ]
        : []),
    ].join('\n'),
  );
}

function printImportReport(cli: CliContext, report: ImportReport, json: boolean | undefined): void {
  cli.print(report, json, () => {
    const p = report.principals;
    const lines = [
      `Imported ${report.scope}: ${p.created.length} principals created, ${p.updated.length} updated, ` +
        `${p.removed.length} removed, ${p.unchanged} unchanged; ${report.edges} graph edges.`,
    ];
    if (p.removed.length > 0) {
      lines.push(
        '',
        'REMOVED PRINCIPALS',
        table(
          ['name', 'principal id'],
          p.removed.map((r) => [r.name, r.principal_id]),
        ),
      );
    }
    if (report.warnings.length > 0) {
      lines.push(
        '',
        `WARNINGS (${report.warnings.length})`,
        table(
          ['code', 'field', 'message'],
          report.warnings.slice(0, 50).map((w) => [w.code, w.field, w.message]),
          100,
        ),
      );
    }
    return lines.join('\n');
  });
}
