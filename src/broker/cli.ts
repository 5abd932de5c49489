/** `bulkhead task create|list|show|complete|revoke`, `bulkhead token introspect|revoke`, `bulkhead broker keys rotate|list`. */
import type { Command } from 'commander';
import { CliError } from '../cli/client.js';
import { intOption, table, type CliContext } from '../cli/context.js';
import type { Task } from './tasks/task.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

function taskLine(t: Task): string {
  return [
    `${t.id}  ${t.status}`,
    `  identity:  ${t.identity}${t.on_behalf_of ? ` (for ${t.on_behalf_of})` : ''}`,
    `  purpose:   ${t.purpose}`,
    `  actions:   ${t.actions.join(', ')}`,
    `  resources: ${t.resources.join(', ')}`,
    `  uses:      ${t.uses}/${t.max_uses}`,
    `  expires:   ${t.expires_at}`,
    ...(t.pending_approvals.length > 0
      ? [
          `  waiting:   ${t.pending_approvals.map((p) => `${p.approval_id} (${p.action} ${p.resource})`).join(', ')}`,
        ]
      : []),
  ].join('\n');
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** Form-encoded POST (the OAuth endpoints do not take JSON). */
async function postForm(cli: CliContext, path: string, params: Record<string, string>): Promise<unknown> {
  const base = cli.env.BULKHEAD_URL ?? 'http://127.0.0.1:8080';
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (cli.env.BULKHEAD_TOKEN) headers.authorization = `Bearer ${cli.env.BULKHEAD_TOKEN}`;
  let res: Response;
  try {
    res = await fetch(new URL(path, base), {
      method: 'POST',
      headers,
      body: new URLSearchParams(params).toString(),
    });
  } catch (err) {
    throw new CliError(`cannot reach ${base}: ${(err as Error).message}`, 'BULKHEAD_CLI_UNREACHABLE');
  }
  const text = await res.text();
  const body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  if (!res.ok) {
    throw new CliError(
      `${str(body.code) ?? str(body.error) ?? res.status}: ${str(body.error_description) ?? str(body.detail) ?? ''}`,
      typeof body.code === 'string' ? body.code : 'BULKHEAD_CLI_REQUEST_FAILED',
    );
  }
  return body;
}

export function registerBrokerCommands(program: Command, cli: CliContext): void {
  const task = program.command('task').description('Task-scoped credentials: declare, inspect and end tasks');
  task
    .command('create')
    .description('Declare a task for an identity (operator); the PDP decides whether it may start')
    .requiredOption('--identity <id>', 'inventory identity doing the task')
    .requiredOption('--purpose <text>', 'why (recorded, passed to the PDP as justification)')
    .requiredOption('--action <name>', 'declared action (repeatable)', collect)
    .requiredOption('--resource <id>', 'declared resource (repeatable)', collect)
    .option('--ttl <seconds>', 'task lifetime', intOption('--ttl'))
    .requiredOption('--max-uses <n>', 'use budget across all tokens of the task', intOption('--max-uses'))
    .option('--on-behalf-of <id>', 'principal the identity acts for')
    .option('--audience <aud>', 'audience of the task tokens')
    .option('--json', 'print JSON')
    .action(
      async (o: {
        identity: string;
        purpose: string;
        action: string[];
        resource: string[];
        ttl?: number;
        maxUses: number;
        onBehalfOf?: string;
        audience?: string;
        json?: boolean;
      }) => {
        const t = await cli.client().post<Task>('/v1/tasks', {
          identity: o.identity,
          purpose: o.purpose,
          actions: o.action,
          resources: o.resource,
          max_uses: o.maxUses,
          ...(o.ttl !== undefined ? { ttl: o.ttl } : {}),
          ...(o.onBehalfOf ? { on_behalf_of: o.onBehalfOf } : {}),
          ...(o.audience ? { audience: o.audience } : {}),
        });
        cli.print(t, o.json, () => taskLine(t));
        if (t.status === 'pending_approval') cli.setExitCode(3);
      },
    );
  task
    .command('list')
    .description('List tasks')
    .option('--status <status>', 'pending_approval | active | completed | expired | revoked | denied')
    .option('--identity <id>', 'only this identity')
    .option('--limit <n>', 'at most n', intOption('--limit', 1, 500))
    .option('--json', 'print JSON')
    .action(async (o: { status?: string; identity?: string; limit?: number; json?: boolean }) => {
      const q = new URLSearchParams();
      if (o.status) q.set('status', o.status);
      if (o.identity) q.set('identity', o.identity);
      if (o.limit) q.set('limit', String(o.limit));
      const res = await cli.client().get<{ items: Task[] }>(`/v1/tasks${q.size ? `?${q.toString()}` : ''}`);
      cli.print(res.items, o.json, () =>
        table(
          ['id', 'status', 'identity', 'uses', 'expires', 'purpose'],
          res.items.map((t) => [
            t.id,
            t.status,
            t.identity,
            `${t.uses}/${t.max_uses}`,
            t.expires_at,
            t.purpose,
          ]),
        ),
      );
    });
  task
    .command('show <id>')
    .description('Show a task')
    .option('--json', 'print JSON')
    .action(async (id: string, o: { json?: boolean }) => {
      const t = await cli.client().get<Task>(`/v1/tasks/${encodeURIComponent(id)}`);
      cli.print(t, o.json, () => taskLine(t));
    });
  task
    .command('complete <id>')
    .description('Complete a task; its tokens are revoked')
    .option('--json', 'print JSON')
    .action(async (id: string, o: { json?: boolean }) => {
      const t = await cli.client().post<Task>(`/v1/tasks/${encodeURIComponent(id)}/complete`, {});
      cli.print(t, o.json, () => taskLine(t));
    });
  task
    .command('revoke <id>')
    .description('Revoke a task and every token minted for it')
    .option('--reason <text>', 'why')
    .option('--json', 'print JSON')
    .action(async (id: string, o: { reason?: string; json?: boolean }) => {
      const t = await cli
        .client()
        .post<Task>(`/v1/tasks/${encodeURIComponent(id)}/revoke`, o.reason ? { reason: o.reason } : {});
      cli.print(t, o.json, () => taskLine(t));
    });

  const token = program.command('token').description('Task tokens: introspect and revoke');
  token
    .command('introspect <token>')
    .description('RFC 7662 introspection (exit code 2 when the token is not active)')
    .option('--json', 'print JSON')
    .action(async (tok: string, o: { json?: boolean }) => {
      const r = (await postForm(cli, '/oauth2/introspect', { token: tok })) as Record<string, unknown>;
      cli.print(r, o.json, () =>
        r.active
          ? Object.entries(r)
              .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`)
              .join('\n')
          : 'inactive',
      );
      if (r.active !== true) cli.setExitCode(2);
    });
  token
    .command('revoke [token]')
    .description('Revoke a token (RFC 7009), or with --jti/--task/--identity/--credential by handle')
    .option('--jti <jti>', 'token id')
    .option('--task <id>', 'every token of a task')
    .option('--identity <id>', 'every token issued to an identity so far')
    .option('--credential <id>', 'an inventory credential')
    .option('--reason <text>', 'why')
    .option('--json', 'print JSON')
    .action(
      async (
        tok: string | undefined,
        o: {
          jti?: string;
          task?: string;
          identity?: string;
          credential?: string;
          reason?: string;
          json?: boolean;
        },
      ) => {
        const handles = (['jti', 'task', 'identity', 'credential'] as const).filter(
          (k) => o[k] !== undefined,
        );
        if ((tok ? 1 : 0) + handles.length !== 1) {
          throw new CliError(
            'give exactly one of <token>, --jti, --task, --identity, --credential',
            'BULKHEAD_CLI_BAD_OPTION',
          );
        }
        if (tok) {
          await postForm(cli, '/oauth2/revoke', { token: tok });
          cli.print({ revoked: true }, o.json, () => 'revoked');
          return;
        }
        const h = handles[0] ?? 'jti';
        const r = await cli.client().post<Record<string, unknown>>('/v1/broker/revocations', {
          kind: h === 'jti' ? 'token' : h,
          target: o[h],
          ...(o.reason ? { reason: o.reason } : {}),
        });
        cli.print(r, o.json, () => `revoked ${String(r.kind)} ${String(r.target)} (${String(r.id)})`);
      },
    );

  const keys = program
    .command('broker')
    .description('Credential broker administration')
    .command('keys')
    .description('Signing keys');
  keys
    .command('list')
    .description('List signing keys')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const r = await cli
        .client()
        .get<{ items: { kid: string; status: string; created_at: string; expires_at: string | null }[] }>(
          '/v1/broker/keys',
        );
      cli.print(r.items, o.json, () =>
        table(
          ['kid', 'status', 'created', 'verifies until'],
          r.items.map((k) => [k.kid, k.status, k.created_at, k.expires_at ?? '-']),
        ),
      );
    });
  keys
    .command('rotate')
    .description('Rotate the signing key (the previous one keeps verifying for the overlap)')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const k = await cli.client().post<{ kid: string; created_at: string }>('/v1/broker/keys/rotate', {});
      cli.print(k, o.json, () => `new signing key ${k.kid}`);
    });
}
