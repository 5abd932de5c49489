/**
 * Graph CLI: `bulkhead blast-radius <identity>`, `bulkhead paths --from X --to Y`, `bulkhead escalations`,
 * `bulkhead choke-points`. All talk to the server and print JSON with `--json`.
 */
import type { Command } from 'commander';
import { intOption, table, type CliContext } from '../cli/context.js';
import type { PathStep } from './model.js';
import type { BlastRadius, ReachedItem } from './queries/blast-radius.js';
import type { ChokePoints } from './queries/choke-points.js';
import type { Escalation } from './queries/escalations.js';
import type { AttackPath } from './queries/paths.js';

function renderPath(steps: readonly { from: string; to: string; via: string }[]): string {
  if (steps.length === 0) return '(start)';
  return [steps[0]!.from, ...steps.map((s) => `-[${s.via}]-> ${s.to}`)].join(' ');
}

export function registerGraphCommands(program: Command, cli: CliContext): void {
  program
    .command('blast-radius <identity>')
    .description('everything a compromised identity or credential can reach, grouped by sensitivity')
    .option('--limit <n>', 'items listed per group', intOption('--limit', 1, 1000), 20)
    .option('--min-sensitivity <level>', 'only list data at or above this level')
    .option('--json', 'print JSON')
    .action(async (identity: string, opts: { limit: number; minSensitivity?: string; json?: boolean }) => {
      const result = await cli
        .client()
        .get<BlastRadius>(`/v1/graph/blast-radius/${encodeURIComponent(identity)}`, {
          limit: opts.limit,
          min_sensitivity: opts.minSensitivity,
        });
      cli.print(result, opts.json, () => {
        const t = result.totals;
        const lines = [
          `Blast radius of ${result.from}: ${t.reachable} reachable nodes, ${t.identities} identities, ` +
            `${t.resources} resources, ${t.admin} admin-equivalent`,
        ];
        const rows = (items: ReachedItem[]) =>
          items.map((i) => [i.node, i.sensitivity ?? '-', i.hops, renderPath(i.path)]);
        if (result.admin.length > 0)
          lines.push(
            '',
            'ADMIN-EQUIVALENT',
            table(['node', 'sensitivity', 'hops', 'path'], rows(result.admin), 120),
          );
        for (const s of ['regulated', 'confidential', 'internal', 'public'] as const) {
          const items = result.bySensitivity[s];
          if (items.length === 0) continue;
          lines.push(
            '',
            `${s.toUpperCase()} (${t.bySensitivity[s]})`,
            table(['node', 'sensitivity', 'hops', 'path'], rows(items), 120),
          );
        }
        if (result.identities.length > 0)
          lines.push(
            '',
            `IDENTITIES (${t.identities})`,
            table(['node', 'sensitivity', 'hops', 'path'], rows(result.identities), 120),
          );
        if (result.truncated) lines.push('', `(lists cut at ${opts.limit} per group; use --limit or --json)`);
        return lines.join('\n');
      });
    });

  program
    .command('paths')
    .description('k cheapest attack paths from an identity to admin, a sensitivity level or a resource')
    .requiredOption('--from <identity>', 'identity id, ARN, namespace/sa or credential id')
    .requiredOption('--to <target>', "'admin', a sensitivity (e.g. regulated) or a resource/identity id")
    .option('-k <n>', 'number of paths', intOption('-k', 1, 20), 3)
    .option('--json', 'print JSON')
    .action(async (opts: { from: string; to: string; k: number; json?: boolean }) => {
      const result = await cli
        .client()
        .get<{ from: string; to: string; paths: AttackPath[] }>('/v1/graph/paths', {
          from: opts.from,
          to: opts.to,
          k: opts.k,
        });
      cli.print(result, opts.json, () => {
        if (result.paths.length === 0) return `No path from ${result.from} to ${result.to}.`;
        return result.paths
          .map((p, n) =>
            [
              `#${n + 1} to ${p.target} (${p.hops} steps, cost ${p.cost})`,
              ...p.steps.map(
                (s: PathStep) =>
                  `   ${s.from} -> ${s.to}  [${s.kind}: ${s.via}${s.conditional ? ', conditional' : ''}]`,
              ),
            ].join('\n'),
          )
          .join('\n\n');
      });
    });

  program
    .command('escalations')
    .description('every principal that can reach an admin-equivalent principal or permission')
    .option('--include-direct', 'also list principals that hold admin by a direct grant')
    .option('--principal <identity>', 'only this principal')
    .option('--json', 'print a JSON array of {principal, principal_id, target, method, path}')
    .action(async (opts: { includeDirect?: boolean; principal?: string; json?: boolean }) => {
      const result = await cli.client().get<Escalation[]>('/v1/graph/escalations', {
        include_direct: opts.includeDirect ? 'true' : undefined,
        principal: opts.principal,
      });
      cli.print(result, opts.json, () =>
        result.length === 0
          ? 'No privilege escalation paths found.'
          : table(
              ['principal', 'method', 'target', 'path'],
              result.map((e) => [e.principal, e.method, e.target, renderPath(e.path)]),
              120,
            ),
      );
    });

  program
    .command('choke-points')
    .description('edges and identities whose removal cuts the most paths to sensitive data')
    .option('--min-sensitivity <level>', 'what counts as sensitive', 'confidential')
    .option('--limit <n>', 'how many to list', intOption('--limit', 1, 100), 10)
    .option('--json', 'print JSON')
    .action(async (opts: { minSensitivity: string; limit: number; json?: boolean }) => {
      const result = await cli.client().get<ChokePoints>('/v1/graph/choke-points', {
        min_sensitivity: opts.minSensitivity,
        limit: opts.limit,
      });
      cli.print(result, opts.json, () =>
        [
          `${result.pairs} (principal, sensitive target) pairs from ${result.sources} principals${result.sampled ? ' (sampled)' : ''}`,
          '',
          table(
            ['from', 'to', 'via', 'pairs cut', 'paths through'],
            result.edges.map((c) => [c.edge.from, c.edge.to, c.edge.via, c.pairs_cut, c.paths_through]),
          ),
          '',
          table(
            ['identity', 'type', 'pairs cut', 'paths through'],
            result.nodes.map((n) => [n.node, n.type, n.pairs_cut, n.paths_through]),
          ),
        ].join('\n'),
      );
    });
}
