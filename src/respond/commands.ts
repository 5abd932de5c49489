/**
 * CLI: `bulkhead tier`, `bulkhead incidents list|show|ack|resolve|approve|restore`, `bulkhead playbooks
 * list|show|put|dry-run`, `bulkhead leaks import FILE`, `bulkhead rotate CRED` and `bulkhead rotations`.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { CliError } from '../cli/client.js';
import { intOption, table, type CliContext } from '../cli/context.js';
import type { BreakGlassSession } from './breakglass.js';
import type { PlannedStep } from './plan.js';
import type { Rotation, RotationPreview } from './rotation.js';
import type { DryRunResult, IncidentDetail, LeakImportResult } from './service.js';
import type { Incident } from './store.js';
import type { TierResult } from './tiers.js';

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(
      `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
      'BULKHEAD_CLI_BAD_FILE',
    );
  }
}

const ms = (v: number | null) => (v === null ? '-' : v < 10_000 ? `${v} ms` : `${(v / 1000).toFixed(1)} s`);

function renderIncidents(items: Incident[]): string {
  if (items.length === 0) return 'no incidents';
  return table(
    ['id', 'state', 'tier', 'severity', 'identity', 'owner', 'ttd', 'ttc', 'title'],
    items.map((i) => [
      i.id,
      i.state,
      i.tier,
      i.severity,
      i.identityId,
      i.owner,
      ms(i.timeToDetectMs),
      ms(i.timeToContainMs),
      i.title,
    ]),
  );
}

function renderSteps(steps: PlannedStep[] | IncidentDetail['runs'][number]['steps']): string {
  return table(
    ['step', 'action', 'disposition', 'status', 'breaks', 'reason'],
    steps.map((s) => [
      s.stepId,
      s.action,
      s.disposition,
      'status' in s ? s.status : '-',
      [...new Set(s.breaks.map((b) => b.identityId))].join(',') || '-',
      s.reason,
    ]),
    60,
  );
}

function renderIncident(i: IncidentDetail): string {
  const head = [
    `${i.id}  ${i.state}  ${i.tier ?? '-'}  ${i.severity}`,
    i.title,
    `identity ${i.identityId ?? '-'}  credential ${i.credentialId ?? '-'}  owner ${i.owner ?? '-'}`,
    `time to detect ${ms(i.timeToDetectMs)}  time to contain ${ms(i.timeToContainMs)}`,
    '',
    'timeline:',
    ...i.timeline.map((t) => `  ${t.at}  ${t.kind.padEnd(18)} ${t.message}`),
  ];
  for (const r of i.runs) {
    head.push(
      '',
      `run ${r.id}: ${r.playbookId}@${r.playbookVersion} ${r.dryRun ? '(dry run) ' : ''}${r.state}`,
      renderSteps(r.steps),
    );
  }
  return head.join('\n');
}

function renderRotation(r: Rotation): string {
  const lines = [
    `${r.id}  ${r.state}  ${r.oldCredentialId} → ${r.newCredentialId}  overlap until ${r.overlapEndsAt}`,
    `consumers: ${r.consumers.join(', ') || 'none'}`,
  ];
  if (r.report) {
    lines.push(`switched: ${r.report.switched.join(', ') || 'none'}`);
    lines.push(
      `still on the old credential: ${r.report.stillOnOld.map((s) => `${s.consumer}${s.lastOldUseAt ? ` (last used ${s.lastOldUseAt})` : ''}`).join(', ') || 'none'}`,
    );
  }
  return lines.join('\n');
}

export function registerRespondCommands(program: Command, cli: CliContext): void {
  program
    .command('tier')
    .description('Crisis tier (T0-T3) of an identity with its reasons, or of every identity')
    .argument('[identity]', 'identity id (all identities when omitted)')
    .option('--tier <tier>', 'only identities of this tier (T0, T1, T2, T3)')
    .option('--json', 'print JSON')
    .action(async (identity: string | undefined, opts: { tier?: string; json?: boolean }) => {
      if (opts.tier && !['T0', 'T1', 'T2', 'T3'].includes(opts.tier)) {
        throw new CliError('--tier must be one of T0, T1, T2, T3', 'BULKHEAD_CLI_BAD_OPTION');
      }
      if (identity) {
        const t = await cli.client().get<TierResult>(`/v1/identities/${encodeURIComponent(identity)}/tier`);
        cli.print(t, opts.json, () =>
          [`${t.identityId}: ${t.tier}`, ...t.reasons.map((r) => `  ${r.tier} ${r.code}: ${r.message}`)].join(
            '\n',
          ),
        );
        return;
      }
      const items: TierResult[] = [];
      let cursor: string | undefined;
      do {
        const page = await cli
          .client()
          .get<{ items: TierResult[]; next_cursor: string | null }>('/v1/tiers', {
            tier: opts.tier,
            limit: 500,
            cursor,
          });
        items.push(...page.items);
        cursor = page.next_cursor ?? undefined;
      } while (cursor);
      // The server pages in id order; the listing shows the most critical first.
      items.sort((a, b) => a.tier.localeCompare(b.tier) || a.identityId.localeCompare(b.identityId));
      cli.print(items, opts.json, () =>
        table(
          ['identity', 'tier', 'why'],
          items.map((t) => [t.identityId, t.tier, t.reasons[0]?.message]),
          80,
        ),
      );
    });

  const incidents = program
    .command('incidents')
    .description('Incidents: grouped alerts, containment, timeline');
  incidents
    .command('list')
    .description('List incidents, newest first')
    .option('--state <state>', 'open, contained or resolved')
    .option('--identity <id>', 'only this identity')
    .option('--limit <n>', 'at most this many', intOption('--limit', 1, 500), 50)
    .option('--json', 'print JSON')
    .action(async (opts: { state?: string; identity?: string; limit: number; json?: boolean }) => {
      const res = await cli.client().get<{ items: Incident[] }>('/v1/incidents', {
        state: opts.state,
        identity_id: opts.identity,
        limit: opts.limit,
      });
      cli.print(res.items, opts.json, () => renderIncidents(res.items));
    });
  incidents
    .command('show')
    .description('One incident with its timeline and playbook steps')
    .argument('<id>')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { json?: boolean }) => {
      const i = await cli.client().get<IncidentDetail>(`/v1/incidents/${encodeURIComponent(id)}`);
      cli.print(i, opts.json, () => renderIncident(i));
    });
  incidents
    .command('ack')
    .description('Acknowledge an incident')
    .argument('<id>')
    .option('--owner <owner>', 'take ownership as this person or team')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { owner?: string; json?: boolean }) => {
      const i = await cli
        .client()
        .post<IncidentDetail>(
          `/v1/incidents/${encodeURIComponent(id)}/ack`,
          opts.owner ? { owner: opts.owner } : {},
        );
      cli.print(i, opts.json, () => `${i.id} acknowledged (owner ${i.owner ?? '-'})`);
    });
  incidents
    .command('resolve')
    .description('Resolve an incident')
    .argument('<id>')
    .option('--note <text>', 'resolution note')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { note?: string; json?: boolean }) => {
      const i = await cli
        .client()
        .post<IncidentDetail>(
          `/v1/incidents/${encodeURIComponent(id)}/resolve`,
          opts.note ? { note: opts.note } : {},
        );
      cli.print(i, opts.json, () => `${i.id} resolved`);
    });
  incidents
    .command('approve')
    .description('Approve a playbook step that waits for a human')
    .argument('<id>', 'incident id')
    .argument('<step>', 'step id')
    .option('--json', 'print JSON')
    .action(async (id: string, step: string, opts: { json?: boolean }) => {
      const i = await cli
        .client()
        .post<IncidentDetail>(
          `/v1/incidents/${encodeURIComponent(id)}/steps/${encodeURIComponent(step)}/approve`,
        );
      cli.print(i, opts.json, () => renderIncident(i));
    });
  incidents
    .command('restore')
    .description('Undo a narrow_permissions step: give the credentials back the scopes it removed')
    .argument('<id>', 'incident id')
    .argument('<step>', 'step id')
    .option('--json', 'print JSON')
    .action(async (id: string, step: string, opts: { json?: boolean }) => {
      const r = await cli
        .client()
        .post<{ restored: string[]; skipped: { credentialId: string; why: string }[] }>(
          `/v1/incidents/${encodeURIComponent(id)}/steps/${encodeURIComponent(step)}/restore`,
        );
      cli.print(r, opts.json, () =>
        [
          `restored: ${r.restored.join(', ') || 'none'}`,
          ...r.skipped.map((x) => `  ${x.credentialId}: ${x.why}`),
        ].join('\n'),
      );
    });

  const playbooks = program.command('playbooks').description('Containment playbooks (YAML, versioned)');
  playbooks
    .command('list')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const res = await cli
        .client()
        .get<{ items: { id: string; version: number; mode: string; priority: number; steps: string[] }[] }>(
          '/v1/playbooks',
        );
      cli.print(res.items, opts.json, () =>
        table(
          ['id', 'version', 'mode', 'priority', 'steps'],
          res.items.map((p) => [p.id, p.version, p.mode, p.priority, p.steps.join(',')]),
          80,
        ),
      );
    });
  playbooks
    .command('show')
    .argument('<id>')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { json?: boolean }) => {
      const p = await cli.client().get<{ yaml: string }>(`/v1/playbooks/${encodeURIComponent(id)}`);
      cli.print(p, opts.json, () => p.yaml);
    });
  playbooks
    .command('put')
    .description('Validate and store a playbook YAML file as a new version')
    .argument('<file>')
    .option('--json', 'print JSON')
    .action(async (file: string, opts: { json?: boolean }) => {
      const p = await cli
        .client()
        .post<{ id: string; version: number; playbook: { mode: string } }>('/v1/playbooks', {
          yaml: readText(file),
        });
      cli.print(p, opts.json, () => `${p.id} version ${p.version} stored (${p.playbook.mode})`);
    });
  playbooks
    .command('dry-run')
    .description('Show what a playbook would do for an alert; changes nothing')
    .requiredOption('--rule <rule_id>', 'alert rule id, e.g. leaked-secret')
    .option('--severity <severity>', 'low, medium, high or critical', 'high')
    .option('--identity <id>', 'identity the alert is about')
    .option('--credential <id>', 'credential the alert is about')
    .option('--playbook <id>', 'this playbook instead of the matching one')
    .option('--json', 'print JSON')
    .action(
      async (opts: {
        rule: string;
        severity: string;
        identity?: string;
        credential?: string;
        playbook?: string;
        json?: boolean;
      }) => {
        const r = await cli.client().post<DryRunResult>('/v1/playbooks/dry-run', {
          alert: {
            id: 'dry-run',
            rule_id: opts.rule,
            severity: opts.severity,
            ...(opts.identity ? { identity_id: opts.identity } : {}),
            ...(opts.credential ? { credential: opts.credential } : {}),
          },
          ...(opts.playbook ? { playbook: opts.playbook } : {}),
        });
        cli.print(r, opts.json, () =>
          r.playbook
            ? `${r.playbook.id}@${r.playbook.version} (${r.playbook.mode}) on ${r.facts.identityId ?? '-'} ${r.facts.tier}\n${renderSteps(r.steps)}`
            : 'no playbook matches',
        );
      },
    );

  const leaks = program.command('leaks').description('Leaked-secret intake');
  leaks
    .command('import')
    .description(
      'Import a gitleaks (JSON) or trufflehog (JSON lines) report; matched credentials are revoked',
    )
    .argument('<file>')
    .option('--format <format>', 'auto, gitleaks or trufflehog', 'auto')
    .option('--json', 'print JSON')
    .action(async (file: string, opts: { format: string; json?: boolean }) => {
      if (!['auto', 'gitleaks', 'trufflehog'].includes(opts.format)) {
        throw new CliError('--format must be auto, gitleaks or trufflehog', 'BULKHEAD_CLI_BAD_OPTION');
      }
      const text = readText(file);
      let report: unknown;
      try {
        report = JSON.parse(text);
      } catch {
        // trufflehog --json writes one finding per line
        try {
          report = text
            .split('\n')
            .filter((l) => l.trim() !== '')
            .map((l) => JSON.parse(l) as unknown);
        } catch {
          throw new CliError(`${file} is neither JSON nor JSON lines`, 'BULKHEAD_CLI_BAD_FILE');
        }
      }
      const r = await cli
        .client()
        .request<LeakImportResult>('POST', '/v1/leaks', report, { format: opts.format });
      // Exit 2 when a matched credential was not (yet) contained: someone must act.
      if (r.matched.some((m) => m.state !== 'contained' && m.state !== 'resolved')) cli.setExitCode(2);
      cli.print(r, opts.json, () =>
        [
          `${r.findings} finding(s): ${r.matched.length} matched, ${r.unmatched.length} not in the inventory`,
          ...r.matched.map(
            (m) =>
              `  ${m.credentialId} (${m.identityId}): incident ${m.incidentId ?? '-'} ${m.state ?? '-'} in ${ms(m.timeToContainMs)}${m.willBreak.length ? `; will break ${m.willBreak.join(', ')}` : ''}`,
          ),
          ...r.unmatched.map(
            (u) => `  unmatched: ${u.scanner} ${u.rule} at ${u.location} (sha256 ${u.secretHashPrefix}…)`,
          ),
        ].join('\n'),
      );
    });

  program
    .command('rotate')
    .description('Rotate a credential in stages (new → consumers switch → overlap → revoke old)')
    .argument('<credential>')
    .option(
      '--overlap-minutes <n>',
      'how long the old credential stays valid',
      intOption('--overlap-minutes', 0, 10080),
    )
    .option('--leaked', 'the credential leaked: no overlap, revoke at once')
    .option('--dry-run', 'only show the consumers that would break')
    .option('--json', 'print JSON')
    .action(
      async (
        credential: string,
        opts: { overlapMinutes?: number; leaked?: boolean; dryRun?: boolean; json?: boolean },
      ) => {
        const body = {
          credential_id: credential,
          ...(opts.overlapMinutes === undefined ? {} : { overlap_minutes: opts.overlapMinutes }),
          ...(opts.leaked ? { leaked: true } : {}),
          ...(opts.dryRun ? { dry_run: true } : {}),
        };
        if (opts.dryRun) {
          const p = await cli.client().post<RotationPreview>('/v1/rotations', body);
          cli.print(
            p,
            opts.json,
            () => `${p.credentialId}: consumers that must switch: ${p.consumers.join(', ') || 'none'}`,
          );
          return;
        }
        const r = await cli.client().post<Rotation>('/v1/rotations', body);
        cli.print(r, opts.json, () => renderRotation(r));
      },
    );

  const rotations = program.command('rotations').description('Staged rotations and their consumer reports');
  rotations
    .command('show')
    .argument('<id>')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { json?: boolean }) => {
      const r = await cli.client().get<Rotation>(`/v1/rotations/${encodeURIComponent(id)}`);
      if (r.report && !r.report.dependentsSafe) cli.setExitCode(2);
      cli.print(r, opts.json, () => renderRotation(r));
    });
  rotations
    .command('complete')
    .description('End the overlap: revoke the old credential and report who did not switch')
    .argument('<id>')
    .option('--force', 'before the overlap ends')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { force?: boolean; json?: boolean }) => {
      const r = await cli
        .client()
        .post<Rotation>(`/v1/rotations/${encodeURIComponent(id)}/complete`, { force: opts.force === true });
      if (r.report && !r.report.dependentsSafe) cli.setExitCode(2);
      cli.print(r, opts.json, () => renderRotation(r));
    });

  const bg = program.command('break-glass').description('Break-glass accounts: justified, time-boxed use');
  bg.command('use')
    .description('Unseal a break-glass account for a short time (pages its owners, opens an incident)')
    .argument('<identity>')
    .requiredOption(
      '--justification <text>',
      'why (at least 20 characters; goes to the incident and audit log)',
    )
    .option('--ttl-minutes <n>', 'how long (max 60)', intOption('--ttl-minutes', 1, 60), 30)
    .option('--json', 'print JSON')
    .action(async (identity: string, opts: { justification: string; ttlMinutes: number; json?: boolean }) => {
      const s = await cli
        .client()
        .post<BreakGlassSession>(`/v1/break-glass/${encodeURIComponent(identity)}/use`, {
          justification: opts.justification,
          ttl_minutes: opts.ttlMinutes,
        });
      cli.print(
        s,
        opts.json,
        () => `${s.id}: ${s.identityId} usable until ${s.expiresAt} (incident ${s.incidentId ?? '-'})`,
      );
    });
  bg.command('end')
    .description('End a break-glass session now')
    .argument('<session>')
    .option('--json', 'print JSON')
    .action(async (session: string, opts: { json?: boolean }) => {
      const s = await cli
        .client()
        .post<BreakGlassSession>(`/v1/break-glass/sessions/${encodeURIComponent(session)}/end`);
      cli.print(s, opts.json, () => `${s.id} ended; ${s.identityId} sealed`);
    });
}
