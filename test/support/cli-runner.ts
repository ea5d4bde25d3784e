/**
 * Runs the built `raftree` CLI as a child process: runCli() for commands that finish,
 * spawnCli() for long-running ones (watch), with their output split into lines.
 */
import { spawn, type ChildProcess, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { CLI_MAIN, REPO_ROOT } from './process-cluster.js';

export interface CliResult {
  /** Exit code; null when a signal ended it (e.g. the timeout). */
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CliRunOptions {
  /** Written to stdin, which is then closed (stdin is always a pipe, never a TTY). */
  readonly input?: string | Buffer;
  /** Added to the environment (RAFTREE_* from the outer environment are removed first). */
  readonly env?: Readonly<Record<string, string>>;
  /** SIGKILL after this (default 30 s); the result then has code null. */
  readonly timeoutMs?: number;
}

function cliEnv(extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('RAFTREE_')) delete env[key];
  return { ...env, ...extra };
}

export async function runCli(args: readonly string[], options: CliRunOptions = {}): Promise<CliResult> {
  const child = spawn(process.execPath, [CLI_MAIN, ...args], {
    cwd: REPO_ROOT,
    env: cliEnv(options.env),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  return collectRun(child, options.input ?? '', options.timeoutMs ?? 30_000);
}

/** Feeds `input` to a spawned process, collects its output, SIGKILLs it after `timeoutMs`. */
export async function collectRun(
  child: ChildProcessWithoutNullStreams,
  input: string | Buffer,
  timeoutMs: number,
): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdin.on('error', () => undefined);
  child.stdin.end(input);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const [code] = (await once(child, 'close')) as [number | null];
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/** A running CLI process whose stdout and stderr are collected line by line. */
export class CliProcess {
  readonly stdoutLines: string[] = [];
  readonly stderrLines: string[] = [];
  private readonly waiters = new Set<() => void>();
  private readonly closed: Promise<number | null>;

  constructor(readonly child: ChildProcess) {
    const collect = (stream: NodeJS.ReadableStream | null, lines: string[]) => {
      let partial = '';
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        partial += chunk;
        const parts = partial.split('\n');
        partial = parts.pop()!;
        lines.push(...parts);
        for (const wake of [...this.waiters]) wake();
      });
    };
    collect(child.stdout, this.stdoutLines);
    collect(child.stderr, this.stderrLines);
    this.closed = once(child, 'close').then(([code]) => code as number | null);
    this.closed.then(
      () => {
        for (const wake of [...this.waiters]) wake();
      },
      () => undefined,
    );
  }

  /** Waits until `predicate` holds for the collected lines (checked on every new line). */
  async waitFor(what: string, predicate: () => boolean, timeoutMs = 15_000): Promise<void> {
    if (predicate()) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(
          new Error(
            `timed out after ${timeoutMs} ms waiting for ${what}\nstdout:\n${this.stdoutLines.join('\n')}\nstderr:\n${this.stderrLines.join('\n')}`,
          ),
        );
      }, timeoutMs);
      const check = () => {
        if (!predicate()) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      this.waiters.add(check);
    });
  }

  /** Sends `signal` and waits for the exit code (SIGKILL after `timeoutMs`). */
  async stop(signal: NodeJS.Signals = 'SIGINT', timeoutMs = 10_000): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const code = await this.closed;
    clearTimeout(timer);
    return code;
  }

  exited(): Promise<number | null> {
    return this.closed;
  }
}

export function spawnCli(
  args: readonly string[],
  options: { env?: Readonly<Record<string, string>> } = {},
): CliProcess {
  const child = spawn(process.execPath, [CLI_MAIN, ...args], {
    cwd: REPO_ROOT,
    env: cliEnv(options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new CliProcess(child);
}
