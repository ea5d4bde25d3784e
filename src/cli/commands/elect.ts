/**
 * `raftree elect NAME [VALUE]`: campaign on a session of its own and hold leadership until
 * Ctrl-C (resign) or death (the session expires and the next candidate leads).
 * `raftree elect NAME --observe`: print the leader, then every change.
 */
import { hostname } from 'node:os';
import type { Command } from 'commander';
import { RaftreeClient, RaftreeError, type ElectionLeader, type Session } from '../../client/index.js';
import { CliError } from '../cli-error.js';
import { encodeValue, oneLine } from '../output.js';
import {
  clientCommand,
  parseEndpoints,
  toCliError,
  usage,
  type ClientCommandOptions,
} from './client-command.js';
import { onInterrupt } from './interrupt.js';
import { formatMs, parseDuration } from './session.js';

interface ElectOptions extends ClientCommandOptions {
  ttl: string;
  observe?: boolean;
}

export const DEFAULT_SESSION_TTL = '10';

function leaderJson(leader: ElectionLeader | null): object {
  return leader === null
    ? { leader: null }
    : {
        leader: {
          key: leader.key,
          value: encodeValue(leader.value, 'utf8'),
          fencingToken: leader.fencingToken,
          sessionId: leader.sessionId,
        },
        revision: leader.revision,
      };
}

function leaderHuman(name: string, leader: ElectionLeader | null): string {
  return leader === null
    ? `${name}: no leader\n`
    : `${name}: leader ${encodeValue(leader.value, 'utf8')} (${leader.key}, fencing token ${leader.fencingToken})\n`;
}

export function registerElectCommand(program: Command): void {
  clientCommand(program, 'elect <name> [value]', 'campaign to lead election NAME and hold it until Ctrl-C')
    .option('--ttl <seconds>', 'TTL of the session the candidacy lives on', DEFAULT_SESSION_TTL)
    .option('--observe', 'do not campaign: print the leader and every change until Ctrl-C')
    .addHelpText(
      'after',
      '\nPrints a line containing "elected" once this candidate leads. Ctrl-C resigns; if the\n' +
        'process dies, its session expires after the TTL and the next candidate takes over.\n' +
        'VALUE (default HOSTNAME:PID) is what observers see.\n\n' +
        'Examples:\n  raftree elect scheduler host-a:8080 --ttl 5\n  raftree elect scheduler --observe',
    )
    .action(async (name: string, value: string | undefined, options: ElectOptions) => {
      if (name === '') throw usage('NAME must not be empty');
      if (options.observe === true) {
        if (value !== undefined) throw usage('--observe takes no VALUE');
        await observe(name, options);
        return;
      }
      await campaign(
        name,
        value ?? `${hostname()}:${process.pid}`,
        parseDuration(options.ttl, '--ttl'),
        options,
      );
    });
}

async function campaign(name: string, value: string, ttlMs: number, options: ElectOptions): Promise<void> {
  const client = new RaftreeClient({
    endpoints: parseEndpoints(options.endpoints),
    deadlineMs: options.timeout,
  });
  const interrupt = onInterrupt();
  let session: Session | null = null;
  try {
    session = await client.session({ ttlMs });
    process.stderr.write(
      `raftree: campaigning in ${name} as ${JSON.stringify(value)} (session ${session.id}, TTL ${formatMs(ttlMs)})\n`,
    );
    const abort = new AbortController();
    void interrupt.signalled.then(() => abort.abort());
    let leadership;
    try {
      leadership = await client.election(name).campaign(value, session, { signal: abort.signal });
    } catch (error) {
      if (interrupt.fired) {
        // Withdrawn by the server on cancel; closing the session (finally) makes sure.
        process.stderr.write('raftree: interrupted before being elected\n');
        return;
      }
      throw error;
    }
    const line = `elected: ${name} as ${JSON.stringify(value)} (key ${leadership.key}, fencing token ${leadership.fencingToken}, revision ${leadership.revision})`;
    process.stdout.write(
      options.json === true
        ? `${JSON.stringify({
            elected: true,
            name,
            key: leadership.key,
            fencingToken: leadership.fencingToken,
            revision: leadership.revision,
            sessionId: session.id,
          })}\n`
        : `${line}\n`,
    );
    const outcome = await Promise.race([interrupt.signalled.then(() => null), session.whenLost()]);
    if (outcome !== null) {
      throw new CliError(
        `lost leadership of ${name}: session ${session.id} was lost (${oneLine(outcome.details)}); ` +
          'another candidate may lead now',
      );
    }
    await leadership.resign().catch((error: unknown) => {
      process.stderr.write(
        `raftree: resign failed (${oneLine(String(error))}); closing the session instead\n`,
      );
    });
    await session.close().catch(() => []);
    process.stdout.write(
      options.json === true ? `${JSON.stringify({ resigned: true, name })}\n` : `resigned ${name}\n`,
    );
  } catch (error) {
    if (error instanceof RaftreeError) throw toCliError(error);
    throw error;
  } finally {
    interrupt.dispose();
    // Ends the candidacy for sure (also after an error); a lost session is not called again.
    await session?.close().catch(() => []);
    client.close();
  }
}

async function observe(name: string, options: ElectOptions): Promise<void> {
  const client = new RaftreeClient({
    endpoints: parseEndpoints(options.endpoints),
    deadlineMs: options.timeout,
  });
  const observer = client.election(name).observe();
  const interrupt = onInterrupt();
  void interrupt.signalled.then(() => observer.close());
  process.stdout.on('error', () => observer.close());
  observer.on('reconnecting', (info) =>
    process.stderr.write(
      `raftree: observation lost ${info.endpoint} (${oneLine(info.error.message)}); resuming\n`,
    ),
  );
  try {
    for await (const leader of observer) {
      process.stdout.write(
        options.json === true ? `${JSON.stringify(leaderJson(leader))}\n` : leaderHuman(name, leader),
      );
    }
  } catch (error) {
    const cliError = toCliError(error);
    throw cliError instanceof CliError ? cliError : error;
  } finally {
    interrupt.dispose();
    client.close();
  }
}
