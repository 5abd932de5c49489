/**
 * A real `bulkhead serve --json` child process, for tests that kill it (SIGKILL, SIGTERM) and restart it on the
 * same data directory. Resolves with the URL from the one JSON line `serve --json` prints once listening.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface ServeProcess {
  child: ChildProcess;
  url: string;
}

export function spawnServe(
  dataDir: string,
  env: Record<string, string>,
  extraArgs: string[] = [],
): Promise<ServeProcess> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'src/cli/main.ts',
      'serve',
      '--port',
      '0',
      '--data-dir',
      dataDir,
      '--json',
      ...extraArgs,
    ],
    { env: { ...process.env, BULKHEAD_LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return new Promise((resolve, reject) => {
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('exit', (code) => reject(new Error(`server exited early (${code}): ${stderr}`)));
    createInterface({ input: child.stdout }).once('line', (line) => {
      try {
        resolve({ child, url: (JSON.parse(line) as { url: string }).url });
      } catch {
        child.kill('SIGKILL');
        reject(new Error(`serve --json printed something that is not one JSON line: ${line}`));
      }
    });
  });
}
