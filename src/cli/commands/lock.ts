/**
 * `raftree lock NAME -- COMMAND [ARGS...]`: acquire the lock on a session of its own, run the
 * command with RAFTREE_FENCING_TOKEN set, release, and exit with the command's code. Without a
 * command: hold the lock until Ctrl-C.
 */
import { spawn } from 'node:child_process';
import type { Command } from 'commander';
import { RaftreeClient, RaftreeError, type Lock, type Session } from '../../client/index.js';
import { CliError } from '../cli-error.js';
import { oneLine } from '../output.js';
import {
  clientCommand,
  parseEndpoints,
  toCliError,
  usage,
  type ClientCommandOptions,
} from './client-command.js';
import { DEFAULT_SESSION_TTL } from './elect.js';
import { onInterrupt, type Interrupt } from './interrupt.js';
import { formatMs, parseDuration } from './session.js';

interface LockOptions extends ClientCommandOptions {
  ttl: string;
}

/** Exit code when Ctrl-C interrupts the wait (the command never ran). */
const INTERRUPTED_EXIT_CODE = 130;

export function registerLockCommand(program: Command): void {
  clientCommand(program, 'lock <name> [command...]', 'hold lock NAME while COMMAND runs (or until Ctrl-C)')
    .option('--ttl <seconds>', 'TTL of the session the lock lives on', DEFAULT_SESSION_TTL)
    .addHelpText(
      'after',
      '\nPut the command after "--". It runs with RAFTREE_FENCING_TOKEN (the lock\'s fencing token:\n' +
        'pass it to whatever the lock protects) and RAFTREE_LOCK_KEY set; raftree exits with its\n' +
        'exit code. If the session is lost while the command runs, the command gets SIGTERM and\n' +
        'raftree exits with 1.\n\n' +
        'Examples:\n  raftree lock backups -- ./backup.sh /data\n  raftree lock maintenance   # hold until Ctrl-C',
    )
    .action(async (name: string, command: string[], options: LockOptions) => {
      if (name === '') throw usage('NAME must not be empty');
      await runLocked(name, command, parseDuration(options.ttl, '--ttl'), options);
    });
}

async function runLocked(
  name: string,
  command: readonly string[],
  ttlMs: number,
  options: LockOptions,
): Promise<void> {
  const client = new RaftreeClient({
    endpoints: parseEndpoints(options.endpoints),
    deadlineMs: options.timeout,
  });
  const interrupt = onInterrupt();
  let session: Session | null = null;
  try {
    session = await client.session({ ttlMs });
    const abort = new AbortController();
    void interrupt.signalled.then(() => abort.abort());
    let lock: Lock;
    try {
      lock = await client.lock(name, session, { signal: abort.signal });
    } catch (error) {
      if (interrupt.fired) {
        process.stderr.write(`raftree: interrupted while waiting for lock ${name}\n`);
        process.exitCode = INTERRUPTED_EXIT_CODE;
        return;
      }
      throw error;
    }
    process.stderr.write(
      `raftree: acquired lock ${name} (key ${lock.key}, fencing token ${lock.fencingToken}, session ${session.id}, TTL ${formatMs(ttlMs)})\n`,
    );
    if (options.json === true && command.length === 0) {
      process.stdout.write(`${JSON.stringify({ name, key: lock.key, fencingToken: lock.fencingToken })}\n`);
    } else if (command.length === 0) {
      process.stdout.write(`${lock.key}\n`);
    }
    const code =
      command.length === 0
        ? await holdUntilInterrupt(session, interrupt)
        : await runCommand(command, lock, session);
    await lock.unlock().catch((error: unknown) => {
      process.stderr.write(
        `raftree: unlock failed (${oneLine(String(error))}); closing the session instead\n`,
      );
    });
    if (code === 'lost') {
      throw new CliError(
        `lost lock ${name}: session ${session.id} was lost (${oneLine(session.lostError?.details ?? 'unknown')}); ` +
          'another holder may have it now',
      );
    }
    process.exitCode = code;
  } catch (error) {
    if (error instanceof RaftreeError) throw toCliError(error);
    throw error;
  } finally {
    interrupt.dispose();
    await session?.close().catch(() => []);
    client.close();
  }
}

async function holdUntilInterrupt(session: Session, interrupt: Interrupt): Promise<number | 'lost'> {
  const outcome = await Promise.race([interrupt.signalled.then(() => null), session.whenLost()]);
  return outcome === null ? 0 : 'lost';
}

/** Runs the command with the token in its environment; its exit code (128 + n for a signal). */
function runCommand(command: readonly string[], lock: Lock, session: Session): Promise<number | 'lost'> {
  const [file, ...args] = command;
  return new Promise((resolve, reject) => {
    const child = spawn(file!, args, {
      stdio: 'inherit',
      env: {
        ...process.env,
        RAFTREE_FENCING_TOKEN: String(lock.fencingToken),
        RAFTREE_LOCK_KEY: lock.key,
      },
    });
    let lost = false;
    const onLost = (): void => {
      lost = true;
      process.stderr.write(`raftree: session ${session.id} lost while ${file} ran; stopping it\n`);
      child.kill('SIGTERM');
    };
    session.once('lost', onLost);
    child.once('error', (error) => {
      session.off('lost', onLost);
      reject(new CliError(`cannot run ${file}: ${error.message}`, 127));
    });
    child.once('close', (code, signal) => {
      session.off('lost', onLost);
      if (lost) resolve('lost');
      else resolve(code ?? 128 + signalNumber(signal));
    });
  });
}

function signalNumber(signal: NodeJS.Signals | null): number {
  const numbers: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };
  return (signal !== null ? numbers[signal] : undefined) ?? 1;
}
