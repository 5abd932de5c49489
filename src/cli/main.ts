/**
 * `bulkhead` CLI entry. Every failure ends as one line on stderr and a non-zero exit code; `--json`
 * output goes to stdout only.
 */
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config.js';
import { isBulkheadError } from '../errors.js';
import { allModules } from '../modules/index.js';
import { VERSION } from '../version.js';
import { CliError } from './client.js';
import { createCliContext, type CliContext, type CliIo } from './context.js';
import {
  registerAdminCommands,
  registerAuditCommands,
  registerIdentityCommands,
  registerInventoryCommands,
  registerServeCommand,
} from './core-commands.js';

export function buildProgram(io: CliIo, cli: CliContext = createCliContext(io)): Command {
  const program = new Command('bulkhead')
    .description(
      'Bulkhead: assume-breach control plane for human and non-human identities.\n' +
        'Client commands use BULKHEAD_URL (default http://127.0.0.1:8080) and BULKHEAD_TOKEN.',
    )
    .version(VERSION)
    .showSuggestionAfterError()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .exitOverride();
  registerServeCommand(program, cli);
  registerIdentityCommands(program, cli);
  registerInventoryCommands(program, cli);
  registerAuditCommands(program, cli);
  registerAdminCommands(program, cli);
  for (const m of allModules()) m.registerCommands?.(program, cli);
  for (const c of program.commands)
    c.exitOverride().configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
  return program;
}

/** Runs the CLI; resolves to the exit code instead of exiting, so tests can call it in-process. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const cli = createCliContext(io);
  const program = buildProgram(io, cli);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return cli.exitCode();
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander already printed its message (help, version, or a usage error).
      return err.exitCode;
    }
    io.stderr(`bulkhead: ${describe(err)}\n`);
    return 1;
  }
}

function describe(err: unknown): string {
  if (err instanceof CliError || err instanceof ConfigError) return err.message;
  if (isBulkheadError(err)) return `${err.code}: ${err.message}${err.field ? ` (field ${err.field})` : ''}`;
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE')
      return `address already in use: ${err.message.replace(/^listen EADDRINUSE: address already in use /, '')}`;
    return err.message.split('\n')[0] ?? 'error';
  }
  return String(err);
}

const isMain =
  process.argv[1] !== undefined && /bulkhead(\.js)?$|cli[\\/]main\.(js|ts)$/.test(process.argv[1]);
if (isMain) {
  const code = await runCli(process.argv.slice(2), {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
    env: process.env,
  });
  // `serve` keeps running (its listener holds the loop open); everything else exits with its code.
  if (code !== 0) process.exit(code);
  else process.exitCode = 0;
}
