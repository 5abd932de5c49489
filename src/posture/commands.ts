/** `bulkhead posture [--json|--sarif|--markdown] [--identity <id>] [--trend]`. */
import type { Command } from 'commander';
import { CliError } from '../cli/client.js';
import { table, type CliContext } from '../cli/context.js';
import { NHI_RISKS, type Finding, type PostureReport } from './model.js';
import type { TrendPoint } from './service.js';

export function registerPostureCommands(program: Command, cli: CliContext): void {
  program
    .command('posture')
    .description('NHI posture findings (OWASP NHI Top 10 2025, NIST CSF 2.0, ATT&CK) and scores')
    .option('--json', 'print the report as JSON')
    .option('--sarif', 'print SARIF 2.1.0')
    .option('--markdown', 'print a Markdown report')
    .option('--nhi <id>', 'only one risk, e.g. NHI7')
    .option('--min-severity <level>', 'critical, high, medium or low')
    .option('--trend', 'print the score trend instead of findings')
    .action(
      async (opts: {
        json?: boolean;
        sarif?: boolean;
        markdown?: boolean;
        nhi?: string;
        minSeverity?: string;
        trend?: boolean;
      }) => {
        if ([opts.json, opts.sarif, opts.markdown].filter(Boolean).length > 1) {
          throw new CliError('choose one of --json, --sarif, --markdown', 'BULKHEAD_CLI_BAD_OPTION');
        }
        const client = cli.client();
        if (opts.trend) {
          const t = await client.get<{ items: TrendPoint[] }>('/v1/posture/trend');
          cli.print(t, opts.json, () =>
            table(
              ['taken at', 'org score', 'findings'],
              t.items.map((p) => [p.takenAt, p.orgScore, p.findings]),
            ),
          );
          return;
        }
        const query = { nhi: opts.nhi, min_severity: opts.minSeverity };
        if (opts.sarif || opts.markdown) {
          const body = await client.get<unknown>('/v1/posture', {
            ...query,
            format: opts.sarif ? 'sarif' : 'markdown',
          });
          cli.stdout(
            typeof body === 'string'
              ? body.endsWith('\n')
                ? body
                : `${body}\n`
              : `${JSON.stringify(body, null, 2)}\n`,
          );
          return;
        }
        const report = await client.get<PostureReport>('/v1/posture', query);
        cli.print(report, opts.json, () => {
          const o = report.org;
          const lines = [
            `Organisation score ${o.score}/100 — ${o.identities} non-human identities, ${o.findings} findings ` +
              `(${o.bySeverity.critical} critical, ${o.bySeverity.high} high, ${o.bySeverity.medium} medium, ${o.bySeverity.low} low)`,
            '',
            table(
              ['risk', 'findings'],
              Object.entries(NHI_RISKS).map(([k, v]) => [`${k} ${v}`, o.byNhi[k as keyof typeof NHI_RISKS]]),
            ),
            '',
            table(
              ['severity', 'risk', 'subject', 'finding'],
              report.findings
                .slice(0, 50)
                .map((f: Finding) => [f.severity, f.nhi, f.credentialId ?? f.identityId, f.message]),
              100,
            ),
          ];
          if (report.findings.length > 50)
            lines.push(`(${report.findings.length - 50} more; use --json, --markdown or --sarif)`);
          return lines.join('\n');
        });
      },
    );
}
