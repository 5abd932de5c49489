/**
 * What a CLI command gets: where to print, how to reach the server, and the `--json` switch. Modules add
 * commands through `registerCommands(program, cli)` and use the same helpers, so every command prints and
 * fails the same way.
 */
import { ApiClient, CliError } from './client.js';

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
}

export interface CliContext extends CliIo {
  /** A client for `BULKHEAD_URL` (default http://127.0.0.1:8080) authenticated with `BULKHEAD_TOKEN`. */
  client(): ApiClient;
  /** Prints `value` as JSON when `json` is set, otherwise the human rendering. */
  print(value: unknown, json: boolean | undefined, human: () => string): void;
  /** Sets the exit code without exiting (e.g. 2 = "verification found problems"). */
  setExitCode(code: number): void;
  exitCode(): number;
}

export function createCliContext(io: CliIo): CliContext {
  let client: ApiClient | undefined;
  let exitCode = 0;
  return {
    ...io,
    client() {
      client ??= new ApiClient({
        baseUrl: io.env.BULKHEAD_URL ?? 'http://127.0.0.1:8080',
        token: io.env.BULKHEAD_TOKEN,
      });
      return client;
    },
    setExitCode(code) {
      exitCode = code;
    },
    exitCode() {
      return exitCode;
    },
    print(value, json, human) {
      io.stdout(json ? `${JSON.stringify(value, null, 2)}\n` : `${human().replace(/\n?$/, '\n')}`);
    },
  };
}

/** Renders rows as an aligned text table; cells are cut at `max` characters. */
export function table(headers: string[], rows: (string | number | null | undefined)[][], max = 48): string {
  const cell = (v: string | number | null | undefined) => {
    const s = v === null || v === undefined ? '-' : String(v);
    return s.length > max ? `${s.slice(0, max - 1)}…` : s;
  };
  const body = rows.map((r) => r.map(cell));
  const widths = headers.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(headers.map((h) => h.toUpperCase())), ...body.map(line)].join('\n');
}

/** Parses a positive integer option or fails with a one-line error naming the option. */
export function intOption(name: string, min = 1, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new CliError(
        `${name} must be an integer between ${min} and ${max}, got '${value}'`,
        'BULKHEAD_CLI_BAD_OPTION',
      );
    }
    return n;
  };
}
