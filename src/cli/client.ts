/**
 * HTTP client for CLI commands that talk to a running server (`BULKHEAD_URL`, `BULKHEAD_TOKEN`). Problem
 * documents come back as CliError with the server's stable code, so the CLI prints one readable line.
 */
export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    readonly code: string = 'BULKHEAD_CLI_ERROR',
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

export interface ApiClientOptions {
  baseUrl: string;
  token: string | undefined;
  /** Per-request timeout; a hung server must not hang a script. */
  timeoutMs?: number;
}

export class ApiClient {
  readonly baseUrl: string;
  private readonly token: string | undefined;
  private readonly timeoutMs: number;

  constructor(options: ApiClientOptions) {
    let url: URL;
    try {
      url = new URL(options.baseUrl);
    } catch {
      throw new CliError(`BULKHEAD_URL is not a URL: ${options.baseUrl}`, 'BULKHEAD_CLI_BAD_URL');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new CliError(`BULKHEAD_URL must be http(s): ${options.baseUrl}`, 'BULKHEAD_CLI_BAD_URL');
    }
    this.baseUrl = url.href.replace(/\/+$/, '');
    this.token = options.token;
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  async get<T>(path: string, query?: Record<string, string | number | boolean | undefined>): Promise<T> {
    return this.request<T>('GET', path, undefined, query);
  }

  async post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('POST', path, body ?? {});
  }

  async request<T>(
    method: string,
    path: string,
    body?: unknown,
    query?: Record<string, string | number | boolean | undefined>,
  ): Promise<T> {
    const url = new URL(this.baseUrl + path);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      const reason = err instanceof Error && err.cause instanceof Error ? err.cause.message : String(err);
      throw new CliError(`cannot reach ${this.baseUrl}: ${reason}`, 'BULKHEAD_CLI_UNREACHABLE');
    }
    const text = await res.text();
    let parsed: unknown = undefined;
    if (text.length > 0) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    if (!res.ok) {
      const p = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<string, unknown>;
      const code = typeof p.code === 'string' ? p.code : `HTTP_${res.status}`;
      const detail = typeof p.detail === 'string' ? p.detail : res.statusText;
      const field = typeof p.field === 'string' ? ` (field ${p.field})` : '';
      const hint = res.status === 401 && !this.token ? ' — set BULKHEAD_TOKEN' : '';
      throw new CliError(`${code}: ${detail}${field}${hint}`, code);
    }
    return parsed as T;
  }
}
