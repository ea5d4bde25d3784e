/**
 * Every server process the bench starts, so that none outlives it: an 'exit' hook SIGKILLs
 * whatever is left, and SIGINT / SIGTERM (Ctrl-C during a run) stop the children, remove the
 * temp dirs and exit. Only our own children are touched, by their pid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync, rmSync } from 'node:fs';

const liveChildren = new Set<ChildProcess>();
const tempDirs = new Set<string>();
let hooksInstalled = false;

function killAllNow(): void {
  for (const child of liveChildren) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.once('exit', killAllNow);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      process.stderr.write(`\nbench: ${signal}: stopping the servers it started\n`);
      killAllNow();
      process.exit(130);
    });
  }
}

/** Removed by the exit hook if the run dies before it is removed normally. */
export function registerTempDir(dir: string): void {
  installHooks();
  tempDirs.add(dir);
}

/** Keeps the directory after all (kept for a post-mortem). */
export function keepTempDir(dir: string): void {
  tempDirs.delete(dir);
}

export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

export interface SpawnedServer {
  readonly child: ChildProcess;
  /** process.hrtime-based timestamp (ms) taken right before spawn(). */
  readonly spawnedAtMs: number;
}

/** Starts a server with stdout and stderr appended to `logFile`. */
export function spawnServer(
  command: string,
  args: readonly string[],
  logFile: string,
  env?: NodeJS.ProcessEnv,
): SpawnedServer {
  installHooks();
  const log = openSync(logFile, 'a');
  try {
    const spawnedAtMs = nowMs();
    const child = spawn(command, args, { env: env ?? process.env, stdio: ['ignore', log, log] });
    liveChildren.add(child);
    child.once('exit', () => liveChildren.delete(child));
    return { child, spawnedAtMs };
  } finally {
    closeSync(log);
  }
}

/** Pids of every server process the bench has running now. */
export function benchPids(): number[] {
  return [...liveChildren].map((c) => c.pid).filter((pid): pid is number => pid !== undefined);
}

export function isRunning(child: ChildProcess | null): child is ChildProcess {
  return child !== null && child.exitCode === null && child.signalCode === null;
}

/**
 * Sends `signal` and waits for the exit; a process still alive after `graceMs` gets SIGKILL
 * (SIGTERM lets a node write its --cpu-prof profile).
 */
export async function stopProcess(
  child: ChildProcess | null,
  signal: NodeJS.Signals = 'SIGKILL',
  graceMs = 10_000,
): Promise<void> {
  if (!isRunning(child)) return;
  const exited = once(child, 'exit');
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Monotonic milliseconds. */
export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
