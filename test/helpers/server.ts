/**
 * Test helpers: a real server on a random loopback port with a fresh SQLite file (or a fresh PostgreSQL
 * schema), a known admin token, and a tiny fetch wrapper. Every helper cleans up after itself.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { pino } from 'pino';
import { loadConfig, type Config } from '../../src/config.js';
import type { BulkheadModule } from '../../src/modules/types.js';
import { startBulkhead, type RunningServer } from '../../src/server/start.js';

export const PG_URL = process.env.BULKHEAD_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestServer extends RunningServer {
  token: string;
  dataDir: string;
  /** fetch against the server with the admin token (pass `token: null` for none). */
  call(
    method: string,
    path: string,
    options?: { body?: unknown; token?: string | null; headers?: Record<string, string>; raw?: string },
  ): Promise<{ status: number; headers: Headers; body: any }>;
  stop(): Promise<void>;
}

export function tempDir(prefix = 'bulkhead-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface TestServerOptions {
  demo?: boolean;
  modules?: BulkheadModule[];
  /** Run on a fresh PostgreSQL schema instead of SQLite. */
  postgres?: boolean;
  env?: Record<string, string>;
  now?: () => Date;
}

export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const dataDir = tempDir();
  const token = `bh_test_${randomBytes(24).toString('base64url')}`;
  const schema = options.postgres ? `bh_test_${randomBytes(6).toString('hex')}` : undefined;
  const env: NodeJS.ProcessEnv = {
    BULKHEAD_ADMIN_TOKEN: token,
    BULKHEAD_LOG_LEVEL: 'silent',
    ...(options.postgres ? { BULKHEAD_DATABASE_URL: PG_URL, BULKHEAD_DATABASE_SCHEMA: schema } : {}),
    ...options.env,
  };
  const config: Config = loadConfig(
    { host: '127.0.0.1', port: 0, dataDir, demo: options.demo ?? false },
    env,
  );
  const running = await startBulkhead(config, {
    log: pino({ level: 'silent' }),
    ...(options.modules ? { modules: options.modules } : {}),
    ...(options.now ? { now: options.now } : {}),
  });
  return {
    ...running,
    token,
    dataDir,
    async call(method, path, opts = {}) {
      const headers: Record<string, string> = { ...(opts.headers ?? {}) };
      const t = opts.token === undefined ? token : opts.token;
      if (t) headers.authorization = `Bearer ${t}`;
      let body: string | undefined = opts.raw;
      if (opts.body !== undefined) {
        body = JSON.stringify(opts.body);
        headers['content-type'] ??= 'application/json';
      } else if (opts.raw !== undefined) {
        headers['content-type'] ??= 'application/json';
      }
      const res = await fetch(running.url + path, { method, headers, body });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        /* not JSON: keep the text */
      }
      return { status: res.status, headers: res.headers, body: parsed };
    },
    async stop() {
      await running.close();
      rmSync(dataDir, { recursive: true, force: true });
      if (schema) await dropPgSchema(schema);
    },
  };
}

/** Creates a uniquely named PostgreSQL schema for one test run; call the returned function to drop it. */
export function newPgSchemaName(): string {
  return `bh_test_${randomBytes(6).toString('hex')}`;
}

export async function dropPgSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    await client.query(`drop schema if exists "${schema}" cascade`);
  } finally {
    await client.end();
  }
}

/**
 * API keys bound to people, one per person, made on first use (while the person is active, as the admin
 * route requires). Approvals take the approver from the key, never from the body.
 */
export function personalKeys(server: () => TestServer): (person: string) => Promise<string> {
  const keys = new Map<string, string>();
  return async (person) => {
    let token = keys.get(person);
    if (!token) {
      token = (
        await server().ctx.apiKeys.create({ name: person, scopes: ['write'], identityId: person }, 'test')
      ).token;
      keys.set(person, token);
    }
    return token;
  };
}
