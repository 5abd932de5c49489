/**
 * `bulkhead policy validate|push|list|diff|test` and `bulkhead approvals list|approve|deny`.
 * `validate` runs locally (same compiler as the server) so it works in CI without a server.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { CliError } from '../cli/client.js';
import { table, type CliContext } from '../cli/context.js';
import { compileBundle, type PolicyBundle, type PolicyIssue } from './policy-bundle.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

interface BundleOptions {
  action?: string[];
  require?: string[];
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read ${path}: ${(err as Error).message}`, 'BULKHEAD_CLI_BAD_FILE');
  }
}

/** A `.json` bundle file, or Cedar text with `--action` and `--require action=attr` options. */
export function readBundle(path: string, opts: BundleOptions): PolicyBundle {
  const text = readText(path);
  // A Map, then an object: `--require constructor=x` must not find Object.prototype.constructor.
  const required = new Map<string, string[]>();
  for (const r of opts.require ?? []) {
    const [action, attr] = r.split('=');
    if (!action || !attr)
      throw new CliError(`--require must be action=attribute, got '${r}'`, 'BULKHEAD_CLI_BAD_OPTION');
    required.set(action, [...(required.get(action) ?? []), attr]);
  }
  const requiredContext = Object.fromEntries(required);
  if (path.endsWith('.json')) {
    let parsed: Partial<PolicyBundle>;
    try {
      parsed = JSON.parse(text) as Partial<PolicyBundle>;
    } catch (err) {
      throw new CliError(`${path} is not JSON: ${(err as Error).message}`, 'BULKHEAD_CLI_BAD_FILE');
    }
    if (typeof parsed.policies !== 'string') {
      throw new CliError(`${path}: a bundle needs "policies" (Cedar text)`, 'BULKHEAD_CLI_BAD_FILE');
    }
    return {
      policies: parsed.policies,
      actions: [...(parsed.actions ?? []), ...(opts.action ?? [])],
      requiredContext: { ...(parsed.requiredContext ?? {}), ...requiredContext },
    };
  }
  return { policies: text, actions: opts.action ?? [], requiredContext };
}

function formatIssue(file: string, i: PolicyIssue): string {
  const where = i.line ? `${file}:${i.line}:${i.column}` : file;
  const policy = i.policyId ? ` [${i.policyId}]` : '';
  return `${where}:${policy} ${i.message}${i.help ? `\n    help: ${i.help}` : ''}`;
}

interface VersionInfo {
  version: number;
  sha256: string;
  comment: string | null;
  createdAt: string;
  createdBy: string;
  active: boolean;
  bundle?: PolicyBundle;
}

export interface PolicyDiff {
  added: string[];
  removed: string[];
  changed: string[];
  actionsAdded: string[];
  actionsRemoved: string[];
}

export function diffBundles(a: PolicyBundle, b: PolicyBundle): PolicyDiff {
  const pa = compileBundle(a);
  const pb = compileBundle(b);
  const policiesOf = (r: typeof pa) => (r.ok ? r.compiled.policies : new Map<string, string>());
  const x = policiesOf(pa);
  const y = policiesOf(pb);
  const norm = (s: string | undefined) => (s ?? '').replace(/\s+/g, ' ').trim();
  return {
    added: [...y.keys()].filter((id) => !x.has(id)),
    removed: [...x.keys()].filter((id) => !y.has(id)),
    changed: [...y.keys()].filter((id) => x.has(id) && norm(x.get(id)) !== norm(y.get(id))),
    actionsAdded: b.actions.filter((n) => !a.actions.includes(n)),
    actionsRemoved: a.actions.filter((n) => !b.actions.includes(n)),
  };
}

export function registerPolicyCommands(program: Command, cli: CliContext): void {
  const policy = program.command('policy').description('Cedar policy sets: validate, push, list, diff, test');

  policy
    .command('validate <file>')
    .description('validate a Cedar file (or a .json bundle) against the inventory schema, locally')
    .option('--action <name>', 'declare an action the policies use (repeatable)', collect)
    .option('--require <action=attr>', 'context attribute required for an action (repeatable)', collect)
    .option('--json', 'print JSON')
    .action((file: string, opts: BundleOptions & { json?: boolean }) => {
      const result = compileBundle(readBundle(file, opts));
      const out = result.ok
        ? { valid: true, policyIds: [...result.compiled.policies.keys()], errors: [] }
        : { valid: false, errors: result.errors };
      cli.print(out, opts.json, () =>
        result.ok
          ? `${file}: valid (${result.compiled.policies.size} policies)`
          : result.errors.map((e) => formatIssue(file, e)).join('\n'),
      );
      if (!result.ok) cli.setExitCode(1);
    });

  policy
    .command('push <file>')
    .description('store a new policy version on the server and activate it (unless --no-activate)')
    .option('--action <name>', 'declare an action the policies use (repeatable)', collect)
    .option('--require <action=attr>', 'context attribute required for an action (repeatable)', collect)
    .option('--comment <text>', 'why this version exists')
    .option('--no-activate', 'store without activating')
    .option('--json', 'print JSON')
    .action(
      async (file: string, opts: BundleOptions & { comment?: string; activate: boolean; json?: boolean }) => {
        const bundle = readBundle(file, opts);
        const v = await cli.client().post<VersionInfo>('/v1/policies', {
          ...bundle,
          activate: opts.activate,
          ...(opts.comment ? { comment: opts.comment } : {}),
        });
        cli.print(
          v,
          opts.json,
          () => `policy version ${v.version}${v.active ? ' (active)' : ''} sha256 ${v.sha256.slice(0, 12)}`,
        );
      },
    );

  policy
    .command('list')
    .description('list stored policy versions')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const r = await cli.client().get<{ items: VersionInfo[]; active: number | null }>('/v1/policies');
      cli.print(r, opts.json, () =>
        table(
          ['version', 'active', 'created', 'by', 'sha256', 'comment'],
          r.items.map((v) => [
            v.version,
            v.active ? '*' : '',
            v.createdAt,
            v.createdBy,
            v.sha256.slice(0, 12),
            v.comment,
          ]),
        ),
      );
    });

  policy
    .command('diff <from> [to]')
    .description(
      'compare two versions or files (a number is a stored version; default "to" is the active one)',
    )
    .option('--json', 'print JSON')
    .action(async (from: string, to: string | undefined, opts: { json?: boolean }) => {
      const load = async (ref: string | undefined): Promise<PolicyBundle> => {
        if (ref !== undefined && !/^\d+$/.test(ref)) return readBundle(ref, {});
        let version = ref;
        if (version === undefined) {
          const list = await cli.client().get<{ active: number | null }>('/v1/policies');
          if (list.active === null)
            throw new CliError('no policy version is active', 'BULKHEAD_CLI_NO_ACTIVE');
          version = String(list.active);
        }
        const v = await cli.client().get<VersionInfo>(`/v1/policies/${version}`);
        if (!v.bundle) throw new CliError(`version ${version} has no bundle`, 'BULKHEAD_CLI_ERROR');
        return v.bundle;
      };
      const d = diffBundles(await load(from), await load(to));
      cli.print(d, opts.json, () => {
        const lines = [
          ...d.added.map((id) => `+ ${id}`),
          ...d.removed.map((id) => `- ${id}`),
          ...d.changed.map((id) => `~ ${id}`),
          ...d.actionsAdded.map((a) => `+ action ${a}`),
          ...d.actionsRemoved.map((a) => `- action ${a}`),
        ];
        return lines.length > 0 ? lines.join('\n') : 'no differences';
      });
    });

  policy
    .command('test <cases>')
    .description('replay AuthZEN decision cases ({"evaluation":[{request, expected}]}) against the server')
    .option('--json', 'print JSON')
    .action(async (file: string, opts: { json?: boolean }) => {
      let data: unknown;
      try {
        data = JSON.parse(readText(file));
      } catch (err) {
        if (err instanceof CliError) throw err;
        throw new CliError(`${file} is not JSON`, 'BULKHEAD_CLI_BAD_FILE');
      }
      const cases = (
        Array.isArray(data) ? data : ((data as { evaluation?: unknown[] }).evaluation ?? [])
      ) as {
        request: unknown;
        expected: boolean;
      }[];
      const failures: { index: number; expected: boolean; got: boolean; reasons: unknown }[] = [];
      for (const [index, c] of cases.entries()) {
        const r = await cli
          .client()
          .post<{ decision: boolean; context?: { reasons?: unknown } }>('/access/v1/evaluation', c.request);
        if (r.decision !== c.expected)
          failures.push({ index, expected: c.expected, got: r.decision, reasons: r.context?.reasons });
      }
      const summary = { total: cases.length, passed: cases.length - failures.length, failures };
      cli.print(summary, opts.json, () =>
        [
          `${summary.passed}/${summary.total} decisions match`,
          ...failures.map(
            (f) => `  case ${f.index}: expected ${f.expected}, got ${f.got} ${JSON.stringify(f.reasons)}`,
          ),
        ].join('\n'),
      );
      if (failures.length > 0) cli.setExitCode(1);
    });

  const approvals = program
    .command('approvals')
    .description('approval requests raised by approval_required policies');
  approvals
    .command('list')
    .option('--status <status>', 'pending | approved | denied | used | expired')
    .option('--json', 'print JSON')
    .action(async (opts: { status?: string; json?: boolean }) => {
      const r = await cli
        .client()
        .get<{ items: Record<string, unknown>[] }>('/v1/approvals', { status: opts.status });
      cli.print(r, opts.json, () =>
        table(
          ['id', 'status', 'principal', 'action', 'resource', 'approvers', 'expires'],
          r.items.map((a) => [
            a.id as string,
            a.status as string,
            a.principalId as string,
            a.action as string,
            a.resourceId as string,
            (a.approvers as string[]).join(','),
            (a.grantExpiresAt ?? a.expiresAt) as string,
          ]),
        ),
      );
    });
  for (const verdict of ['approve', 'deny'] as const) {
    approvals
      .command(`${verdict} <id>`)
      .description(`${verdict} a pending request as one of the resource's owners`)
      .option(
        '--as <approver>',
        'check that BULKHEAD_TOKEN belongs to this owner (the key decides who approves)',
      )
      .option('--json', 'print JSON')
      .action(async (id: string, opts: { as?: string; json?: boolean }) => {
        const a = await cli
          .client()
          .post<{ id: string; status: string; grantExpiresAt: string | null }>(
            `/v1/approvals/${encodeURIComponent(id)}/${verdict}`,
            opts.as !== undefined ? { approver: opts.as } : {},
          );
        cli.print(
          a,
          opts.json,
          () =>
            `${a.id}: ${a.status}${a.grantExpiresAt ? ` (one-time grant until ${a.grantExpiresAt})` : ''}`,
        );
      });
  }
}
