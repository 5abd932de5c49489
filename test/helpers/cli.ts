/** Runs the `bulkhead` CLI in-process with captured output, as a user would against a test server. */
import { runCli } from '../../src/cli/main.js';

export interface CliRun {
  code: number;
  out: string;
  err: string;
}

/** Runs `args` with exactly this environment (e.g. `{}` for local commands, no server). */
export async function runCliWith(args: string[], env: NodeJS.ProcessEnv): Promise<CliRun> {
  let out = '';
  let err = '';
  const code = await runCli(args, { stdout: (t) => (out += t), stderr: (t) => (err += t), env });
  return { code, out, err };
}

/** Runs `args` against `server` with its admin token (or `token`). */
export function cli(
  server: { url: string; token: string },
  args: string[],
  token = server.token,
): Promise<CliRun> {
  return runCliWith(args, { BULKHEAD_URL: server.url, BULKHEAD_TOKEN: token });
}
