/**
 * PostgreSQL dynamic credentials: a login role per task with `VALID UNTIL` the task's expiry and only the
 * privileges its intent names (action → privileges from config, on the configured tables). When the task
 * ends the role loses LOGIN, its sessions are terminated and it is dropped with everything granted to it.
 * DDL cannot take bind parameters, so every identifier is checked against a strict pattern and quoted, and
 * the generated password uses only base64url characters.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { brokerError } from '../errors.js';
import type { Task } from '../tasks/task.js';
import type { DownstreamPlugin, ProvisionedCredential } from './plugin.js';

export const SQL_PRIVILEGES = [
  'SELECT',
  'INSERT',
  'UPDATE',
  'DELETE',
  'TRUNCATE',
  'REFERENCES',
  'TRIGGER',
] as const;

export interface PostgresTarget {
  /** Inventory resource id this database stands for. */
  resource: string;
  /** Admin connection URL (a role allowed to CREATE ROLE and GRANT on the tables). */
  url: string;
  /** Intent action → SQL privileges, e.g. `{ read: ['SELECT'], write: ['INSERT', 'UPDATE'] }`. */
  privileges: Record<string, (typeof SQL_PRIVILEGES)[number][]>;
  /** `schema.table` names the privileges apply to. */
  tables: string[];
  connection_limit?: number | undefined;
}

const IDENT = /^[a-z_][a-z0-9_$]{0,62}$/;

function quoteIdent(name: string): string {
  if (!IDENT.test(name)) throw new Error(`unsafe SQL identifier: ${name}`);
  return `"${name}"`;
}

function quoteTable(qualified: string): string {
  const parts = qualified.split('.');
  if (parts.length !== 2) throw new Error(`table must be schema.table: ${qualified}`);
  return parts.map(quoteIdent).join('.');
}

export class PostgresPlugin implements DownstreamPlugin {
  readonly name = 'postgres';
  private readonly pools = new Map<string, pg.Pool>();

  constructor(private readonly targets: PostgresTarget[]) {
    for (const t of targets) {
      t.tables.forEach(quoteTable);
      for (const privs of Object.values(t.privileges)) {
        for (const p of privs) if (!SQL_PRIVILEGES.includes(p)) throw new Error(`unknown SQL privilege ${p}`);
      }
    }
  }

  handles(resourceId: string): boolean {
    return this.targets.some((t) => t.resource === resourceId);
  }

  private target(resourceId: string): PostgresTarget {
    const t = this.targets.find((x) => x.resource === resourceId);
    if (!t) throw new Error(`no postgres target for ${resourceId}`);
    return t;
  }

  private pool(t: PostgresTarget): pg.Pool {
    let p = this.pools.get(t.resource);
    if (!p) {
      p = new pg.Pool({ connectionString: t.url, max: 2 });
      this.pools.set(t.resource, p);
    }
    return p;
  }

  async provision(task: Task, resourceId: string): Promise<ProvisionedCredential> {
    const t = this.target(resourceId);
    const privileges = [...new Set(task.actions.flatMap((a) => t.privileges[a] ?? []))];
    if (privileges.length === 0) {
      throw brokerError('TASK_DENIED', `no action of task ${task.id} maps to a privilege on ${resourceId}`, {
        field: 'params.id',
      });
    }
    const role = `bh_task_${randomBytes(8).toString('hex')}`;
    const password = randomBytes(24).toString('base64url');
    const url = new URL(t.url);
    const database = decodeURIComponent(url.pathname.slice(1)) || 'postgres';
    const schemas = [...new Set(t.tables.map((x) => x.split('.')[0] ?? ''))];
    const validUntil = new Date(task.expires_at).toISOString();
    const client = await this.pool(t).connect();
    try {
      await client.query('BEGIN');
      await client.query(
        `CREATE ROLE ${quoteIdent(role)} LOGIN NOINHERIT PASSWORD '${password}' VALID UNTIL '${validUntil}' CONNECTION LIMIT ${Math.max(1, Math.min(100, t.connection_limit ?? 5))}`,
      );
      await client.query(
        `GRANT CONNECT ON DATABASE "${database.replace(/"/g, '""')}" TO ${quoteIdent(role)}`,
      );
      for (const s of schemas)
        await client.query(`GRANT USAGE ON SCHEMA ${quoteIdent(s)} TO ${quoteIdent(role)}`);
      for (const table of t.tables) {
        await client.query(
          `GRANT ${privileges.join(', ')} ON TABLE ${quoteTable(table)} TO ${quoteIdent(role)}`,
        );
      }
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
    return {
      plugin: this.name,
      resource: resourceId,
      principal: role,
      secret: password,
      expires_at: validUntil,
      grants: t.tables.map((table) => `${privileges.join(', ')} ON ${table}`),
      connection: { host: url.hostname, port: Number(url.port || 5432), database },
    };
  }

  async deprovision(resourceId: string, principal: string): Promise<void> {
    const t = this.target(resourceId);
    const role = quoteIdent(principal);
    const client = await this.pool(t).connect();
    try {
      const exists = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [principal]);
      if (exists.rowCount === 0) return;
      // NOLOGIN first so nothing reconnects between terminating sessions and dropping the role.
      await client.query(`ALTER ROLE ${role} NOLOGIN`);
      await client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1', [
        principal,
      ]);
      await client.query(`DROP OWNED BY ${role}`);
      await client.query(`DROP ROLE ${role}`);
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.end()));
    this.pools.clear();
  }
}
