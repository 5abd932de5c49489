/**
 * Server configuration from flags and environment. Flags win over environment; every value is checked
 * here so a typo fails at start with one line instead of surfacing later.
 */
import { join, resolve } from 'node:path';

export interface Config {
  host: string;
  port: number;
  dataDir: string;
  /** `postgres://…` selects PostgreSQL instead of the embedded SQLite file under `dataDir`. */
  databaseUrl: string | undefined;
  databaseSchema: string | undefined;
  /** `auto` loads demo data only into an empty store. */
  demo: 'auto' | 'always' | 'never';
  /** Bootstrap admin token from `BULKHEAD_ADMIN_TOKEN` instead of a generated one. */
  adminToken: string | undefined;
  bodyLimitBytes: number;
  logLevel: string;
  /**
   * The base URL clients use to reach this server (`BULKHEAD_PUBLIC_URL`, e.g. behind a proxy): the broker
   * accepts client assertions and DPoP proofs addressed to its endpoints under it, never to whatever the Host
   * header names. Unset: the URL the server listens on, filled in by `startBulkhead` once listening.
   */
  publicUrl: string | undefined;
}

export interface ConfigInput {
  host?: string | undefined;
  port?: string | number | undefined;
  dataDir?: string | undefined;
  demo?: boolean | undefined;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function loadConfig(input: ConfigInput = {}, env: NodeJS.ProcessEnv = process.env): Config {
  const host = input.host ?? env.BULKHEAD_HOST ?? '127.0.0.1';
  const port = parsePort(input.port ?? env.BULKHEAD_PORT ?? '8080');
  const dataDir = resolve(input.dataDir ?? env.BULKHEAD_DATA_DIR ?? './data');
  const databaseUrl = nonEmpty(env.BULKHEAD_DATABASE_URL);
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError('BULKHEAD_DATABASE_URL must be a postgres:// or postgresql:// URL');
  }
  const adminToken = nonEmpty(env.BULKHEAD_ADMIN_TOKEN);
  if (adminToken !== undefined && adminToken.length < 16) {
    throw new ConfigError('BULKHEAD_ADMIN_TOKEN must be at least 16 characters');
  }
  const bodyLimitBytes = parsePositiveInt(
    env.BULKHEAD_BODY_LIMIT ?? String(1024 * 1024),
    'BULKHEAD_BODY_LIMIT',
  );
  const logLevel = env.BULKHEAD_LOG_LEVEL ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError(`BULKHEAD_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}`);
  }
  const publicUrl = parsePublicUrl(nonEmpty(env.BULKHEAD_PUBLIC_URL));
  return {
    host,
    port,
    dataDir,
    databaseUrl,
    databaseSchema: nonEmpty(env.BULKHEAD_DATABASE_SCHEMA),
    demo: input.demo === undefined ? 'auto' : input.demo ? 'always' : 'never',
    adminToken,
    bodyLimitBytes,
    logLevel,
    publicUrl,
  };
}

/** The URL a server bound to `host`:`port` is reached at (the default public URL). */
export function listenUrl(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

export function sqliteFileFor(config: Config): string {
  return join(config.dataDir, 'bulkhead.db');
}

function parsePort(value: string | number): number {
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new ConfigError(`invalid port: ${value}`);
  return n;
}

function parsePositiveInt(value: string, name: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new ConfigError(`${name} must be a positive integer`);
  return n;
}

/** An absolute http(s) URL without query or fragment; a trailing `/` is dropped so paths append cleanly. */
function parsePublicUrl(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`BULKHEAD_PUBLIC_URL must be an absolute http(s) URL: ${value}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(`BULKHEAD_PUBLIC_URL must be an http or https URL: ${value}`);
  }
  if (url.search !== '' || url.hash !== '' || value.includes('?') || value.includes('#')) {
    throw new ConfigError(`BULKHEAD_PUBLIC_URL must not have a query or fragment: ${value}`);
  }
  if (url.username !== '' || url.password !== '') {
    throw new ConfigError(`BULKHEAD_PUBLIC_URL must not carry credentials: ${value}`);
  }
  return url.href.replace(/\/+$/, '');
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}
