/**
 * Core CLI commands: `serve`, `identities list|show|create|disable`, `audit verify`, `admin token create`.
 * Client commands talk to the server at BULKHEAD_URL with BULKHEAD_TOKEN; `audit verify --local` reads
 * the store directly so a tampered database can be checked with the server stopped.
 */
import { existsSync } from 'node:fs';
import { Option, type Command } from 'commander';
import type { ApiKey } from '../admin/api-keys.js';
import { verifyAuditChain, type AuditVerification } from '../audit/verify.js';
import { loadConfig, sqliteFileFor } from '../config.js';
import type { Page } from '../inventory/cursor.js';
import {
  CREDENTIAL_STATUSES,
  CREDENTIAL_TYPES,
  IDENTITY_KINDS,
  IDENTITY_STATUSES,
  SENSITIVITIES,
  type Credential,
  type Identity,
  type Resource,
} from '../inventory/types.js';
import { createLogger } from '../http/logger.js';
import { startBulkhead } from '../server/start.js';
import { ensureSchema, openStore } from '../store/connect.js';
import { VERSION } from '../version.js';
import { CliError } from './client.js';
import { intOption, table, type CliContext } from './context.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

function parseLabels(pairs: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of pairs ?? []) {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new CliError(`--label must be key=value, got '${p}'`, 'BULKHEAD_CLI_BAD_OPTION');
    out[p.slice(0, eq)] = p.slice(eq + 1);
  }
  return out;
}

function parseAnchor(value: string): { seq: number; hash: string } {
  const m = /^(\d+):([0-9a-fA-F]{64})$/.exec(value);
  if (!m)
    throw new CliError(`--anchor must be <seq>:<64 hex sha256>, got '${value}'`, 'BULKHEAD_CLI_BAD_OPTION');
  return { seq: Number(m[1]), hash: m[2]!.toLowerCase() };
}

export function registerServeCommand(program: Command, cli: CliContext): void {
  program
    .command('serve')
    .description(
      'run the Bulkhead server (embedded SQLite under --data-dir unless BULKHEAD_DATABASE_URL is set)',
    )
    .option('--host <host>', 'interface to listen on [env BULKHEAD_HOST, default 127.0.0.1]')
    .option('--port <port>', 'TCP port, 0 for any free port [env BULKHEAD_PORT, default 8080]')
    .option(
      '--data-dir <dir>',
      'directory for the SQLite file and local state [env BULKHEAD_DATA_DIR, default ./data]',
    )
    .option('--demo', 'load the demo organisation (missing records only) even if the store is not empty')
    .option('--no-demo', 'never load demo data (default: load it into an empty store)')
    .option('--json', 'print the start-up summary as one JSON line')
    .action(
      async (opts: { host?: string; port?: string; dataDir?: string; demo?: boolean; json?: boolean }) => {
        const config = loadConfig(
          { host: opts.host, port: opts.port, dataDir: opts.dataDir, demo: opts.demo },
          cli.env,
        );
        const log = createLogger(config.logLevel, process.stderr);
        const running = await startBulkhead(config, { log });
        let stopping = false;
        const stop = (signal: string) => {
          if (stopping) {
            log.warn({ signal }, 'second signal: exiting without draining');
            process.exit(1);
          }
          stopping = true;
          log.info({ signal }, 'draining in-flight requests and shutting down');
          running.close().then(
            () => process.exit(0),
            (err: unknown) => {
              log.error({ err }, 'shutdown failed');
              process.exit(1);
            },
          );
        };
        // Installed before the ready line below: until a handler exists, SIGTERM has the kernel's default action
        // (terminate at once), so a supervisor that signals as soon as it reads that line would kill us undrained.
        // `on`, not `once`: a second signal must reach `stop` (exit 1 at once) rather than Node's default.
        process.on('SIGTERM', () => stop('SIGTERM'));
        process.on('SIGINT', () => stop('SIGINT'));
        const summary = {
          url: running.url,
          version: VERSION,
          store: running.ctx.store.describe,
          demo: running.demo ?? null,
          bootstrap_token: running.bootstrapToken ?? null,
          warnings: running.warnings,
        };
        if (opts.json) cli.stdout(`${JSON.stringify(summary)}\n`);
        else
          cli.print(summary, false, () => {
            const lines = [
              `Bulkhead ${VERSION} is listening on ${running.url}`,
              `  API: ${running.url}/v1/…   (OpenAPI 3.1: ${running.url}/openapi.json)`,
              `  store: ${running.ctx.store.describe}`,
            ];
            if (running.demo) {
              const d = running.demo;
              lines.push(
                `  demo data loaded: ${d.identities} identities, ${d.credentials} credentials, ${d.resources} resources`,
              );
            }
            if (running.bootstrapToken) {
              lines.push(
                '',
                '  Admin token (shown ONCE; only its hash is stored — save it now):',
                `    ${running.bootstrapToken}`,
                '',
                `  export BULKHEAD_URL=${running.url} BULKHEAD_TOKEN=<the token above>`,
                '  then try: npx bulkhead identities list',
              );
            } else if (config.adminToken) {
              // A revoked value is not the admin token: the warning below says so.
              if (running.warnings.length === 0)
                lines.push('  admin token: the value of BULKHEAD_ADMIN_TOKEN');
            } else {
              lines.push(
                '  admin token: already created on an earlier start (create more with `bulkhead admin token create`)',
              );
            }
            for (const warning of running.warnings) lines.push('', `  WARNING: ${warning}`);
            return lines.join('\n');
          });
      },
    );
}

export function registerIdentityCommands(program: Command, cli: CliContext): void {
  const identities = program.command('identities').description('list, show, create and disable identities');

  identities
    .command('list')
    .description('list identities with filters; pages through everything with --all')
    .addOption(new Option('--kind <kind>', 'identity kind').choices(IDENTITY_KINDS))
    .option('--owner <owner>', 'owned by this identity id or team:<name>')
    .option('--env <environment>', 'environment, e.g. prod')
    .addOption(new Option('--status <status>', 'status').choices(IDENTITY_STATUSES))
    .option('--source <source>', 'where it came from, e.g. aws-iam')
    .option('--stale-days <n>', 'not seen for at least N days', intOption('--stale-days', 0, 36500))
    .option('--ownerless', 'only identities without any owner')
    .option('--limit <n>', 'page size (1-500)', intOption('--limit', 1, 500), 50)
    .option('--cursor <cursor>', 'continue from a previous page')
    .option('--all', 'follow cursors until the end')
    .option('--json', 'print JSON')
    .action(
      async (opts: {
        kind?: string;
        owner?: string;
        env?: string;
        status?: string;
        source?: string;
        staleDays?: number;
        ownerless?: boolean;
        limit: number;
        cursor?: string;
        all?: boolean;
        json?: boolean;
      }) => {
        const client = cli.client();
        const items: Identity[] = [];
        let cursor = opts.cursor;
        let next: string | null = null;
        do {
          const page: Page<Identity> = await client.get('/v1/identities', {
            kind: opts.kind,
            owner: opts.owner,
            environment: opts.env,
            status: opts.status,
            source: opts.source,
            stale_days: opts.staleDays,
            no_owner: opts.ownerless ? 'true' : undefined,
            limit: opts.limit,
            cursor,
          });
          items.push(...page.items);
          next = page.next_cursor;
          cursor = next ?? undefined;
        } while (opts.all && next);
        cli.print({ items, next_cursor: next }, opts.json, () => {
          const rows = items.map((i) => [
            i.id,
            i.kind,
            i.environment,
            i.status,
            i.owners.join(',') || '(none)',
            i.lastSeenAt?.slice(0, 10),
          ]);
          return pageText(
            table(['id', 'kind', 'env', 'status', 'owners', 'last seen'], rows),
            { items, next_cursor: next },
            'identities',
          );
        });
      },
    );

  identities
    .command('show <id>')
    .description('show one identity')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { json?: boolean }) => {
      const identity = await cli.client().get<Identity>(`/v1/identities/${encodeURIComponent(id)}`);
      cli.print(identity, opts.json, () => fields(identity));
    });

  identities
    .command('create')
    .description('create an identity')
    .requiredOption('--id <id>', 'stable id, e.g. payments-api')
    .addOption(new Option('--kind <kind>', 'identity kind').choices(IDENTITY_KINDS).makeOptionMandatory())
    .requiredOption('--name <displayName>', 'display name')
    .requiredOption('--env <environment>', 'environment, e.g. prod')
    .option('--owner <owner>', 'owner (human identity id or team:<name>); repeatable', collect)
    .option('--group <group>', 'group or role membership; repeatable', collect)
    .option('--source <source>', 'where it came from', 'manual')
    .option('--spiffe-id <uri>', 'SPIFFE ID')
    .option('--cloud-arn <arn>', 'cloud ARN')
    .option('--k8s-sa <namespace/name>', 'Kubernetes service account')
    .option('--label <key=value>', 'label; repeatable', collect)
    .option('--json', 'print JSON')
    .action(
      async (opts: {
        id: string;
        kind: string;
        name: string;
        env: string;
        owner?: string[];
        group?: string[];
        source: string;
        spiffeId?: string;
        cloudArn?: string;
        k8sSa?: string;
        label?: string[];
        json?: boolean;
      }) => {
        const created = await cli.client().post<Identity>('/v1/identities', {
          id: opts.id,
          kind: opts.kind,
          displayName: opts.name,
          environment: opts.env,
          owners: opts.owner ?? [],
          groups: opts.group ?? [],
          source: opts.source,
          labels: parseLabels(opts.label),
          ...(opts.spiffeId ? { spiffeId: opts.spiffeId } : {}),
          ...(opts.cloudArn ? { cloudArn: opts.cloudArn } : {}),
          ...(opts.k8sSa ? { k8sServiceAccount: opts.k8sSa } : {}),
        });
        cli.print(created, opts.json, () => `created ${created.kind} ${created.id}`);
      },
    );

  identities
    .command('disable <id>')
    .description('disable an identity (every later decision for it is a deny)')
    .option('--reason <text>', 'why (kept with the identity and in the audit log)')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { reason?: string; json?: boolean }) => {
      const updated = await cli
        .client()
        .post<Identity>(
          `/v1/identities/${encodeURIComponent(id)}/disable`,
          opts.reason ? { reason: opts.reason } : {},
        );
      cli.print(updated, opts.json, () => `disabled ${updated.id} (status ${updated.status})`);
    });
}

export function registerAuditCommands(program: Command, cli: CliContext): void {
  const audit = program.command('audit').description('the hash-chained audit log');
  audit
    .command('verify')
    .description('recompute the audit hash chain; exits 2 if any entry was edited, deleted or truncated')
    .option('--local', 'read the store directly (server may be stopped) instead of asking the server')
    .option(
      '--data-dir <dir>',
      'data directory of the SQLite store (implies --local) [env BULKHEAD_DATA_DIR]',
    )
    .option(
      '--anchor <seq:hash>',
      'an earlier head (from a previous verify) that must still be in the chain; repeatable',
      collect,
    )
    .option('--json', 'print JSON')
    .action(async (opts: { local?: boolean; dataDir?: string; anchor?: string[]; json?: boolean }) => {
      const anchors = (opts.anchor ?? []).map(parseAnchor);
      let result: AuditVerification;
      if (opts.local || opts.dataDir) {
        const config = loadConfig({ dataDir: opts.dataDir }, cli.env);
        const file = sqliteFileFor(config);
        if (!config.databaseUrl && !existsSync(file)) {
          throw new CliError(`no Bulkhead store at ${file}`, 'BULKHEAD_CLI_NO_STORE');
        }
        const store = openStore({
          databaseUrl: config.databaseUrl,
          schema: config.databaseSchema,
          sqliteFile: file,
        });
        try {
          await ensureSchema(store, config.databaseSchema);
          result = await verifyAuditChain(store.db, { anchors });
        } finally {
          await store.close();
        }
      } else {
        result = await cli.client().post<AuditVerification>('/v1/audit/verify', { anchors });
      }
      cli.print(result, opts.json, () =>
        result.ok
          ? `audit log OK: ${result.entries} entries; anchor for next time: --anchor ${result.headSeq}:${result.headHash}`
          : [
              `audit log TAMPERED: ${result.problems.length} problem(s) in ${result.entries} entries`,
              ...result.problems.map((p) => `  #${p.seq} ${p.kind}: ${p.detail}`),
            ].join('\n'),
      );
      if (!result.ok) cli.setExitCode(2);
    });
}

export function registerAdminCommands(program: Command, cli: CliContext): void {
  const admin = program.command('admin').description('administration');
  const token = admin.command('token').description('admin API keys');
  token
    .command('create')
    .description('create an API key; the token is printed once')
    .requiredOption('--name <name>', 'what the key is for')
    .addOption(
      new Option('--scope <scope>', 'read, write or admin; repeatable')
        .choices(['read', 'write', 'admin'])
        .argParser(collect),
    )
    .option(
      '--ttl <seconds>',
      'lifetime in seconds (default: no expiry)',
      intOption('--ttl', 60, 10 * 365 * 86_400),
    )
    .option('--identity <id>', 'bind the key to a person (human identity id); needed to approve requests')
    .option('--json', 'print JSON')
    .action(
      async (opts: { name: string; scope?: string[]; ttl?: number; identity?: string; json?: boolean }) => {
        const scopes = opts.scope ?? ['read'];
        for (const s of scopes) {
          if (!['read', 'write', 'admin'].includes(s)) {
            throw new CliError(`--scope must be read, write or admin, got '${s}'`, 'BULKHEAD_CLI_BAD_OPTION');
          }
        }
        const created = await cli.client().post<ApiKey & { token: string }>('/v1/admin/keys', {
          name: opts.name,
          scopes,
          ...(opts.ttl !== undefined ? { ttl_seconds: opts.ttl } : {}),
          ...(opts.identity !== undefined ? { identity_id: opts.identity } : {}),
        });
        cli.print(created, opts.json, () =>
          [
            `created key ${created.id} (${created.scopes.join(',')})${created.expiresAt ? ` expiring ${created.expiresAt}` : ''}`,
            `token (shown once): ${created.token}`,
          ].join('\n'),
        );
      },
    );
  token
    .command('list')
    .description('list API keys (never their tokens)')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const res = await cli.client().get<{ items: ApiKey[] }>('/v1/admin/keys');
      cli.print(res, opts.json, () =>
        table(
          ['id', 'name', 'scopes', 'expires', 'revoked', 'last used'],
          res.items.map((k) => [k.id, k.name, k.scopes.join(','), k.expiresAt, k.revokedAt, k.lastUsedAt]),
        ),
      );
    });
  token
    .command('revoke <id>')
    .description('revoke an API key')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { json?: boolean }) => {
      const key = await cli.client().post<ApiKey>(`/v1/admin/keys/${encodeURIComponent(id)}/revoke`);
      cli.print(key, opts.json, () => `revoked ${key.id}`);
    });
}

export function registerInventoryCommands(program: Command, cli: CliContext): void {
  const credentials = program.command('credentials').description('credential metadata (never secrets)');
  credentials
    .command('list')
    .description('list credentials with filters')
    .option('--identity <id>', 'owned by this identity')
    .addOption(new Option('--type <type>', 'credential type').choices(CREDENTIAL_TYPES))
    .addOption(new Option('--status <status>', 'status').choices(CREDENTIAL_STATUSES))
    .option('--consumer <id>', 'used by this identity (the dependency map)')
    .option('--fingerprint <fp>', 'exact fingerprint, e.g. an AWS access key id')
    .option('--expired', 'only credentials past their expiry')
    .option('--limit <n>', 'page size (1-500)', intOption('--limit', 1, 500), 50)
    .option('--cursor <cursor>', 'continue from a previous page')
    .option('--json', 'print JSON')
    .action(
      async (opts: {
        identity?: string;
        type?: string;
        status?: string;
        consumer?: string;
        fingerprint?: string;
        expired?: boolean;
        limit: number;
        cursor?: string;
        json?: boolean;
      }) => {
        const page = await cli.client().get<Page<Credential>>('/v1/credentials', {
          identity_id: opts.identity,
          type: opts.type,
          status: opts.status,
          consumer: opts.consumer,
          fingerprint: opts.fingerprint,
          expired: opts.expired ? 'true' : undefined,
          limit: opts.limit,
          cursor: opts.cursor,
        });
        cli.print(page, opts.json, () =>
          pageText(
            table(
              ['id', 'identity', 'type', 'status', 'consumers', 'last used', 'rotated'],
              page.items.map((c) => [
                c.id,
                c.identityId,
                c.type,
                c.status,
                c.consumers.join(','),
                c.lastUsedAt?.slice(0, 10),
                c.lastRotatedAt?.slice(0, 10),
              ]),
            ),
            page,
            'credentials',
          ),
        );
      },
    );
  credentials
    .command('show <id>')
    .description('show one credential')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { json?: boolean }) => {
      const c = await cli.client().get<Credential>(`/v1/credentials/${encodeURIComponent(id)}`);
      cli.print(c, opts.json, () => fields(c));
    });
  credentials
    .command('revoke <id>')
    .description('mark a credential revoked (it can never be re-activated)')
    .option('--reason <text>', 'why')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { reason?: string; json?: boolean }) => {
      const c = await cli
        .client()
        .post<Credential>(
          `/v1/credentials/${encodeURIComponent(id)}/revoke`,
          opts.reason ? { reason: opts.reason } : {},
        );
      cli.print(c, opts.json, () => `revoked ${c.id}`);
    });

  const resources = program.command('resources').description('resources and their data sensitivity');
  resources
    .command('list')
    .description('list resources with filters')
    .option('--type <type>', 'resource type, e.g. database')
    .addOption(new Option('--sensitivity <level>', 'data sensitivity').choices(SENSITIVITIES))
    .option('--env <environment>', 'environment')
    .option('--parent <id>', 'direct children of this resource')
    .option('--limit <n>', 'page size (1-500)', intOption('--limit', 1, 500), 50)
    .option('--cursor <cursor>', 'continue from a previous page')
    .option('--json', 'print JSON')
    .action(
      async (opts: {
        type?: string;
        sensitivity?: string;
        env?: string;
        parent?: string;
        limit: number;
        cursor?: string;
        json?: boolean;
      }) => {
        const page = await cli.client().get<Page<Resource>>('/v1/resources', {
          type: opts.type,
          sensitivity: opts.sensitivity,
          environment: opts.env,
          parent_id: opts.parent,
          limit: opts.limit,
          cursor: opts.cursor,
        });
        cli.print(page, opts.json, () =>
          pageText(
            table(
              ['id', 'type', 'sensitivity', 'env', 'owners', 'parent'],
              page.items.map((r) => [
                r.id,
                r.type,
                r.sensitivity,
                r.environment,
                r.owners.join(','),
                r.parentId,
              ]),
            ),
            page,
            'resources',
          ),
        );
      },
    );
  resources
    .command('show <id>')
    .description('show one resource')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { json?: boolean }) => {
      const r = await cli.client().get<Resource>(`/v1/resources/${encodeURIComponent(id)}`);
      cli.print(r, opts.json, () => fields(r));
    });
}

function fields(record: object): string {
  return Object.entries(record)
    .map(([k, v]) => `${k.padEnd(18)} ${typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)}`)
    .join('\n');
}

function pageText(text: string, page: Page<unknown>, noun: string): string {
  return page.next_cursor
    ? `${text}\n(more: --cursor ${page.next_cursor})`
    : `${text}\n(${page.items.length} ${noun})`;
}
